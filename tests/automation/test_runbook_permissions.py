"""Least privilege for the runbooks' identity: every action of every custom role is one a runbook call
needs, every call's action is in a role, and every assignment sits where the calls land.

Two checks, each with controls:

- **The table** (``USES``): each action mapped to the call in automation/network_switch.py or
  automation/network_switch.ps1 that needs it. The calls found in the code (the Python runbook's
  ``self.arm.*`` calls, the PowerShell action's ``Invoke-Arm`` commands) and the table's calls must
  be the same set, each action must fit its call's HTTP method (GET read, PUT write, DELETE delete)
  unless it is a check ARM makes on another resource (``linked``, with Microsoft's page), and the
  role definitions the dr stack registers under Pulumi's mocks must hold exactly the table's
  actions, role by role: an unused action or a missing one fails.
- **The runs**: the Python runbook fails over, fails back and drills against the fake ARM endpoint
  (tests/automation/test_network_switch.py) seeded with what the example stacks register; every
  request it makes, and the join checks ARM makes for a connection PUT, must be allowed by an
  assignment the dr stack registers (scope a prefix of the resource ID, role holding the action),
  and every network or drill assignment must allow at least one of them.

Microsoft's pages: ExpressRoute "About roles and permissions for ExpressRoute circuits and
gateways" (a connection create or update checks connections/write, virtualNetworkGateways/join/action
and expressRouteCircuits/join/action); "Connect a virtual network to an ExpressRoute circuit"
(a circuit user in another subscription redeems an authorization key instead); Automation's "Manage
role permissions and security" (starting one runbook: Automation Job Operator on the account,
Automation Runbook Operator, i.e. runbooks/read, on that runbook).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from automation import network_switch as rb
from components import recovery_plan as rp
from components.recovery_plan import ACTION_RUNBOOK, CHILD_RUNBOOK, ROLES
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import load_stack
from model.config import Phase
from model.identity import ResourceId
from tests.automation.test_network_switch import EXAMPLES, TOKEN, FakeArm, context, reader, serve
from tests.automation.test_network_switch_ps import nodes, parse, text
from tests.automation.test_network_switch_stacks import (
    PEERS,
    PLAN,
    automation_variables,
    seed_from,
    sim,
)

ROLES_PAGE = "https://learn.microsoft.com/azure/expressroute/roles-permissions"
KEY_PAGE = "https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-arm"
AUTOMATION_PAGE = "https://learn.microsoft.com/azure/automation/automation-role-based-access-control"

PY = CHILD_RUNBOOK.file.name
PS = ACTION_RUNBOOK.file.name
CONN_READ = "Microsoft.Network/connections/read"
CONN_WRITE = "Microsoft.Network/connections/write"
CONN_DELETE = "Microsoft.Network/connections/delete"
GATEWAY_JOIN = "Microsoft.Network/virtualNetworkGateways/join/action"
CIRCUIT_JOIN = "Microsoft.Network/expressRouteCircuits/join/action"
PUT_CONNECTION = "self.arm.put(conn.id, want)"
START_JOB = "Invoke-Arm -Method 'Put' -Path $jobPath -Body $jobBody"


@dataclass(frozen=True)
class Use:
    """One action one call needs, and the roles (RoleSpec.key) that grant it for that call."""

    file: str
    call: str  # as the code spells it (Python: ast.unparse; PowerShell: the command, spaces folded)
    roles: tuple[str, ...]
    action: str
    # An action ARM checks on another resource than the one called: Microsoft's page saying so.
    linked: str = ""


USES: tuple[Use, ...] = (
    # A connection: preflight and ensure read it, ensure writes and polls it, remove deletes it.
    Use(PY, "self.arm.get(conn.id)", ("connections", "weights"), CONN_READ),
    Use(PY, PUT_CONNECTION, ("connections", "weights"), CONN_WRITE),
    Use(PY, PUT_CONNECTION, ("gateway-join",), GATEWAY_JOIN, ROLES_PAGE),
    # Not with an authorization key (KEY_PAGE): program/target.py leaves such a circuit out.
    Use(PY, PUT_CONNECTION, ("circuit-join",), CIRCUIT_JOIN, ROLES_PAGE),
    Use(PY, "self.arm.wait_succeeded(conn.id)", ("connections", "weights"), CONN_READ),
    Use(PY, "self.arm.delete(conn.id)", ("connections",), CONN_DELETE),
    Use(PY, "self.arm.wait_gone(conn.id)", ("connections",), CONN_READ),
    # Test failover: the drill VNets and the peerings found on them.
    Use(PY, "self.arm.get(ids[key])", ("drill",), "Microsoft.Network/virtualNetworks/read"),
    Use(
        PY,
        "self.arm.delete(peering['id'])",
        ("drill",),
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
    ),
    Use(
        PY,
        "self.arm.wait_gone(peering['id'])",
        ("drill",),
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
    ),
    # The PowerShell action: start the child job, poll it, read its output.
    Use(PS, START_JOB, ("job",), "Microsoft.Automation/automationAccounts/jobs/write"),
    Use(PS, START_JOB, ("child-runbook",), "Microsoft.Automation/automationAccounts/runbooks/read", AUTOMATION_PAGE),
    Use(PS, "Invoke-Arm -Method 'Get' -Path $jobPath", ("job",), "Microsoft.Automation/automationAccounts/jobs/read"),
    Use(
        PS,
        "Invoke-Arm -Method 'Get' -Path \"$jobPath/output\"",
        ("job",),
        "Microsoft.Automation/automationAccounts/jobs/output/read",
    ),
)

# The ArmClient methods that reach ARM, and the ones that do not.
ARM_METHODS = {"get", "put", "delete", "wait_succeeded", "wait_gone", "request"}
LOCAL_METHODS = {"deadline"}
SUFFIX = {"GET": "/read", "PUT": "/write", "DELETE": "/delete"}


# --- the calls in the code ------------------------------------------------------------------------


def client_verbs(source: str) -> dict[str, set[str]]:
    """ArmClient method -> the HTTP methods it sends (through self.request, directly or not)."""
    tree = ast.parse(source)
    (client,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ArmClient"]
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for fn in client.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        direct[fn.name], calls[fn.name] = set(), set()
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if ast.unparse(node.func.value) != "self":
                continue
            if node.func.attr == "request" and node.args and isinstance(node.args[0], ast.Constant):
                direct[fn.name].add(str(node.args[0].value))
            else:
                calls[fn.name].add(node.func.attr)

    def verbs(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out = set(direct.get(name, set()))
        for other in calls.get(name, set()) - seen:
            out |= verbs(other, seen | {name})
        return out

    return {name: verbs(name) for name in direct}


def python_calls(source: str) -> tuple[dict[str, str], list[str]]:
    """(call -> HTTP method, problems) for every ARM call of the Python runbook outside ArmClient."""
    verbs = client_verbs(source)
    tree = ast.parse(source)
    found: dict[str, str] = {}
    problems: list[str] = []
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "ArmClient":
            continue
        for node in ast.walk(cls):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner, method = ast.unparse(node.func.value), node.func.attr
            call = ast.unparse(node)
            if method == "urlopen":  # only ArmClient and the managed identity's token endpoint call out
                if not (isinstance(cls, ast.FunctionDef) and cls.name == "managed_identity_token"):
                    problems.append(f"{PY}: {call}: an HTTP call outside ArmClient")
                continue
            if owner.split(".")[-1] != "arm":
                continue
            if method in LOCAL_METHODS:
                continue
            if method not in ARM_METHODS or len(verbs.get(method, set())) != 1:
                problems.append(f"{PY}: {call}: a call to ARM the table cannot classify")
                continue
            (found[call],) = verbs[method]
    return found, problems


def powershell_calls(source: bytes) -> dict[str, str]:
    """Invoke-Arm command (spaces folded) -> HTTP method."""
    out: dict[str, str] = {}
    for command in nodes(parse(source).root_node, "command"):
        spelled = " ".join(text(command).split())
        if spelled.startswith("Invoke-Arm "):
            method = re.search(r"-Method '(\w+)'", spelled)
            out[spelled] = method.group(1).upper() if method else "?"
    return out


def code_calls() -> tuple[dict[tuple[str, str], str], list[str]]:
    py, problems = python_calls(CHILD_RUNBOOK.file.read_text())
    ps = powershell_calls(ACTION_RUNBOOK.file.read_bytes())
    return {**{(PY, c): m for c, m in py.items()}, **{(PS, c): m for c, m in ps.items()}}, problems


def table_problems(uses: Sequence[Use], calls: Mapping[tuple[str, str], str]) -> list[str]:
    """Both directions between the calls in the code and the table, and each action's verb."""
    problems = []
    listed = {(u.file, u.call) for u in uses}
    problems += [f"{f}: {c}: calls ARM, but no action in the table needs it" for f, c in sorted(set(calls) - listed)]
    problems += [f"{f}: {c}: in the table, not in the code" for f, c in sorted(listed - set(calls))]
    for u in uses:
        method = calls.get((u.file, u.call))
        if method is None:
            continue
        if u.linked:
            if method != "PUT" or not u.linked.startswith("https://learn.microsoft.com/"):
                problems.append(f"{u.call}: {u.action} is a check ARM makes on a write, citing Microsoft")
        elif not u.action.endswith(SUFFIX.get(method, "?")):
            problems.append(f"{u.call}: {method} needs a {SUFFIX.get(method)} action, not {u.action}")
    return problems


def registered_roles(*results: SimResult) -> dict[str, set[str]]:
    """RoleSpec.key -> the actions of the role definitions the stacks register."""
    by_kind = {spec.kind: spec.key for spec in ROLES}
    out: dict[str, set[str]] = {}
    for result in results:
        for d in result.of_type("azure-native:authorization:RoleDefinition"):
            kind = d.plain_inputs["roleName"].removeprefix("expressroute-dr ").split(" (")[0]
            assert kind in by_kind, f"a role the table does not know: {kind}"
            for perm in d.plain_inputs["permissions"]:
                out.setdefault(by_kind[kind], set()).update(perm["actions"])
                assert not perm.get("notActions") and not perm.get("dataActions")
    return out


def role_problems(uses: Sequence[Use], registered: Mapping[str, set[str]]) -> list[str]:
    """Each registered role holds exactly the actions the table gives it."""
    wanted: dict[str, set[str]] = {}
    for u in uses:
        for role in u.roles:
            wanted.setdefault(role, set()).add(u.action)
    problems = []
    for role in sorted(set(wanted) | set(registered)):
        have, want = registered.get(role, set()), wanted.get(role, set())
        if role not in registered:
            problems.append(f"role {role}: in the table, registered by no example stack")
            continue
        problems += [f"role {role}: {a} is granted, but no runbook call needs it" for a in sorted(have - want)]
        problems += [f"role {role}: {a} is needed by a runbook call, but not granted" for a in sorted(want - have)]
    return problems


# --- the example stacks ---------------------------------------------------------------------------

SAME_IP = "single-circuit-same-ip"  # remove one hub's connection, create the other's
CROSS = "two-locations-new-ip"  # each hub holds both circuits; weights move
UNCHANGED = "single-circuit-new-ip"  # nothing to change in Azure


def _dr(example: str) -> SimResult:
    return sim(example, "dr", Phase.STANDBY, "full")


@pytest.fixture(scope="module")
def stacks() -> list[SimResult]:
    return [_dr(SAME_IP), _dr(CROSS)]


def test_the_table_and_the_code_name_the_same_calls() -> None:
    calls, problems = code_calls()
    assert problems == []
    assert table_problems(USES, calls) == []
    assert {f for f, _ in calls} == {PY, PS}, "both runbooks are scanned"


def test_each_role_holds_exactly_the_actions_its_calls_need(stacks: list[SimResult]) -> None:
    assert role_problems(USES, registered_roles(*stacks)) == []


def test_control_an_unused_action_added_to_a_role_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    wider = dataclasses.replace(
        rp.CONNECTIONS_ROLE, actions=(*rp.CONNECTIONS_ROLE.actions, "Microsoft.Network/virtualNetworkGateways/read")
    )
    monkeypatch.setattr(rp, "CONNECTIONS_ROLE", wider)
    monkeypatch.setattr(rp, "NETWORK_ROLES", (wider, *rp.NETWORK_ROLES[1:]))
    settings = load_stack("dr", stack_file=EXAMPLES / SAME_IP / "Pulumi.dr.yaml", overrides={"recoveryPlan": PLAN})
    result = simulate(settings, peer_outputs=PEERS)
    assert result.error is None, result.error
    problems = role_problems(USES, registered_roles(result, _dr(CROSS)))
    assert problems == [
        "role connections: Microsoft.Network/virtualNetworkGateways/read is granted, but no runbook call needs it"
    ]


def test_control_a_missing_action_or_a_table_row_without_its_call_fails(stacks: list[SimResult]) -> None:
    registered = registered_roles(*stacks)
    registered["gateway-join"] = set()
    assert role_problems(USES, registered) == [
        f"role gateway-join: {GATEWAY_JOIN} is needed by a runbook call, but not granted"
    ]
    calls, _ = code_calls()
    ghost = Use(
        PY, "self.arm.get(s.gateway_ids[role])", ("connections",), "Microsoft.Network/virtualNetworkGateways/read"
    )
    assert table_problems((*USES, ghost), calls) == [f"{PY}: {ghost.call}: in the table, not in the code"]
    wrong_verb = Use(PY, "self.arm.delete(conn.id)", ("connections",), CONN_WRITE)
    assert table_problems((*USES, wrong_verb), calls) == [
        f"self.arm.delete(conn.id): DELETE needs a /delete action, not {CONN_WRITE}"
    ]


@pytest.mark.parametrize(
    ("file", "edit"),
    [
        # A new read of the gateway: the table must say which action it needs.
        (
            PY,
            (
                "        have = self.arm.get(conn.id)\n",
                "        have = self.arm.get(conn.id)\n        self.arm.get(s.gateway_ids[role])\n",
            ),
        ),
        # A new Automation call in the PowerShell action.
        (PS, ("$output = [string](", "Invoke-Arm -Method 'Get' -Path $account | Out-Null\n$output = [string](")),
    ],
)
def test_control_a_new_call_in_a_runbook_fails(file: str, edit: tuple[str, str]) -> None:
    if file == PY:
        source = CHILD_RUNBOOK.file.read_text()
        assert edit[0] in source
        py, problems = python_calls(source.replace(*edit, 1))
        calls = {(PY, c): m for c, m in py.items()} | {
            (PS, c): m for c, m in powershell_calls(ACTION_RUNBOOK.file.read_bytes()).items()
        }
    else:
        source = ACTION_RUNBOOK.file.read_text()
        assert edit[0] in source
        py, problems = python_calls(CHILD_RUNBOOK.file.read_text())
        ps = powershell_calls(source.replace(*edit, 1).encode())
        calls = {(PY, c): m for c, m in py.items()} | {(PS, c): m for c, m in ps.items()}
    assert problems == []
    (problem,) = table_problems(USES, calls)
    assert "calls ARM, but no action in the table needs it" in problem


# --- the runs: every request allowed by an assignment, every assignment used ------------------------


@dataclass
class RecordingArm(FakeArm):
    """The fake ARM, keeping each request's body (a connection PUT names its gateway and circuit)."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list[tuple[str, str, Any]])

    def answer(self, method: str, path: str, body: Any) -> Any:
        with self.lock:
            self.sent.append((method, path, body))
        return super().answer(method, path, body)


def needs(method: str, path: str, body: Any) -> list[tuple[str, str]]:
    """(action, resource ID) ARM checks for one request: the request's own action, and for a
    connection PUT join on its gateway and, without an authorization key, on its circuit."""
    rid = ResourceId.parse(path)
    out = [(f"{rid.type}{SUFFIX[method]}", rid.id)]
    if method == "PUT" and rid.type == "Microsoft.Network/connections":
        props = body["properties"]
        out.append((GATEWAY_JOIN, props["virtualNetworkGateway1"]["id"]))
        if "authorizationKey" not in props:
            out.append((CIRCUIT_JOIN, props["peer"]["id"]))
    return out


@dataclass(frozen=True)
class Grant:
    assignment: str
    role: str  # RoleSpec.key
    scope: str
    actions: frozenset[str]

    def allows(self, action: str, resource: str) -> bool:
        scope, rid = self.scope.lower(), resource.lower()
        return action in self.actions and (rid == scope or rid.startswith(scope + "/"))


def grants(result: SimResult) -> list[Grant]:
    by_kind = {spec.kind: spec.key for spec in ROLES}
    defs = {d.id: d.plain_inputs for d in result.of_type("azure-native:authorization:RoleDefinition")}
    out = []
    for a in result.of_type("azure-native:authorization:RoleAssignment"):
        d = defs[a.plain_inputs["roleDefinitionId"]]
        kind = d["roleName"].removeprefix("expressroute-dr ").split(" (")[0]
        actions = frozenset(x for p in d["permissions"] for x in p["actions"])
        out.append(Grant(a.name, by_kind[kind], a.plain_inputs["scope"], actions))
    return out


def run_all(result: SimResult, prod: SimResult) -> list[tuple[str, str, Any]]:
    """Failover, failback and a drill with a peering on every drill VNet; every request sent."""
    variables = automation_variables(result)
    with serve(RecordingArm()) as fake:
        seed_from(fake, prod, result)
        for vnet_id in rb.load_settings(reader(variables)).drill_vnet_ids.values():
            peering = f"{vnet_id}/virtualNetworkPeerings/to-production"
            fake.add(peering, {"properties": {"provisioningState": "Succeeded"}})
            fake.resources[vnet_id.lower()]["properties"]["virtualNetworkPeerings"] = [{"id": peering}]
        for ctx in (context("Unplanned"), context("Planned", "SecondaryToPrimary"), context("Test")):
            rb.main([ctx], reader(variables), lambda: TOKEN, fake.url, lambda _: None, lambda _: None)
        assert isinstance(fake, RecordingArm)
        return list(fake.sent)


def run_problems(result: SimResult, sent: Iterable[tuple[str, str, Any]]) -> list[str]:
    held = grants(result)
    used: set[tuple[str, str]] = set()
    problems = []
    for method, path, body in sent:
        for action, resource in needs(method, path, body):
            allowing = [g for g in held if g.allows(action, resource)]
            if not allowing:
                problems.append(f"{method} {path}: {action} on {resource} is granted nowhere")
            used |= {(g.assignment, action) for g in allowing}
    for g in held:
        if g.role in ("job", "child-runbook"):  # the PowerShell action's: checked by the table
            continue
        problems += [
            f"{g.assignment}: {a} on {g.scope} is used by no request"
            for a in sorted(g.actions)
            if (g.assignment, a) not in used
        ]
    return problems


def _prod(example: str) -> SimResult:
    return sim(example, "prod", Phase.STANDBY)


@pytest.mark.parametrize("example", [SAME_IP, CROSS, UNCHANGED])
def test_every_request_is_allowed_and_every_assignment_used(example: str) -> None:
    result = _dr(example)
    sent = run_all(result, _prod(example))
    assert any(m == "DELETE" for m, _, _ in sent), "the drill removed the peerings"
    assert run_problems(result, sent) == []
    network = {g.role for g in grants(result)} - {"job", "child-runbook", "drill"}
    assert (
        network
        == {
            SAME_IP: {"connections", "gateway-join", "circuit-join"},
            CROSS: {"weights", "gateway-join", "circuit-join"},
            UNCHANGED: set(),
        }[example]
    )


def test_control_a_request_no_assignment_allows_fails() -> None:
    result = _dr(SAME_IP)
    sent = run_all(result, _prod(SAME_IP))
    gateway = next(b["properties"]["virtualNetworkGateway1"]["id"] for m, _, b in sent if m == "PUT")
    extra = [*sent, ("GET", gateway, None)]
    assert run_problems(result, extra) == [
        f"GET {gateway}: Microsoft.Network/virtualNetworkGateways/read on {gateway} is granted nowhere"
    ]
    # And an assignment nothing uses: the same requests without the drill.
    no_drill = [s for s in sent if "-drill" not in s[1]]
    assert any("is used by no request" in p and "drill" in p for p in run_problems(result, no_drill))


def test_an_authorization_key_stands_in_for_join_on_the_circuit() -> None:
    """One circuit in another team's subscription: each side redeems its own key (KEY_PAGE; the
    config requires both with a recovery plan), so no assignment sits on the circuit and no PUT
    needs join there."""
    settings = load_stack("dr", stack_file=EXAMPLES / SAME_IP / "Pulumi.dr.yaml", overrides={"recoveryPlan": PLAN})
    for key in ("primaryAuthorizationKey", "sourcePrimaryAuthorizationKey"):
        settings.config[key] = f"key-{key}"
        settings.secret_keys.add(key)
    result = simulate(settings, peer_outputs=PEERS)
    assert result.error is None, result.error
    assert {g.role for g in grants(result)} == {"connections", "gateway-join", "job", "child-runbook", "drill"}
    sent = run_all(result, _prod(SAME_IP))
    assert [b["properties"]["authorizationKey"] for m, _, b in sent if m == "PUT"] == [
        "key-primaryAuthorizationKey",  # failover: dr's connection, with dr's key
        "key-sourcePrimaryAuthorizationKey",  # failback: prod's, with prod's
    ]
    assert run_problems(result, sent) == []
