"""automation/network_switch.py against a fake ARM endpoint on 127.0.0.1.

The fake keeps connections and VNets as JSON, answers PUT with provisioningState 'Updating' until
polled, keeps a deleted resource visible for one more GET, and under a path prefix can answer 503,
throttle with 429 and a Retry-After header (ARM's "Throttling Resource Manager requests",
learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling),
refuse, drop the connection, or never answer at all, so retries, throttling, deadlines, an
unreachable or declared-down source region, reruns and the drill path are exercised over real
HTTP with the runbook's own client.
"""

from __future__ import annotations

import ast
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from automation import network_switch as rb
from erdr.stackfiles import PROJECT_DIR, load_stack
from model import phases
from model.config import Addressing, Phase, Role, StackConfig, Topology, load
from model.phases import Action, Design, Operation, switch_plan, switch_variables
from tests.loopback import LoopbackServer, running

SUB = "00000000-0000-0000-0000-000000000000"
TOKEN = "test-token"
EXAMPLES = PROJECT_DIR / "examples"
SERVER_LIFETIME_SECONDS = 60  # the fake stops by itself even if a test never reaches its cleanup


@dataclass
class FakeArm:
    """In-memory ARM: resources by lower-cased ID, every request logged."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    requests: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    # path prefix -> how many more requests to answer with 503 (-1: always)
    failing: dict[str, int] = field(default_factory=dict[str, int])
    # path prefix: close the connection without an answer (a region that does not respond)
    dropping: set[str] = field(default_factory=set[str])
    # path prefix -> HTTP status answered at once (e.g. 403)
    refusing: dict[str, int] = field(default_factory=dict[str, int])
    # path prefix -> HTTP status answered at once to writes only (reads still answer)
    refusing_writes: dict[str, int] = field(default_factory=dict[str, int])
    # path prefix -> [requests left to throttle (-1: always), the Retry-After header's value]
    throttling: dict[str, list[Any]] = field(default_factory=dict[str, list[Any]])
    # path prefix: read the request, never answer (a region whose ARM front end hangs)
    hanging: set[str] = field(default_factory=set[str])
    stopped: threading.Event = field(default_factory=threading.Event)
    polls_until_done: int = 1
    _pending: dict[str, int] = field(default_factory=dict[str, int])
    _deleting: dict[str, int] = field(default_factory=dict[str, int])
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    def add(self, rid: str, body: Mapping[str, Any]) -> None:
        self.resources[rid.lower()] = {"id": rid, "name": rid.rsplit("/", 1)[1], **body}

    def connections(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if "/microsoft.network/connections/" in k}

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]] | str | None:
        """(status, JSON, headers), None to drop the connection, or HANG to never answer."""
        key = path.lower()
        with self.lock:
            self.requests.append((method, path))
            if any(key.startswith(p.lower()) for p in self.hanging):
                return HANG
            if any(key.startswith(p.lower()) for p in self.dropping):
                return None
            for prefix, status in self.refusing.items():
                if key.startswith(prefix.lower()):
                    return status, {"error": {"code": "AuthorizationFailed", "message": "refused by the fake"}}, {}
            for prefix, status in self.refusing_writes.items():
                if key.startswith(prefix.lower()) and method != "GET":
                    return status, {"error": {"code": "AuthorizationFailed", "message": "refused by the fake"}}, {}
            for prefix, throttle in self.throttling.items():
                if key.startswith(prefix.lower()) and throttle[0] != 0:
                    throttle[0] -= 1
                    error = {"error": {"code": "TooManyRequests", "message": "throttled by the fake"}}
                    return 429, error, {"Retry-After": str(throttle[1])}
            for prefix, left in self.failing.items():
                if key.startswith(prefix.lower()) and left != 0:
                    self.failing[prefix] = left - 1
                    return 503, {"error": {"code": "ServiceUnavailable", "message": "try again"}}, {}
            if method == "GET":
                return (*self._get(key), {})
            if method == "PUT":
                stored = {"id": path, "name": path.rsplit("/", 1)[1], **body}
                stored["properties"] = {**body.get("properties", {}), "provisioningState": "Updating"}
                existed = key in self.resources
                self.resources[key] = stored
                self._pending[key] = self.polls_until_done
                return (200 if existed else 201), stored, {}
            if method == "DELETE":
                if key not in self.resources:
                    return 204, None, {}
                self._deleting[key] = self.polls_until_done
                return 202, None, {}
        return 405, {"error": {"code": "MethodNotAllowed"}}, {}

    def _get(self, key: str) -> tuple[int, Any]:
        if key in self._deleting:
            if self._deleting[key] <= 0:
                del self._deleting[key]
                self.resources.pop(key, None)
                self._unlink_peering(key)
            else:
                self._deleting[key] -= 1
        if key not in self.resources:
            return 404, {"error": {"code": "ResourceNotFound"}}
        if key in self._pending:
            self._pending[key] -= 1
            if self._pending[key] < 0:
                del self._pending[key]
                self.resources[key]["properties"]["provisioningState"] = "Succeeded"
        return 200, self.resources[key]

    def _unlink_peering(self, key: str) -> None:
        vnet, sep, _ = key.partition("/virtualnetworkpeerings/")
        if sep and vnet in self.resources:
            props = self.resources[vnet]["properties"]
            props["virtualNetworkPeerings"] = [p for p in props["virtualNetworkPeerings"] if p["id"].lower() != key]


HANG = "hang"


@contextmanager
def serve(fake: FakeArm) -> Iterator[FakeArm]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": {"code": "AuthenticationFailed"}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = self.path.split("?", 1)[0]
            result = fake.answer(self.command, path, body)
            if result == HANG:
                fake.stopped.wait()  # the request was read; the answer never comes
                self.close_connection = True
                return
            if result is None:
                self.close_connection = True  # no status line: the client sees a dropped connection
                return
            assert not isinstance(result, str)
            self._send(*result)

        def _send(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        fake.stopped.set()
        server.shutdown()

    stopper = threading.Timer(SERVER_LIFETIME_SECONDS, stop)
    stopper.daemon = True
    stopper.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        fake.stopped.set()
        stopper.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def arm() -> Iterator[FakeArm]:
    with serve(FakeArm()) as fake:
        yield fake


def example_config(example: str, stack: str = "dr", **overrides: Any) -> StackConfig:
    settings = load_stack(stack, stack_file=EXAMPLES / example / f"Pulumi.{stack}.yaml", overrides=overrides)
    return load(stack, settings.config, frozenset(settings.secret_keys))


def variables_of(cfg: StackConfig, drill: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """The erdr-* variables as Automation holds them (JSON text)."""
    values: dict[str, Any] = switch_variables(switch_plan(cfg))
    values["retry"] = {"attempts": 3, "delaySeconds": 7, "pollAttempts": 10}
    values["timeouts"] = {"callSeconds": 5, "operationSeconds": 600, "switchSeconds": 1200}
    if drill is not None:
        values["drill-vnet-ids"] = dict(drill)
    values.update(extra)
    return {rb.VARIABLE_PREFIX + k: json.dumps(v) for k, v in values.items()}


def reader(variables: Mapping[str, Any]) -> Callable[[str], Any]:
    def get(name: str) -> Any:
        if name not in variables:
            raise Exception(f"Variable {name} not found")  # what automationassets raises
        return variables[name]

    return get


def seed(fake: FakeArm, variables: Mapping[str, str], phase: str) -> None:
    """Put the connections both hubs hold in ``phase`` into the fake, as the runbook would write them."""
    settings = rb.load_settings(reader(variables))
    switch = rb.Switch(settings, rb.ArmClient(lambda: TOKEN))
    for role in (rb.SOURCE, rb.TARGET):
        for conn in settings.connections[role][phase]:
            body = switch.body(role, conn)
            body["properties"]["provisioningState"] = "Succeeded"
            fake.add(conn.id, body)


def context(kind: str, direction: str = "PrimaryToSecondary") -> str:
    return json.dumps(
        {
            "RecoveryPlanName": "erdr-eastasia-to-southeastasia",
            "FailoverType": kind,
            "FailoverDirection": direction,
            "GroupId": "1",
            "VmMap": {},
        }
    )


@dataclass
class Run:
    changes: list[rb.Change]
    log: list[str]
    sleeps: list[float]


def run(fake: FakeArm, variables: Mapping[str, Any], ctx: str) -> Run:
    log: list[str] = []
    sleeps: list[float] = []
    changes = rb.main([ctx], reader(variables), lambda: TOKEN, fake.url, sleeps.append, log.append)
    return Run(changes, log, sleeps)


@dataclass
class Job:
    """The Python job as the PowerShell parent sees it: exit status and job output."""

    code: int | None  # None: still running when the test stopped waiting
    log: list[str]
    sleeps: list[float]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.code == 0 and any(line.startswith(rb.SUCCESS_MARKER) for line in self.log)


def job(fake: FakeArm, variables: Mapping[str, Any], ctx: str, wait_seconds: float = 20.0) -> Job:
    """Run the job's entrypoint in a thread, waiting at most ``wait_seconds`` for it."""
    log: list[str] = []
    sleeps: list[float] = []
    out: list[int] = []
    options: dict[str, Any] = {"variable": reader(variables), "token": lambda: TOKEN, "base_url": fake.url}

    def target() -> None:
        out.append(rb.entrypoint([ctx], log.append, sleep=sleeps.append, **options))

    start = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(wait_seconds)
    return Job(out[0] if out else None, log, sleeps, time.monotonic() - start)


def declared(variables: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The variables with the operator's outage declaration (erdr-source-outage-declared)."""
    return {**variables, "erdr-source-outage-declared": json.dumps(region)}


def role_of(fake: FakeArm, cfg: StackConfig, path: str) -> str:
    rg = path.split("/resourceGroups/", 1)[1].split("/", 1)[0]
    return "source" if rg == cfg.resource_group_name(Role.SOURCE) else "target"


def write_roles(fake: FakeArm, cfg: StackConfig) -> list[str]:
    """Roles of the written resources in order, consecutive repeats folded."""
    out: list[str] = []
    for _, path in fake.writes:
        role = role_of(fake, cfg, path)
        if not out or out[-1] != role:
            out.append(role)
    return out


def procedure_roles(cfg: StackConfig, operation: Operation) -> list[str]:
    """model/phases.py's order of the stack updates that change connections in Azure (the
    record-only updates, and the closing 'standby' ones of a failback, change nothing)."""
    steps = phases.procedure(operation, Design.of(cfg))
    roles: list[str] = []
    for s in steps:
        moves = s.action is Action.UP and s.azure and s.phase in (Phase.FAILOVER, Phase.FAILBACK)
        if moves and s.role is not None and s.role.value not in roles:
            roles.append(s.role.value)
    return roles


# --- the recovery plan context ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "direction", "operation"),
    [
        ("Test", "PrimaryToSecondary", rb.DRILL),
        ("TestFailover", "PrimaryToSecondary", rb.DRILL),
        ("Planned", "PrimaryToSecondary", rb.FAILOVER),
        ("Unplanned", "PrimaryToSecondary", rb.FAILOVER),
        ("UnplannedFailover", "PrimaryToSecondary", rb.FAILOVER),
        ("Planned", "SecondaryToPrimary", rb.FAILBACK),
        ("Unplanned", "SecondaryToPrimary", rb.FAILBACK),
    ],
)
def test_context_names_the_operation(kind: str, direction: str, operation: str) -> None:
    assert rb.parse_context(context(kind, direction)).operation == operation


@pytest.mark.parametrize(
    "raw", [{"FailoverType": "Sideways", "FailoverDirection": "PrimaryToSecondary"}, {"FailoverType": "Planned"}, "[]"]
)
def test_unknown_context_is_refused(raw: Any) -> None:
    with pytest.raises(rb.SwitchError):
        rb.parse_context(raw)


@pytest.mark.parametrize(
    "argv",
    [
        [context("Planned")],
        ["-RecoveryPlanContext", context("Planned")],
        [f"RecoveryPlanContext={context('Planned')}"],
        ["unrelated", context("Planned")],
    ],
)
def test_context_is_found_among_the_arguments(argv: list[str]) -> None:
    assert rb.context_from_argv(argv)["FailoverType"] == "Planned"


def test_missing_context_fails_the_step() -> None:
    with pytest.raises(rb.SwitchError, match="no RecoveryPlanContext"):
        rb.context_from_argv(["{}", "plain"])


# --- order: the runbook and model/phases.py ----------------------------------------------------


@pytest.mark.parametrize("topology", list(Topology))
@pytest.mark.parametrize("addressing", list(Addressing))
def test_role_order_reaches_the_runbook_as_the_procedures(topology: Topology, addressing: Addressing) -> None:
    """The runbook's order comes from the generated settings, and those from the procedure."""
    cfg = example_config("two-locations-same-ip").model_copy(update={"topology": topology, "addressing": addressing})
    variables = {f"erdr-{k}": json.dumps(v) for k, v in switch_variables(switch_plan(cfg)).items()}
    settings = rb.load_settings(reader(variables))
    for operation in (Operation.FAILOVER, Operation.FAILBACK):
        assert settings.role_order[operation.value] == procedure_roles(cfg, operation)
    assert settings.role_order.get("drill", []) == []


# --- failover and failback over HTTP -----------------------------------------------------------


EXCLUSIVE = "single-circuit-same-ip"
CROSS = "two-locations-new-ip"  # crossConnect: each gateway holds both circuits, weights choose
UNCHANGED = ("single-circuit-new-ip", "two-locations-same-ip", "one-location-same-ip", "one-location-new-ip")
WEIGHTED = (CROSS, *UNCHANGED)


def test_single_circuit_same_ip_failover_removes_source_then_creates_target(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    source_conn = next(iter(arm.connections()))
    result = run(arm, variables, context("Planned"))
    methods = [m for m, _ in arm.writes]
    assert methods == ["DELETE", "PUT"]
    assert write_roles(arm, cfg) == ["source", "target"] == procedure_roles(cfg, Operation.FAILOVER)
    (target,) = arm.connections().values()
    assert source_conn not in arm.connections()
    # The target gateway's only connection: the weight chooses nothing and stays Azure's default.
    assert target["properties"]["routingWeight"] == phases.SINGLE_CONNECTION_WEIGHT
    assert target["properties"]["peer"]["id"] == cfg.circuits.primary.id
    assert [c.action for c in result.changes] == ["deleted", "created"]


@pytest.mark.parametrize("example", UNCHANGED)
@pytest.mark.parametrize("direction", ["PrimaryToSecondary", "SecondaryToPrimary"])
def test_failover_that_alters_no_route_touches_no_region(arm: FakeArm, example: str, direction: str) -> None:
    """Two pre-connected circuits, or one circuit with distinct prefixes: each gateway holds one
    connection, so nothing in Azure changes and the runbook does not even read either region."""
    cfg = example_config(example)
    variables = variables_of(cfg)
    seed(arm, variables, "standby" if direction == "PrimaryToSecondary" else "failover")
    before = _state(arm)
    result = run(arm, variables, context("Unplanned", direction))
    assert arm.requests == []
    assert _state(arm) == before
    assert result.changes == []


def test_cross_connected_failover_moves_the_preference_target_first(arm: FakeArm) -> None:
    cfg = example_config(CROSS)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    before = set(arm.connections())
    run(arm, variables, context("Unplanned"))
    assert {m for m, _ in arm.writes} == {"PUT"}, "weights move; no connection is removed"
    assert set(arm.connections()) == before
    assert write_roles(arm, cfg) == ["target", "source"] == procedure_roles(cfg, Operation.FAILOVER)
    weights = {c["name"]: c["properties"]["routingWeight"] for c in arm.connections().values()}
    plan = switch_plan(cfg)
    expected = {
        c["name"]: plan.routing_weights[c["weight"]]
        for role in ("source", "target")
        for c in plan.connections[role]["failover"]
    }
    assert weights == expected
    secondary = {n: w for n, w in weights.items() if n.endswith("-to-secondary")}
    assert set(secondary.values()) == {cfg.routing_weights.preferred}, "after failover both gateways prefer it"


@pytest.mark.parametrize("example", (EXCLUSIVE, *WEIGHTED))
def test_failback_follows_the_procedure_and_ends_in_standby(arm: FakeArm, example: str) -> None:
    cfg = example_config(example)
    variables = variables_of(cfg)
    seed(arm, variables, "failover")
    run(arm, variables, context("Planned", "SecondaryToPrimary"))
    assert write_roles(arm, cfg) == procedure_roles(cfg, Operation.FAILBACK)
    with serve(FakeArm()) as standby:
        seed(standby, variables, "standby")
        assert _state(arm) == _state(standby)


def _state(fake: FakeArm) -> dict[str, tuple[Any, ...]]:
    return {
        k: (v["location"], json.dumps(v["tags"], sort_keys=True), json.dumps(v["properties"], sort_keys=True))
        for k, v in fake.connections().items()
    }


@pytest.mark.parametrize("example", (EXCLUSIVE, *WEIGHTED))
@pytest.mark.parametrize("direction", ["PrimaryToSecondary", "SecondaryToPrimary"])
def test_rerun_changes_nothing(arm: FakeArm, example: str, direction: str) -> None:
    cfg = example_config(example)
    variables = variables_of(cfg)
    seed(arm, variables, "standby" if direction == "PrimaryToSecondary" else "failover")
    run(arm, variables, context("Planned", direction))
    state, writes = _state(arm), len(arm.writes)
    again = run(arm, variables, context("Planned", direction))
    assert len(arm.writes) == writes, "a rerun only reads"
    assert _state(arm) == state
    assert {c.action for c in again.changes} <= {"unchanged", "absent"}


def test_rerun_after_a_partial_run_finishes_the_job(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    (source_id,) = arm.connections()
    arm.resources.pop(source_id)  # the first attempt removed the source and then died
    result = run(arm, variables, context("Unplanned"))
    assert [c.action for c in result.changes] == ["absent", "created"]
    assert [m for m, _ in arm.writes] == ["PUT"]


def test_long_running_operations_are_polled_until_done(arm: FakeArm) -> None:
    arm.polls_until_done = 3
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    result = run(arm, variables, context("Planned"))
    (target,) = arm.connections().values()
    assert target["properties"]["provisioningState"] == "Succeeded"
    assert result.sleeps.count(7) >= 2 * 3, "each operation waited, with the configured delay"


def _with_keys(
    variables: dict[str, Any], *, source: str | None = "prod-key", target: str | None = "dr-key"
) -> dict[str, Any]:
    """The variables plus each side's encrypted key for the primary circuit, as the dr stack sets them."""
    keys = {"source": source, "target": target}
    extra = {f"{rb.VARIABLE_PREFIX}authorization-key-{r}-primary": json.dumps(k) for r, k in keys.items() if k}
    return {**variables, **extra}


def test_each_side_writes_its_connection_with_its_own_key(arm: FakeArm) -> None:
    """A circuit in another subscription: each connection redeems its own authorization, so the
    runbook sends dr's key for dr's connection and prod's for prod's, never one for both."""
    cfg = example_config(EXCLUSIVE)
    variables = _with_keys(variables_of(cfg))
    seed(arm, variables, "standby")
    run(arm, variables, context("Planned"))
    (target,) = arm.connections().values()
    assert target["properties"]["authorizationKey"] == "dr-key"
    run(arm, variables, context("Planned", "SecondaryToPrimary"))
    (source,) = arm.connections().values()
    assert source["location"] == cfg.regions.source
    assert source["properties"]["authorizationKey"] == "prod-key"


def test_weighted_switch_rewrites_prods_connection_with_prods_key(arm: FakeArm) -> None:
    cfg = example_config("single-circuit-new-ip")
    variables = _with_keys(variables_of(cfg))
    seed(arm, variables, "standby")
    run(arm, variables, context("Unplanned"))
    keys = {c["location"]: c["properties"]["authorizationKey"] for c in arm.connections().values()}
    assert keys == {cfg.regions.source: "prod-key", cfg.regions.target: "dr-key"}


def test_a_side_without_a_key_sends_none(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = _with_keys(variables_of(cfg), source=None)
    seed(arm, variables, "failover")
    run(arm, variables, context("Planned", "SecondaryToPrimary"))
    (source,) = arm.connections().values()
    assert "authorizationKey" not in source["properties"]


# --- retries and an unreachable source region --------------------------------------------------


def _rg_prefix(cfg: StackConfig, role: Role) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{cfg.resource_group_name(role)}/"


def test_transient_errors_are_retried(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    arm.failing[_rg_prefix(cfg, Role.TARGET)] = 2
    result = run(arm, variables, context("Planned"))
    assert len(arm.connections()) == 1
    assert sum("retry" in line for line in result.log) == 2
    assert result.sleeps.count(7) >= 2


def test_declared_outage_lets_an_unplanned_failover_go_on_without_the_source(arm: FakeArm) -> None:
    """The one case that may proceed without the source: Unplanned, and the operator named the
    source region in erdr-source-outage-declared."""
    cfg = example_config(EXCLUSIVE)
    variables = declared(variables_of(cfg), cfg.regions.source)
    seed(arm, variables, "standby")
    source = _rg_prefix(cfg, Role.SOURCE)
    arm.dropping.add(source)
    result = job(arm, variables, context("Unplanned"))
    assert result.succeeded, result.log
    source_requests = [p for _, p in arm.requests if p.startswith(source)]
    assert len(source_requests) == 3, "bounded: erdr-retry attempts, then give up"
    assert f"SOURCE OUTAGE DECLARED for {cfg.regions.source} (erdr-source-outage-declared)" in " ".join(result.log)
    assert any(line.startswith("SOURCE REGION UNREACHABLE (eastasia), outage declared") for line in result.log)
    assert any(line.startswith("[source] unreachable: eastasia") for line in result.log)
    assert "not reached (declared outage): eastasia" in result.log[-2]
    target = [c for c in arm.connections().values() if c["location"] == cfg.regions.target]
    assert len(target) == 1 and target[0]["properties"]["provisioningState"] == "Succeeded"


def test_undeclared_source_outage_stops_an_unplanned_failover_with_nothing_changed(arm: FakeArm) -> None:
    """Control for the declared case: the same outage without the declaration fails closed."""
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    before = _state(arm)
    arm.dropping.add(_rg_prefix(cfg, Role.SOURCE))
    result = job(arm, variables, context("Unplanned"))
    assert result.code == 1 and not result.succeeded
    assert arm.writes == [] and _state(arm) == before
    failed = next(line for line in result.log if line.startswith("network switch FAILED: "))
    assert "source region eastasia does not answer, nothing was changed" in failed
    assert "set the Automation variable erdr-source-outage-declared to 'eastasia'" in failed
    assert result.log[-1] == "changed in Azure: nothing"


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        ("Planned", "eastasia", "a Planned failover needs the source region"),
        ("Unplanned", "southeastasia", "it must name the source region, 'eastasia'"),
        ("Unplanned", "true", "it must name the source region, 'eastasia'"),
    ],
)
def test_a_declaration_counts_only_in_an_unplanned_failover_naming_the_source(
    arm: FakeArm, kind: str, value: str, why: str
) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = declared(variables_of(cfg), value)
    seed(arm, variables, "standby")
    arm.dropping.add(_rg_prefix(cfg, Role.SOURCE))
    result = job(arm, variables, context(kind))
    assert result.code == 1 and arm.writes == []
    assert any(f"erdr-source-outage-declared ({value!r}) ignored: {why}" in line for line in result.log)


def test_a_declaration_left_set_is_flagged_at_failback(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = declared(variables_of(cfg), cfg.regions.source)
    seed(arm, variables, "failover")
    result = job(arm, variables, context("Planned", "SecondaryToPrimary"))
    assert result.succeeded
    assert any(line.startswith("WARNING: erdr-source-outage-declared is still set ('eastasia')") for line in result.log)


def test_issue_22_503_burst_on_the_source_in_a_planned_failover_fails_closed(arm: FakeArm) -> None:
    """The reported bug: three 503s on the source group during a Planned failover (single circuit,
    same IPs) left both hubs' connections Succeeded on the circuit and the job reported success.
    A Planned failover needs the source: the step fails before anything is written."""
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)  # erdr-retry: 3 attempts
    seed(arm, variables, "standby")
    (source_id,) = arm.connections()
    arm.failing[_rg_prefix(cfg, Role.SOURCE)] = 3
    result = job(arm, variables, context("Planned"))
    succeeded = [c for c in arm.connections().values() if c["properties"]["provisioningState"] == "Succeeded"]
    assert len(succeeded) == 1, "never both hubs on the one circuit"
    assert list(arm.connections()) == [source_id] and arm.writes == []
    assert not result.succeeded and result.code == 1
    assert not any(rb.SUCCESS_MARKER in line for line in result.log)
    assert sum(line.startswith("retry ") for line in result.log) == 2


def test_a_503_burst_shorter_than_the_retries_is_ridden_out(arm: FakeArm) -> None:
    """Control for the burst above: two 503s within three attempts, the switch completes."""
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    arm.failing[_rg_prefix(cfg, Role.SOURCE)] = 2
    result = job(arm, variables, context("Planned"))
    assert result.succeeded
    assert [m for m, _ in arm.writes] == ["DELETE", "PUT"]
    assert sum(line.startswith("retry ") and "HTTP 503" in line for line in result.log) == 2


def test_429_waits_as_long_as_retry_after_says_and_is_not_an_outage(arm: FakeArm) -> None:
    """Throttling is ARM answering: the runbook waits Retry-After (not its own retry delay), as
    often as ARM asks, and then does the switch; the source never counts as unreachable."""
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)  # 3 attempts: four 429s would have exhausted them
    seed(arm, variables, "standby")
    arm.throttling[_rg_prefix(cfg, Role.SOURCE)] = [4, 2]
    result = job(arm, variables, context("Planned"))
    assert result.succeeded, result.log
    assert result.sleeps[:4] == [2.0, 2.0, 2.0, 2.0]
    assert sum("HTTP 429 (throttled), Retry-After 2s" in line for line in result.log) == 4
    assert not any("unreachable" in line.lower() for line in result.log)
    assert [m for m, _ in arm.writes] == ["DELETE", "PUT"]


def test_429_whose_wait_passes_the_deadline_fails_as_throttling_even_with_a_declared_outage(arm: FakeArm) -> None:
    """A throttled source is up: a declared outage does not let the failover skip it."""
    cfg = example_config(EXCLUSIVE)
    variables = declared(variables_of(cfg), cfg.regions.source)
    variables["erdr-timeouts"] = json.dumps({"callSeconds": 5, "operationSeconds": 600, "switchSeconds": 60})
    seed(arm, variables, "standby")
    arm.throttling[_rg_prefix(cfg, Role.SOURCE)] = [-1, 120]
    result = job(arm, variables, context("Unplanned"))
    assert result.code == 1 and arm.writes == []
    failed = next(line for line in result.log if line.startswith("network switch FAILED: "))
    assert "ARM is throttling, not down" in failed and "Retry-After 120s" in failed
    assert 120 not in result.sleeps


def test_retry_after_as_seconds_or_http_date() -> None:
    assert rb.retry_after_seconds("17") == 17
    assert rb.retry_after_seconds("Wed, 01 Jan 2031 00:01:00 GMT", now=1924992000.0) == 60
    assert rb.retry_after_seconds("soon") is None and rb.retry_after_seconds(None) is None


@pytest.mark.parametrize(("role", "kind"), [(Role.SOURCE, "Planned"), (Role.TARGET, "Unplanned")])
def test_an_arm_that_never_answers_is_given_up_on_within_the_call_deadline(arm: FakeArm, role: Role, kind: str) -> None:
    """A front end that takes the request and never answers: each call ends at callSeconds, the
    step fails after the bounded attempts with nothing written (the target must answer even with
    a declared source outage)."""
    cfg = example_config(EXCLUSIVE)
    variables = declared(variables_of(cfg), cfg.regions.source) if role is Role.TARGET else variables_of(cfg)
    variables["erdr-timeouts"] = json.dumps({"callSeconds": 0.4, "operationSeconds": 600, "switchSeconds": 1200})
    seed(arm, variables, "standby")
    prefix = _rg_prefix(cfg, role)
    arm.hanging.add(prefix)
    result = job(arm, variables, context(kind), wait_seconds=15)
    assert result.code == 1, f"still waiting after {result.seconds:.1f}s"
    assert result.seconds < 5, "3 calls of 0.4 s, no real sleeps"
    assert len([p for _, p in arm.requests if p.startswith(prefix)]) == 3
    assert arm.writes == []
    assert any("timed out" in line for line in result.log if line.startswith("retry "))


def test_the_switch_deadline_bounds_polling(arm: FakeArm) -> None:
    """An operation that never finishes is abandoned at the deadline, not after every poll."""
    arm.polls_until_done = 1000
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    variables["erdr-retry"] = json.dumps({"attempts": 3, "delaySeconds": 0.05, "pollAttempts": 100000})
    variables["erdr-timeouts"] = json.dumps({"callSeconds": 5, "operationSeconds": 1, "switchSeconds": 1200})
    seed(arm, variables, "failover")
    log: list[str] = []
    options: dict[str, Any] = {"variable": reader(variables), "token": lambda: TOKEN, "base_url": arm.url}
    start = time.monotonic()
    code = rb.entrypoint([context("Planned", "SecondaryToPrimary")], log.append, sleep=time.sleep, **options)
    assert code == 1 and time.monotonic() - start < 10
    assert any(
        "would pass the deadline of removing" in line for line in log if line.startswith("network switch FAILED")
    )


def test_every_outcome_reaches_the_job_output_also_on_failure(arm: FakeArm) -> None:
    """Cross-connected hubs change the target first: when the source then refuses its write, the
    job output says what was already changed."""
    cfg = example_config(CROSS)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    arm.refusing_writes[_rg_prefix(cfg, Role.SOURCE)] = 403
    result = job(arm, variables, context("Unplanned"))
    assert result.code == 1
    assert [line.split(":", 1)[0] for line in result.log if line.startswith("[")] == ["[target] updated"] * 2
    assert result.log[-1].startswith("changed in Azure: target updated hub-southeastasia-to-")
    assert result.log[-2].startswith("network switch FAILED: PUT ") and "HTTP 403" in result.log[-2]


def test_an_unexpected_error_is_written_to_the_job_output(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = {**variables_of(cfg), "erdr-role-order": json.dumps(["not", "a", "mapping"])}
    result = job(arm, variables, context("Planned"))
    assert result.code == 1
    assert result.log[0].startswith("network switch FAILED: unexpected AttributeError")
    assert any(line.startswith("Traceback (most recent call last)") for line in result.log)


def test_declared_outage_during_cross_connected_failover_still_moves_the_target(arm: FakeArm) -> None:
    cfg = example_config(CROSS)
    variables = declared(variables_of(cfg), cfg.regions.source)
    seed(arm, variables, "standby")
    arm.failing[_rg_prefix(cfg, Role.SOURCE)] = -1
    result = run(arm, variables, context("Unplanned"))
    # Checked before anything is written, so the outage is known before the target moves.
    assert [c.action for c in result.changes] == ["unreachable", "updated", "updated"]
    target = {c["name"]: c for c in arm.connections().values() if c["location"] == cfg.regions.target}
    assert (
        target[f"hub-{cfg.regions.target}-to-secondary"]["properties"]["routingWeight"] == cfg.routing_weights.preferred
    )


@pytest.mark.parametrize(
    ("role", "direction"), [(Role.TARGET, "PrimaryToSecondary"), (Role.SOURCE, "SecondaryToPrimary")]
)
def test_unreachable_side_that_must_act_fails_the_step(arm: FakeArm, role: Role, direction: str) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby" if direction == "PrimaryToSecondary" else "failover")
    arm.dropping.add(_rg_prefix(cfg, role))
    with pytest.raises(rb.Unreachable):
        run(arm, variables, context("Planned", direction))


def test_refused_request_is_not_retried(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    arm.refusing[_rg_prefix(cfg, Role.TARGET)] = 403
    with pytest.raises(rb.ArmError, match="HTTP 403"):
        run(arm, variables, context("Planned"))
    assert sum(p.startswith(_rg_prefix(cfg, Role.TARGET)) for _, p in arm.requests) == 1


# --- test failover: only the drill network -------------------------------------------------------


def _drill(arm: FakeArm, cfg: StackConfig, peered: str | None = None) -> dict[str, str]:
    ids = {}
    for key in ("hub", "vnet1", "vnet2"):
        rid = f"{_rg_prefix(cfg, Role.TARGET)}providers/Microsoft.Network/virtualNetworks/{key}-{cfg.regions.target}-drill"
        peerings = []
        if key == peered:
            peerings = [{"id": f"{rid}/virtualNetworkPeerings/{key}-to-hub", "name": f"{key}-to-hub"}]
            arm.add(peerings[0]["id"], {"properties": {"provisioningState": "Succeeded"}})
        arm.add(rid, {"location": cfg.regions.target, "properties": {"virtualNetworkPeerings": peerings}})
        ids[key] = rid
    return ids


@pytest.mark.parametrize("example", (EXCLUSIVE, *WEIGHTED))
def test_test_failover_touches_nothing_in_production(arm: FakeArm, example: str) -> None:
    cfg = example_config(example)
    variables = variables_of(cfg, _drill(arm, cfg, peered="vnet1"))
    seed(arm, variables, "standby")
    before = _state(arm)
    result = run(arm, variables, context("Test"))
    assert _state(arm) == before
    assert [m for m, _ in arm.writes] == ["DELETE"]
    assert arm.writes[0][1].endswith("/virtualNetworks/vnet1-southeastasia-drill/virtualNetworkPeerings/vnet1-to-hub")
    assert all("-drill" in p for _, p in arm.requests), "only drill VNets are even read"
    assert [c.action for c in result.changes].count("checked") == 3


def test_test_failover_without_drill_network_fails(arm: FakeArm) -> None:
    cfg = example_config(EXCLUSIVE)
    ids = _drill(arm, cfg)
    arm.resources.pop(ids["vnet2"].lower())
    with pytest.raises(rb.SwitchError, match="vnet2 not found"):
        run(arm, variables_of(cfg, ids), context("Test"))
    assert arm.writes == []


# --- identity ------------------------------------------------------------------------------------


def test_managed_identity_token_is_fetched_once_and_cached(arm: FakeArm) -> None:
    calls: list[str] = []

    class Identity(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.headers.get("X-IDENTITY-HEADER", ""))
            data = json.dumps({"access_token": TOKEN, "expires_on": "9999999999"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with running(LoopbackServer(("127.0.0.1", 0), Identity)) as server:
        env = {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}/msi/token", "IDENTITY_HEADER": "s3"}
        token = rb.managed_identity_token(env)
        client = rb.ArmClient(token, arm.url)
        assert client.get("/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/connections/z") is None
        assert client.get("/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/connections/w") is None
        assert calls == ["s3"]


def test_without_identity_the_runbook_says_so() -> None:
    with pytest.raises(rb.SwitchError, match="no managed identity"):
        rb.managed_identity_token({})()


def test_runbook_stays_python310_compatible() -> None:
    ast.parse(Path(rb.__file__).read_text(), feature_version=(3, 10))


def test_failover_log_states_the_target_next_hop(arm: FakeArm) -> None:
    """The job's log says what the target's next hop is and the address it must answer on
    (erdr-nva): the same as in production with the same IPs, its translation otherwise."""
    item = (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/"
        "replicationProtectionContainers/c/replicationProtectedItems/nva1"
    )
    cfg = example_config(EXCLUSIVE, **{"layout.hub.nva.replicatedItem": item})
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    result = run(arm, variables, context("Planned"))
    assert (
        f"target next hop: NVA at 10.10.10.10 in subnet nva; replicated item {item} boots first and must come up with 10.10.10.10"
        in result.log
    )
    assert rb.next_hop_line({"kind": "azureFirewall", "address": {"target": "10.20.10.68"}}) == (
        "target next hop: Azure Firewall at 10.20.10.68 (preProvisioned)"
    )
