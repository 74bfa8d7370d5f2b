"""Real estates: per-VNet placement across subscriptions, the three source modes, and the target's
next hop (Azure Firewall or a replicated appliance), run through the real program on the estate
that erdr.discover read from the fake ARM server (tests/fake_arm)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import pytest

from components.network import unmodelled_inputs
from erdr.plan import stack_config
from erdr.plan_json import preview_digest
from erdr.simulate import Registration, SimResult, simulate
from erdr.stackfiles import StackSettings, load_stack
from model.config.rules.placement import source_resource_names
from policies.shared import names as T
from program.target import boot_groups
from tests import session_cache
from tests.fake_arm.discovered import Run, discovered
from tests.fake_arm.estate import (
    CONNECTIVITY,
    FIREWALL_IP,
    FIREWALL_POLICY_ID,
    HUB_ID,
    LZ_APP1,
    LZ_APP2,
    LZ_DATA,
)
from tests.helpers import short

TOPOLOGIES: dict[str, dict[str, Any]] = {
    "two-circuits-two-locations": {},
    "two-circuits-one-location": {
        "topology": "two-circuits-one-location",
        "circuits.secondary.peeringLocation": "Hong Kong",
    },
    "single-circuit": {"topology": "single-circuit", "circuits.secondary": None},
}
MODES = ("managed", "adopted", "external")


@functools.cache
def _sim(run_key: tuple[str, str], stack: str, preview: bool, overrides: tuple[tuple[str, Any], ...]) -> SimResult:
    """One simulation per distinct call, shared by the xdist workers (tests/session_cache.py)."""

    def run() -> SimResult:
        nva, mode = run_key
        found = discovered(nva)
        settings = found.settings(stack, **dict(overrides))
        settings.config["source"] = {**settings.config["source"], "mode": mode}
        if mode != "adopted":
            settings.config["source"] = {"mode": mode}
        return simulate(settings, preview=preview, live=found.live)

    key = json.dumps([run_key, stack, preview, overrides], sort_keys=True, default=str)
    return session_cache.once_per("estate-sim", key, run)


def sim(
    stack: str,
    *,
    nva: str = "firewall",
    mode: str = "adopted",
    preview: bool = False,
    overrides: Mapping[str, Any] | None = None,
    **more: Any,
) -> SimResult:
    """``overrides``: dotted config keys (``layout.hub.nva.provisioning``); ``more``: plain ones."""
    return _sim((nva, mode), stack, preview, tuple(sorted({**(overrides or {}), **more}.items())))


def custom(result: SimResult) -> list[Registration]:
    return [r for r in result.resources if r.custom]


# --- placement ------------------------------------------------------------------------------


def test_one_explicit_provider_per_subscription_and_peerings_across_them() -> None:
    result = sim("dr", mode="managed")
    assert result.error is None, result.error
    providers = {r.name: r.plain_inputs["subscriptionId"] for r in result.of_type(T.PROVIDER)}
    assert providers == {f"azure-native-{s}": s for s in (LZ_APP1, LZ_APP2, LZ_DATA)}
    vnets = {r.plain_inputs["virtualNetworkName"]: r for r in result.of_type(T.VNET) if "drill" not in r.name}
    app1 = vnets["vnet-app1-southeastasia"]
    assert app1.id.startswith(f"/subscriptions/{LZ_APP1}/resourceGroups/rg-app1-network-southeastasia/")
    assert app1.provider.split("::")[-2] == f"azure-native-{LZ_APP1}"
    hub = vnets["vnet-hub-southeastasia"]
    assert hub.provider == ""  # the hub stays with the stack's default provider and group
    # Each peering is written from its local VNet's subscription and points across by ID.
    to_hub = result.by_name("vnet-app1-to-vnet-hub")
    to_spoke = result.by_name("vnet-hub-to-vnet-app1")
    assert to_hub.provider.split("::")[-2] == f"azure-native-{LZ_APP1}"
    assert to_hub.plain_inputs["remoteVirtualNetwork"]["id"] == hub.id
    assert to_spoke.provider == ""
    assert to_spoke.plain_inputs["remoteVirtualNetwork"]["id"] == app1.id
    # The spoke's route table sits beside it, in its own subscription.
    table = result.by_name("vnet-app1-routes")
    assert table.id.startswith(f"/subscriptions/{LZ_APP1}/resourceGroups/rg-app1-network-southeastasia/")


def test_network_mappings_pair_source_and_target_vnets_across_subscriptions() -> None:
    result = sim("dr", mode="managed")
    mappings = {
        r.plain_inputs["networkMappingName"]: r.plain_inputs["properties"] for r in result.of_type(T.NETWORK_MAPPING)
    }
    forward = mappings["vnet-app2-source-to-target"]
    assert forward["fabricSpecificDetails"]["primaryNetworkId"] == (
        f"/subscriptions/{LZ_APP2}/resourceGroups/rg-app2-network/providers/Microsoft.Network/virtualNetworks/vnet-app2-eastasia"
    )
    assert forward["recoveryNetworkId"].startswith(
        f"/subscriptions/{LZ_APP2}/resourceGroups/rg-app2-network-southeastasia/"
    )
    assert result.outputs["vnetPlacement"]["vnet-app1"] == {
        "subscriptionId": LZ_APP1,
        "resourceGroup": "rg-app1-network-southeastasia",
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_every_mode_plans_cleanly_for_every_topology(topology: str, mode: str) -> None:
    """Both stacks run, in preview and up, with the policy pack passing."""
    from erdr import policy_client

    for stack in ("prod", "dr"):
        for preview in (True, False):
            result = sim(stack, mode=mode, preview=preview, overrides=TOPOLOGIES[topology])
            assert result.error is None, f"{stack} {mode} {topology}: {result.error}"
        settings = discovered("firewall").settings(stack, **TOPOLOGIES[topology])
        env = policy_client.stack_env(settings, preview=True)
        with policy_client.PolicyPackClient(env=env) as client:
            found = policy_client.check_simulation(
                client, sim(stack, mode=mode, preview=True, overrides=TOPOLOGIES[topology])
            )
        assert [d for d in found if d.mandatory] == [], [d.message for d in found]


# --- adopted ---------------------------------------------------------------------------------


# Read-only in the 2024-05-01 network spec, so never inputs (e.g. VirtualNetworkGatewaySku.capacity:
# the SDK's VirtualNetworkGatewaySkuArgs takes only name and tier).
READ_ONLY = frozenset({"etag", "provisioningState", "type", "resourceGuid", "hasBgpOverride", "capacity"})
PATH_INPUTS = frozenset(
    {
        "resourceGroupName",
        "virtualNetworkName",
        "subnetName",
        "routeTableName",
        "virtualNetworkPeeringName",
        "virtualNetworkGatewayName",
        "virtualNetworkGatewayConnectionName",
        "publicIpAddressName",
    }
)
CLASSES = {
    T.RESOURCE_GROUP: "resources.ResourceGroup",
    T.VNET: "network.VirtualNetwork",
    T.SUBNET: "network.Subnet",
    T.ROUTE_TABLE: "network.RouteTable",
    T.PEERING: "network.VirtualNetworkPeering",
    T.GATEWAY: "network.VirtualNetworkGateway",
    T.CONNECTION: "network.VirtualNetworkGatewayConnection",
    T.PUBLIC_IP: "network.PublicIPAddress",
}


def _norm(value: Any) -> Any:
    """Nested objects as azure-native reads them for an import: ``properties`` lifted, read-only
    keys dropped, trivial values removed (azure-native ResponseToSdkInputs / removeTrivialValues,
    provider/pkg/convert), numbers as numbers."""
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            if k == "properties" and isinstance(v, Mapping):
                flat.update(_norm(v))
            elif k not in READ_ONLY:
                n = _norm(v)
                if n not in (None, False, 0, "", [], {}):
                    flat[k] = n
        return flat
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def import_diff(reg: Registration, live: Mapping[str, Any]) -> list[str]:
    """What the engine would report as different when importing ``reg`` over ``live``: every input
    property the live resource has must be registered equal or ignored, and every registered one
    must equal the live value (pulumi/pulumi step_generator: ignoreChanges are copied from the
    imported state before the diff; pulumi-azure-native provider/pkg/provider/diff.go)."""
    from pulumi_azure_native import network, resources

    module, cls_name = CLASSES[reg.type].split(".")
    cls = getattr({"network": network, "resources": resources}[module], cls_name)
    inputs = {_key(n) for n in unmodelled_inputs(cls, {})}
    ignored = {_key(n) for n in reg.ignore_changes}
    view = {k: v for k, v in _norm(live).items() if _key(k) in inputs and k not in ("id", "name")}
    registered = {k: _norm(v) for k, v in reg.plain_inputs.items() if k not in PATH_INPUTS}
    registered = {k: v for k, v in registered.items() if v not in (None, False, 0, "", [], {})}
    out = []
    for k, v in view.items():
        if _key(k) not in ignored and registered.get(k) != v:
            out.append(f"{short(reg.urn)}.{k}: Azure {v!r}, program {registered.get(k)!r}")
    for k, v in registered.items():
        if _key(k) not in ignored and k not in view:
            out.append(f"{short(reg.urn)}.{k}: program {v!r}, not in Azure")
    return out


@pytest.mark.parametrize("nva", ["firewall", "appliance"])
def test_adopted_first_up_only_imports(nva: str) -> None:
    run = discovered(nva)
    result = sim("prod", nva=nva, mode="adopted")
    assert result.error is None, result.error
    resources = [r for r in custom(result) if r.type != T.PROVIDER]
    assert resources
    assert [r.name for r in resources if not r.import_id] == []
    diffs = [line for r in resources for line in import_diff(r, run.estate.get(r.import_id))]
    assert diffs == []
    # What `pulumi preview` shows: an import step for every Azure resource; only the stack, its
    # components and the per-subscription providers (nothing in Azure) are created.
    digest = preview_digest(run.settings("prod"), sim("prod", nva=nva, mode="adopted", preview=True))
    azure = [s for s in digest["steps"] if s["newState"]["type"].startswith("azure-native:")]
    assert azure and {s["op"] for s in azure} == {"import"}
    others = {s["newState"]["type"].split(":")[0] for s in digest["steps"] if s not in azure}
    assert others <= {"pulumi", "expressroute-dr"}


def test_import_diff_catches_a_difference() -> None:
    """The oracle above can fail: a changed route in Azure is reported."""
    run = discovered("firewall")
    result = sim("prod", mode="adopted")
    table = result.by_name("vnet-app1-routes")
    live = run.estate.get(table.import_id)
    changed = {**live, "properties": {**live["properties"], "disableBgpRoutePropagation": False}}
    assert import_diff(table, changed) == ["vnet-app1-routes.disableBgpRoutePropagation: program True, not in Azure"]


def test_source_resource_names_match_what_prod_registers() -> None:
    """The adopted-mode rule lists the names the components give; both must agree."""
    for settings in (load_stack("prod"), discovered("firewall").settings("prod")):
        settings.config["source"] = {"mode": "managed"}
        result = simulate(settings)
        registered = {r.name for r in custom(result) if r.type != T.PROVIDER}
        assert registered == source_resource_names(stack_config(settings))


# --- external --------------------------------------------------------------------------------


def test_external_prod_registers_nothing_and_restates_the_declaration() -> None:
    result = sim("prod", mode="external")
    assert result.error is None
    assert result.resources == []
    assert result.outputs["sourceMode"] == "external"
    assert result.outputs["vnetNames"]["vnet-hub"] == "vnet-hub-eastasia"


def test_external_dr_reads_the_declared_network_at_preview() -> None:
    result = sim("dr", mode="external", preview=True)
    assert result.error is None, result.error
    looked_up = {
        (a["resourceGroupName"], a["virtualNetworkName"]) for t, a in result.calls if t.endswith("getVirtualNetwork")
    }
    assert looked_up == {
        ("rg-connectivity-eastasia", "vnet-hub-eastasia"),
        ("rg-app1-network", "vnet-app1-eastasia"),
        ("rg-app2-network", "vnet-app2-eastasia"),
        ("rg-data-network", "vnet-data-eastasia"),
    }
    # The network mappings use the IDs Azure returned.
    primary = {
        r.plain_inputs["properties"]["fabricSpecificDetails"]["primaryNetworkId"]
        for r in result.of_type(T.NETWORK_MAPPING)
        if r.plain_inputs["networkMappingName"].endswith("source-to-target")
    }
    assert HUB_ID in primary


def _drifted(run: Run) -> dict[str, dict[str, Any]]:
    live = {k: dict(v) for k, v in run.live.items()}
    key = HUB_ID.lower().replace("vnet-hub-eastasia", "vnet-hub-eastasia")
    hub = live[key]
    props = dict(hub["properties"])
    subnets = [dict(s) for s in props["subnets"]]
    for s in subnets:
        if s["name"] == "snet-shared":
            s["properties"] = {**s["properties"], "addressPrefix": "10.100.1.0/25"}
    subnets.append({"name": "snet-new", "properties": {"addressPrefix": "10.100.3.0/24"}})
    props["subnets"] = subnets
    props["addressSpace"] = {"addressPrefixes": ["10.100.0.0/22", "10.100.8.0/24"]}
    live[key] = {**hub, "properties": props}
    return live


def test_external_dr_fails_with_the_drift() -> None:
    run = discovered("firewall")
    settings = run.settings("dr")
    settings.config["source"] = {"mode": "external"}
    result = simulate(settings, preview=True, live=_drifted(run))
    assert result.error is not None
    lines = result.error.splitlines()
    assert lines[0] == "stack 'dr': the production network has drifted from layout (source.mode external):"
    assert (
        "  rg-connectivity-eastasia/vnet-hub-eastasia: address space declared ['10.100.0.0/22'], in Azure ['10.100.0.0/22', '10.100.8.0/24']"
        in lines
    )
    assert (
        "  rg-connectivity-eastasia/vnet-hub-eastasia: subnet snet-shared declared 10.100.1.0/24, in Azure 10.100.1.0/25"
        in lines
    )
    assert any(
        line.startswith(
            "  rg-connectivity-eastasia/vnet-hub-eastasia: subnet snet-new (10.100.3.0/24) in Azure, not declared"
        )
        for line in lines
    )


def test_external_dr_fails_when_a_declared_vnet_is_missing() -> None:
    run = discovered("firewall")
    settings = run.settings("dr")
    settings.config["source"] = {"mode": "external"}
    live = {k: v for k, v in run.live.items() if "vnet-app2-eastasia" not in k}
    result = simulate(settings, preview=True, live=live)
    assert result.error is not None and "ResourceNotFound" in result.error and "vnet-app2-eastasia" in result.error


# --- the target's next hop ---------------------------------------------------------------------


def test_target_firewall_is_pre_provisioned_in_the_target_hub() -> None:
    result = sim("dr", mode="managed")
    (firewall,) = result.of_type(T.FIREWALL)
    (policy,) = result.of_type(T.FIREWALL_POLICY)
    subnet = result.by_name("vnet-hub-AzureFirewallSubnet")
    inputs = firewall.plain_inputs
    assert inputs["ipConfigurations"][0]["subnet"]["id"] == subnet.id
    assert inputs["firewallPolicy"]["id"] == policy.id
    assert inputs["sku"] == {"name": "AZFW_VNet", "tier": "Standard"}
    # Never production's policy: a parent policy must be in its child's region (issue #21); the
    # example gives no targetBasePolicyId, so the target policy has no parent.
    assert "basePolicy" not in policy.plain_inputs and FIREWALL_POLICY_ID not in str(policy.plain_inputs)
    assert firewall.protect
    # Every UDR of the target points at the firewall's address (same IPs: the source's).
    hops = {
        route["nextHopIpAddress"]
        for table in result.of_type(T.ROUTE_TABLE)
        for route in table.plain_inputs.get("routes", [])
    }
    assert hops == {FIREWALL_IP}
    assert result.outputs["nva"]["kind"] == "azureFirewall"


def test_firewall_at_failover_is_created_by_the_failover_update() -> None:
    at_failover = {"layout.hub.nva.provisioning": "atFailover"}
    standby = sim("dr", mode="managed", overrides=at_failover)
    failover = sim("dr", mode="managed", overrides={**at_failover, "phase": "failover"})
    assert standby.of_type(T.FIREWALL) == []
    assert len(standby.of_type(T.FIREWALL_POLICY)) == 1  # policy and IP wait in standby
    (firewall,) = failover.of_type(T.FIREWALL)
    assert not firewall.protect  # a phase removes it again, so it cannot be protected


def test_appliance_nva_boots_alone_first() -> None:
    item = (
        f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-connectivity-southeastasia/providers/Microsoft.RecoveryServices/"
        "vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/replicationProtectionContainers/"
        "asr-a2a-container-eastasia/replicationProtectedItems/"
    )
    settings: StackSettings = load_stack(
        "dr",
        overrides={
            "layout.hub.nva.replicatedItem": item + "nva1",
            "recoveryPlan.bootGroups": [{"items": [item + "app1", item + "app2"]}],
        },
    )
    cfg = stack_config(settings)
    assert boot_groups(cfg) == [[item + "nva1"], [item + "app1", item + "app2"]]
    result = simulate(settings)
    assert result.error is None, result.error
    (plan,) = result.of_type(T.RECOVERY_PLAN)
    groups = [g for g in plan.plain_inputs["properties"]["groups"] if g["groupType"] == "Boot"]
    assert [g["replicationProtectedItems"] for g in groups] == [
        [{"id": item + "nva1"}],
        [{"id": item + "app1"}, {"id": item + "app2"}],
    ]
    assert groups[0]["startGroupActions"]  # the network switch runs before the NVA boots
    assert result.outputs["nva"] == {
        "kind": "appliance",
        "subnet": "nva",
        "address": "10.10.10.10",
        "replicatedItem": item + "nva1",
    }


def test_firewall_at_failover_comes_before_traffic_moves() -> None:
    """Created by the failover update, the firewall is the next hop of every target UDR: that update
    alters routing, so it runs before the on-premises switch and its minutes count in the RTO."""
    from model import phases
    from model.config import Role

    settings = discovered("firewall").settings("dr", **{"layout.hub.nva.provisioning": "atFailover"})
    design = phases.Design.of(stack_config(settings))
    assert design.target_firewall_at_failover
    steps = phases.procedure(phases.Operation.FAILOVER, design)
    firewall = next(i for i, s in enumerate(steps) if s.role is Role.TARGET and s.azure)
    switch = next(i for i, s in enumerate(steps) if s.kind is phases.Kind.ROUTING_SWITCH)
    assert firewall < switch and "Azure Firewall" in steps[firewall].title
    back = phases.procedure(phases.Operation.FAILBACK, design)
    assert any(
        s.role is Role.TARGET and s.azure and "remove the target hub's azure firewall" in s.title.lower() for s in back
    )
    # Pre-provisioned, the same topology changes nothing in Azure at failover.
    plain = phases.Design.of(stack_config(discovered("firewall").settings("dr")))
    assert not any(s.azure for s in phases.procedure(phases.Operation.FAILOVER, plain))
