"""The recovery plan the dr stack registers: groups, actions, runbook, variables, identity, roles."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from components.recovery_plan import CONTENT_LINK_EXPIRY, DRILL_ACTIONS, RUNBOOK_FILE, SWITCH_ACTIONS
from erdr.simulate import SUBSCRIPTION, UNKNOWN, Registration, SimResult, is_secret, simulate
from erdr.stackfiles import load_stack
from model.config import ConfigError, Phase, Role, load
from model.phases import connection_plan
from tests.helpers import CONNECTION, GATEWAY, VNET, run_stack, short

ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/{}"
)
GROUPS = [[ITEM.format("db-1"), ITEM.format("db-2")], [ITEM.format("app")], [ITEM.format("web")]]
PLAN = {"bootGroups": [{"items": g} for g in GROUPS]}
RP = "azure-native:recoveryservices:ReplicationRecoveryPlan"
AA = "azure-native:automation:AutomationAccount"
RUNBOOK = "azure-native:automation:Runbook"
VARIABLE = "azure-native:automation:Variable"
ROLE_DEF = "azure-native:authorization:RoleDefinition"
ROLE_ASSIGN = "azure-native:authorization:RoleAssignment"
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/"
PRIMARY = load_stack("dr").config["circuits"]["primary"]

# One override set per topology, on the default stacks (two circuits at two locations).
TOPOLOGIES: dict[str, dict[str, Any]] = {
    "two-circuits-two-locations": {},
    "two-circuits-one-location": {
        "topology": "two-circuits-one-location",
        "circuits.secondary.peeringLocation": PRIMARY["peeringLocation"],
    },
    "single-circuit": {"topology": "single-circuit", "circuits": {"primary": PRIMARY}},
}


def with_plan(topology: str, preview: bool = False) -> SimResult:
    result = run_stack("dr", preview=preview, overrides={**TOPOLOGIES[topology], "recoveryPlan": PLAN})
    assert result.error is None, result.error
    return result


def only(result: SimResult, type_: str) -> Registration:
    (reg,) = result.of_type(type_)
    return reg


def config_of(topology: str) -> Any:
    settings = load_stack("dr", overrides={**TOPOLOGIES[topology], "recoveryPlan": PLAN})
    return load("dr", settings.config, frozenset(settings.secret_keys))


@pytest.mark.parametrize("overrides", [{}, {"recoveryPlan": {"bootGroups": []}}], ids=["absent", "no-items"])
def test_without_replicated_items_no_plan_is_registered(overrides: dict[str, Any]) -> None:
    result = run_stack("dr", overrides=overrides)
    assert result.error is None
    types = {r.type for r in result.resources}
    assert "expressroute-dr:siterecovery:RecoveryPlan" not in types
    assert not types & {RP, AA, RUNBOOK, VARIABLE, ROLE_DEF, ROLE_ASSIGN}
    assert "recoveryPlanName" not in result.outputs


def check_groups_and_actions(result: SimResult) -> None:
    plan = only(result, RP)
    component = result.by_urn(plan.parent)
    assert component.type == "expressroute-dr:siterecovery:RecoveryPlan"
    props = plan.plain_inputs["properties"]
    vault = result.by_name("asr-vault")
    assert plan.plain_inputs["resourceName"] == vault.plain_inputs["vaultName"]
    assert plan.plain_inputs["recoveryPlanName"] == "erdr-eastasia-to-southeastasia"
    assert props["primaryFabricId"] == f"{vault.id}/replicationFabrics/asr-a2a-eastasia"
    assert props["recoveryFabricId"] == f"{vault.id}/replicationFabrics/asr-a2a-southeastasia"
    assert props["providerSpecificInput"] == [{"instanceType": "A2A"}]
    assert [g["groupType"] for g in props["groups"]] == ["Boot"] * len(GROUPS)
    assert [[i["id"] for i in g["replicationProtectedItems"]] for g in props["groups"]] == GROUPS
    runbook = only(result, RUNBOOK)
    first, *rest = props["groups"]
    assert [
        (a["actionName"], a["failoverDirections"], a["failoverTypes"], a["customDetails"])
        for a in first["startGroupActions"]
    ] == [
        (
            name,
            directions,
            types,
            {"instanceType": "AutomationRunbookActionDetails", "runbookId": runbook.id, "fabricLocation": "Recovery"},
        )
        for name, directions, types in (
            ("erdr-network-failover", ["PrimaryToRecovery"], ["PlannedFailover", "UnplannedFailover"]),
            ("erdr-network-failback", ["RecoveryToPrimary"], ["PlannedFailover", "UnplannedFailover"]),
            ("erdr-network-drill", ["PrimaryToRecovery"], ["TestFailover"]),
        )
    ]
    assert all(g["startGroupActions"] == [] and g["endGroupActions"] == [] for g in rest)
    assert first["endGroupActions"] == []


def check_dependencies(result: SimResult) -> None:
    plan = only(result, RP)
    waits = {short(u) for u in plan.dependencies}
    needed = {short(r.urn) for r in result.resources if r.type in (RUNBOOK, VARIABLE, ROLE_ASSIGN)}
    assert needed <= waits
    assert {"asr-source-fabric", "asr-target-fabric", "asr-source-container", "asr-target-container"} <= waits


def check_identity_and_roles(topology: str, result: SimResult) -> None:
    cfg = config_of(topology)
    account = only(result, AA)
    assert account.plain_inputs["location"] == cfg.regions.target
    assert account.plain_inputs["identity"] == {"type": "SystemAssigned"}
    defs = {r.id: r for r in result.of_type(ROLE_DEF)}
    by_role: dict[str, set[str]] = {}
    principal = result.by_name("recovery-plan-automation")
    for a in result.of_type(ROLE_ASSIGN):
        i = a.plain_inputs
        assert i["principalType"] == "ServicePrincipal"
        assert i["principalId"] not in ("", UNKNOWN)
        assert i["principalId"] == _principal(principal)
        by_role.setdefault(defs[i["roleDefinitionId"]].plain_inputs["roleName"], set()).add(i["scope"])
    circuits = {cfg.circuits.primary.id} | ({cfg.circuits.secondary.id} if cfg.circuits.secondary else set())
    switch = {RG + cfg.resource_group_name(Role.SOURCE), RG + cfg.resource_group_name(Role.TARGET), *circuits}
    drill = {r.id for r in result.of_type(VNET) if r.plain_inputs["virtualNetworkName"].endswith("-drill")}
    assert len(drill) == 3
    plan = "erdr-eastasia-to-southeastasia"
    assert by_role == {
        f"expressroute-dr network switch ({plan})": switch,
        f"expressroute-dr drill isolation ({plan})": drill,
    }
    actions = {d.plain_inputs["roleName"].split(" (")[0]: d.plain_inputs["permissions"] for d in defs.values()}
    assert actions["expressroute-dr network switch"] == [{"actions": list(SWITCH_ACTIONS), "notActions": []}]
    assert actions["expressroute-dr drill isolation"] == [{"actions": list(DRILL_ACTIONS), "notActions": []}]
    assert not any("*" in a for a in (*SWITCH_ACTIONS, *DRILL_ACTIONS))
    for d in defs.values():
        assignable = set(d.plain_inputs["assignableScopes"])
        name = d.plain_inputs["roleName"]
        assert by_role[name] <= assignable or (
            name.startswith("expressroute-dr drill") and assignable == {RG + cfg.resource_group_name(Role.TARGET)}
        )


# One test per topology, so each simulation runs once even when pytest-xdist spreads the tests.
@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_registered_plan(topology: str) -> None:
    result = with_plan(topology)
    check_groups_and_actions(result)
    check_dependencies(result)
    check_identity_and_roles(topology, result)
    check_variables(topology, result)
    check_runbook_content(result)
    check_outputs(result)


def _principal(account: Registration) -> str:
    """The principal ID the mock gave the account's system-assigned identity."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, account.id))


def _variables(result: SimResult) -> dict[str, Any]:
    return {r.plain_inputs["variableName"]: json.loads(r.plain_inputs["value"]) for r in result.of_type(VARIABLE)}


def check_variables(topology: str, result: SimResult) -> None:
    cfg = config_of(topology)
    v = _variables(result)
    assert set(v) == {
        f"erdr-{k}"
        for k in (
            "topology",
            "addressing",
            "regions",
            "resource-groups",
            "gateway-ids",
            "circuit-ids",
            "routing-weights",
            "connections",
            "tags",
            "retry",
            "role-order",
            "nva",
            "drill-vnet-ids",
        )
    }
    # The runbook is told what the target's next hop is and the address the UDRs expect of it.
    assert v["erdr-nva"]["kind"] == "appliance"
    assert v["erdr-nva"]["address"]["target"] == cfg.layout.hub.nva_address
    assert v["erdr-topology"] == topology
    exclusive = topology == "single-circuit"  # config_of keeps the same IPs
    assert v["erdr-role-order"] == {
        "failover": ["source", "target"] if exclusive else ["target", "source"],
        "failback": ["target", "source"] if exclusive else ["source", "target"],
    }
    assert v["erdr-gateway-ids"]["target"] == only(result, GATEWAY).id
    assert v["erdr-drill-vnet-ids"] == {
        r.plain_inputs["virtualNetworkName"].split("-")[0]: r.id
        for r in result.of_type(VNET)
        if r.plain_inputs["virtualNetworkName"].endswith("-drill")
    }
    weights = {"preferred": cfg.routing_weights.preferred, "standby": cfg.routing_weights.standby}
    for role in Role:
        for phase in Phase:
            listed = v["erdr-connections"][role.value][phase.value]
            plan = connection_plan(cfg, role, phase)
            assert [(c["name"], c["circuit"], weights[c["weight"]]) for c in listed] == [
                (c.name, c.circuit, c.routing_weight) for c in plan
            ]
            group = cfg.resource_group_name(role)
            assert all(c["id"] == f"{RG}{group}/providers/Microsoft.Network/connections/{c['name']}" for c in listed)
    # The target's own standby connections, as this stack registers them.
    registered = {r.id for r in result.of_type(CONNECTION)}
    assert {c["id"] for c in v["erdr-connections"]["target"]["standby"]} == registered
    assert all(not r.plain_inputs["isEncrypted"] for r in result.of_type(VARIABLE))


def test_authorization_key_reaches_the_runbook_encrypted() -> None:
    settings = load_stack("dr", overrides={**TOPOLOGIES["single-circuit"], "recoveryPlan": PLAN})
    settings.config["primaryAuthorizationKey"] = "circuit-key"
    settings.secret_keys.add("primaryAuthorizationKey")
    result = simulate(settings)
    assert result.error is None, result.error
    var = result.by_name("recovery-plan-var-authorization-key-primary")
    assert var.plain_inputs["isEncrypted"] is True
    assert is_secret(var.inputs["value"])
    assert json.loads(var.plain_inputs["value"]) == "circuit-key"
    scopes = {r.plain_inputs["scope"] for r in result.of_type(ROLE_ASSIGN)}
    assert PRIMARY["id"] not in scopes, "the key stands in for join rights on another team's circuit"
    assert {RG + "rg-expressroute-dr-eastasia", RG + "rg-expressroute-dr-southeastasia"} <= scopes


def check_runbook_content(result: SimResult) -> None:
    runbook = only(result, RUNBOOK)
    i = runbook.plain_inputs
    text = RUNBOOK_FILE.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest().upper()
    assert i["runbookType"] == "Python3"
    assert i["location"] == "southeastasia"
    assert i["publishContentLink"]["contentHash"] == {"algorithm": "SHA256", "value": digest}
    assert is_secret(runbook.inputs["publishContentLink"]["uri"])
    blob = only(result, "azure-native:storage:Blob")
    assert blob.plain_inputs["source"]["text"] == text
    account = only(result, "azure-native:storage:StorageAccount").plain_inputs
    uri = i["publishContentLink"]["uri"]
    base, _, sas = uri.partition("?")
    assert base == f"https://{account['accountName']}.blob.core.windows.net/runbooks/{blob.plain_inputs['blobName']}"
    assert digest[:16].lower() in blob.plain_inputs["blobName"]
    assert {"sr=b", "sp=r", f"se={CONTENT_LINK_EXPIRY}"} <= set(sas.split("&"))
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert only(result, "azure-native:storage:BlobContainer").plain_inputs["publicAccess"] == "None"
    assert short(blob.urn) in {short(u) for u in runbook.dependencies}


def check_outputs(result: SimResult) -> None:
    assert result.outputs["recoveryPlanName"] == "erdr-eastasia-to-southeastasia"
    assert result.outputs["networkRunbookId"] == only(result, RUNBOOK).id
    assert result.outputs["automationAccountName"] == "aa-erdr-southeastasia"


def test_plan_registers_in_preview_with_unknown_ids() -> None:
    result = with_plan("two-circuits-two-locations", preview=True)
    plan = only(result, RP)
    actions = plan.inputs["properties"]["groups"][0]["startGroupActions"]
    assert [a["customDetails"].get("runbookId", UNKNOWN) for a in actions] == [UNKNOWN] * 3
    assert len(result.of_type(ROLE_ASSIGN)) == 7


# --- config --------------------------------------------------------------------------------------


def _load(stack: str, **overrides: Any) -> Any:
    settings = load_stack(stack, overrides=overrides)
    return load(stack, settings.config, frozenset(settings.secret_keys))


@pytest.mark.parametrize(
    ("stack", "overrides", "path", "message"),
    [
        ("prod", {"recoveryPlan": PLAN}, "recoveryPlan", "set it on dr only"),
        ("dr", {"recoveryPlan": PLAN, "siteRecovery.enabled": False}, "recoveryPlan", "needs siteRecovery.enabled"),
        (
            "dr",
            {"recoveryPlan": {"bootGroups": [{"items": [ITEM.format("a")]}, {"items": [ITEM.format("A")]}]}},
            "recoveryPlan.bootGroups[1].items[0]",
            "listed twice",
        ),
        (
            "dr",
            {
                "recoveryPlan": {
                    "bootGroups": [{"items": [ITEM.format("a"), ITEM.format("b").replace("rsv-asr", "other")]}]
                }
            },
            "recoveryPlan.bootGroups[0].items[1]",
            "one plan, one vault",
        ),
        (
            "dr",
            {"recoveryPlan": {"bootGroups": [{"items": ["/subscriptions/x/vm"]}]}},
            "recoveryPlan.bootGroups[0].items[0]",
            "not a Site Recovery replicated item ID",
        ),
        ("dr", {"recoveryPlan": {"bootGroups": [{"items": []}]}}, "recoveryPlan.bootGroups[0].items", "at least 1"),
        ("dr", {"recoveryPlan": {"bootGroups": [], "retryAttempts": 0}}, "recoveryPlan.retryAttempts", ""),
    ],
)
def test_bad_recovery_plan_config_is_named(stack: str, overrides: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(stack, **overrides)
    line = str(err.value)
    assert f"config expressroute-dr:{path} = " in line
    assert message in line
