"""The failover command: move both stacks through a failover, failback or drill, in runbook order.

    python -m erdr.failover failover|failback|drill [--yes] [--source-unreachable]
        [--stacks prod=ORG/prod,dr=ORG/dr] [--log FILE] [--resume]

The order of operations is :func:`model.phases.procedure`, nothing else. This module only
executes it: it reads both stacks' topology and addressing (they must agree), shows the plan and
asks for confirmation, then runs each step through the :class:`Automation` boundary (the Pulumi
Automation API in real life, a fake in tests). Every action goes to a JSON-lines log; a state file
beside the log records how far the run got, so after a failure ``--resume`` continues at the
failed step without redoing the completed ones.

Each stack update is as safe as CI's: ``pulumi preview`` with the policy pack, saving an update
plan; the preview is the gate (the step stops, with the reason, when the preview fails, reports a
mandatory policy finding, or shows any change beyond the connection changes that
:func:`model.phases.connection_plan` expects between the deployed phase and the new one); then
``pulumi up`` with the policy pack runs exactly that reviewed plan (``--plan``). Before a step
creates the one connection a single circuit with the same IPs allows, the command reads the other
hub's connection from Azure (an ARM GET through Microsoft's SDK) and stops unless it is gone,
except when the source region is declared unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from erdr.arm import (
    ARM_ENDPOINT,
    CALL_TIMEOUTS,
    TOKEN_ENV,
    ArmDeadline,
    ArmEndpointError,
    ArmRefused,
    CallTimeouts,
    check_endpoint,
    client_options,
    credential_for,
    within,
)
from erdr.engine_view import physical_name
from erdr.pulumi_cli import INTERRUPTS, StackHealth, clearing_commands, read_health
from erdr.stackfiles import PROJECT_DIR
from model import identity
from model.config import SECRET_KEYS, Addressing, ConfigError, Phase, Role, StackConfig, Topology
from model.identity import ResourceId, load
from model.naming import CONNECTIONS
from model.phases import Action, Design, Operation, Step, connection_plan, procedure
from policies.shared.names import CONNECTION, NAMESPACE

DEFAULT_LOG = PROJECT_DIR / "build" / "failover.jsonl"
POLICY_PACK = PROJECT_DIR / "policies"
STATE_VERSION = 1
# Outputs worth keeping in the log: what the runbook's checks read.
LOGGED_OUTPUTS = ("role", "phase", "circuitConnections", "connectionRoutingWeights")
OPERATOR_ACTION = "operator action required"
# The whole Azure check before a connection that must never coexist with the other hub's: every
# read together (each read is bounded by erdr.arm.CALL_TIMEOUTS.deadline on its own).
CHECK_DEADLINE = 90.0

Ask = Callable[[str], str]
Say = Callable[[str], None]


class AutomationError(Exception):
    """A Pulumi operation failed; the message says which and why (tail of the engine's output)."""


@dataclass(frozen=True)
class PlannedStep:
    """One step a preview shows (the engine's ``ResourcePreEvent``)."""

    op: str  # create | update | delete | replace | same | read | ...
    urn: str
    type: str
    name: str  # the Azure name (from the inputs) when there is one, else the Pulumi name


@dataclass(frozen=True)
class PolicyFinding:
    """One policy diagnostic of a preview (the engine's ``PolicyEvent``)."""

    policy: str
    level: str  # advisory | mandatory | ...
    message: str
    urn: str = ""


@dataclass
class PreviewReport:
    """What ``pulumi preview`` showed: its steps, the policy pack's findings, and the saved plan."""

    steps: list[PlannedStep] = field(default_factory=list[PlannedStep])
    findings: list[PolicyFinding] = field(default_factory=list[PolicyFinding])
    summary: dict[str, int] = field(default_factory=dict[str, int])
    error: str | None = None  # the preview failed; its output's tail


class Automation(Protocol):
    """What the command needs from Pulumi, stack by stack. Implementations raise AutomationError."""

    def get_config(self, stack: str, key: str) -> str | None: ...

    def set_config(self, stack: str, key: str, value: str) -> None: ...

    def stack_config(self, stack: str) -> StackConfig: ...

    def outputs(self, stack: str) -> dict[str, Any]: ...

    def preview(self, stack: str, plan: Path) -> PreviewReport: ...

    def up(self, stack: str, plan: Path) -> dict[str, Any]: ...

    def refresh(self, stack: str) -> None: ...

    def health(self, stack: str) -> StackHealth:
        """Pending operations in the stack's state and locks of its backend."""
        ...


class ProbeError(Exception):
    """Azure could not be asked (credentials, network, an error answer): never read as 'gone'."""


class ConnectionProbe(Protocol):
    """Reads a gateway connection from Azure: its provisioning state, or None when it is gone."""

    def connection_state(self, connection_id: str) -> str | None: ...


class AzureConnectionProbe:
    """The ARM read, through Microsoft's SDK (``azure-mgmt-network``): ``GET
    /subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Network/connections/{name}``
    (``VirtualNetworkGatewayConnections_Get``; azure-mgmt-network 28.1.0, pinned with the
    conformance oracle, sends api-version 2024-05-01: the version azure-native uses).

    Only ARM's own "not found" answer means gone: a 404 whose body is ARM's error object with code
    ``ResourceNotFound`` (or ``NotFound``, ``ResourceGroupNotFound``). Anything else fails closed
    (:class:`ProbeError`): an error status, a 404 from something that is not ARM (a proxy's page),
    a body that is not the connection asked for, no answer within the deadline.

    ``credential`` is any ``TokenCredential`` (``DefaultAzureCredential`` by default: the Azure
    CLI's login, OIDC in CI); ``base_url`` the ARM endpoint (another cloud, or a local fake in
    tests), which alone receives the token; ``timeouts`` bound each call and the whole read
    (:mod:`erdr.arm`); ``client_options`` go to the client (e.g. ``connection_verify``).
    """

    GONE_CODES = frozenset({"resourcenotfound", "notfound", "resourcegroupnotfound"})

    def __init__(
        self,
        credential: Any = None,
        base_url: str = ARM_ENDPOINT,
        timeouts: CallTimeouts = CALL_TIMEOUTS,
        **client_options: Any,
    ) -> None:
        self._credential = credential
        self._base_url = base_url
        self._timeouts = timeouts
        self._options = client_options

    def connection_state(self, connection_id: str) -> str | None:
        parts = connection_id.strip("/").split("/")
        lowered = [p.lower() for p in parts]
        try:
            subscription = parts[lowered.index("subscriptions") + 1]
            group = parts[lowered.index("resourcegroups") + 1]
            name = parts[lowered.index("connections") + 1]
        except (ValueError, IndexError):
            raise ProbeError(f"not a connection ID: {connection_id}") from None
        deadline = self._timeouts.deadline
        try:
            found = within(deadline, connection_id, lambda: self._get(subscription, group, name))
        except ArmDeadline:
            raise ProbeError(
                f"Azure Resource Manager ({self._base_url}) did not answer within {deadline:g} s; "
                "check the network path to it and the Azure status page, then resume"
            ) from None
        except ArmRefused as exc:
            raise ProbeError(str(exc)) from None
        except Exception as exc:
            gone = self._not_found(exc)
            if gone is True:
                return None
            raise ProbeError(f"reading {connection_id} from Azure failed: {gone or _one_line(exc)}") from exc
        answered = str(getattr(found, "id", "") or "")
        if answered.lower() != "/" + "/".join(lowered):
            raise ProbeError(
                f"reading {connection_id} from Azure failed: the answer is not that connection "
                f"(id {answered[:200] or 'missing'}); not taken as gone"
            )
        state = getattr(found, "provisioning_state", None)
        return str(getattr(state, "value", state) or "unknown")  # the SDK's enum, or a string

    def _get(self, subscription: str, group: str, name: str) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        credential = self._credential
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        options = {**client_options(self._base_url, self._timeouts), **self._options}
        client = NetworkManagementClient(credential, subscription, **options)
        return client.virtual_network_gateway_connections.get(group, name)

    @classmethod
    def _not_found(cls, exc: Exception) -> bool | str | None:
        """True for ARM's own not-found answer; a reason for a 404 that is not ARM's; else None."""
        from azure.core.exceptions import ResourceNotFoundError

        if not isinstance(exc, ResourceNotFoundError):
            return None
        code = str(getattr(getattr(exc, "error", None), "code", "") or "")
        if code.lower() in cls.GONE_CODES:
            return True
        return (
            f"HTTP 404 without ARM's ResourceNotFound error body (code {code or 'none'}): "
            "something other than Azure Resource Manager answered; not taken as gone"
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


class PulumiAutomation:
    """The real boundary: Pulumi's Automation API over the project directory (needs the CLI).

    ``set_config`` writes ``Pulumi.<stack>.yaml`` exactly as ``pulumi config set`` does, so the
    phase each step sets is left in the working tree to be committed. ``preview`` and ``up`` run
    with the policy pack (``policy_packs``, as ``--policy-pack``), the preview saving an update
    plan that ``up`` then runs (``plan``: ``--save-plan`` / ``--plan``), as
    ``pulumi/automation/_stack.py`` passes them to the CLI.
    """

    def __init__(
        self,
        work_dir: Path = PROJECT_DIR,
        say: Say = print,
        select: Callable[[str, str], Any] | None = None,
        policy_packs: Iterable[Path] = (POLICY_PACK,),
        policy_pack_configs: Iterable[Path] = (),
    ) -> None:
        self._work_dir = work_dir
        self._say = say
        self._select = select or self._select_with_cli
        self._command: Any = None
        self._stacks: dict[str, Any] = {}
        self._packs = [str(p) for p in policy_packs]
        self._pack_configs = [str(p) for p in policy_pack_configs]

    def _select_with_cli(self, name: str, work_dir: str) -> Any:
        """The stack, with every CLI command run by :class:`erdr.pulumi_cli.InterruptibleCommand`."""
        from pulumi import automation as auto

        from erdr.pulumi_cli import InterruptibleCommand

        _require_cli()
        if self._command is None:
            self._command = InterruptibleCommand()
        options = auto.LocalWorkspaceOptions(pulumi_command=self._command)
        return auto.select_stack(stack_name=name, work_dir=work_dir, opts=options)

    def _cli(self, stack: str, args: list[str]) -> str:
        """A CLI command the Automation API has no method for (or only one that decrypts secrets),
        run as its workspace runs commands (``LocalWorkspace._run_pulumi_cmd_sync``); its stdout."""
        s = self._stack(stack)
        ws = s.workspace
        env = {**({"PULUMI_HOME": ws.pulumi_home} if ws.pulumi_home else {}), **ws.env_vars}
        result = self._call(f"pulumi {' '.join(args)}", lambda: ws.pulumi_command.run(list(args), ws.work_dir, env))
        return str(result.stdout)

    def _stack(self, name: str) -> Any:
        if name not in self._stacks:
            self._stacks[name] = self._call(f"select stack {name}", lambda: self._select(name, str(self._work_dir)))
        return self._stacks[name]

    @staticmethod
    def _call(what: str, fn: Callable[[], Any]) -> Any:
        from pulumi import automation as auto

        try:
            return fn()
        except auto.CommandError as exc:
            raise AutomationError(f"{what} failed:\n{_tail(exc)}") from exc

    def _policy_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"policy_packs": self._packs}
        if self._pack_configs:
            options["policy_pack_configs"] = self._pack_configs
        return options

    def get_config(self, stack: str, key: str) -> str | None:
        from pulumi import automation as auto

        s = self._stack(stack)
        try:
            value = s.get_config(key)
        except auto.CommandError:
            return None  # `pulumi config get` exits non-zero for a key that is not set
        if value.secret:
            raise AutomationError(_secret_elsewhere(stack, key))
        return value.value

    def set_config(self, stack: str, key: str, value: str) -> None:
        from pulumi import automation as auto

        s = self._stack(stack)
        self._call(
            f"pulumi config set {key} {value} --stack {stack}", lambda: s.set_config(key, auto.ConfigValue(value))
        )

    def stack_config(self, stack: str) -> StackConfig:
        """The validated model, from ``pulumi config --json`` *without* ``--show-secrets``: the CLI
        then leaves every secret's value out (``pkg/cmd/pulumi/config/config.go``, ``listConfig``),
        an object holding a secret anywhere inside included (``object.Secure``). So no secret is
        ever read here, whatever its key is called. An authorization key stands in as a marker
        (the program reads the real one, as a secret, at the preview); a secret under any other
        key is refused, naming the key."""
        every = json.loads(self._cli(stack, ["config", "--json", "--stack", stack]) or "{}")
        prefix = NAMESPACE + ":"
        raw: dict[str, Any] = {}
        secrets: set[str] = set()
        for full, entry in every.items():
            if not full.startswith(prefix) or not isinstance(entry, dict):
                continue
            name = full[len(prefix) :]
            if entry.get("secret"):
                if name not in SECRET_KEYS:
                    raise AutomationError(_secret_elsewhere(stack, full))
                raw[name] = f"[secret {name}]"
                secrets.add(name)
            else:
                raw[name] = entry.get("value")
        try:
            return load(stack, raw, frozenset(secrets))
        except ConfigError as exc:
            raise AutomationError(str(exc)) from exc

    def outputs(self, stack: str) -> dict[str, Any]:
        s = self._stack(stack)
        return _plain_outputs(self._call(f"pulumi stack output --stack {stack}", s.outputs))

    def health(self, stack: str) -> StackHealth:
        return read_health(stack, NAMESPACE, lambda args: self._cli(stack, args))

    def preview(self, stack: str, plan: Path) -> PreviewReport:
        from pulumi import automation as auto

        s = self._stack(stack)
        report = PreviewReport()

        def on_event(event: Any) -> None:
            pre = getattr(event, "resource_pre_event", None)
            if pre is not None:
                report.steps.append(_planned_step(pre.metadata))
            policy = getattr(event, "policy_event", None)
            if policy is not None:
                report.findings.append(
                    PolicyFinding(
                        policy.policy_name,
                        str(policy.enforcement_level).lower(),
                        policy.message,
                        policy.resource_urn or "",
                    )
                )

        plan.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = s.preview(on_output=self._say, on_event=on_event, plan=str(plan), **self._policy_options())
        except auto.CommandError as exc:
            report.error = _tail(exc)
            return report
        except RuntimeError as exc:  # the SDK's "summary event never found": the preview did not finish
            report.error = str(exc)
            return report
        report.summary = {str(getattr(op, "value", op)): int(n) for op, n in result.change_summary.items()}
        return report

    def up(self, stack: str, plan: Path) -> dict[str, Any]:
        s = self._stack(stack)
        result = self._call(
            f"pulumi up --stack {stack} --plan {plan}",
            lambda: s.up(on_output=self._say, plan=str(plan), **self._policy_options()),
        )
        return _plain_outputs(result.outputs)

    def refresh(self, stack: str) -> None:
        s = self._stack(stack)
        self._call(f"pulumi refresh --stack {stack}", lambda: s.refresh(on_output=self._say))


def _tail(exc: Exception, lines: int = 15) -> str:
    return "\n".join(str(exc).strip().splitlines()[-lines:])


def _planned_step(metadata: Any) -> PlannedStep:
    """A preview step from the engine's StepEventMetadata, named by the resource's Azure name."""
    op = str(getattr(metadata.op, "value", metadata.op))
    name = metadata.urn.rsplit("::", 1)[-1]
    for state in (metadata.new, metadata.old):
        inputs = getattr(state, "inputs", None)
        azure = physical_name(metadata.type, inputs) if isinstance(inputs, Mapping) else None
        if azure:
            name = azure
            break
    return PlannedStep(op, metadata.urn, metadata.type, name)


def _require_cli() -> None:
    if shutil.which("pulumi") is None:
        # The Automation API runs the CLI; without it every call would end in a traceback.
        raise FailoverError(
            "the Pulumi CLI is not installed (no `pulumi` on PATH): this command drives it. Install it "
            "(https://www.pulumi.com/docs/install/), `pulumi login` to the stacks' backend and `az login`, then "
            "run this again; `python -m erdr.plan` shows the same procedure offline, without the CLI."
        )


def _secret_elsewhere(stack: str, key: str) -> str:
    return (
        f"stack '{stack}': config {key} holds a secret (set with --secret), but only the circuit authorization "
        f"keys ({', '.join(sorted(SECRET_KEYS))}, at the top level) are secrets in this program: a misspelt or "
        f"misplaced key? Its value is not shown. Move the key where it belongs (pulumi config rm {key} --stack "
        f"{stack}; pulumi config set --secret {NAMESPACE}:<key> <value> --stack {stack}), then run this again."
    )


def _plain_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Stack outputs by value, a secret one (Pulumi's flag) as "[secret]": never logged in clear."""
    return {k: "[secret]" if getattr(v, "secret", False) else v.value for k, v in outputs.items()}


class FailoverError(Exception):
    """The command cannot start or resume; the message says what to do instead."""


class StepFailed(Exception):
    """A step did not reach its expected result."""


class Interrupted(Exception):
    """The operator pressed Ctrl-C while a CLI command ran; the CLI has exited and the state and
    journal say where the run stopped."""


# --- state and log ------------------------------------------------------------------------------


def step_key(step: Step) -> str:
    """Identifies a step across runs, so a resume can prove it continues the same procedure."""
    extra = ",".join(f"{k}={v}" for k, v in step.extra_config)
    role = step.role.value if step.role else "-"
    phase = step.phase.value if step.phase else "-"
    return f"{step.action.value}|{role}|{phase}|{extra}|{step.title}"


@dataclass
class RunState:
    operation: str
    topology: str
    addressing: str
    source_reachable: bool
    stacks: dict[str, str]  # role value -> stack name
    steps: list[str]  # step_key of each step, in order
    completed: int = 0  # steps[:completed] are done
    status: str = "running"  # running | failed | completed
    failed_step: int | None = None  # 1-based, as shown in the plan
    error: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    version: int = STATE_VERSION

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)  # atomic: a crash never leaves half a state file

    @classmethod
    def load(cls, path: Path) -> RunState:
        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise FailoverError(f"state file {path} has version {data.get('version')}, expected {STATE_VERSION}")
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise FailoverError(f"state file {path} is unreadable ({exc}); delete it to start over") from exc


def state_path(log: Path) -> Path:
    return log.with_name(log.stem + ".state.json")


class Journal:
    """Appends one JSON object per event to the log file."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        record = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "run": self.run_id, "event": event, **fields}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")


# --- preparation --------------------------------------------------------------------------------


def parse_stacks(text: str | None) -> dict[Role, str]:
    """``prod=org/prod,dr=org/dr`` -> {SOURCE: 'org/prod', TARGET: 'org/dr'}; defaults prod, dr."""
    names = {Role.SOURCE: "prod", Role.TARGET: "dr"}
    if not text:
        return names
    keys = {"prod": Role.SOURCE, "source": Role.SOURCE, "dr": Role.TARGET, "target": Role.TARGET}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in keys or not value.strip():
            raise FailoverError(f"--stacks: expected prod=NAME,dr=NAME, got {part!r}")
        names[keys[key.strip()]] = value.strip()
    if names[Role.SOURCE] == names[Role.TARGET]:
        raise FailoverError(f"--stacks: prod and dr are the same stack ({names[Role.SOURCE]})")
    return names


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _flag(auto: Automation, stack: str, key: str) -> bool | None:
    value = auto.get_config(stack, _key(key))
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise FailoverError(f"stack '{stack}' has {_key(key)} = {value!r}, expected true or false")
    return value.lower() == "true"


def read_design(auto: Automation, stacks: Mapping[Role, str]) -> Design:
    """How the hubs meet the circuits, from both stacks: topology and addressing must agree, each
    stack must hold its role; preConnectTarget and crossConnect decide which steps change Azure."""
    topology, addressing = read_topology(auto, stacks)
    target = stacks[Role.TARGET]
    return Design(
        topology,
        addressing,
        pre_connect_target=_flag(auto, target, "preConnectTarget"),
        cross_connect=bool(_flag(auto, target, "crossConnect")),
    )


def read_topology(auto: Automation, stacks: Mapping[Role, str]) -> tuple[Topology, Addressing]:
    """Both stacks' topology and addressing; they must agree, and each stack must hold its role."""
    seen: dict[Role, tuple[str | None, str | None]] = {}
    problems: list[str] = []
    for role, name in stacks.items():
        declared = auto.get_config(name, _key("role"))
        if declared != role.value:
            problems.append(f"stack '{name}' has {_key('role')} = {declared!r}, expected {role.value!r}")
        # addressing defaults to 'same' in the config model.
        seen[role] = (auto.get_config(name, _key("topology")), auto.get_config(name, _key("addressing")) or "same")
    src, tgt = seen[Role.SOURCE], seen[Role.TARGET]
    if src != tgt:
        problems.append(
            f"stacks disagree: '{stacks[Role.SOURCE]}' has topology={src[0]} addressing={src[1]}, "
            f"'{stacks[Role.TARGET]}' has topology={tgt[0]} addressing={tgt[1]}; make them equal and deploy both "
            "before a failover"
        )
    if not problems:
        try:
            return Topology(src[0]), Addressing(src[1])
        except ValueError as exc:
            problems.append(f"unknown topology/addressing {src}: {exc}")
    raise FailoverError("\n".join(problems))


def render_plan(
    operation: Operation,
    steps: list[Step],
    stacks: Mapping[Role, str],
    topology: Topology,
    addressing: Addressing,
    source_reachable: bool,
    completed: int = 0,
) -> str:
    where = "" if source_reachable else ", source region UNREACHABLE"
    lines = [
        f"{operation.value} plan: topology {topology.value}, addressing {addressing.value}{where}; "
        f"source stack '{stacks[Role.SOURCE]}', target stack '{stacks[Role.TARGET]}'",
    ]
    for i, step in enumerate(steps, 1):
        mark = "done" if i <= completed else step.action.value
        moves = "  <- moves traffic" if step.switch else ""
        lines.append(f"  {i}. [{mark}] {step.title}{moves}")
        lines += [f"       $ {cmd}" for cmd in step.commands(dict(stacks))]
        if step.check:
            lines.append(f"       check: {step.check}")
    return "\n".join(lines)


# --- the peer's identities ---------------------------------------------------------------------


@dataclass(frozen=True)
class PeerIdentities:
    """What the resolved estate says the peer hub is made of (from the peer stack's own config)."""

    gateway: ResourceId
    # Every connection the peer's hub may hold, and those that must never coexist with ours.
    connections: dict[str, ResourceId]  # Azure name -> identity
    exclusive: list[ResourceId]


def peer_identities(peer_cfg: StackConfig, peer_role: Role) -> PeerIdentities:
    conns = identity.connections(peer_cfg, peer_role)
    exclusive_circuits = sorted(
        {c.circuit for phase in Phase for c in connection_plan(peer_cfg, peer_role, phase) if c.exclusive}
    )
    return PeerIdentities(
        identity.hub_gateway(peer_cfg, peer_role),
        {rid.name: rid for rid in conns.values()},
        [conns[c] for c in exclusive_circuits],
    )


def identity_disagreements(peer: str, outputs: Mapping[str, Any], ids: PeerIdentities) -> list[str]:
    """Where the peer stack's outputs contradict the resolved estate (empty: they agree). A peer
    without a gateway output cannot be checked at all, which is a disagreement too (fail closed)."""
    gateway = str(outputs.get("gatewayId") or "")
    if not gateway:
        return [
            f"cannot check in Azure that stack '{peer}' let go of the circuit: it reports no gatewayId output. "
            f"Deploy '{peer}' first, or declare the source region unreachable."
        ]
    problems: list[str] = []
    if not ids.gateway.same(gateway):
        problems.append(
            f"stack '{peer}' reports gateway {gateway}, but its config resolves to {ids.gateway.id} (subscriptions, "
            "placement or adopted names changed since it was deployed?): check `pulumi stack output gatewayId "
            f"--stack {peer}` against Pulumi.yaml, deploy the config you mean, then resume"
        )
    reported = outputs.get("connectionIds")
    for name, arm_id in reported.items() if isinstance(reported, Mapping) else []:
        expected = ids.connections.get(str(name))
        if expected is None or not expected.same(str(arm_id)):
            problems.append(
                f"stack '{peer}' reports connection {name} as {arm_id}, but its config resolves "
                f"{'no connection of that name' if expected is None else expected.id}: check the stack's outputs "
                "against its config before trusting either"
            )
    return problems


# --- the preview gate ---------------------------------------------------------------------------

# Steps that change nothing: unchanged resources, and reads (the peer StackReference).
QUIET_OPS = frozenset({"same", "read"})


def expected_changes(cfg: StackConfig, role: Role, before: Phase, after: Phase) -> dict[str, str]:
    """Connection name -> the op a phase change must take on it (create, delete or update), as
    :func:`model.phases.connection_plan` says; nothing else may change."""
    old = {c.name: c for c in connection_plan(cfg, role, before)}
    new = {c.name: c for c in connection_plan(cfg, role, after)}
    out = {name: "create" for name in new.keys() - old.keys()}
    out |= {name: "delete" for name in old.keys() - new.keys()}
    for name in new.keys() & old.keys():
        if (new[name].circuit_id, new[name].routing_weight) != (old[name].circuit_id, old[name].routing_weight):
            out[name] = "update"
    return out


def gate_problems(report: PreviewReport, expected: Mapping[str, str]) -> list[str]:
    """Why the preview must not be applied; empty when it shows only what the phase change needs."""
    problems: list[str] = []
    if report.error:
        problems.append(f"the preview failed:\n{report.error}")
    for f in report.findings:
        if f.level == "mandatory":
            where = f" ({f.urn.rsplit('::', 1)[-1]})" if f.urn else ""
            problems.append(f"mandatory policy {f.policy}{where}: {f.message.strip().splitlines()[-1]}")
    for step in report.steps:
        if step.op in QUIET_OPS:
            continue
        if step.type == CONNECTION and expected.get(step.name) == step.op:
            continue
        problems.append(f"unexpected {step.op} of {step.type.rsplit(':', 1)[-1]} {step.name}")
    return problems


# --- execution ----------------------------------------------------------------------------------


@dataclass
class Runner:
    auto: Automation
    journal: Journal
    state: RunState
    state_file: Path
    stacks: dict[Role, str]
    yes: bool
    ask: Ask
    say: Say
    probe: ConnectionProbe
    plans: Path  # where each step's reviewed update plan is saved
    check_deadline: float | None = None  # the Azure check's overall deadline; None: CHECK_DEADLINE

    def run(self, steps: list[Step]) -> bool:
        for index in range(self.state.completed, len(steps)):
            step = steps[index]
            number = index + 1
            self.state.status, self.state.failed_step, self.state.error = "running", None, None
            self.state.save(self.state_file)
            self.journal.write("step-start", step=number, **_describe(step, self.stacks))
            self.say(f"\n== step {number}/{len(steps)}: {step.title}")
            try:
                detail = self._execute(step, number)
            except (AutomationError, StepFailed) as exc:
                if INTERRUPTS.requested:  # the CLI stopped because the operator asked it to
                    self._interrupted(number, step, done=False, cause=str(exc))
                    raise Interrupted from None
                self._fail(number, step, str(exc))
                return False
            except KeyboardInterrupt:  # Ctrl-C while no CLI ran: nothing is left half-done in Pulumi
                self._fail(number, step, "interrupted by the operator (Ctrl-C)")
                self.journal.write("interrupted", step=number, title=step.title, during=None, step_completed=False)
                raise
            self.state.completed = number
            self.state.history.append({"step": number, "key": step_key(step), **detail})
            self.state.save(self.state_file)
            self.journal.write("step-done", step=number, **detail)
            if INTERRUPTS.requested and number < len(steps):  # Ctrl-C after the CLI's last operation
                self._interrupted(number, step, done=True, cause=None)
                raise Interrupted
        self.state.status = "completed"
        self.state.save(self.state_file)
        return True

    def _interrupted(self, number: int, step: Step, *, done: bool, cause: str | None) -> None:
        """Ctrl-C reached a CLI command of this step and the CLI has exited: record where it stopped."""
        seen = INTERRUPTS.interruption
        assert seen is not None
        stopped = (
            f"interrupted by the operator (Ctrl-C) during `{seen.command}`: pulumi stopped "
            f"{seen.seconds_to_stop} s after the first Ctrl-C (exit code {seen.exit_code}, Ctrl-C x{seen.signals})"
        )
        if done:
            stopped += f"; step {number} had finished"
        self.state.status = "interrupted"
        self.state.failed_step = None if done else number
        last = [line.strip() for line in (cause or "").splitlines() if line.strip()][-1:]
        self.state.error = stopped if done or not last else f"{stopped}; pulumi said: {last[0]}"
        self.state.save(self.state_file)
        self.journal.write(
            "interrupted",
            step=number,
            title=step.title,
            stack=self.stacks[step.role] if step.role is not None else None,
            during=seen.command,
            signals=seen.signals,
            cli_exit_code=seen.exit_code,
            seconds_to_stop=seen.seconds_to_stop,
            step_completed=done,
            resume_from=number + 1 if done else number,
            graceful=seen.signals == 1,
        )

    def _execute(self, step: Step, number: int) -> dict[str, Any]:
        if step.action is Action.MANUAL:
            return self._manual(step, number)
        name = self.stacks[step.role] if step.role is not None else ""
        if step.action is Action.REFRESH:
            self.journal.write("refresh", step=number, stack=name)
            self.auto.refresh(name)
            return {"stack": name, "result": "refreshed"}
        settings = ([("phase", step.phase.value)] if step.phase is not None else []) + list(step.extra_config)
        deployed = self.auto.outputs(name).get("phase")
        for key, value in settings:
            self.auto.set_config(name, _key(key), value)
            self.journal.write("set-config", step=number, stack=name, key=_key(key), value=value)
        cfg = self.auto.stack_config(name)
        expected: dict[str, str] = {}
        if step.role is not None and step.phase is not None:
            if deployed not in {p.value for p in Phase}:
                raise StepFailed(
                    f"stack '{name}' reports phase {deployed!r}; deploy it (pulumi up) before a {self.state.operation}"
                )
            expected = expected_changes(cfg, step.role, Phase(str(deployed)), step.phase)
            self._confirm_circuit_free(step, cfg, expected, number)
        plan = self.plans / f"step{number}-{name.replace('/', '_')}.json"
        report = self.auto.preview(name, plan)
        self.journal.write(
            "preview",
            step=number,
            stack=name,
            changes=report.summary,
            expected=expected,
            steps=[asdict(s) for s in report.steps if s.op not in QUIET_OPS],
            findings=[asdict(f) for f in report.findings],
            plan=str(plan),
        )
        problems = gate_problems(report, expected)
        if problems:
            raise StepFailed(
                f"the preview of stack '{name}' is not what phase {step.phase.value if step.phase else '-'} needs, "
                "so it was not applied:\n  - " + "\n  - ".join(problems)
            )
        self.say(f"   preview {name}: {_summary(report.summary)} (as expected); policy pack: no mandatory finding")
        outputs = self.auto.up(name, plan)
        logged = {k: outputs[k] for k in LOGGED_OUTPUTS if k in outputs}
        self.journal.write("up", step=number, stack=name, plan=str(plan), outputs=logged)
        if step.phase is not None and outputs.get("phase") != step.phase.value:
            raise StepFailed(
                f"after pulumi up, stack '{name}' reports phase {outputs.get('phase')!r}, expected {step.phase.value!r}"
            )
        self.say(f"   up {name}: done; check: {step.check}")
        return {"stack": name, "result": "updated", "outputs": logged}

    def _confirm_circuit_free(self, step: Step, cfg: StackConfig, expected: Mapping[str, str], number: int) -> None:
        """Before a step creates the connection that must never coexist with the other hub's (one
        circuit, same IPs), read the other hub's connection from Azure: it must be gone. The
        peer stack's state can lag (a refresh not run, a delete still in progress).

        The connection's ID is the resolved estate's (model/identity.py, from the peer stack's own
        config: its placement, subscription and adopted names), cross-checked against what the
        peer stack reports it deployed; any disagreement stops the step, naming both values.
        """
        assert step.role is not None and step.phase is not None
        creates = [
            c for c in connection_plan(cfg, step.role, step.phase) if c.exclusive and expected.get(c.name) == "create"
        ]
        if not creates:
            return
        if ("sourceRegionUnreachable", "true") in step.extra_config:
            self.journal.write("azure-check", step=number, skipped="source region declared unreachable")
            return
        peer_role = Role.TARGET if step.role is Role.SOURCE else Role.SOURCE
        peer = self.stacks[peer_role]
        peer_cfg = self.auto.stack_config(peer)
        ids = peer_identities(peer_cfg, peer_role)
        outputs = self.auto.outputs(peer)
        for problem in identity_disagreements(peer, outputs, ids):
            raise StepFailed(problem)
        deadline = CHECK_DEADLINE if self.check_deadline is None else self.check_deadline
        started = time.monotonic()
        for conn in ids.exclusive:
            remaining = deadline - (time.monotonic() - started)
            if remaining <= 0:
                raise StepFailed(
                    f"cannot confirm in Azure that {conn.id} is gone: the check ran past its {deadline:g} s "
                    "deadline; check the connection in the portal or with `az network vpn-connection show --ids`, "
                    "then resume"
                )
            try:
                state = within(remaining, conn.id, lambda conn=conn: self._probe(conn.id))
            except ArmDeadline as exc:
                raise StepFailed(
                    f"cannot confirm in Azure that {conn.id} is gone: no answer within the check's "
                    f"{deadline:g} s deadline ({exc}); resume once Azure answers"
                ) from exc
            self.journal.write("azure-check", step=number, connection=conn.id, state=state or "absent")
            if state is not None:
                raise StepFailed(
                    f"Azure still has {conn.id} (provisioningState {state}); '{creates[0].name}' would put the same "
                    f"address space on circuit {creates[0].circuit_id} twice. Wait until it is gone (or remove it), "
                    "then resume."
                )
        shown = ", ".join(c.id for c in ids.exclusive)
        self.say(f"   Azure: {shown} of '{peer}' is gone; the circuit is free")

    def _probe(self, connection_id: str) -> str | None:
        try:
            return self.probe.connection_state(connection_id)
        except ProbeError as exc:
            raise StepFailed(f"cannot confirm in Azure that {connection_id} is gone: {exc}") from exc

    def _manual(self, step: Step, number: int) -> dict[str, Any]:
        self.say("   manual step: done by the operator, outside Pulumi")
        if step.check:
            self.say(f"   check: {step.check}")
        if self.yes:
            self.journal.write("manual", step=number, title=step.title, status=OPERATOR_ACTION)
            self.say(f"   --yes: listed as done ({OPERATOR_ACTION})")
            return {"result": OPERATOR_ACTION}
        answer = _ask(self.ask, "   Type 'done' when finished, anything else stops here: ")
        if answer != "done":
            raise StepFailed(f"manual step not confirmed (answer {answer!r})")
        self.journal.write("manual", step=number, title=step.title, status="confirmed by operator")
        return {"result": "confirmed by operator"}

    def _fail(self, number: int, step: Step, error: str) -> None:
        self.state.status, self.state.failed_step, self.state.error = "failed", number, error
        self.state.save(self.state_file)
        self.journal.write("step-failed", step=number, title=step.title, error=error)


def _describe(step: Step, stacks: Mapping[Role, str]) -> dict[str, Any]:
    return {
        "action": step.action.value,
        "title": step.title,
        "stack": stacks[step.role] if step.role is not None else None,
        "phase": step.phase.value if step.phase is not None else None,
        "commands": step.commands(dict(stacks)),
    }


def _summary(changes: Mapping[str, int]) -> str:
    shown = {k: v for k, v in changes.items() if v and k != "same"}
    return ", ".join(f"{k} {v}" for k, v in sorted(shown.items())) or "no changes"


def _ask(ask: Ask, prompt: str) -> str:
    try:
        return ask(prompt).strip()
    except EOFError:
        return ""  # no terminal (CI, a pipe): never taken as consent


def _resume_hint(operation: Operation, argv_extra: Iterable[str]) -> str:
    extra = " ".join(argv_extra)
    return f"python -m erdr.failover {operation.value} --resume{(' ' + extra) if extra else ''}"


# --- the command ----------------------------------------------------------------------------------


@dataclass
class PairLock:
    """The stack pair's lock (:mod:`erdr.lock`, shared with CI's deploys) as this run holds it.

    A run that stops half-way keeps it: a deploy in between would apply the committed phases over
    a failover in progress. ``--resume`` takes it back with the token left beside the log."""

    lock: Any
    token: str
    token_file: Path
    fresh: bool  # taken by this run, not taken back from a stopped one
    stacks: tuple[str, str]

    def release(self) -> None:
        from erdr.lock import LockError

        try:
            self.lock.release(self.token)
        except LockError:
            return  # released by hand meanwhile (erdr.lock release --force); the token is stale
        self.token_file.unlink(missing_ok=True)

    def release_command(self) -> str:
        prod, dr = self.stacks
        return f"python -m erdr.lock release --stacks prod={prod},dr={dr} --token-file {self.token_file}"


def take_pair_lock(stacks: Mapping[Role, str], operation: Operation, log: Path) -> PairLock:
    """The stack pair's lock, or FailoverError naming who holds it. A token left by a stopped run
    (beside the same log) takes it back; no other run of this command can be using that token,
    since one run per log is enforced before (:func:`_one_run_per_log`)."""
    from erdr.lock import LockError, LockHeld, lock_for, new_info, read_token, write_token

    prod, dr = stacks[Role.SOURCE], stacks[Role.TARGET]
    token_file = log.with_name(log.stem + ".lock-token")
    try:
        lock = lock_for(prod, dr)
        old = read_token(token_file)
        token = old or uuid.uuid4().hex
        lock.acquire(new_info(prod, dr, None, f"erdr.failover {operation.value}"), token)
        write_token(token_file, token)
    except LockHeld as exc:
        raise FailoverError(f"nothing was started: {exc}") from None
    except LockError as exc:
        raise FailoverError(f"the stack pair's lock could not be taken, so nothing was started: {exc}") from None
    return PairLock(lock, token, token_file, old is None, (prod, dr))


@contextlib.contextmanager
def _one_run_per_log(log: Path) -> Iterator[None]:
    """One run at a time per log (and state file) on this machine: an OS lock on a file beside it,
    released by the OS however the process ends."""
    import fcntl

    path = log.with_name(log.stem + ".run.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise FailoverError(
                f"another erdr.failover (pid {other}) is running with {log}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


@dataclass
class Prepared:
    operation: Operation
    stacks: dict[Role, str]
    topology: Topology
    addressing: Addressing
    steps: list[Step]
    state: RunState
    resuming: bool
    pair: PairLock
    notes: list[str] = field(default_factory=list[str])  # what could not be checked, and how to
    started: bool = False  # the steps began to run


def prepare(
    args: argparse.Namespace, auto_factory: Callable[[argparse.Namespace], Automation]
) -> tuple[Prepared, Automation]:
    """Everything checked before the plan is shown; raises FailoverError with what to do instead."""
    operation = Operation(args.operation)
    if args.source_unreachable and operation is Operation.DRILL:
        raise FailoverError("--source-unreachable applies to failover and failback, not to a drill")
    stacks = parse_stacks(args.stacks)
    state_file = state_path(Path(args.log))
    prior = RunState.load(state_file) if state_file.exists() else None
    if args.resume:
        prior = _check_resumable(prior, state_file, operation, args, stacks)
        stacks = {Role(k): v for k, v in prior.stacks.items()}
        source_reachable = prior.source_reachable
    else:
        if prior is not None and prior.status != "completed":
            at = prior.failed_step or prior.completed + 1
            raise FailoverError(
                f"an unfinished {prior.operation} is recorded in {state_file} (stopped at step {at}). Continue it "
                f"with `{_resume_hint(Operation(prior.operation), _log_args(args))}`, or delete that file to start over."
            )
        prior = None
        source_reachable = not args.source_unreachable
    auto = auto_factory(args)
    pair = take_pair_lock(stacks, operation, Path(args.log))
    try:
        return _prepare_locked(args, auto, operation, stacks, state_file, prior, source_reachable, pair)
    except BaseException:
        if pair.fresh:
            pair.release()
        raise


def _prepare_locked(
    args: argparse.Namespace,
    auto: Automation,
    operation: Operation,
    stacks: dict[Role, str],
    state_file: Path,
    prior: RunState | None,
    source_reachable: bool,
    pair: PairLock,
) -> tuple[Prepared, Automation]:
    design = read_design(auto, stacks)
    topology, addressing = design.topology, design.addressing
    steps = procedure(operation, design, source_reachable)
    if design.exclusive:
        require_gate(auto, stacks, steps)
    notes = require_clear_stacks(auto, stacks, steps[prior.completed if prior else 0 :])
    keys = [step_key(s) for s in steps]
    if prior is None:
        state = RunState(
            operation.value,
            topology.value,
            addressing.value,
            source_reachable,
            {r.value: n for r, n in stacks.items()},
            keys,
        )
        return Prepared(operation, stacks, topology, addressing, steps, state, False, pair, notes), auto
    if (prior.topology, prior.addressing) != (topology.value, addressing.value):
        raise FailoverError(
            f"the stacks now say topology={topology.value} addressing={addressing.value}, but the interrupted run "
            f"used {prior.topology}/{prior.addressing}; restore that config, or delete {state_file} to start over"
        )
    if prior.steps != keys:
        raise FailoverError(
            "the procedure changed since the interrupted run (model/phases.py), so resuming is not safe. "
            f"Finish by hand from step {prior.completed + 1} (see {args.log}), then delete {state_file}."
        )
    return Prepared(operation, stacks, topology, addressing, steps, prior, True, pair, notes), auto


def run(
    argv: list[str],
    automation: Callable[[argparse.Namespace], Automation],
    ask: Ask = input,
    say: Say = print,
    probe: Callable[[], ConnectionProbe] | None = None,
) -> int:
    """The whole command; ``automation`` builds the boundary from the arguments, ``probe`` the
    Azure read (both faked in tests; by default :class:`AzureConnectionProbe` on ``--arm-endpoint``).
    Ctrl-C while a CLI command runs is handed to the CLI (:mod:`erdr.pulumi_cli`). Returns the exit
    code."""
    args = _parser().parse_args(argv)
    INTERRUPTS.reset(say)
    with INTERRUPTS.installed():
        try:
            return _run(args, automation, ask, say, probe)
        except KeyboardInterrupt:
            say("\nInterrupted (Ctrl-C) before any step ran: nothing was changed.")
            return 130


def _run(
    args: argparse.Namespace,
    automation: Callable[[argparse.Namespace], Automation],
    ask: Ask,
    say: Say,
    probe: Callable[[], ConnectionProbe] | None,
) -> int:
    log = Path(args.log)
    try:
        with _one_run_per_log(log):
            azure = probe() if probe is not None else _azure_probe(args, os.environ)
            p, auto = prepare(args, automation)
            try:
                code = _execute(args, p, auto, azure, ask, say)
            except BaseException:
                if not p.started and p.pair.fresh:
                    p.pair.release()  # no step ran: the lock goes back
                raise
            if p.state.status == "completed" or (not p.started and p.pair.fresh):
                p.pair.release()
            elif code != 0:
                say(
                    f"The stack pair stays locked for this {p.operation.value}, so no deploy runs in between; "
                    f"--resume takes the lock back. To abandon the run instead: {p.pair.release_command()}"
                )
            return code
    except (FailoverError, AutomationError, ArmEndpointError) as exc:
        if INTERRUPTS.requested:
            say(f"\nInterrupted (Ctrl-C) before any step ran: nothing was changed.\n({exc})")
            return 130
        say(f"error: {exc}")
        return 2


def _execute(
    args: argparse.Namespace,
    p: Prepared,
    auto: Automation,
    azure: ConnectionProbe,
    ask: Ask,
    say: Say,
) -> int:
    log = Path(args.log)
    state_file = state_path(log)
    op, state, steps = p.operation, p.state, p.steps

    journal = Journal(log, uuid.uuid4().hex[:12])
    journal.write(
        "resume" if p.resuming else "start",
        operation=op.value,
        topology=p.topology.value,
        addressing=p.addressing.value,
        source_reachable=state.source_reachable,
        stacks=state.stacks,
        from_step=state.completed + 1,
        yes=args.yes,
    )
    journal.write("plan", steps=[{"step": i, **_describe(s, p.stacks)} for i, s in enumerate(steps, 1)])
    say(render_plan(op, steps, p.stacks, p.topology, p.addressing, state.source_reachable, state.completed))
    for note in p.notes:
        say(f"note: not checked here: {note}")
    if not args.yes:
        answer = _ask(ask, f"\nType '{op.value}' to run steps {state.completed + 1}-{len(steps)}: ")
        if answer != op.value:
            journal.write("aborted", reason="not confirmed", answer=answer)
            say("Not confirmed: nothing was changed.")
            return 1
        journal.write("confirmed")

    # One folder of reviewed plans per run: another run (another operator) never overwrites them.
    plans = log.with_name(log.stem + "-plans") / journal.run_id
    runner = Runner(
        auto, journal, state, state_file, p.stacks, args.yes, ask, say, azure, plans, args.azure_check_deadline
    )
    p.started = True
    try:
        ok = runner.run(steps)
    except (KeyboardInterrupt, Interrupted):
        say(_failure_message(state, steps, op, state_file, log, args))
        return 130
    if not ok:
        say(_failure_message(state, steps, op, state_file, log, args))
        return 1
    journal.write("finished", operation=op.value, steps=len(steps))
    say(f"\n{op.value} finished: {len(steps)} steps. Log: {log}")
    changed = sorted({p.stacks[s.role] for s in steps if s.action is Action.UP and s.role is not None})
    if changed:
        files = " ".join(f"Pulumi.{n.rsplit('/', 1)[-1]}.yaml" for n in changed)
        say(f"Commit the phase change now, so the next deploy keeps it: git commit -m '{op.value}' {files}")
    return 0


def _azure_probe(args: argparse.Namespace, environ: Mapping[str, str]) -> ConnectionProbe:
    endpoint = args.arm_endpoint
    credential = credential_for(endpoint, environ) if endpoint else None  # DefaultAzureCredential, lazily
    return AzureConnectionProbe(credential, check_endpoint(endpoint) if endpoint else ARM_ENDPOINT)


def _check_resumable(
    prior: RunState | None, state_file: Path, operation: Operation, args: argparse.Namespace, stacks: dict[Role, str]
) -> RunState:
    if prior is None:
        raise FailoverError(f"nothing to resume: no state file {state_file}")
    if prior.status == "completed":
        raise FailoverError(f"nothing to resume: the {prior.operation} recorded in {state_file} completed")
    if prior.operation != operation.value:
        raise FailoverError(
            f"the interrupted run in {state_file} is a {prior.operation}, not a {operation.value}; "
            f"run `{_resume_hint(Operation(prior.operation), _log_args(args))}`"
        )
    if args.source_unreachable and prior.source_reachable:
        raise FailoverError("the interrupted run was started without --source-unreachable; resume without it")
    if args.stacks and {r.value: n for r, n in stacks.items()} != prior.stacks:
        raise FailoverError(f"--stacks differs from the interrupted run's stacks {prior.stacks}")
    return prior


def _log_args(args: argparse.Namespace) -> list[str]:
    return [] if Path(args.log) == DEFAULT_LOG else ["--log", str(args.log)]


def _failure_message(
    state: RunState, steps: list[Step], operation: Operation, state_file: Path, log: Path, args: argparse.Namespace
) -> str:
    number = state.failed_step or state.completed + 1
    step = steps[number - 1]
    done = ", ".join(str(i) for i in range(1, state.completed + 1)) or "none"
    if state.status == "interrupted":
        head = (
            f"INTERRUPTED at step {number}/{len(steps)}"
            if state.failed_step
            else f"INTERRUPTED before step {number}/{len(steps)}"
        )
        fix = (
            f"Continue from step {number} when ready (it first lists anything the interrupted update left "
            "behind in the state or the backend, and how to clear it):"
        )
    else:
        head, fix = f"STOPPED at step {number}/{len(steps)}", f"Fix the cause, then continue from step {number} with:"
    return (
        f"\n{operation.value} {head}: {step.title}\n"
        f"  error: {state.error}\n"
        f"  completed steps: {done} (they will not be run again)\n"
        f"  state: {state_file}\n  log: {log}\n"
        f"{fix}\n"
        f"  {_resume_hint(operation, _log_args(args))}"
    )


def _connection_subscriptions(auto: Automation, stack: str) -> dict[str, str]:
    """A connection's Azure name (lower-case) -> its subscription, from the stack's resolved estate
    (empty when its config cannot be read: the commands then go without, and say so nowhere else)."""
    try:
        estate = identity.resolve(auto.stack_config(stack))
    except (ConfigError, AutomationError):
        return {}
    return {
        rid.name.lower(): rid.subscription
        for side in (estate.source, estate.target)
        for rid in side.by_logical().values()
        if rid.type == CONNECTIONS
    }


def require_clear_stacks(auto: Automation, stacks: Mapping[Role, str], steps: list[Step]) -> list[str]:
    """Every stack the remaining steps update must be free of what an interrupted update leaves
    behind: pending operations in its state (the engine would warn and go on, on resources in an
    unknown state) and a held lock of its backend. Stops with the commands that clear them;
    returns notes on what could not be checked."""
    touched = list(
        dict.fromkeys(stacks[s.role] for s in steps if s.action in (Action.UP, Action.REFRESH) and s.role is not None)
    )
    problems: list[str] = []
    notes: list[str] = []
    for name in touched:
        try:
            health = auto.health(name)
        except AutomationError as exc:
            problems.append(f"stack '{name}': its state could not be read ({exc}); check the backend login")
            continue
        if not health.clear:
            lines = clearing_commands(health, _connection_subscriptions(auto, name))
            problems += [f"stack '{name}':", *(f"  {line}" for line in lines)]
        notes += health.unknown
    if problems:
        raise FailoverError(
            "an earlier update was interrupted and left this behind; clear it first, then run this again:\n"
            + "\n".join(problems)
        )
    return notes


def require_gate(auto: Automation, stacks: Mapping[Role, str], steps: list[Step]) -> None:
    """Single circuit, same IPs: a stack that reconnects to the circuit needs peerStack set.

    The program refuses such a phase without it (model/config/), but only when that
    stack's step runs, after the other stack has already dropped its connection. Checking
    up front keeps a half-done failover from leaving on-premises without any path.
    """
    needs: dict[str, Step] = {}
    for step in steps:
        if step.action is not Action.UP or step.role is None:
            continue
        unreachable = ("sourceRegionUnreachable", "true") in step.extra_config
        reconnects = (step.role is Role.TARGET and step.phase is Phase.FAILOVER and not unreachable) or (
            step.role is Role.SOURCE and step.phase is Phase.FAILBACK
        )
        if reconnects:
            needs.setdefault(stacks[step.role], step)
    missing = [name for name in needs if not auto.get_config(name, _key("peerStack"))]
    if missing:
        fixes = "; ".join(
            f"pulumi config set {_key('peerStack')} <org>/{NAMESPACE}/"
            f"{stacks[Role.TARGET if stacks[Role.SOURCE] == n else Role.SOURCE].rsplit('/', 1)[-1]} --stack {n}"
            for n in missing
        )
        raise FailoverError(
            f"single circuit with the same IPs: {_key('peerStack')} is not set on {', '.join(missing)}, so the "
            f"connection could not wait for the peer's to be gone and the program refuses the phase. Set it "
            f"({fixes}), deploy, then run this again."
        )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m erdr.failover",
        description="Run a failover, failback or drill across the prod and dr stacks, in runbook order.",
    )
    p.add_argument("operation", choices=[o.value for o in Operation])
    p.add_argument("--yes", action="store_true", help="do not ask; manual steps are logged as operator actions")
    p.add_argument(
        "--source-unreachable",
        action="store_true",
        help="failover: the source region is down, so prod is not touched; failback: the failover was run "
        "with this flag, so prod is refreshed and its stale connection removed first",
    )
    p.add_argument("--stacks", help="stack names, e.g. prod=acme/prod,dr=acme/dr (default prod, dr)")
    p.add_argument("--log", default=str(DEFAULT_LOG), help=f"JSON-lines log (default {DEFAULT_LOG})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its failed step")
    p.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="the Pulumi project (Pulumi.yaml and the stack files the phase is written to); default: this checkout",
    )
    p.add_argument(
        "--arm-endpoint",
        help=f"Azure Resource Manager endpoint for the connection check (a sovereign cloud; a local fake in tests), "
        f"with the bearer token in {TOKEN_ENV}; default {ARM_ENDPOINT} with DefaultAzureCredential",
    )
    p.add_argument(
        "--azure-check-deadline",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"overall deadline of the Azure check before a step creates the one connection a single circuit with "
        f"the same IPs allows (every read of it together; default {CHECK_DEADLINE:g}); each read is also bounded "
        f"by its own {CALL_TIMEOUTS.deadline:g} s. Past it the step stops, fail closed, and nothing is connected",
    )
    p.add_argument(
        "--policy-pack-config",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="config for the policy pack on every preview and up (as `pulumi up --policy-pack-config`)",
    )
    return p


def _pulumi(args: argparse.Namespace) -> Automation:
    _require_cli()
    return PulumiAutomation(work_dir=args.project_dir, policy_pack_configs=args.policy_pack_config)


def main(argv: list[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv, _pulumi)


if __name__ == "__main__":
    sys.exit(main())
