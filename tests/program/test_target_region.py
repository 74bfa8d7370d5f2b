"""The `dr` stack: replica network, connections per topology and phase, Site Recovery, drill."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr.plan import stack_config
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack
from model.config import Phase, Role
from model.phases import Action, Design, Operation, procedure
from policies.shared.addrspace import find_overlaps, parse_prefix
from tests import session_cache
from tests.helpers import (
    CONNECTION,
    EXAMPLES,
    GATEWAY,
    PEERING,
    ROUTES,
    SUBNET,
    VNET,
    by_physical_name,
    connection_name,
    connections,
    deps,
    run_stack,
    short,
)

PHASES = ["standby", "failover", "failback"]
PEER_NAMES = {"prod": "organization/expressroute-dr/prod", "dr": "organization/expressroute-dr/dr"}
CIRCUIT_TYPES = {CONNECTION, "pulumi:pulumi:StackReference"}


def example_config(example: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((example / f"Pulumi.{stack}.yaml").read_text())["config"]


_RUNS: dict[str, SimResult] = {}


def run_example(
    example: Path, stack: str, phase: str, peer: dict[str, Any] | None = None, preview: bool = False, **extra: Any
) -> SimResult:
    """Simulate one stack of an example pair; identical calls share one run, across the xdist
    workers too (tests/session_cache.py): worksteal spreads the parametrized cases over the
    workers, and each would otherwise repeat the simulations the others already ran."""
    key = json.dumps([str(example), stack, phase, peer, preview, extra], sort_keys=True, default=str)
    if key not in _RUNS:

        def run() -> SimResult:
            settings = load_stack(
                stack, stack_file=example / f"Pulumi.{stack}.yaml", overrides={"phase": phase, **extra}
            )
            other = "dr" if stack == "prod" else "prod"
            peers = {PEER_NAMES[other]: peer} if peer is not None else {}
            return simulate(settings, preview=preview, peer_outputs=peers)

        _RUNS[key] = session_cache.once_per("target-region", key, run)
    return _RUNS[key]


def expected_connections(example: Path, stack: str, phase: str) -> dict[str, tuple[str, int]]:
    """The article's rules, written out independently of model/phases.py."""
    cfg = example_config(example, stack)
    topology, addressing = cfg["expressroute-dr:topology"], cfg["expressroute-dr:addressing"]
    cross = cfg.get("expressroute-dr:crossConnect", False)
    failover = phase == "failover"
    if topology == "single-circuit":
        own, other = "primary", None
    else:
        own, other = ("primary", "secondary") if stack == "prod" else ("secondary", "primary")
    if topology == "single-circuit" and addressing == "same":
        held = ["primary"] if (stack == "prod") != failover else []
    else:
        held = [own]
    if cross and other:
        held.append(other)
    # A weight chooses only among the connections of one gateway: a lone connection keeps Azure's
    # default 0; on a gateway with both circuits the one on-premises uses in the phase is preferred.
    in_use = "secondary" if failover else "primary"
    return {connection_name(example, stack, c): (c, 0 if len(held) == 1 else (100 if c == in_use else 0)) for c in held}


def circuit_ids(example: Path) -> dict[str, str]:
    cfg = example_config(example, "prod")
    circuits = (
        cfg.get("expressroute-dr:circuits")
        or yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]["circuits"]["value"]
    )
    return {k: v["id"] for k, v in circuits.items()}


def peer_outputs_for(example: Path, stack: str, phase: str) -> dict[str, Any]:
    """What the other stack reports in the same phase (the failover command runs them in order)."""
    other = "dr" if stack == "prod" else "prod"
    result = run_example(example, other, phase, peer={"circuitConnections": []})
    assert result.error is None, result.error
    return result.outputs


CASES = [(e, s, p) for e in EXAMPLES for s in ("prod", "dr") for p in PHASES]


@pytest.mark.parametrize(("example", "stack", "phase"), CASES, ids=[f"{e.name}-{s}-{p}" for e, s, p in CASES])
def test_connections_per_topology_addressing_and_phase(example, stack, phase):
    ids = circuit_ids(example)
    peer = {"circuitConnections": []}
    result = run_example(example, stack, phase, peer=peer)
    assert result.error is None, result.error
    got = connections(result)
    want = expected_connections(example, stack, phase)
    assert {n: (c["circuit"], c["weight"]) for n, c in got.items()} == {n: (ids[c], w) for n, (c, w) in want.items()}
    assert sorted(result.outputs["circuitConnections"]) == sorted(ids[c] for c, _ in want.values())
    preview = run_example(example, stack, phase, peer=peer, preview=True)
    assert preview.error is None, preview.error
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in result.resources)


def _non_connection_state(result: SimResult) -> dict[str, Any]:
    return {
        r.urn: (r.inputs, r.protect, sorted(r.dependencies)) for r in result.resources if r.type not in CIRCUIT_TYPES
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_standby_to_failover_touches_only_connections(example, stack):
    peer = {"circuitConnections": []}
    standby = run_example(example, stack, "standby", peer=peer)
    failover = run_example(example, stack, "failover", peer=peer)
    assert standby.error is None and failover.error is None
    assert _non_connection_state(standby) == _non_connection_state(failover)
    # Nothing slow is created at failover: the gateway already exists in standby.
    assert [r.urn for r in standby.of_type(GATEWAY)] == [r.urn for r in failover.of_type(GATEWAY)]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_no_failover_creates_anything_but_connections_and_two_circuit_ones_create_nothing(example):
    cfg = example_config(example, "dr")
    created: set[str] = set()
    for stack in ("prod", "dr"):
        before = {
            r.urn: r.type for r in run_example(example, stack, "standby", peer={"circuitConnections": []}).resources
        }
        after = {
            r.urn: r.type for r in run_example(example, stack, "failover", peer={"circuitConnections": []}).resources
        }
        created |= {after[u] for u in set(after) - set(before)}
    single_same = cfg["expressroute-dr:topology"] == "single-circuit" and cfg["expressroute-dr:addressing"] == "same"
    if single_same:
        assert created == {CONNECTION, "pulumi:pulumi:StackReference"}
    else:
        assert created == set()


def _azure_changes(before: SimResult, after: SimResult) -> list[tuple[str, str, list[str]]]:
    """(op, logical name, changed input keys) for every custom resource a phase change would
    create, delete or update; StackReference reads are not Azure resources."""
    old = {r.urn: r for r in before.resources if r.custom and not r.read}
    new = {r.urn: r for r in after.resources if r.custom and not r.read}
    out = [("create", short(u), []) for u in sorted(set(new) - set(old))]
    out += [("delete", short(u), []) for u in sorted(set(old) - set(new))]
    for urn in sorted(set(old) & set(new)):
        a, b = old[urn].plain_inputs, new[urn].plain_inputs
        keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if keys:
            out.append(("update", short(urn), keys))
    return out


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_failover_changes_only_what_alters_routing(example):
    """Issue 17: standby -> failover changes no Azure resource but the single-circuit same-IP pair
    (one delete in prod, then one create in dr) and weights on gateways holding several connections."""
    cfg = example_config(example, "dr")
    single_same = cfg["expressroute-dr:topology"] == "single-circuit" and cfg["expressroute-dr:addressing"] == "same"
    cross = cfg.get("expressroute-dr:crossConnect", False)
    peer = {"circuitConnections": []}
    changes = {
        stack: _azure_changes(
            run_example(example, stack, "standby", peer), run_example(example, stack, "failover", peer)
        )
        for stack in ("prod", "dr")
    }
    if single_same:
        assert changes == {
            "prod": [("delete", "hub-primary-connection", [])],
            "dr": [("create", "hub-primary-connection", [])],
        }
    elif cross:
        # Both hubs hold both circuits: the preference moves, on both connections of each gateway.
        for stack in ("prod", "dr"):
            assert changes[stack] == [
                ("update", "hub-primary-connection", ["routingWeight"]),
                ("update", "hub-secondary-connection", ["routingWeight"]),
            ]
    else:
        assert changes == {"prod": [], "dr": []}


def test_not_pre_connected_target_pays_one_create_at_failover():
    example = next(e for e in EXAMPLES if e.name == "two-locations-same-ip")
    before = run_example(example, "dr", "standby", preConnectTarget=False)
    after = run_example(example, "dr", "failover", preConnectTarget=False)
    assert _azure_changes(before, after) == [("create", "hub-secondary-connection", [])]


# --- the single-circuit ordering guarantee ------------------------------------------------------


def _holders(states: dict[str, SimResult]) -> dict[str, list[tuple[str, list[str]]]]:
    """circuit ID -> [(stack, its address prefixes)] for every stack that holds the circuit."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for stack, result in states.items():
        prefixes = [p for ps in result.outputs["vnetPrefixes"].values() for p in ps]
        for circuit in result.outputs["circuitConnections"]:
            out.setdefault(circuit.lower(), []).append((stack, prefixes))
    return out


def _assert_no_overlap_on_any_circuit(states: dict[str, SimResult], where: str) -> None:
    for circuit, holders in _holders(states).items():
        entries = [((stack, i), parse_prefix(p)) for stack, prefixes in holders for i, p in enumerate(prefixes)]
        clashes = [o for o in find_overlaps(entries) if o.outer_key[0] != o.inner_key[0]]
        assert not clashes, f"{where}: {circuit} carries overlapping address spaces from {[h for h, _ in holders]}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
@pytest.mark.parametrize("source_reachable", [True, False], ids=["source-up", "source-down"])
def test_procedure_never_puts_one_address_space_twice_on_a_circuit(example, source_reachable):
    design = Design.of(stack_config(load_stack("dr", stack_file=example / "Pulumi.dr.yaml")))
    phases = {"prod": "standby", "dr": "standby"}
    unreachable: dict[str, bool] = {"prod": False, "dr": False}
    states = {s: run_example(example, s, "standby") for s in ("prod", "dr")}
    _assert_no_overlap_on_any_circuit(states, "standby")
    for op in (Operation.FAILOVER, Operation.FAILBACK):
        for step in procedure(op, design, source_reachable):
            if step.action is not Action.UP or step.role is None or step.phase is None:
                continue
            stack = "prod" if step.role is Role.SOURCE else "dr"
            phases[stack] = step.phase.value
            extra = dict(step.extra_config)
            unreachable[stack] = extra.get("sourceRegionUnreachable", str(unreachable[stack]).lower()) == "true"
            other = "dr" if stack == "prod" else "prod"
            overrides = {"sourceRegionUnreachable": True} if unreachable[stack] else {}
            result = run_example(example, stack, phases[stack], peer=states[other].outputs, **overrides)
            assert result.error is None, f"{op} step '{step.title}': {result.error}"
            states[stack] = result
            if not source_reachable and op is Operation.FAILOVER:
                # prod is not updated while its region is down: Azure still holds the old source
                # connection, which the failback procedure removes first.
                continue
            _assert_no_overlap_on_any_circuit(states, f"{op.value}: {step.title}")
    assert phases == {"prod": "standby", "dr": "standby"}


def test_target_connection_waits_while_source_still_holds_the_circuit():
    example = next(e for e in EXAMPLES if e.name == "single-circuit-same-ip")
    prod_standby = run_example(example, "prod", "standby")
    result = run_example(example, "dr", "failover", peer=prod_standby.outputs)
    assert result.error is not None
    assert (
        "stack 'dr': connection hub-southeastasia-to-primary must wait: peer stack 'organization/expressroute-dr/prod' still holds circuit"
        in result.error
    )
    assert not result.of_type(CONNECTION)
    # Once prod has dropped its connection, the same update goes through.
    prod_failover = run_example(example, "prod", "failover")
    ok = run_example(example, "dr", "failover", peer=prod_failover.outputs)
    assert ok.error is None
    assert len(ok.of_type(CONNECTION)) == 1
    (ref,) = ok.of_type("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "organization/expressroute-dr/prod"


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize(
    ("peer", "says"),
    [
        ({}, "has no output circuitConnections"),
        ({"circuitConnections": None}, "has no output circuitConnections"),
        ({"circuitConnections": "none"}, "output circuitConnections is 'none', not a list of circuit IDs"),
        ({"circuitConnections": [{"id": "x"}]}, "output circuitConnections is [{'id': 'x'}], not a list of circuit"),
    ],
    ids=["missing", "null", "a-string", "not-ids"],
)
def test_gate_fails_closed_when_the_peer_does_not_say_what_it_holds(
    peer: dict[str, Any], says: str, preview: bool
) -> None:
    example = next(e for e in EXAMPLES if e.name == "single-circuit-same-ip")
    result = run_example(example, "dr", "failover", peer=peer, preview=preview)
    assert result.error is not None
    assert (
        "stack 'dr': connection hub-southeastasia-to-primary must wait: peer stack "
        f"'organization/expressroute-dr/prod' {says}"
    ) in result.error
    assert not result.of_type(CONNECTION)


def test_source_reconnect_at_failback_waits_for_the_target_to_let_go():
    example = next(e for e in EXAMPLES if e.name == "single-circuit-same-ip")
    dr_failover = run_example(example, "dr", "failover", peer={"circuitConnections": []})
    blocked = run_example(example, "prod", "failback", peer=dr_failover.outputs)
    assert (
        blocked.error is not None
        and "peer stack 'organization/expressroute-dr/dr' still holds circuit" in blocked.error
    )
    assert not blocked.of_type(CONNECTION)


def test_source_region_down_target_connects_without_the_gate():
    example = next(e for e in EXAMPLES if e.name == "single-circuit-same-ip")
    result = run_example(example, "dr", "failover", sourceRegionUnreachable=True)
    assert result.error is None
    assert len(result.of_type(CONNECTION)) == 1
    assert not result.of_type("pulumi:pulumi:StackReference")


# --- the default dr stack: the article's failover example ----------------------------------------


@pytest.fixture
def dr(preview: bool) -> SimResult:
    result = run_stack("dr", preview=preview)
    assert result.error is None, result.error
    return result


def test_dr_is_previewable_before_prod_exists():
    result = run_stack("dr", preview=True)
    assert result.error is None
    assert not result.of_type("pulumi:pulumi:StackReference")


def test_replica_keeps_every_prefix_in_southeast_asia(dr):
    prod = run_stack("prod")

    def layout(r: SimResult) -> dict[str, Any]:
        return {s.name: s.inputs["addressPrefix"] for s in r.of_type(SUBNET) if not s.name.startswith("drill-")}

    assert layout(dr) == layout(prod)
    vnets = by_physical_name(dr, VNET, "virtualNetworkName")
    assert {n: v.inputs["location"] for n, v in vnets.items() if not n.endswith("-drill")} == {
        "hub-southeastasia": "southeastasia",
        "vnet1-southeastasia": "southeastasia",
        "vnet2-southeastasia": "southeastasia",
    }
    assert dr.outputs["nvaAddress"] == "10.10.10.10"


def test_replica_has_its_own_gateway_and_same_peering_and_routes(dr):
    (gw,) = dr.of_type(GATEWAY)
    assert gw.inputs["gatewayType"] == "ExpressRoute" and gw.inputs["location"] == "southeastasia"
    flags = ("allowVirtualNetworkAccess", "allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways")
    for spoke in ("vnet1", "vnet2"):
        assert [dr.by_name(f"{spoke}-to-hub").inputs[f] for f in flags] == [True, True, False, True]
        assert [dr.by_name(f"hub-to-{spoke}").inputs[f] for f in flags] == [True, True, True, False]
        assert "hub-gateway" in deps(dr.by_name(f"{spoke}-to-hub"))
        assert dr.by_name(f"{spoke}-routes").inputs["routes"][0]["nextHopIpAddress"] == "10.10.10.10"
        assert dr.by_name(f"{spoke}-workload").inputs["serviceEndpoints"] == [{"service": "Microsoft.Storage"}]
    assert {r["addressPrefix"] for r in dr.by_name("hub-gateway-routes").inputs["routes"]} == {
        "10.1.0.0/24",
        "10.2.0.0/24",
    }


def test_standby_target_connection_to_singapore_at_low_weight(dr):
    (conn,) = dr.of_type(CONNECTION)
    assert conn.inputs["peer"]["id"].endswith("/expressRouteCircuits/er-singapore")
    assert conn.inputs["routingWeight"] == 0
    assert conn.protect  # present in every phase of this topology


def test_translated_addressing_moves_subnets_nva_and_routes():
    example = next(e for e in EXAMPLES if e.name == "single-circuit-new-ip")
    result = run_example(example, "dr", "standby")
    assert result.error is None
    assert result.by_name("hub-nva").inputs["addressPrefix"] == "10.20.10.0/25"
    assert result.by_name("hub-GatewaySubnet").inputs["addressPrefix"] == "10.20.10.128/25"
    assert result.by_name("vnet1-workload").inputs["addressPrefix"] == "10.21.0.0/24"
    assert result.outputs["nvaAddress"] == "10.20.10.10"
    assert result.by_name("vnet2-routes").inputs["routes"][0]["nextHopIpAddress"] == "10.20.10.10"
    routes = {
        (r["addressPrefix"], r["nextHopIpAddress"]) for r in result.by_name("hub-gateway-routes").inputs["routes"]
    }
    assert routes == {("10.21.0.0/24", "10.20.10.10"), ("10.22.0.0/24", "10.20.10.10")}


# --- Site Recovery -----------------------------------------------------------------------------


RS = "azure-native:recoveryservices:"


def test_site_recovery_vault_fabrics_and_containers(dr):
    (vault,) = dr.of_type(RS + "Vault")
    assert vault.inputs["location"] == "southeastasia"
    assert vault.inputs["sku"] == {"name": "RS0", "tier": "Standard"}
    fabrics = {f.inputs["fabricName"]: f for f in dr.of_type(RS + "ReplicationFabric")}
    assert {n: f.inputs["properties"]["customDetails"] for n, f in fabrics.items()} == {
        "asr-a2a-eastasia": {"instanceType": "Azure", "location": "eastasia"},
        "asr-a2a-southeastasia": {"instanceType": "Azure", "location": "southeastasia"},
    }
    assert "asr-source-fabric" in deps(fabrics["asr-a2a-southeastasia"])
    containers = dr.of_type("azure-native:resources:Resource")
    assert len(containers) == 2
    for c in containers:
        assert c.inputs["resourceProviderNamespace"] == "Microsoft.RecoveryServices"
        assert c.inputs["resourceType"] == "replicationProtectionContainers"
        assert c.inputs["apiVersion"] == "2024-10-01"
        assert c.inputs["properties"] == {"providerSpecificInput": [{"instanceType": "A2A"}]}
        # The API has no DELETE for containers: the engine must never send one (destroy, replace).
        assert c.retain_on_delete


def test_replication_policy_and_container_mappings_both_ways(dr):
    (policy,) = dr.of_type(RS + "ReplicationPolicy")
    assert policy.inputs["properties"]["providerSpecificInput"] == {
        "instanceType": "A2A",
        "recoveryPointHistory": 1440,
        "appConsistentFrequencyInMinutes": 240,
        "crashConsistentFrequencyInMinutes": 5,
        "multiVmSyncStatus": "Disable",
    }
    mappings = {m.inputs["mappingName"]: m for m in dr.of_type(RS + "ReplicationProtectionContainerMapping")}
    assert set(mappings) == {"source-to-target", "target-to-source"}
    assert mappings["source-to-target"].inputs["protectionContainerName"] == "asr-a2a-container-eastasia"
    assert mappings["target-to-source"].inputs["protectionContainerName"] == "asr-a2a-container-southeastasia"
    assert "asr-target-container" in deps(mappings["source-to-target"])


def test_network_mappings_both_ways_for_every_vnet(dr):
    mappings = {m.inputs["networkMappingName"]: m.inputs for m in dr.of_type(RS + "ReplicationNetworkMapping")}
    assert set(mappings) == {
        f"{v}-{d}" for v in ("hub", "vnet1", "vnet2") for d in ("source-to-target", "target-to-source")
    }
    for m in mappings.values():
        assert m["networkName"] == "azureNetwork"
        assert m["properties"]["fabricSpecificDetails"]["instanceType"] == "AzureToAzure"
    if not dr.preview:
        there = mappings["vnet1-source-to-target"]
        assert there["fabricName"] == "asr-a2a-eastasia"
        assert there["properties"]["fabricSpecificDetails"]["primaryNetworkId"].endswith(
            "/rg-expressroute-dr-eastasia/providers/Microsoft.Network/virtualNetworks/vnet1-eastasia"
        )
        assert there["properties"]["recoveryNetworkId"].endswith("/virtualNetworks/vnet1-southeastasia")
        back = mappings["vnet1-target-to-source"]
        assert back["fabricName"] == "asr-a2a-southeastasia"
        assert back["properties"]["recoveryNetworkId"].endswith("/virtualNetworks/vnet1-eastasia")


def test_site_recovery_settings_from_config():
    result = run_stack(
        "dr",
        overrides={
            "siteRecovery": {
                "recoveryPointHistoryMinutes": 4320,
                "appConsistentFrequencyMinutes": 120,
                "multiVmSync": True,
            }
        },
    )
    assert result.error is None
    (policy,) = result.of_type(RS + "ReplicationPolicy")
    spi = policy.inputs["properties"]["providerSpecificInput"]
    assert (spi["recoveryPointHistory"], spi["appConsistentFrequencyInMinutes"], spi["multiVmSyncStatus"]) == (
        4320,
        120,
        "Enable",
    )


def test_retention_change_updates_the_policy_in_place(dr):
    """Same URN and name, only the settings differ, and the container mappings do not change:
    a rename would replace the policy and, with it, the mappings the protected VMs use."""
    changed = run_stack("dr", preview=dr.preview, overrides={"siteRecovery": {"recoveryPointHistoryMinutes": 720}})
    assert changed.error is None
    (before,) = dr.of_type(RS + "ReplicationPolicy")
    (after,) = changed.of_type(RS + "ReplicationPolicy")
    assert (after.urn, after.inputs["policyName"]) == (before.urn, before.inputs["policyName"])
    assert {k: v for k, v in after.inputs.items() if k != "properties"} == {
        k: v for k, v in before.inputs.items() if k != "properties"
    }
    assert after.inputs["properties"]["providerSpecificInput"]["recoveryPointHistory"] == 720
    mappings = RS + "ReplicationProtectionContainerMapping"
    assert {m.urn: m.inputs for m in changed.of_type(mappings)} == {m.urn: m.inputs for m in dr.of_type(mappings)}


# --- the drill network ---------------------------------------------------------------------------


def test_drill_network_is_isolated(dr):
    drill_vnets = [v for v in dr.of_type(VNET) if v.name.startswith("drill-")]
    assert len(drill_vnets) == 3
    drill_names = {v.name for v in drill_vnets}
    for r in dr.of_type(PEERING):
        assert not (deps(r) & drill_names), f"{r.name} touches the drill network"
    assert not any(short(r.parent) == "drill" for r in dr.resources if r.type in (GATEWAY, CONNECTION, ROUTES))
    assert all(not s.inputs.get("routeTable") for s in dr.of_type(SUBNET) if s.name.startswith("drill-"))
    drill_prefixes = [p for v in drill_vnets for p in v.inputs["addressSpace"]["addressPrefixes"]]
    others = [
        p
        for v in dr.of_type(VNET)
        if not v.name.startswith("drill-")
        for p in v.inputs["addressSpace"]["addressPrefixes"]
    ]
    entries = [(("drill", p), parse_prefix(p)) for p in drill_prefixes] + [
        (("net", p), parse_prefix(p)) for p in others
    ]
    assert not [o for o in find_overlaps(entries) if {o.outer_key[0], o.inner_key[0]} == {"drill", "net"}]
    if not dr.preview:
        assert set(dr.outputs["drillVnetIds"]) == {"hub", "vnet1", "vnet2"}
        assert dr.outputs["drillVnetIds"]["vnet1"].endswith("/virtualNetworks/vnet1-southeastasia-drill")


def test_drill_network_can_be_turned_off():
    result = run_stack("dr", overrides={"drill": {"enabled": False}})
    assert result.error is None
    assert not [v for v in result.of_type(VNET) if v.name.startswith("drill-")]
    assert "drillVnetIds" not in result.outputs


def test_source_stack_has_no_site_recovery_or_drill():
    prod = run_stack("prod")
    assert not [r for r in prod.resources if r.type.startswith(RS)]
    assert not [r for r in prod.resources if r.name.startswith("drill")]


def test_phase_value_is_exported_per_stack():
    for phase in PHASES:
        assert run_stack("dr", overrides={"phase": phase}).outputs["phase"] == phase


def test_roles_enum_matches_stack_files():
    assert load_stack("prod").config["role"] == Role.SOURCE.value
    assert load_stack("dr").config["role"] == Role.TARGET.value
    assert Phase("failback") is Phase.FAILBACK


def _snake_keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = [f"{path}.{k}" for k in value if "_" in k and not k.startswith("4dabf")]
        return found + [p for k, v in value.items() for p in _snake_keys(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for v in value for p in _snake_keys(v, path)]
    return []


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_every_input_reaches_azure_in_camel_case(stack):
    # Plain dicts inside polymorphic azure-native inputs are not translated; Azure would ignore
    # snake_case keys there (the replication policy once sent its settings that way).
    from tests.program.test_recovery_plan import PLAN

    result = run_stack(stack, overrides={"recoveryPlan": PLAN} if stack == "dr" else {})
    assert result.error is None
    assert [(r.name, k) for r in result.resources for k in _snake_keys(r.inputs)] == []
