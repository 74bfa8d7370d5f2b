"""The resolved estate (model/identity.py): every Azure identity decided once, and held to what the
program really registers, to Azure's naming rules and to the one-place rule (no module outside
model/ builds an Azure name or ARM ID)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest

from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack, stack_config
from model import identity, naming
from model.config import ConfigError, Role, StackConfig
from model.identity import ResourceId
from policies.shared.names import NAMESPACE
from tests.helpers import REPLICATED_ITEM, clone_files

EXAMPLES = sorted(p for p in (PROJECT_DIR / "examples").iterdir() if (p / "Pulumi.prod.yaml").exists())

# An estate of our own invention, not one of the examples: the hub in its own group and subscription
# (a connectivity subscription), spokes across two landing-zone subscriptions with CAF names that
# carry a region code, the dr stack's own resources in a third subscription.
CONNECTIVITY = "c0111111-0000-4000-8000-000000000001"
LZ_SAP = "a0222222-0000-4000-8000-000000000002"
LZ_WEB = "a0333333-0000-4000-8000-000000000003"
DR_SUB = "d0444444-0000-4000-8000-000000000004"
PROD_SUB = "e0555555-0000-4000-8000-000000000005"
ESTATE: dict[str, Any] = {
    "regions": {"source": "germanywestcentral", "target": "swedencentral"},
    "subscriptions": {"source": PROD_SUB, "target": DR_SUB},
    "naming": {"regionCodes": {"source": "gwc", "target": "sdc"}},
    "resourceGroupNames": {"source": "rg-erdr-gwc", "target": "rg-erdr-sdc"},
    "layout": {
        "hub": {
            "name": "hub",
            "addressSpace": ["10.40.0.0/22"],
            "nvaSubnet": {"name": "snet-nva", "prefix": "10.40.0.0/26"},
            "nvaAddress": "10.40.0.4",
            "gatewaySubnetPrefix": "10.40.0.64/26",
            "placement": {
                "source": {"subscriptionId": CONNECTIVITY, "resourceGroup": "rg-conn-gwc", "name": "vnet-hub-gwc-001"},
                "target": {"subscriptionId": CONNECTIVITY, "resourceGroup": "rg-conn-sdc"},
            },
        },
        "spokes": [
            {
                "name": "sap",
                "addressSpace": ["10.41.0.0/24"],
                "subnets": [{"name": "snet-app", "prefix": "10.41.0.0/24"}],
                "placement": {
                    "source": {"subscriptionId": LZ_SAP, "resourceGroup": "rg-sap-gwc", "name": "vnet-sap-gwc-001"},
                    "target": {"subscriptionId": LZ_SAP, "resourceGroup": "rg-sap-sdc"},
                },
            },
            {
                "name": "web",
                "addressSpace": ["10.42.0.0/24"],
                "subnets": [{"name": "snet-web", "prefix": "10.42.0.0/24"}],
                "placement": {
                    "source": {"subscriptionId": LZ_WEB, "resourceGroup": "rg-web-gwc", "name": "vnet-web-gwc-001"},
                    "target": {"subscriptionId": LZ_WEB, "resourceGroup": "rg-web-sdc", "name": "vnet-web-dr"},
                },
            },
        ],
    },
    "circuits": {
        "primary": {
            "id": f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-er/providers/Microsoft.Network/"
            "expressRouteCircuits/er-frankfurt",
            "peeringLocation": "Frankfurt",
        },
    },
    "topology": "single-circuit",
    "addressing": "same",
    "peerStack": "org/expressroute-dr/prod",
}


def invented(stack: str, **extra: Any) -> StackSettings:
    settings = load_stack(stack)
    settings.config.update({k: v for k, v in ESTATE.items() if not (stack == "prod" and k == "peerStack")})
    settings.config["peerStack"] = f"org/{NAMESPACE}/{'dr' if stack == 'prod' else 'prod'}"
    settings.config.update(extra)
    return settings


def _ids(result: SimResult) -> dict[str, str]:
    """Logical name -> ARM ID of every custom resource the program registered (the engine's IDs)."""
    return {r.name: r.id for r in result.resources if r.custom and r.id.startswith("/subscriptions/")}


def _estate_ids(cfg: StackConfig) -> dict[str, str]:
    estate = identity.resolve(cfg)
    side = estate.side(cfg.role)
    out = {logical: rid.id for logical, rid in side.by_logical().items()}
    if cfg.role is Role.TARGET:
        out |= {logical: rid.id for logical, rid in estate.drill_by_logical().items()}
    return out


def _agree(settings: StackSettings) -> None:
    cfg = stack_config(settings)
    result = simulate(settings)
    assert result.error is None, result.error
    registered = _ids(result)
    expected = _estate_ids(cfg)
    network = {k: v for k, v in registered.items() if k in expected or not k.startswith(("asr", "recovery-plan"))}
    missing = sorted(set(network) - set(expected) - {"azure-native-" + s for s in ()})
    # Everything the stack registers under a network logical name is in the estate, at the same ID.
    assert not [m for m in missing if not m.startswith("azure-native-")], missing
    wrong = {k: (v, expected[k]) for k, v in network.items() if k in expected and v.lower() != expected[k].lower()}
    assert not wrong, wrong
    # And the estate names nothing the stack does not register (on this side, in this phase).
    phantom = sorted(set(expected) - set(registered))
    assert not [p for p in phantom if not p.endswith("-connection")], phantom
    estate = identity.resolve(cfg)
    if cfg.role is Role.TARGET and estate.site_recovery is not None:
        by_type = {(r.type, r.name): r.id for r in result.resources if r.custom}
        vault = estate.site_recovery.vault
        assert by_type[("azure-native:recoveryservices:Vault", "asr-vault")].lower() == vault.id.lower()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_estate_is_what_every_example_registers(example: Path, stack: str) -> None:
    _agree(load_stack(stack, stack_file=example / f"Pulumi.{stack}.yaml"))


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_the_estate_is_what_an_invented_estate_registers(stack: str) -> None:
    _agree(invented(stack))


def test_a_hub_in_its_own_group_and_subscription_is_found_there() -> None:
    cfg = stack_config(invented("dr"))
    estate = identity.resolve(cfg)
    src, tgt = estate.source, estate.target
    assert src.hub.vnet.id == (
        f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-gwc/providers/Microsoft.Network/virtualNetworks/"
        "vnet-hub-gwc-001"
    )
    # The region code swapped, in the target placement's group and subscription.
    assert tgt.hub.vnet.name == "vnet-hub-sdc-001"
    assert (tgt.hub.vnet.subscription, tgt.hub.vnet.resource_group) == (CONNECTIVITY, "rg-conn-sdc")
    assert tgt.gateway.id == (
        f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-sdc/providers/Microsoft.Network/"
        "virtualNetworkGateways/ergw-vnet-hub-sdc-001"
    )
    assert src.connection("primary").id == (
        f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-gwc/providers/Microsoft.Network/connections/"
        "vnet-hub-gwc-001-to-primary"
    )
    # A placed target name wins over the rule; spokes keep their own subscriptions.
    assert tgt.vnet("web").vnet.name == "vnet-web-dr"
    assert tgt.vnet("sap").vnet.id.startswith(f"/subscriptions/{LZ_SAP}/resourceGroups/rg-sap-sdc/")
    # The stack's own resources (group, vault, drill) are in the stack's subscription.
    assert tgt.resource_group.id == f"/subscriptions/{DR_SUB}/resourceGroups/rg-erdr-sdc"
    assert estate.site_recovery is not None
    assert estate.site_recovery.vault.subscription == DR_SUB
    assert {v.vnet.subscription for v in estate.drill.values()} == {DR_SUB}
    # Peerings live under their local VNet.
    to_spoke, to_hub = src.peerings["sap"]
    assert to_spoke.id.startswith(src.hub.vnet.id + "/virtualNetworkPeerings/")
    assert to_hub.id.startswith(src.vnet("sap").vnet.id + "/virtualNetworkPeerings/")


def test_recovery_plan_roles_are_scoped_to_each_hubs_own_subscription_and_group() -> None:
    """One circuit, same IPs: the runbook creates and removes each hub's connection, so its roles sit
    on each hub's own group and gateway, in the connectivity subscription, never the dr stack's."""
    # The stack file's circuit (Hong Kong) is outside Europe's geopolitical region: Premium.
    primary = {**load_stack("dr").config["circuits"]["primary"], "skuTier": "Premium"}
    settings = invented(
        "dr",
        recoveryPlan={"bootGroups": [{"items": [REPLICATED_ITEM.format("db")]}]},
        topology="single-circuit",
        circuits={"primary": primary},
    )
    result = simulate(settings)
    assert result.error is None, result.error
    scopes = {
        r.name: r.plain_inputs["scope"]
        for r in result.resources
        if r.type == "azure-native:authorization:RoleAssignment"
    }
    estate = identity.resolve(stack_config(settings))
    assert (
        scopes["recovery-plan-source-connections-access"] == f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-gwc"
    )
    assert (
        scopes["recovery-plan-target-connections-access"] == f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-sdc"
    )
    assert scopes["recovery-plan-source-gateway-access"] == estate.source.gateway.id
    assert scopes["recovery-plan-target-gateway-access"] == estate.target.gateway.id
    assert estate.source.gateway.subscription == CONNECTIVITY
    role = next(r for r in result.resources if r.name == "recovery-plan-connections-role")
    assert role.plain_inputs["scope"] == f"/subscriptions/{DR_SUB}"
    assert f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-gwc" in role.plain_inputs["assignableScopes"]


def test_the_runbook_variables_name_each_hubs_real_connections() -> None:
    from model.phases import switch_plan, switch_variables

    cfg = stack_config(invented("dr"))
    variables = switch_variables(switch_plan(cfg))
    source_conn = variables["connections"]["source"]["standby"][0]["id"]
    assert source_conn.startswith(f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-gwc/")
    assert variables["gateway-ids"]["target"].startswith(f"/subscriptions/{CONNECTIVITY}/resourceGroups/rg-conn-sdc/")


def test_the_provider_deploying_elsewhere_stops_before_anything_is_registered() -> None:
    """Without azure-native:subscriptionId the provider takes the Azure CLI's subscription: asked."""
    result = simulate(load_stack("dr"), subscription="11111111-1111-1111-1111-111111111111")
    assert result.resources == []
    assert result.error is not None
    assert "would deploy to subscription 11111111-1111-1111-1111-111111111111" in result.error
    assert "subscriptions.target is 00000000-0000-0000-0000-000000000000" in result.error


# --- ResourceId and the naming rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "arm_id",
    [
        "/subscriptions/s/resourceGroups/g",
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v",
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x",
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v/replicationFabrics/f/"
        "replicationNetworks/azureNetwork/replicationNetworkMappings/m",
    ],
)
def test_an_arm_id_survives_parsing(arm_id: str) -> None:
    rid = ResourceId.parse(arm_id)
    assert rid.id == arm_id
    assert rid.same(arm_id.upper())


@pytest.mark.parametrize("bad", ["", "/subscriptions/s", "/subscriptions/s/resourceGroups/g/providers/X", "vnet"])
def test_what_is_not_an_arm_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an ARM resource ID"):
        ResourceId.parse(bad)


@pytest.mark.parametrize(
    ("resource_type", "name", "ok"),
    [
        (naming.VIRTUAL_NETWORKS, "v" * 64, True),
        (naming.VIRTUAL_NETWORKS, "v" * 65, False),
        (naming.VIRTUAL_NETWORKS, "v", False),  # 2-64
        (naming.PEERINGS, "p" * 80, True),
        (naming.PEERINGS, "p" * 81, False),
        (naming.CONNECTIONS, "conn-", False),  # ends with a hyphen
        (naming.CONNECTIONS, "conn_", True),
        (naming.ROUTE_TABLES, "-rt", False),
        (naming.VAULTS, "1vault", False),
        (naming.AUTOMATION_ACCOUNTS, "aa-12", False),  # 6-50
        (naming.STORAGE_ACCOUNTS, "Sterdr", False),
        (naming.RESOURCE_GROUPS, "rg.", False),
        (naming.RESOURCE_GROUPS, "rg-(x)", True),
    ],
)
def test_azure_naming_rules(resource_type: str, name: str, ok: bool) -> None:
    assert (naming.name_problem(resource_type, name) is None) is ok


def test_region_tokens_are_swapped_not_substrings() -> None:
    rule = naming.TargetNaming("eastasia", "southeastasia", "ea", "sea")
    assert rule.swapped("vnet-app-ea-001") == "vnet-app-sea-001"
    assert rule.swapped("rg_net.eastasia") == "rg_net.southeastasia"
    assert rule.swapped("vnet-sea-001") is None  # 'ea' inside a token is not a code
    assert rule.target_name("rg-network") == "rg-network-southeastasia"


def test_a_long_name_is_refused_naming_the_key_and_the_derived_name() -> None:
    settings = invented("dr")
    settings.config["layout"] = copy.deepcopy(settings.config["layout"])  # ESTATE is shared by other tests
    settings.config["layout"]["spokes"][0]["placement"]["target"]["name"] = "v" * 65
    with pytest.raises(ConfigError) as err:
        stack_config(settings)
    text = str(err.value)
    assert "layout.spokes[0].placement.target.name" in text
    assert "v" * 65 in text and "64" in text


# --- one place --------------------------------------------------------------------------------------

# What builds ARM IDs outside model/ on purpose: the emulation of Azure and the engine (the other
# side of the wire), the policy pack (it must stand alone and matches what the engine sends), and
# synthetic estates for benchmarks.
ALLOWED = {
    "erdr/engine_view.py": "emulates the IDs Azure and azure-native return",
    "erdr/simulate.py": "emulates Azure's read-only lookups",
    "policies/estate.py": "the pack stands alone (no model import) and matches IDs the engine sends",
    "erdr/bench/policy.py": "a synthetic estate of 2,000 spokes for the pack benchmark",
    "erdr/bench/stacks.py": "a fixed replicated-item ID for benchmark stacks",
}
_ARM_MARKERS = ("/subscriptions/", "resourceGroups/", "/providers/Microsoft.")


def _literal_parts(node: ast.AST) -> list[str]:
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out: list[str] = []
    for node in ast.walk(tree):
        parts = _literal_parts(node)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("concat", "format"):
            parts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        text = "".join(parts)
        if any(m in text for m in _ARM_MARKERS):
            out.append(f"{path.relative_to(PROJECT_DIR)}:{getattr(node, 'lineno', 0)} builds an ARM ID")
        if isinstance(node, ast.JoinedStr) and parts and parts[0].startswith(naming.CONVENTION_PREFIXES):
            out.append(f"{path.relative_to(PROJECT_DIR)}:{getattr(node, 'lineno', 0)} builds a '{parts[0]}' name")
    return out


def test_no_module_outside_model_builds_an_azure_name_or_arm_id() -> None:
    # The project's own modules: what a clone holds (tracked and new files, nothing ignored), so
    # the pack's installed venv (policies/venv, ~1,600 third-party modules) is not ours to scan.
    folders = ("components/", "program/", "erdr/", "policies/", "automation/")
    code = sorted(PROJECT_DIR / rel for rel in clone_files("*.py") if rel.startswith(folders) or rel == "__main__.py")
    assert len(code) > 50 and PROJECT_DIR / "policies" / "rules" / "symmetry.py" in code, code
    offences = [o for p in code if str(p.relative_to(PROJECT_DIR)) not in ALLOWED for o in _offences(p)]
    assert not offences, offences


def test_the_one_place_check_can_fail(tmp_path: Path) -> None:
    """Control: the scan finds an f-string that formats an ARM ID, and one that names a route table."""
    sample = PROJECT_DIR / "build" / "identity-control.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text('rg, sub, n = "g", "s", "v"\nx = f"/subscriptions/{sub}/resourceGroups/{rg}"\ny = f"rt-{n}"\n')
    try:
        found = _offences(sample)
    finally:
        sample.unlink()
    assert len(found) == 2, found
