"""The recovery plan the dr stack registers: groups, actions, runbook, variables, identity, roles."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from components.recovery_plan import (
    ACTION_RUNBOOK,
    CHILD_RUNBOOK,
    CONTENT_LINK_EXPIRY,
    ROLES,
    RUNBOOKS,
    RunbookSource,
)
from erdr.simulate import SUBSCRIPTION, UNKNOWN, Registration, SimResult, is_secret, simulate
from erdr.stackfiles import load_stack
from model import identity
from model.config import ConfigError, Phase, Role, load
from model.config.models import RoleDefinitionIds
from model.phases import connection_plan
from tests.helpers import CONNECTION, GATEWAY, REPLICATED_ITEM, VNET, run_stack, short

ITEM = REPLICATED_ITEM
GROUPS = [[ITEM.format("db-1"), ITEM.format("db-2")], [ITEM.format("app")], [ITEM.format("web")]]
PLAN = {"bootGroups": [{"items": g} for g in GROUPS]}
RP = "azure-native:recoveryservices:ReplicationRecoveryPlan"
AA = "azure-native:automation:AutomationAccount"
RUNBOOK = "azure-native:automation:Runbook"
RUNTIME = "azure-native:automation:RuntimeEnvironment"
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
    assert [g["groupType"] for g in props["groups"]] == ["Shutdown", "Failover"] + ["Boot"] * len(GROUPS)
    boot = props["groups"][2:]
    assert [[i["id"] for i in g["replicationProtectedItems"]] for g in boot] == GROUPS
    runbook = action_runbook(result)
    first, *rest = boot
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
    # The network roles sit on dr's own gateway and connections: each of their assignments waits
    # for them (the SDK expands the hub component into its resources), since an assignment needs
    # its scope to exist. The others (Automation, child runbook, drill VNets) must not wait for the
    # gateway: that would put the recovery plan behind 45 minutes of gateway for nothing.
    scopes = {r.urn for r in result.of_type(GATEWAY)} | {r.urn for r in result.of_type(CONNECTION)}
    assert len(result.of_type(GATEWAY)) == 1
    not_network = ("-automation-account-access", "-child-runbook-access")
    for assignment in result.of_type(ROLE_ASSIGN):
        if assignment.name.endswith(not_network) or "-drill-" in assignment.name:
            assert not scopes & set(assignment.dependencies), assignment.name
        else:
            assert scopes <= set(assignment.dependencies), assignment.name


def check_identity_and_roles(topology: str, result: SimResult) -> None:
    cfg = config_of(topology)
    account = only(result, AA)
    assert account.id
    assert account.plain_inputs["location"] == cfg.regions.target
    assert account.plain_inputs["identity"] == {"type": "SystemAssigned"}
    defs = {r.id: r for r in result.of_type(ROLE_DEF)}
    by_role: dict[str, set[str]] = {}
    principal = account
    for a in result.of_type(ROLE_ASSIGN):
        i = a.plain_inputs
        assert i["principalType"] == "ServicePrincipal"
        assert i["principalId"] not in ("", UNKNOWN)
        assert i["principalId"] == _principal(principal)
        by_role.setdefault(defs[i["roleDefinitionId"]].plain_inputs["roleName"], set()).add(i["scope"])
    drill = {r.id for r in result.of_type(VNET) if r.plain_inputs["virtualNetworkName"].endswith("-drill")}
    assert len(drill) == 3
    plan = "erdr-eastasia-to-southeastasia"
    child = runbook_of(result, CHILD_RUNBOOK)
    expected = {
        f"expressroute-dr network switch job ({plan}, {SUBSCRIPTION})": {account.id},
        f"expressroute-dr network switch child runbook ({plan}, {SUBSCRIPTION})": {child.id},
        f"expressroute-dr drill isolation ({plan}, {SUBSCRIPTION})": drill,
    }
    if topology == "single-circuit":
        # The runbook removes one hub's connection and creates the other's: the connections' groups
        # (a create needs the group), join on both gateways and on the one circuit.
        estate = identity.resolve(cfg)
        gateways = {estate.source.gateway.id, estate.target.gateway.id}
        assert estate.target.gateway.id in {r.id for r in result.of_type(GATEWAY)}
        expected |= {
            f"expressroute-dr network switch connections ({plan}, {SUBSCRIPTION})": {
                RG + cfg.resource_group_name(Role.SOURCE),
                RG + cfg.resource_group_name(Role.TARGET),
            },
            f"expressroute-dr network switch gateway join ({plan}, {SUBSCRIPTION})": gateways,
            f"expressroute-dr network switch circuit join ({plan}, {SUBSCRIPTION})": {cfg.circuits.primary.id},
        }
    # Two circuits, each hub on its own: no operation changes a connection, so no network role.
    assert by_role == expected
    actions = {d.plain_inputs["roleName"].split(" (")[0]: d.plain_inputs["permissions"] for d in defs.values()}
    specs = {f"expressroute-dr {spec.kind}": spec for spec in ROLES}
    for role_name, permissions in actions.items():
        assert permissions == [{"actions": list(specs[role_name].actions), "notActions": []}]
    assert not any("*" in a for spec in ROLES for a in spec.actions)
    # Assignable at exactly the resource groups of its assignments (never a resource instance:
    # Microsoft requires a group, subscription or management group there), assigned narrower.
    for d in defs.values():
        assignable = d.plain_inputs["assignableScopes"]
        name = d.plain_inputs["roleName"]
        assert assignable == sorted({identity.ResourceId.parse(scope).group_id for scope in by_role[name]})
        assert all(identity.ResourceId.parse(a).type == "Microsoft.Resources/resourceGroups" for a in assignable)


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
            "child-runbook",
            "timeouts",
            "source-outage-declared",
        )
    }
    # The runbook is told what the target's next hop is and the address the UDRs expect of it.
    assert v["erdr-nva"]["kind"] == "appliance"
    assert v["erdr-nva"]["address"]["target"] == cfg.layout.hub.nva_address
    # The account's ARM ID is the resolved estate's (the action formats no ID of its own).
    assert v["erdr-child-runbook"] == {
        "accountId": only(result, AA).id,
        "runbook": CHILD_RUNBOOK.name,
        "timeoutSeconds": 4500,
        "pollSeconds": 15,
        "callSeconds": 30,
        "callRetries": 4,
    }
    # The parent waits longer than the child's own deadline, so the child reports its outcome.
    assert v["erdr-timeouts"] == {"callSeconds": 30.0, "operationSeconds": 1800.0, "switchSeconds": 3900.0}
    assert v["erdr-child-runbook"]["timeoutSeconds"] > v["erdr-timeouts"]["switchSeconds"]
    # The operator's outage declaration: registered empty, never reset by a later `pulumi up`.
    declaration = result.by_name("recovery-plan-var-source-outage-declared")
    assert v["erdr-source-outage-declared"] == ""
    assert declaration.ignore_changes == ["value"]
    assert v["erdr-child-runbook"]["runbook"] in {r.plain_inputs["runbookName"] for r in result.of_type(RUNBOOK)}
    assert v["erdr-topology"] == topology
    exclusive = topology == "single-circuit"  # config_of keeps the same IPs
    # Only hubs whose connections change are listed: with two pre-connected circuits nothing in
    # Azure changes at failover, so the runbook touches neither region.
    assert v["erdr-role-order"] == {
        "failover": ["source", "target"] if exclusive else [],
        "failback": ["target", "source"] if exclusive else [],
    }
    assert v["erdr-gateway-ids"]["target"] == only(result, GATEWAY).id
    assert v["erdr-drill-vnet-ids"] == {
        r.plain_inputs["virtualNetworkName"].split("-")[0]: r.id
        for r in result.of_type(VNET)
        if r.plain_inputs["virtualNetworkName"].endswith("-drill")
    }
    weights = v["erdr-routing-weights"]
    assert weights == {"preferred": cfg.routing_weights.preferred, "standby": cfg.routing_weights.standby, "single": 0}
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


def test_each_hubs_authorization_key_reaches_the_runbook_encrypted() -> None:
    """One circuit in another subscription: dr's connection and prod's each redeem their own key;
    the runbook, which writes both, gets both, encrypted, under the role that uses each."""
    settings = load_stack("dr", overrides={**TOPOLOGIES["single-circuit"], "recoveryPlan": PLAN})
    for key, value in (("primaryAuthorizationKey", "dr-key"), ("sourcePrimaryAuthorizationKey", "prod-key")):
        settings.config[key] = value
        settings.secret_keys.add(key)
    result = simulate(settings)
    assert result.error is None, result.error
    found = {}
    for role in ("target", "source"):
        var = result.by_name(f"recovery-plan-var-authorization-key-{role}-primary")
        assert var.plain_inputs["isEncrypted"] is True
        assert is_secret(var.inputs["value"])
        found[role] = json.loads(var.plain_inputs["value"])
    assert found == {"target": "dr-key", "source": "prod-key"}
    assert not result.of_type(CONNECTION), "single circuit, same IPs: dr holds no connection in standby"
    scopes = {r.plain_inputs["scope"] for r in result.of_type(ROLE_ASSIGN)}
    assert PRIMARY["id"] not in scopes, "the key stands in for join rights on another team's circuit"
    assert {RG + "rg-expressroute-dr-eastasia", RG + "rg-expressroute-dr-southeastasia"} <= scopes


def runbook_of(result: SimResult, source: RunbookSource) -> Registration:
    (runbook,) = [r for r in result.of_type(RUNBOOK) if r.plain_inputs["runbookName"] == source.name]
    return runbook


def action_runbook(result: SimResult) -> Registration:
    return runbook_of(result, ACTION_RUNBOOK)


def check_runbook_content(result: SimResult) -> None:
    (account,) = [r.plain_inputs for r in result.of_type("azure-native:storage:StorageAccount") if "-content" in r.name]
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert only(result, "azure-native:storage:BlobContainer").plain_inputs["publicAccess"] == "None"
    runtimes = {r.plain_inputs["runtimeEnvironmentName"]: r.plain_inputs for r in result.of_type(RUNTIME)}
    blobs = {r.plain_inputs["blobName"]: r for r in result.of_type("azure-native:storage:Blob")}
    assert len(result.of_type(RUNBOOK)) == len(blobs) == len(RUNBOOKS)
    for source in RUNBOOKS:
        runbook = runbook_of(result, source)
        i = runbook.plain_inputs
        text = source.file.read_text()
        digest = hashlib.sha256(text.encode()).hexdigest().upper()
        # A runbook of a language type runs in the runtime environment it names, which the stack creates.
        assert (i["runbookType"], i["runtimeEnvironment"]) == (source.runbook_type, source.runtime)
        assert runtimes[source.runtime]["language"] == source.language
        assert runtimes[source.runtime]["version"] == source.version
        assert i["location"] == "southeastasia"
        assert i["publishContentLink"]["contentHash"] == {"algorithm": "SHA256", "value": digest}
        assert is_secret(runbook.inputs["publishContentLink"]["uri"])
        base, _, sas = i["publishContentLink"]["uri"].partition("?")
        blob = blobs[base.rsplit("/", 1)[1]]
        assert blob.plain_inputs["source"]["text"] == text
        assert (
            base == f"https://{account['accountName']}.blob.core.windows.net/runbooks/{blob.plain_inputs['blobName']}"
        )
        assert digest[:16].lower() in blob.plain_inputs["blobName"]
        assert {"sr=b", "sp=r", f"se={CONTENT_LINK_EXPIRY}"} <= set(sas.split("&"))
        assert {short(blob.urn), short(result.by_urn(_runtime_urn(result, source)).urn)} <= {
            short(u) for u in runbook.dependencies
        }
    # The recovery plan's action is the PowerShell runbook: Site Recovery passes its context only there.
    assert ACTION_RUNBOOK.runbook_type == "PowerShell" and ACTION_RUNBOOK.version.startswith("7.")


def _runtime_urn(result: SimResult, source: RunbookSource) -> str:
    (runtime,) = [r for r in result.of_type(RUNTIME) if r.plain_inputs["runtimeEnvironmentName"] == source.runtime]
    return runtime.urn


def check_outputs(result: SimResult) -> None:
    assert result.outputs["recoveryPlanName"] == "erdr-eastasia-to-southeastasia"
    assert result.outputs["networkRunbookId"] == action_runbook(result).id
    assert result.outputs["automationAccountName"] == "aa-erdr-southeastasia"


def test_plan_registers_in_preview_with_unknown_ids() -> None:
    result = with_plan("two-circuits-two-locations", preview=True)
    plan = only(result, RP)
    actions = plan.inputs["properties"]["groups"][2]["startGroupActions"]
    assert [a["customDetails"].get("runbookId", UNKNOWN) for a in actions] == [UNKNOWN] * 3
    assert len(result.of_type(ROLE_ASSIGN)) == 5  # job, child runbook, three drill VNets


# --- role names in a tenant -----------------------------------------------------------------------

OTHER_SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"


def _role_names(result: SimResult) -> dict[str, set[str]]:
    defs, assigns = result.of_type(ROLE_DEF), result.of_type(ROLE_ASSIGN)
    return {
        "roleDefinitionId": {d.plain_inputs["roleDefinitionId"] for d in defs},
        "roleName": {d.plain_inputs["roleName"] for d in defs},
        "roleAssignmentName": {a.plain_inputs["roleAssignmentName"] for a in assigns},
    }


def test_two_subscriptions_of_one_tenant_get_disjoint_role_names() -> None:
    """Role definition IDs and assignment names are unique per tenant, custom role names per
    directory: the same stack deployed to a second subscription must not collide with the first."""
    settings = load_stack("dr", overrides={"recoveryPlan": PLAN})
    first = simulate(settings)
    elsewhere = load_stack(
        "dr",
        overrides={
            "recoveryPlan": PLAN,
            "subscriptions": {"source": OTHER_SUBSCRIPTION, "target": OTHER_SUBSCRIPTION},
            # the source VNets of the plan's items stay where they are: only the stacks move
        },
    )
    second = simulate(elsewhere)
    assert first.error is None and second.error is None
    a, b = _role_names(first), _role_names(second)
    for key in a:
        assert len(a[key]) == len(first.of_type(ROLE_DEF if key != "roleAssignmentName" else ROLE_ASSIGN))
        assert a[key].isdisjoint(b[key]), key
    assert all(OTHER_SUBSCRIPTION in n for n in b["roleName"])


def test_new_principal_replaces_assignments_old_first() -> None:
    """Another Automation account (a new identity) gives every assignment a new name, and the
    replacement deletes the old assignment before creating the new one."""
    before = with_plan("two-circuits-two-locations")
    after = run_stack("dr", overrides={"recoveryPlan": {**PLAN, "automationAccountName": "aa-other"}})
    assert after.error is None
    old, new = _role_names(before)["roleAssignmentName"], _role_names(after)["roleAssignmentName"]
    assert old.isdisjoint(new) and len(new) == len(old)
    assert all(a.delete_before_replace for a in after.of_type(ROLE_ASSIGN))
    assert _role_names(before)["roleDefinitionId"] == _role_names(after)["roleDefinitionId"]


# --- pre-created roles ---------------------------------------------------------------------------

PRE_CREATED = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}"


def test_every_role_can_be_pre_created_under_its_key() -> None:
    """recoveryPlan.roleDefinitionIds has one key per role of the component (camelCase of RoleSpec.key)."""
    fields = {name.replace("_", "-") for name in RoleDefinitionIds.model_fields}
    assert fields == {spec.key for spec in ROLES}


def test_pre_created_roles_are_assigned_and_not_created() -> None:
    """An administrator's roles (recoveryPlan.roleDefinitionIds): the stack creates none of those
    kinds and assigns the given IDs at the same scopes; the others it still creates."""
    given = {
        "job": PRE_CREATED,
        "drill": PRE_CREATED.replace(PRE_CREATED[-12:], "0" * 12),
        "connections": PRE_CREATED.replace(PRE_CREATED[-12:], "1" * 12),
    }
    result = run_stack(
        "dr", overrides={**TOPOLOGIES["single-circuit"], "recoveryPlan": {**PLAN, "roleDefinitionIds": given}}
    )
    assert result.error is None, result.error
    created = {d.plain_inputs["roleName"].split(" (")[0] for d in result.of_type(ROLE_DEF)}
    assert created == {
        "expressroute-dr network switch child runbook",
        "expressroute-dr network switch gateway join",
        "expressroute-dr network switch circuit join",
    }
    by_name = {a.name: a.plain_inputs["roleDefinitionId"] for a in result.of_type(ROLE_ASSIGN)}
    assert by_name["recovery-plan-automation-account-access"] == given["job"]
    assert {by_name[f"recovery-plan-drill-{k}-access"] for k in ("hub", "vnet1", "vnet2")} == {given["drill"]}
    assert by_name["recovery-plan-source-connections-access"] == by_name["recovery-plan-target-connections-access"]
    assert by_name["recovery-plan-source-connections-access"] == given["connections"]
    # The same scopes as with roles the stack creates.
    scopes = {a.name: a.plain_inputs["scope"] for a in result.of_type(ROLE_ASSIGN)}
    assert scopes == {a.name: a.plain_inputs["scope"] for a in with_plan("single-circuit").of_type(ROLE_ASSIGN)}


# --- refresh: the groups Azure returns ----------------------------------------------------------

SPEC_EXAMPLE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "ReplicationRecoveryPlans_Create.2024-10-01.json").read_text()
)["example"]
GROUP_INPUTS = ("groupType", "replicationProtectedItems", "startGroupActions", "endGroupActions")


def azure_answer(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups Site Recovery returns for ``sent``, by the rule of the spec's example: the groups
    it always holds (empty in the example, sent ones kept) ahead of the Boot groups as sent."""
    request = SPEC_EXAMPLE["parameters"]["input"]["properties"]["groups"]
    answer = SPEC_EXAMPLE["responses"]["200"]["body"]["properties"]["groups"]
    assert [g for g in answer if g["groupType"] == "Boot"] == request, "the example returns Boot groups as sent"
    fixed: list[dict[str, Any]] = [g for g in answer if g["groupType"] != "Boot"]
    by_type = {g["groupType"]: g for g in sent if g["groupType"] != "Boot"}
    return [by_type.get(g["groupType"], g) for g in fixed] + [g for g in sent if g["groupType"] == "Boot"]


def test_refresh_returns_the_groups_the_program_sends() -> None:
    """`pulumi refresh` then `preview` shows no change: the input-shaped projection of what Azure
    returns equals what the program sends, group for group (azure-native diffs the stored inputs
    by index, provider.go Read/Diff), and the groups Azure adds are already there."""
    sent = only(with_plan("two-circuits-two-locations"), RP).plain_inputs["properties"]["groups"]
    returned = [{k: g[k] for k in GROUP_INPUTS} for g in azure_answer(sent)]
    assert returned == sent
    assert [g["groupType"] for g in sent[:2]] == ["Shutdown", "Failover"]
    assert all(g["replicationProtectedItems"] == g["startGroupActions"] == [] for g in sent[:2])


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
        (
            "dr",
            {
                "recoveryPlan": {
                    **PLAN,
                    "roleDefinitionIds": {"job": f"/subscriptions/{SUBSCRIPTION}/roleDefinitions/x"},
                }
            },
            "recoveryPlan.roleDefinitionIds.job",
            "not a role definition ID",
        ),
        (
            "dr",
            {"recoveryPlan": {**PLAN, "roleDefinitionIds": {"jobs": PRE_CREATED}}},
            "recoveryPlan.roleDefinitionIds.jobs",
            "",
        ),
    ],
)
def test_bad_recovery_plan_config_is_named(stack: str, overrides: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(stack, **overrides)
    line = str(err.value)
    assert f"config expressroute-dr:{path} = " in line
    assert message in line
