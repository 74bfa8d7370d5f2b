"""The failover command's decisions, against a fake Automation boundary that behaves like Azure.

The fake ("World") keeps each stack's config and deployed outputs, and what Azure holds. Its
preview shows the connection changes the real connection plan (model.phases.connection_plan)
makes, plus whatever a test injects (an unexpected change, a mandatory policy finding); `up`
applies the reviewed plan and enforces the same single-circuit gate the program enforces through
its StackReference (failing closed), so a wrong order fails here as it would in Azure. The
expected orders below are written out by hand from the runbook, not derived from model.phases,
so they check the procedure and the command together.
"""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from erdr import failover
from erdr.failover import AutomationError, PlannedStep, PolicyFinding, PreviewReport, RunState, state_path
from erdr.pulumi_cli import StackHealth
from erdr.stackfiles import load_stack
from model import identity
from model.config import Addressing, ConfigError, Phase, Role, StackConfig, Topology, load
from model.phases import connection_plan
from policies.shared.names import CONNECTION

NS = "expressroute-dr:"
TARGET_PLAN = {"hub": ["10.20.10.0/24"], "vnet1": ["10.21.0.0/24"], "vnet2": ["10.22.0.0/24"]}
ROLE_OF = {"prod": Role.SOURCE, "dr": Role.TARGET}
SS = (Topology.SINGLE_CIRCUIT, Addressing.SAME)
COMBOS = [(t, a) for t in Topology for a in Addressing]


@cache
def stack_config(
    stack: str,
    topology: Topology,
    addressing: Addressing,
    phase: Phase,
    unreachable: bool,
    peer: str | None,
    pre_connect: bool | None = None,
    extra: str = "",
) -> StackConfig:
    """A valid config of ``stack`` for the topology (circuits adjusted to what it demands);
    ``extra``: JSON of further keys (placement of a real estate)."""
    raw = copy.deepcopy(load_stack(stack).config)
    for key, value in (json.loads(extra) if extra else {}).items():
        raw[key] = value
    raw.update(topology=topology.value, addressing=addressing.value, phase=phase.value)
    raw["sourceRegionUnreachable"] = unreachable
    if peer is not None:
        raw["peerStack"] = peer
    if pre_connect is not None and stack == "dr":
        raw["preConnectTarget"] = pre_connect
    if topology is Topology.SINGLE_CIRCUIT:
        del raw["circuits"]["secondary"]
    if topology is Topology.TWO_CIRCUITS_ONE_LOCATION:
        raw["circuits"]["secondary"]["peeringLocation"] = raw["circuits"]["primary"]["peeringLocation"]
    if addressing is Addressing.TRANSLATED:
        raw["targetAddressPlan"] = TARGET_PLAN
    return load(stack, raw)


SUB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def pair_lock_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local backend in the test's folder, so the stack pair's lock (erdr.lock) is a file there."""
    backend = tmp_path / "backend"
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend.as_uri())
    monkeypatch.delenv("ERDR_LOCK_URL", raising=False)
    return backend


class World:
    """Fake Automation: two stacks, their config, what is deployed, every call in order."""

    def __init__(
        self,
        topology: Topology,
        addressing: Addressing,
        *,
        peer_stack: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.extra = json.dumps(extra or {}, sort_keys=True)
        self.config: dict[str, dict[str, str]] = {}
        self.deployed: dict[str, dict[str, Any]] = {}
        for stack, role in ROLE_OF.items():
            self.config[stack] = {
                NS + "role": role.value,
                NS + "topology": topology.value,
                NS + "addressing": addressing.value,
                NS + "phase": "standby",
            }
            if peer_stack:
                self.config[stack][NS + "peerStack"] = "dr" if stack == "prod" else "prod"
            self.deployed[stack] = self._outputs(stack)
        self.calls: list[tuple[str, ...]] = []
        self.plans: list[tuple[str, str, Path]] = []  # (preview | up, stack, plan file)
        self.unreachable: set[str] = set()
        self.fail_next: dict[tuple[str, str], int] = {}
        self.both_on_circuit: list[int] = []  # indexes into calls where the invariant broke
        self.surprises: dict[str, list[PlannedStep]] = {}  # extra steps a stack's preview shows
        self.findings: dict[str, list[PolicyFinding]] = {}  # policy findings of a stack's preview
        self.lingering: set[str] = set()  # connection IDs Azure still has although the state has not
        self.reported: dict[str, dict[str, Any]] = {}  # outputs a stack reports whatever is deployed
        self.azure_reads: list[str] = []
        self.health_of: dict[str, StackHealth] = {}  # what an interrupted update left in a stack
        self.health_reads: list[str] = []

    def _cfg(self, stack: str) -> StackConfig:
        c = self.config[stack]
        return stack_config(
            stack,
            Topology(c[NS + "topology"]),
            Addressing(c[NS + "addressing"]),
            Phase(c[NS + "phase"]),
            c.get(NS + "sourceRegionUnreachable") == "true",
            c.get(NS + "peerStack"),
            {"true": True, "false": False}.get(c.get(NS + "preConnectTarget", "")),
            self.extra,
        )

    def _outputs(self, stack: str) -> dict[str, Any]:
        cfg = self._cfg(stack)
        plan = connection_plan(cfg, cfg.role, cfg.phase)
        group = cfg.resource_group_name(cfg.role)
        return {
            "role": cfg.role.value,
            "phase": cfg.phase.value,
            "circuitConnections": [c.circuit_id for c in plan],
            "connectionRoutingWeights": {c.name: c.routing_weight for c in plan},
            "resourceGroupName": group,
            # What the program exports: the IDs of what it registered, which are the estate's.
            "gatewayId": identity.hub_gateway(cfg, cfg.role).id,
            "connectionIds": {c.name: c.id.id for c in plan if c.id is not None},
        }

    def _engine(self, op: str, stack: str) -> None:
        self.calls.append((op, stack))
        if stack in self.unreachable:
            raise AutomationError(f"{op} {stack}: the region does not answer")
        if self.fail_next.get((op, stack), 0) > 0:
            self.fail_next[(op, stack)] -= 1
            raise AutomationError(f"{op} {stack}: ExpressRoute gateway is busy (injected)")
        if op in ("preview", "up"):
            try:
                self._cfg(stack)
            except ConfigError as exc:  # the program stops with this message (pulumi.RunError)
                raise AutomationError(str(exc)) from exc
            self._gate(stack)

    def _gate(self, stack: str) -> None:
        # The program's single-circuit gate (program/stack.py): an exclusive connection waits
        # until the peer's deployed outputs show that it no longer holds its circuit.
        cfg = self._cfg(stack)
        peer = "dr" if stack == "prod" else "prod"
        for spec in connection_plan(cfg, cfg.role, cfg.phase):
            held = self.deployed[peer].get("circuitConnections")
            if spec.exclusive and not cfg.source_region_unreachable and (held is None or spec.circuit_id in held):
                raise AutomationError(f"stack '{stack}': connection {spec.name} must wait: peer '{peer}'")

    def changes(self, stack: str) -> list[PlannedStep]:
        before = self.deployed[stack]["connectionRoutingWeights"]
        after = self._outputs(stack)["connectionRoutingWeights"]
        steps = [PlannedStep("create", f"urn:{n}", CONNECTION, n) for n in after.keys() - before.keys()]
        steps += [PlannedStep("delete", f"urn:{n}", CONNECTION, n) for n in before.keys() - after.keys()]
        steps += [
            PlannedStep("update", f"urn:{n}", CONNECTION, n)
            for n in after.keys() & before.keys()
            if after[n] != before[n]
        ]
        return steps

    # --- the Automation protocol ---
    def get_config(self, stack: str, key: str) -> str | None:
        return self.config[stack].get(key)

    def set_config(self, stack: str, key: str, value: str) -> None:
        self.calls.append(("set", stack, key.removeprefix(NS), value))
        self.config[stack][key] = value

    def stack_config(self, stack: str) -> StackConfig:
        try:
            return self._cfg(stack)
        except ConfigError as exc:
            raise AutomationError(str(exc)) from exc

    def outputs(self, stack: str) -> dict[str, Any]:
        return {**self.deployed[stack], **self.reported.get(stack, {})}

    def preview(self, stack: str, plan: Path) -> PreviewReport:
        self._engine("preview", stack)
        self.plans.append(("preview", stack, plan))
        steps = self.changes(stack) + self.surprises.get(stack, [])
        summary = {op: sum(1 for s in steps if s.op == op) for op in ("create", "delete", "update")}
        findings = self.findings.get(stack, [])
        error = (
            "error: preview failed: mandatory policy violation"
            if any(f.level == "mandatory" for f in findings)
            else None
        )
        return PreviewReport(steps, findings, summary, error)

    def up(self, stack: str, plan: Path) -> dict[str, Any]:
        self._engine("up", stack)
        self.plans.append(("up", stack, plan))
        self.deployed[stack] = self._outputs(stack)
        held = [set(o["circuitConnections"]) for o in self.deployed.values()]
        c = self._cfg(stack)
        if (c.topology, c.addressing) == SS and held[0] & held[1]:
            self.both_on_circuit.append(len(self.calls) - 1)
        return dict(self.deployed[stack])

    def refresh(self, stack: str) -> None:
        self._engine("refresh", stack)

    def health(self, stack: str) -> StackHealth:
        self.health_reads.append(stack)  # read-only, kept out of `calls`
        return self.health_of.get(stack, StackHealth(stack))

    # --- Azure, as the connection probe reads it ---
    def connection_state(self, connection_id: str) -> str | None:
        self.azure_reads.append(connection_id)
        held = {i for o in self.deployed.values() for i in o["connectionIds"].values()} | self.lingering
        return "Succeeded" if connection_id in held else None

    # --- reading what happened ---
    def stack_ops(self) -> list[tuple[str, ...]]:
        """The calls that change something, without previews (asserted separately)."""
        return [c for c in self.calls if c[0] != "preview"]


def run_cmd(world: World, tmp_path: Path, *args: str, answers: list[str] | None = None) -> tuple[int, str, list[str]]:
    out: list[str] = []
    prompts: list[str] = []
    queue = list(answers or [])

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    argv = [*args, "--log", str(tmp_path / "failover.jsonl")]
    rc = failover.run(argv, lambda _args: world, ask=ask, say=out.append, probe=lambda: world)
    return rc, "\n".join(out), prompts


def log_events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "failover.jsonl").read_text().splitlines()]


def up(stack: str, phase: str, *extra: tuple[str, str]) -> list[tuple[str, ...]]:
    return [("set", stack, "phase", phase), *(("set", stack, k, v) for k, v in extra), ("up", stack)]


# --- the order of operations ----------------------------------------------------------------------

FAILOVER_ORDER = {
    "exclusive": up("prod", "failover") + up("dr", "failover"),
    "weights": up("dr", "failover") + up("prod", "failover"),
}
# Where the second `up` stands among the steps (Site Recovery and on-premises steps are manual):
# exclusive: failover, drop prod, connect dr, on-premises check; otherwise nothing in Azure moves
# traffic, so the on-premises switch comes second and both ups only record the phase.
SECOND_UP_STEP = {"exclusive": 3, "weights": 4}
FAILOVER_UNREACHABLE = {
    "exclusive": up("dr", "failover", ("sourceRegionUnreachable", "true")),
    "weights": up("dr", "failover"),
}
FAILBACK_ORDER = {
    "exclusive": up("dr", "failback") + up("prod", "failback") + up("prod", "standby") + up("dr", "standby"),
    "weights": up("prod", "failback") + up("dr", "failback") + up("prod", "standby") + up("dr", "standby"),
}
FAILBACK_AFTER_UNREACHABLE = {
    "exclusive": [
        ("refresh", "prod"),
        *up("prod", "failover"),
        *up("dr", "failback", ("sourceRegionUnreachable", "false")),
        *up("prod", "failback"),
        *up("prod", "standby"),
        *up("dr", "standby"),
    ],
    "weights": [
        ("refresh", "prod"),
        *up("prod", "failover"),
        *up("prod", "failback"),
        *up("dr", "failback", ("sourceRegionUnreachable", "false")),
        *up("prod", "standby"),
        *up("dr", "standby"),
    ],
}


def kind(topology: Topology, addressing: Addressing) -> str:
    return "exclusive" if (topology, addressing) == SS else "weights"


@pytest.mark.parametrize(("topology", "addressing"), COMBOS)
def test_failover_then_failback_runs_the_runbook_order(
    topology: Topology, addressing: Addressing, tmp_path: Path
) -> None:
    world = World(topology, addressing)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 0, out
    assert world.stack_ops() == FAILOVER_ORDER[kind(topology, addressing)]
    # Every up is previewed first, on the same stack, and applies the plan that preview saved.
    for i, call in enumerate(world.calls):
        if call[0] == "up":
            assert world.calls[i - 1] == ("preview", call[1])
    for (kind_a, stack_a, plan_a), (kind_b, stack_b, plan_b) in zip(world.plans[::2], world.plans[1::2], strict=True):
        assert (kind_a, kind_b, stack_a, plan_a) == ("preview", "up", stack_b, plan_b)
    assert {s: world.deployed[s]["phase"] for s in ROLE_OF} == {"prod": "failover", "dr": "failover"}

    world.calls.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failback", "--yes")
    assert rc == 0, out
    assert world.stack_ops() == FAILBACK_ORDER[kind(topology, addressing)]
    assert {s: world.deployed[s]["phase"] for s in ROLE_OF} == {"prod": "standby", "dr": "standby"}
    assert world.both_on_circuit == []


def test_not_pre_connected_target_connects_before_the_on_premises_switch(tmp_path: Path) -> None:
    """preConnectTarget: false: the one Azure change of the failover (the target connection) comes
    before the operator moves on-premises routing; prod only records the phase afterwards."""
    world = World(Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME)
    world.config["dr"][NS + "preConnectTarget"] = "false"
    world.deployed["dr"] = world._outputs("dr")  # pyright: ignore[reportPrivateUsage]
    assert world.deployed["dr"]["circuitConnections"] == []
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 0, out
    assert world.stack_ops() == up("dr", "failover") + up("prod", "failover")
    plan = out.split("\n\n== step", 1)[0]
    connect = plan.index("Connect the target hub to the secondary circuit (preConnectTarget is false")
    switch = plan.index("Switch on-premises routing to the secondary circuit")
    record = plan.index("Record phase 'failover' on prod")
    assert connect < switch < record
    assert len(world.deployed["dr"]["circuitConnections"]) == 1


@pytest.mark.parametrize(("topology", "addressing"), COMBOS)
def test_source_unreachable_failover_leaves_prod_alone_and_failback_cleans_up_first(
    topology: Topology, addressing: Addressing, tmp_path: Path
) -> None:
    world = World(topology, addressing)
    world.unreachable = {"prod"}
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes", "--source-unreachable")
    assert rc == 0, out
    assert world.stack_ops() == FAILOVER_UNREACHABLE[kind(topology, addressing)]
    assert all(c[1] == "dr" for c in world.calls)
    assert world.deployed["dr"]["phase"] == "failover"
    assert "source region UNREACHABLE" in out

    world.unreachable.clear()  # the region is back
    world.calls.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failback", "--yes", "--source-unreachable")
    assert rc == 0, out
    assert world.stack_ops() == FAILBACK_AFTER_UNREACHABLE[kind(topology, addressing)]
    assert world.config["dr"].get(NS + "sourceRegionUnreachable") in (None, "false")
    assert {s: world.deployed[s]["phase"] for s in ROLE_OF} == {"prod": "standby", "dr": "standby"}


def test_exclusive_order_is_what_the_gate_needs(tmp_path: Path) -> None:
    """Single circuit, same IPs: the fake's gate refuses dr while prod still holds the circuit."""
    world = World(*SS)
    world.config["prod"][NS + "phase"] = "standby"
    world.config["dr"][NS + "phase"] = "failover"
    with pytest.raises(AutomationError, match="must wait"):
        world.preview("dr", tmp_path / "plan.json")
    # And the unreachable path gets through only because the command sets sourceRegionUnreachable.
    world.config["dr"][NS + "sourceRegionUnreachable"] = "true"
    assert world.preview("dr", tmp_path / "plan.json").summary["create"] == 1


def test_drill_touches_no_stack(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME)
    rc, out, _ = run_cmd(world, tmp_path, "drill", "--yes")
    assert rc == 0, out
    assert world.calls == []
    manual = [e for e in log_events(tmp_path) if e["event"] == "manual"]
    assert len(manual) == 3
    assert all(e["status"] == "operator action required" for e in manual)
    assert "drillVnetIds" in out


def test_drill_rejects_source_unreachable(tmp_path: Path) -> None:
    world = World(*SS)
    rc, out, _ = run_cmd(world, tmp_path, "drill", "--source-unreachable")
    assert rc == 2
    assert "not to a drill" in out


# --- agreement between the stacks -----------------------------------------------------------------


def test_stacks_that_disagree_stop_before_anything_changes(tmp_path: Path) -> None:
    world = World(*SS)
    world.config["dr"][NS + "topology"] = "two-circuits-two-locations"
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 2
    assert "stacks disagree" in out
    assert "'prod' has topology=single-circuit" in out
    assert "'dr' has topology=two-circuits-two-locations" in out
    assert world.calls == []
    assert not state_path(tmp_path / "failover.jsonl").exists()


def test_addressing_disagreement_is_caught_too(tmp_path: Path) -> None:
    world = World(Topology.SINGLE_CIRCUIT, Addressing.TRANSLATED)
    world.config["prod"][NS + "addressing"] = "same"
    rc, out, _ = run_cmd(world, tmp_path, "failback", "--yes")
    assert (rc, "addressing=same" in out, "addressing=translated" in out) == (2, True, True)


def test_swapped_stacks_are_refused(tmp_path: Path) -> None:
    world = World(*SS)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes", "--stacks", "prod=dr,dr=prod")
    assert rc == 2
    assert "stack 'dr' has expressroute-dr:role = 'target', expected 'source'" in out
    assert world.calls == []


class Renamed:
    """Forwards to a World under qualified stack names, recording the names the command used."""

    def __init__(self, world: World, org: str) -> None:
        self.world, self.org, self.seen = world, org, set[str]()

    def _short(self, stack: str) -> str:
        self.seen.add(stack)
        return stack.removeprefix(self.org + "/")

    def get_config(self, stack: str, key: str) -> str | None:
        return self.world.get_config(self._short(stack), key)

    def set_config(self, stack: str, key: str, value: str) -> None:
        self.world.set_config(self._short(stack), key, value)

    def stack_config(self, stack: str) -> StackConfig:
        return self.world.stack_config(self._short(stack))

    def outputs(self, stack: str) -> dict[str, Any]:
        return self.world.outputs(self._short(stack))

    def preview(self, stack: str, plan: Path) -> PreviewReport:
        return self.world.preview(self._short(stack), plan)

    def up(self, stack: str, plan: Path) -> dict[str, Any]:
        return self.world.up(self._short(stack), plan)

    def refresh(self, stack: str) -> None:
        self.world.refresh(self._short(stack))

    def health(self, stack: str) -> StackHealth:
        return self.world.health(self._short(stack))


def test_stack_names_reach_the_boundary_and_the_plan(tmp_path: Path) -> None:
    world = World(*SS)
    renamed = Renamed(world, "acme")
    out: list[str] = []
    argv = ["failover", "--yes", "--stacks", "prod=acme/prod,dr=acme/dr", "--log", str(tmp_path / "f.jsonl")]
    rc = failover.run(argv, lambda _args: renamed, say=out.append, probe=lambda: world)
    text = "\n".join(out)
    assert rc == 0, text
    assert renamed.seen == {"acme/prod", "acme/dr"}
    assert "$ pulumi config set expressroute-dr:phase failover --stack acme/prod" in text
    assert "$ pulumi up --stack acme/dr" in text
    assert "Pulumi.dr.yaml Pulumi.prod.yaml" in text
    assert world.stack_ops() == FAILOVER_ORDER["exclusive"]


@pytest.mark.parametrize(
    ("operation", "unreachable", "missing"),
    [("failover", False, "dr"), ("failback", False, "prod"), ("failback", True, "prod")],
)
def test_missing_peer_stack_stops_before_anything_changes(
    operation: str, unreachable: bool, missing: str, tmp_path: Path
) -> None:
    world = World(*SS, peer_stack=False)
    args = [operation, "--yes", *(["--source-unreachable"] if unreachable else [])]
    rc, out, _ = run_cmd(world, tmp_path, *args)
    assert rc == 2
    assert f"expressroute-dr:peerStack is not set on {missing}," in out
    assert f"--stack {missing})" in out
    assert world.calls == []


def test_unreachable_failover_needs_no_peer_stack(tmp_path: Path) -> None:
    world = World(*SS, peer_stack=False)
    world.unreachable = {"prod"}
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes", "--source-unreachable")
    assert rc == 0, out
    assert world.deployed["dr"]["phase"] == "failover"


def test_the_fake_program_refuses_what_the_real_one_refuses(tmp_path: Path) -> None:
    """Without the pre-flight check the dr step would fail after prod dropped its connection."""
    world = World(*SS, peer_stack=False)
    world.set_config("dr", NS + "phase", "failover")
    with pytest.raises(AutomationError, match="set peerStack"):
        world.preview("dr", tmp_path / "plan.json")


@pytest.mark.parametrize("text", ["prod", "prod=,dr=x", "east=a", "prod=a,dr=a"])
def test_bad_stacks_argument(text: str) -> None:
    with pytest.raises(failover.FailoverError):
        failover.parse_stacks(text)


def test_stacks_argument_accepts_roles_and_partial_overrides() -> None:
    assert failover.parse_stacks("dr=acme/dr") == {Role.SOURCE: "prod", Role.TARGET: "acme/dr"}
    assert failover.parse_stacks("source=a, target=b") == {Role.SOURCE: "a", Role.TARGET: "b"}


# --- confirmation ---------------------------------------------------------------------------------


def test_plan_is_shown_and_nothing_runs_without_confirmation(tmp_path: Path) -> None:
    world = World(*SS)
    rc, out, prompts = run_cmd(world, tmp_path, "failover", answers=["yes"])  # not the operation name
    assert rc == 1
    assert "Not confirmed: nothing was changed." in out
    assert prompts == ["\nType 'failover' to run steps 1-4: "]
    assert "1. [manual] Start the Site Recovery failover" in out
    assert "2. [up] Drop the source hub's connection" in out
    assert "$ pulumi config set expressroute-dr:phase failover --stack prod" in out
    assert world.calls == []
    assert [e["event"] for e in log_events(tmp_path)][-1] == "aborted"


def test_no_terminal_means_no_consent(tmp_path: Path) -> None:
    world = World(*SS)
    rc, _, prompts = run_cmd(world, tmp_path, "failover", answers=[])  # ask raises EOFError
    assert len(prompts) == 1
    assert rc == 1
    assert world.calls == []


def test_confirmed_run_asks_at_each_manual_step(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_ONE_LOCATION, Addressing.SAME)
    rc, out, prompts = run_cmd(world, tmp_path, "failover", answers=["failover", "done", "done"])
    assert rc == 0, out
    assert len(prompts) == 3
    assert prompts[1].strip().startswith("Type 'done'")
    statuses = [e["status"] for e in log_events(tmp_path) if e["event"] == "manual"]
    assert statuses == ["confirmed by operator", "confirmed by operator"]
    assert world.stack_ops() == FAILOVER_ORDER["weights"]


def test_manual_step_not_done_stops_and_resume_asks_again(tmp_path: Path) -> None:
    world = World(*SS)
    # Confirm the plan, then say the Site Recovery failover is not done yet.
    rc, out, _ = run_cmd(world, tmp_path, "failover", answers=["failover", "later"])
    assert rc == 1
    assert "STOPPED at step 1/4: Start the Site Recovery failover" in out
    assert world.calls == []  # the stacks wait for Site Recovery
    rc, out, prompts = run_cmd(world, tmp_path, "failover", "--resume", answers=["failover", "done", "done"])
    assert rc == 0, out
    assert world.stack_ops() == FAILOVER_ORDER["exclusive"]
    assert prompts[0] == "\nType 'failover' to run steps 1-4: "


# --- failure half-way and resume ------------------------------------------------------------------


@pytest.mark.parametrize(("topology", "addressing"), COMBOS)
def test_failure_half_way_stops_clearly_and_resume_finishes_without_redoing(
    topology: Topology, addressing: Addressing, tmp_path: Path
) -> None:
    world = World(topology, addressing)
    second = FAILOVER_ORDER[kind(topology, addressing)][-1][1]  # the stack of the second up step
    at = SECOND_UP_STEP[kind(topology, addressing)]
    world.fail_next[("up", second)] = 1
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")

    assert rc == 1
    assert f"failover STOPPED at step {at}/4" in out
    assert "ExpressRoute gateway is busy (injected)" in out
    done = ", ".join(str(i) for i in range(1, at))
    assert f"completed steps: {done} (they will not be run again)" in out
    assert "python -m erdr.failover failover --resume --log" in out
    state = RunState.load(state_path(tmp_path / "failover.jsonl"))
    assert (state.status, state.completed, state.failed_step) == ("failed", at - 1, at)
    assert "injected" in (state.error or "")
    first = next(c for c in world.stack_ops() if c[0] == "up")[1]
    assert world.deployed[first]["phase"] == "failover"
    assert world.deployed[second]["phase"] == "standby"

    # A fresh run is refused while the failed one is unfinished.
    world.calls.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 2
    assert "--resume" in out
    assert world.calls == []

    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert rc == 0, out
    assert all(c[1] == second for c in world.calls)  # the completed step is not redone
    assert world.stack_ops() == up(second, "failover")
    assert {s: world.deployed[s]["phase"] for s in ROLE_OF} == {"prod": "failover", "dr": "failover"}
    assert RunState.load(state_path(tmp_path / "failover.jsonl")).status == "completed"
    assert world.both_on_circuit == []
    events = log_events(tmp_path)
    resume = next(e for e in events if e["event"] == "resume")
    assert resume["from_step"] == at
    assert [e["step"] for e in events if e["event"] == "step-failed"] == [at]


def test_exclusive_failover_where_prod_cannot_drop_stops_before_dr(tmp_path: Path) -> None:
    world = World(*SS)
    world.fail_next[("preview", "prod")] = 1
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert "STOPPED at step 2/4: Drop the source hub's connection" in out
    assert ("up", "dr") not in world.calls and ("preview", "dr") not in world.calls
    assert world.both_on_circuit == []


def test_up_that_does_not_reach_the_phase_is_a_failure(tmp_path: Path) -> None:
    world = World(*SS)
    real_up = world.up

    def stale_up(stack: str, plan: Path) -> dict[str, Any]:
        return {**real_up(stack, plan), "phase": "standby"}

    world.up = stale_up  # type: ignore[method-assign]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert "reports phase 'standby', expected 'failover'" in out


def test_interrupt_leaves_a_resumable_state(tmp_path: Path) -> None:
    world = World(*SS)
    real_up = world.up
    hits = {"n": 0}

    def interrupted_up(stack: str, plan: Path) -> dict[str, Any]:
        hits["n"] += 1
        if hits["n"] == 2:
            raise KeyboardInterrupt
        return real_up(stack, plan)

    world.up = interrupted_up  # type: ignore[method-assign]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 130
    assert "STOPPED at step 3/4" in out
    world.up = real_up  # type: ignore[method-assign]
    rc, _, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert rc == 0
    assert world.deployed["dr"]["phase"] == "failover"


def test_resume_refuses_what_it_cannot_continue(tmp_path: Path) -> None:
    world = World(*SS)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert (rc, "nothing to resume" in out) == (2, True)

    world.fail_next[("up", "dr")] = 1
    assert run_cmd(world, tmp_path, "failover", "--yes")[0] == 1
    rc, out, _ = run_cmd(world, tmp_path, "failback", "--resume", "--yes")
    assert (rc, "is a failover, not a failback" in out) == (2, True)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes", "--source-unreachable")
    assert (rc, "without --source-unreachable" in out) == (2, True)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes", "--stacks", "dr=other")
    assert (rc, "--stacks differs" in out) == (2, True)

    # Someone changed the topology in between: the recorded steps no longer apply.
    world.config["prod"][NS + "topology"] = world.config["dr"][NS + "topology"] = "two-circuits-two-locations"
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert (rc, "the interrupted run used single-circuit/same" in out) == (2, True)
    world.config["prod"][NS + "topology"] = world.config["dr"][NS + "topology"] = "single-circuit"

    # The procedure itself changed (state written by an older model/phases.py).
    path = state_path(tmp_path / "failover.jsonl")
    data = json.loads(path.read_text())
    data["steps"][1] = data["steps"][1].replace("Drop", "Remove")
    path.write_text(json.dumps(data))
    before = len(world.calls)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert (rc, "the procedure changed" in out) == (2, True)
    assert len(world.calls) == before


# --- the log --------------------------------------------------------------------------------------


def test_log_records_every_action_in_order(tmp_path: Path) -> None:
    world = World(*SS)
    rc, _, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 0
    events = log_events(tmp_path)
    assert len({e["run"] for e in events}) == 1
    names = [e["event"] for e in events]
    assert names[:2] == ["start", "plan"]
    assert names[-1] == "finished"
    start = events[0]
    assert (start["operation"], start["topology"], start["addressing"], start["source_reachable"]) == (
        "failover",
        "single-circuit",
        "same",
        True,
    )
    assert start["stacks"] == {"source": "prod", "target": "dr"}
    plan = events[1]["steps"]
    assert [s["action"] for s in plan] == ["manual", "up", "up", "manual"]
    assert plan[1]["commands"] == [
        "pulumi config set expressroute-dr:phase failover --stack prod",
        "pulumi up --stack prod",
    ]
    acting = [
        (e["event"], e.get("stack"))
        for e in events
        if e["event"] in ("set-config", "azure-check", "preview", "up", "manual")
    ]
    assert acting == [
        ("manual", None),
        ("set-config", "prod"),
        ("preview", "prod"),
        ("up", "prod"),
        ("set-config", "dr"),
        ("azure-check", None),
        ("preview", "dr"),
        ("up", "dr"),
        ("manual", None),
    ]
    ups = [e for e in events if e["event"] == "up"]
    assert ups[0]["outputs"]["circuitConnections"] == []
    assert ups[1]["outputs"]["phase"] == "failover"
    assert len(ups[1]["outputs"]["circuitConnections"]) == 1
    preview = next(e for e in events if e["event"] == "preview")
    assert preview["changes"] == {"create": 0, "delete": 1, "update": 0}
    assert preview["expected"] == {"hub-eastasia-to-primary": "delete"}
    assert [s["op"] for s in preview["steps"]] == ["delete"] and preview["findings"] == []
    ups = [e for e in events if e["event"] == "up"]
    assert all(u["plan"] == p["plan"] for u, p in zip(ups, [e for e in events if e["event"] == "preview"], strict=True))
    (check,) = [e for e in events if e["event"] == "azure-check"]
    assert check["connection"].endswith("/connections/hub-eastasia-to-primary") and check["state"] == "absent"
    done = [e["step"] for e in events if e["event"] == "step-done"]
    assert done == [1, 2, 3, 4]


def test_finished_run_says_to_commit_the_stack_files(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.TRANSLATED)
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 0
    assert "git commit -m 'failover' Pulumi.dr.yaml Pulumi.prod.yaml" in out


# --- the preview is the gate --------------------------------------------------------------------


@pytest.mark.parametrize(("topology", "addressing"), COMBOS)
@pytest.mark.parametrize("role", list(Role))
def test_expected_changes_follow_the_connection_plan(topology: Topology, addressing: Addressing, role: Role) -> None:
    stack = "prod" if role is Role.SOURCE else "dr"
    cfg = stack_config(stack, topology, addressing, Phase.STANDBY, False, "peer")
    got = failover.expected_changes(cfg, role, Phase.STANDBY, Phase.FAILOVER)
    before = {c.name: c.routing_weight for c in connection_plan(cfg, role, Phase.STANDBY)}
    after = {c.name: c.routing_weight for c in connection_plan(cfg, role, Phase.FAILOVER)}
    want = {n: "create" for n in after.keys() - before.keys()} | {n: "delete" for n in before.keys() - after.keys()}
    want |= {n: "update" for n in after.keys() & before.keys() if after[n] != before[n]}
    assert got == want
    if (topology, addressing) != SS:
        # Each gateway holds one connection: nothing in Azure changes, only the phase is recorded.
        assert got == {}
    assert failover.expected_changes(cfg, role, Phase.FAILOVER, Phase.FAILOVER) == {}


def test_an_unexpected_change_in_the_preview_stops_the_step_before_up(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME)
    world.surprises["dr"] = [
        PlannedStep("delete", "urn:x", "azure-native:network:VirtualNetworkPeering", "hub-to-vnet1")
    ]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert "STOPPED at step 3/4: Record phase 'failover' on dr" in out
    assert "the preview of stack 'dr' is not what phase failover needs, so it was not applied" in out
    assert "unexpected delete of VirtualNetworkPeering hub-to-vnet1" in out
    assert ("up", "dr") not in world.calls and world.deployed["dr"]["phase"] == "standby"
    # The record-only update goes through once the surprise is gone.
    world.surprises.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert rc == 0, out
    assert {s: world.deployed[s]["phase"] for s in ROLE_OF} == {"prod": "failover", "dr": "failover"}


def test_a_connection_change_the_phase_model_does_not_expect_stops_too(tmp_path: Path) -> None:
    world = World(*SS)
    # A replacement of the source connection instead of its deletion.
    world.surprises["prod"] = [PlannedStep("replace", "urn:c", CONNECTION, "hub-eastasia-to-primary")]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1 and "unexpected replace of VirtualNetworkGatewayConnection hub-eastasia-to-primary" in out
    assert world.both_on_circuit == [] and ("up", "prod") not in world.calls


def test_a_mandatory_policy_finding_stops_the_step_and_an_advisory_one_does_not(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_ONE_LOCATION, Addressing.SAME)
    world.findings["dr"] = [PolicyFinding("circuits-same-peering-location", "advisory", "two circuits", "urn:a")]
    world.findings["prod"] = [
        PolicyFinding("vnet-address-space-overlap", "mandatory", "VNet 'hub' prefix overlaps ...", "urn:x::hub-vnet")
    ]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert "STOPPED at step 4/4: Record phase 'failover' on prod" in out
    assert "mandatory policy vnet-address-space-overlap (hub-vnet): VNet 'hub' prefix overlaps ..." in out
    assert "the preview failed" in out
    assert world.deployed["dr"]["phase"] == "failover" and world.deployed["prod"]["phase"] == "standby"


def test_a_stack_that_was_never_deployed_is_refused(tmp_path: Path) -> None:
    world = World(Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME)
    del world.deployed["dr"]["phase"]
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1 and "stack 'dr' reports phase None; deploy it (pulumi up) before a failover" in out
    assert not [c for c in world.calls if c[0] in ("preview", "up")]


# --- Azure confirms the circuit is free before the exclusive connection -----------------------------


def test_exclusive_connection_waits_until_azure_no_longer_has_the_other(tmp_path: Path) -> None:
    world = World(*SS)
    prod_conn = world.deployed["prod"]["connectionIds"]["hub-eastasia-to-primary"]
    world.lingering.add(prod_conn)  # prod's state dropped it, Azure is still deleting it
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert "STOPPED at step 3/4: Connect the target hub to the primary circuit" in out
    assert f"Azure still has {prod_conn} (provisioningState Succeeded)" in out
    assert world.azure_reads == [prod_conn]
    assert ("preview", "dr") not in world.calls and world.both_on_circuit == []
    world.lingering.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert rc == 0, out
    assert world.azure_reads == [prod_conn, prod_conn]


# A real estate: the hub in its own subscription and group on both sides, not the stack's group.
CONNECTIVITY = "c0777777-0000-4000-8000-000000000007"
HUB_PLACED = {
    "layout": {
        **load_stack("prod").config["layout"],
        "hub": {
            **load_stack("prod").config["layout"]["hub"],
            "placement": {
                "source": {"subscriptionId": CONNECTIVITY, "resourceGroup": "rg-conn-eastasia", "name": "vnet-hub-ea"},
                "target": {"subscriptionId": CONNECTIVITY, "resourceGroup": "rg-conn-southeastasia"},
            },
        },
    }
}


def test_the_circuit_check_reads_the_hubs_own_group_and_subscription(tmp_path: Path) -> None:
    """With the hub in its own group and subscription, the connection read is the one Azure has
    (the stack's resourceGroupName output would name one that never existed, and a 404 there
    would have let the target connect while prod's connection still existed)."""
    world = World(*SS, extra=HUB_PLACED)
    prod_conn = world.deployed["prod"]["connectionIds"]["vnet-hub-ea-to-primary"]
    assert prod_conn == (
        f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-eastasia/providers/Microsoft.Network/connections/"
        "vnet-hub-ea-to-primary"
    )
    world.lingering.add(prod_conn)  # Azure is still deleting it
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert f"Azure still has {prod_conn} (provisioningState Succeeded)" in out
    assert world.azure_reads == [prod_conn]
    assert ("preview", "dr") not in world.calls and world.both_on_circuit == []
    world.lingering.clear()  # gone now: the failover proceeds
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--resume", "--yes")
    assert rc == 0, out
    assert world.azure_reads == [prod_conn, prod_conn]


def test_a_peer_whose_outputs_contradict_the_estate_stops_the_step(tmp_path: Path) -> None:
    """Control for the cross-check: a gateway output elsewhere than the config resolves (a
    placement changed since prod was deployed) stops before any Azure read, naming both."""
    world = World(*SS, extra=HUB_PLACED)
    gateway = world.deployed["prod"]["gatewayId"]
    elsewhere = gateway.replace("rg-conn-eastasia", "rg-old-network")
    world.reported["prod"] = {"gatewayId": elsewhere}
    rc, out, _ = run_cmd(world, tmp_path, "failover", "--yes")
    assert rc == 1
    assert f"stack 'prod' reports gateway {elsewhere}, but its config resolves to {gateway}" in out
    assert world.azure_reads == []


def test_failback_checks_the_target_connection_before_reconnecting_the_source(tmp_path: Path) -> None:
    world = World(*SS)
    assert run_cmd(world, tmp_path, "failover", "--yes")[0] == 0
    world.azure_reads.clear()
    rc, out, _ = run_cmd(world, tmp_path, "failback", "--yes")
    assert rc == 0, out
    group = world.deployed["dr"]["resourceGroupName"]
    dr_conn = f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Network/connections/hub-southeastasia-to-primary"
    assert world.azure_reads == [dr_conn]


def test_declared_unreachable_source_is_not_read(tmp_path: Path) -> None:
    world = World(*SS)
    world.unreachable = {"prod"}
    rc, _, _ = run_cmd(world, tmp_path, "failover", "--yes", "--source-unreachable")
    assert rc == 0
    assert world.azure_reads == []
    skipped = [e for e in log_events(tmp_path) if e["event"] == "azure-check"]
    assert skipped == [{**skipped[0], "skipped": "source region declared unreachable"}]


class BrokenProbe:
    def connection_state(self, connection_id: str) -> str | None:
        raise failover.ProbeError("AADSTS700016: application not found")


def test_an_azure_read_that_fails_is_never_taken_for_gone(tmp_path: Path) -> None:
    world = World(*SS)
    out: list[str] = []
    argv = ["failover", "--yes", "--log", str(tmp_path / "failover.jsonl")]
    rc = failover.run(argv, lambda _args: world, say=out.append, probe=BrokenProbe)
    text = "\n".join(out)
    assert rc == 1 and "cannot confirm in Azure that" in text and "AADSTS700016" in text
    assert ("preview", "dr") not in world.calls and world.deployed["dr"]["circuitConnections"] == []


class HangingProbe:
    def connection_state(self, connection_id: str) -> str | None:
        time.sleep(30)
        return None


def test_the_azure_check_has_one_deadline_for_all_its_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ARM that never answers stops the step at the check's own deadline, fail closed (no
    connection created), however many connections it has to read."""
    monkeypatch.setattr(failover, "CHECK_DEADLINE", 0.5)
    world = World(*SS)
    out: list[str] = []
    argv = ["failover", "--yes", "--log", str(tmp_path / "failover.jsonl")]
    started = time.monotonic()
    rc = failover.run(argv, lambda _args: world, say=out.append, probe=HangingProbe)
    elapsed = time.monotonic() - started
    text = "\n".join(out)
    assert rc == 1 and "cannot confirm in Azure that" in text and "deadline" in text, text
    assert elapsed < 20
    assert ("preview", "dr") not in world.calls and world.deployed["dr"]["circuitConnections"] == []
