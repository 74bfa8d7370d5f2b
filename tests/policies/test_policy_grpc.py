"""The pack over its real analyzer gRPC interface (``python -m pulumi.policy <engine> policies``),
fed with what our program registers for every example stack, and with broken variants."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from erdr.bench.policy import synthetic_estate
from erdr.policy_client import (
    POLICIES_DIR,
    Diagnostic,
    PolicyPackClient,
    analyzer_resources,
    appliance_subnets,
    check,
    check_simulation,
    circuits_config,
    make_resource,
    stack_env,
)
from erdr.simulate import UNKNOWN, SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack
from policies.pack import RULES

EXAMPLES = sorted(p for p in (PROJECT_DIR / "examples").glob("*/") if (p / "Pulumi.prod.yaml").exists())
PEER = {"prod": "organization/expressroute-dr/dr", "dr": "organization/expressroute-dr/prod"}
CIRCUIT_RULES = (
    "vnet-address-space-overlap",
    "expressroute-premium-outside-geopolitical-region",
    "circuits-same-peering-location",
    "expressroute-link-limits",
)
Resources = list[analyzer_pb2.AnalyzerResource]


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackClient]:
    with PolicyPackClient() as client:
        yield client


def configure_for(pack: PolicyPackClient, settings: StackSettings, extra: dict[str, Any] | None = None) -> None:
    """Circuit facts from the stack's config, as the pipeline passes them."""
    config: dict[str, Any] = {name: {"circuits": circuits_config(settings)} for name in CIRCUIT_RULES}
    # One pack serves every stack here, so it has no PULUMI_CONFIG to read the NVA subnet from.
    config["udr-next-hop-in-appliance-subnet"] = {"applianceSubnets": appliance_subnets(settings)}
    for name, value in (extra or {}).items():
        config[name] = {**config.get(name, {}), **value}
    pack.configure(config)


_SIMS: dict[str, SimResult] = {}


def _settings(example: Path | None, stack: str, phase: str) -> StackSettings:
    path = example / f"Pulumi.{stack}.yaml" if example else None
    return load_stack(stack, stack_file=path, overrides={"phase": phase})


def _sim(example: Path | None, stack: str, phase: str, preview: bool, peers: dict[str, Any]) -> SimResult:
    key = json.dumps([str(example), stack, phase, preview, peers], sort_keys=True)
    if key not in _SIMS:
        _SIMS[key] = simulate(_settings(example, stack, phase), preview=preview, peer_outputs=peers)
        assert _SIMS[key].error is None, _SIMS[key].error
    return _SIMS[key]


def simulated(example: Path | None, stack: str, phase: str, preview: bool) -> tuple[StackSettings, SimResult, dict]:
    """One stack of a pair; when it reads the other stack (StackReference), with that stack's
    real outputs behind it."""
    other = "dr" if stack == "prod" else "prod"
    empty = {PEER[stack]: {"circuitConnections": []}}
    result = _sim(example, stack, phase, preview, empty)
    if not result.of_type("pulumi:pulumi:StackReference"):
        return _settings(example, stack, phase), result, {}
    peer = _sim(example, other, phase, False, {PEER[other]: {"circuitConnections": []}})
    peers = {PEER[stack]: peer.outputs}
    return _settings(example, stack, phase), _sim(example, stack, phase, preview, peers), peers


# --- the protocol --------------------------------------------------------------------------------


def test_analyzer_info_and_config_schema(pack: PolicyPackClient) -> None:
    info = pack.info()
    assert info.name == "expressroute-dr" and info.supportsConfig
    policies = {p.name: p for p in info.policies}
    assert set(policies) == {r.name for r in RULES}
    assert any("overlap" in name for name in policies)
    for p in policies.values():
        assert p.description and p.remediation_steps and p.severity, p.name
        assert "onUnknown" in json_format.MessageToDict(p.configSchema.properties), p.name
    levels = pack.default_levels()
    assert levels["circuits-same-peering-location"] == "advisory"
    assert levels["expressroute-gateway-zone-redundant"] == "advisory"
    assert levels["vnet-address-space-overlap"] == "mandatory"


def test_the_pack_starts_from_its_own_directory_as_the_cli_starts_it() -> None:
    with PolicyPackClient(".", cwd=POLICIES_DIR) as client:
        overlap = synthetic_estate(3, overlaps=[1])
        found = client.analyze_stack(overlap)
        assert [d.policy for d in found] == ["vnet-address-space-overlap"]
    assert (POLICIES_DIR / "PulumiPolicy.yaml").read_text().count("runtime:") == 1


# --- every example stack passes -----------------------------------------------------------------

# The default stacks up and preview; every example in standby; the failover phase where it
# changes which stack holds a circuit (single circuit). Preview of the examples adds no new
# resource shapes (the broken variants below run in preview too) and costs a minute here.
CASES = [(None, s, "standby", p) for s in ("prod", "dr") for p in (False, True)]
CASES += [(e, s, "standby", False) for e in EXAMPLES for s in ("prod", "dr")]
CASES += [(e, s, "failover", False) for e in EXAMPLES if "single-circuit" in e.name for s in ("prod", "dr")]


@pytest.mark.parametrize(
    ("example", "stack", "phase", "preview"),
    CASES,
    ids=[f"{e.name if e else 'default'}-{s}-{ph}-{'preview' if p else 'up'}" for e, s, ph, p in CASES],
)
def test_example_stacks_pass_every_rule(
    pack: PolicyPackClient, example: Path | None, stack: str, phase: str, preview: bool
) -> None:
    settings, result, peers = simulated(example, stack, phase, preview)
    configure_for(pack, settings)
    found = check_simulation(pack, result, peers)
    assert found == [], "\n".join(f"{d.policy}: {d.message}" for d in found)


def test_examples_exist_and_are_covered() -> None:
    assert len(EXAMPLES) >= 6
    assert {e for e, *_ in CASES if e} == set(EXAMPLES)


def test_stack_config_reaches_the_pack_as_the_cli_passes_it() -> None:
    """The CLI gives the pack the stack config in PULUMI_CONFIG; circuit facts come from there."""
    settings, result, peers = simulated(None, "dr", "standby", False)
    resources = analyzer_resources(result, peers)
    far = [move_gateway_vnet(resources, "westeurope")]
    with PolicyPackClient(env=stack_env(settings, preview=False)) as client:
        client.configure()
        found = client.analyze_stack(far[0])
    assert {d.policy for d in found} == {"expressroute-premium-outside-geopolitical-region"}


# --- broken variants, each caught by its rule -------------------------------------------------------


def props(r: analyzer_pb2.AnalyzerResource) -> dict[str, Any]:
    return json_format.MessageToDict(r.properties)


def set_props(r: analyzer_pb2.AnalyzerResource, value: dict[str, Any]) -> None:
    s = struct_pb2.Struct()
    s.update(value)
    r.properties.CopyFrom(s)


def edit(resources: Resources, name: str, change: Callable[[dict[str, Any]], None]) -> Resources:
    out = [analyzer_pb2.AnalyzerResource.FromString(r.SerializeToString()) for r in resources]
    hits = [r for r in out if r.urn.endswith("::" + name)]
    assert len(hits) == 1, f"{name}: {len(hits)} matches"
    value = props(hits[0])
    change(value)
    set_props(hits[0], value)
    return out


def move_gateway_vnet(resources: Resources, location: str) -> Resources:
    out = edit(resources, "hub-vnet", lambda p: p.update(location=location))
    return edit(out, "hub-gateway", lambda p: p.update(location=location))


def add_route(p: dict[str, Any]) -> None:
    p["routes"].append(
        {
            "name": "default",
            "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.10.10.10",
        }
    )


def hop_into_spoke(p: dict[str, Any]) -> None:
    """The spoke's default route sent to an address in the spoke itself, where no appliance lives."""
    p["routes"][0]["nextHopIpAddress"] = "10.1.0.4"


def drop(resources: Resources, name: str) -> Resources:
    return [r for r in resources if not r.urn.endswith("::" + name)]


def extra_connections(resources: Resources, count: int) -> Resources:
    base = next(r for r in resources if r.type.endswith("VirtualNetworkGatewayConnection"))
    out = list(resources)
    for i in range(count):
        value = props(base)
        value["peer"] = {"id": value["peer"]["id"] + f"-extra{i}"}
        value["virtualNetworkGatewayConnectionName"] += f"-extra{i}"
        urn = base.urn + f"-extra{i}"
        deps = {k: list(v.urns) for k, v in base.propertyDependencies.items()}
        out.append(make_resource(urn, value, parent=base.parent, property_dependencies=deps))
    return out


def drill_peering(resources: Resources) -> Resources:
    """The drill hub peered with the hub like a spoke, both directions, the article's settings."""
    drill = next(r for r in resources if r.urn.endswith("::drill-hub-vnet"))
    hub = next(r for r in resources if r.urn.endswith("::hub-vnet"))
    out = list(resources)
    for local, remote, transit in ((drill, hub, False), (hub, drill, True)):
        a, b = props(local)["virtualNetworkName"], props(remote)["virtualNetworkName"]
        value = {
            "virtualNetworkPeeringName": f"{a}-to-{b}",
            "virtualNetworkName": a,
            "resourceGroupName": props(local)["resourceGroupName"],
            "remoteVirtualNetwork": {"id": props(remote)["id"]},
            "allowVirtualNetworkAccess": True,
            "allowForwardedTraffic": True,
            "allowGatewayTransit": transit,
            "useRemoteGateways": not transit,
        }
        urn = local.urn.rsplit("::", 2)[0] + f"::azure-native:network:VirtualNetworkPeering::{a}-to-{b}"
        deps = {"virtualNetworkName": [local.urn], "remoteVirtualNetwork": [remote.urn]}
        out.append(make_resource(urn, value, property_dependencies=deps))
    return out


def stack_reference_with_prod(resources: Resources, prod_outputs: dict[str, Any]) -> Resources:
    urn = "urn:pulumi:dr::expressroute-dr::pulumi:pulumi:StackReference::prod-ref"
    value = {"name": "organization/expressroute-dr/prod", "outputs": prod_outputs}
    return [*resources, make_resource(urn, value)]


def with_hub_on_primary(resources: Resources, primary: str) -> Resources:
    """A second connection from the dr hub to the primary circuit (prod's), same addresses."""
    base = next(r for r in resources if r.type.endswith("VirtualNetworkGatewayConnection"))
    value = props(base)
    value["peer"] = {"id": primary}
    value["virtualNetworkGatewayConnectionName"] += "-primary"
    deps = {k: list(v.urns) for k, v in base.propertyDependencies.items()}
    return [*resources, make_resource(base.urn + "-primary", value, property_dependencies=deps)]


Variant = Callable[[Resources, dict[str, Any]], Resources]
VARIANTS: dict[str, tuple[Variant, str, dict[str, Any]]] = {
    "overlapping-spokes": (
        lambda rs, _: edit(
            edit(rs, "vnet2-vnet", lambda p: p.update(addressSpace={"addressPrefixes": ["10.1.0.0/24"]})),
            "vnet2-workload",
            lambda p: p.update(addressPrefix="10.1.0.0/24"),
        ),
        "vnet-address-space-overlap",
        {},
    ),
    "subnet-outside-vnet": (
        lambda rs, _: edit(rs, "vnet1-workload", lambda p: p.update(addressPrefix="10.99.0.0/24")),
        "subnet-address-overlap",
        {},
    ),
    "gateway-subnet-too-small": (
        lambda rs, _: edit(rs, "hub-GatewaySubnet", lambda p: p.update(addressPrefix="10.10.10.128/28")),
        "gateway-subnet",
        {},
    ),
    "gateway-subnet-default-route": (
        lambda rs, _: edit(rs, "hub-gateway-routes", add_route),
        "gateway-subnet",
        {},
    ),
    "udr-next-hop-outside-appliance-subnet": (
        lambda rs, _: edit(rs, "vnet1-routes", hop_into_spoke),
        "udr-next-hop-in-appliance-subnet",
        {},
    ),
    "gateway-subnet-bgp-off": (
        lambda rs, _: edit(rs, "hub-gateway-routes", lambda p: p.update(disableBgpRoutePropagation=True)),
        "gateway-subnet",
        {},
    ),
    "missing-hub-to-spoke-peering": (lambda rs, _: drop(rs, "hub-to-vnet1"), "hub-spoke-peering", {}),
    "hub-without-gateway-transit": (
        lambda rs, _: edit(rs, "hub-to-vnet2", lambda p: p.update(allowGatewayTransit=False)),
        "hub-spoke-peering",
        {},
    ),
    "standard-circuit-far-away": (
        lambda rs, _: move_gateway_vnet(rs, "westeurope"),
        "expressroute-premium-outside-geopolitical-region",
        {},
    ),
    "two-circuits-one-location-one-vnet": (
        lambda rs, ctx: with_hub_on_primary(rs, ctx["primary"]),
        "circuits-same-peering-location",
        {"same-location": True, "different-addresses": True},
    ),
    "spoke-without-storage-endpoint": (
        lambda rs, _: edit(rs, "vnet2-workload", lambda p: p.pop("serviceEndpoints")),
        "storage-endpoint-behind-nva-default-route",
        {},
    ),
    "drill-peered-to-hub": (lambda rs, _: drill_peering(rs), "drill-network-isolated", {}),
    "gateway-not-zone-redundant": (
        lambda rs, _: edit(rs, "hub-gateway", lambda p: p.update(sku={"name": "Standard", "tier": "Standard"})),
        "expressroute-gateway-zone-redundant",
        {},
    ),
    "plain-text-authorization-key": (
        lambda rs, _: edit(rs, "hub-secondary-connection", lambda p: p.update(authorizationKey="plain")),
        "circuit-authorization-key-secret",
        {},
    ),
    "five-circuits-on-one-gateway": (
        lambda rs, _: extra_connections(rs, 4),
        "expressroute-link-limits",
        {},
    ),
    "target-on-prods-circuit-same-ips-stack-reference": (
        lambda rs, ctx: stack_reference_with_prod(with_hub_on_primary(rs, ctx["primary"]), ctx["prod"]),
        "vnet-address-space-overlap",
        {},
    ),
    "target-on-prods-circuit-same-ips-pack-config": (
        lambda rs, ctx: with_hub_on_primary(rs, ctx["primary"]),
        "vnet-address-space-overlap",
        {"external": True},
    ),
}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_broken_variant_is_caught_by_its_rule(pack: PolicyPackClient, variant: str, preview: bool) -> None:
    make, rule, flags = VARIANTS[variant]
    settings, result, peers = simulated(None, "dr", "standby", preview)
    _, prod, _ = simulated(None, "prod", "standby", False)
    circuits = circuits_config(settings)
    primary = next(c["id"] for c in circuits if c["name"] == "primary")
    extra: dict[str, Any] = {}
    if flags.get("same-location"):
        moved = [{**c, "peeringLocation": "Singapore"} for c in circuits]
        extra = {"circuits-same-peering-location": {"circuits": moved}}
    if flags.get("external"):
        external = {"name": "prod", "circuitIds": prod.outputs["circuitConnections"]}
        external["addressPrefixes"] = [p for ps in prod.outputs["vnetPrefixes"].values() for p in ps]
        extra = {"vnet-address-space-overlap": {"externalNetworks": [external]}}
    configure_for(pack, settings, extra)
    baseline = analyzer_resources(result, peers)
    custom = [r.urn for r in result.resources if r.custom]
    assert check(pack, baseline, custom) == []
    broken = make(baseline, {"primary": primary, "prod": prod.outputs})
    found = check(pack, broken, [*custom, *(r.urn for r in broken if r.urn.endswith(("-extra0", "-primary")))])
    assert {d.policy for d in found} == {rule}, "\n".join(f"{d.policy}: {d.message}" for d in found)
    level = pack.default_levels()[rule]
    assert all(d.level == level for d in found)
    assert not any("can't run policy" in d.message for d in found)


# --- unknowns over the wire --------------------------------------------------------------------------


def test_unknown_that_blocks_a_decision_is_reported_at_the_rules_level(pack: PolicyPackClient) -> None:
    settings, result, peers = simulated(None, "dr", "standby", True)
    resources = analyzer_resources(result, peers)
    peering = next(r for r in resources if r.urn.endswith("::vnet1-to-hub"))
    assert props(peering)["remoteVirtualNetwork"]["id"] == UNKNOWN
    del peering.propertyDependencies["remoteVirtualNetwork"]
    configure_for(pack, settings)
    found: list[Diagnostic] = pack.analyze_stack(resources)
    policies = {d.policy for d in found}
    assert policies == {"vnet-address-space-overlap", "hub-spoke-peering", "drill-network-isolated"}
    assert all(d.level == "mandatory" and d.message.count("Cannot check") == 1 for d in found)
    assert not any("can't run policy" in d.message for d in found)
    configure_for(pack, settings, {name: {"onUnknown": "ignore"} for name in policies})
    assert pack.analyze_stack(resources) == []


def test_per_policy_enforcement_levels(pack: PolicyPackClient) -> None:
    broken = synthetic_estate(4, overlaps=[2])
    pack.configure({"vnet-address-space-overlap": "advisory"})
    assert [d.level for d in pack.analyze_stack(broken)] == ["advisory"]
    pack.configure({"vnet-address-space-overlap": "disabled"})
    assert pack.analyze_stack(broken) == []
    pack.configure()


# --- scale -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_two_thousand_spokes_on_one_hub(pack: PolicyPackClient, preview: bool) -> None:
    """6,004 resources: every overlapping spoke is flagged once, nothing else is (not timed here;
    `make bench` times it)."""
    pack.configure()
    bad = [7, 1024, 1999]
    found = pack.analyze_stack(synthetic_estate(2000, overlaps=bad, preview=preview))
    assert sorted(d.urn.rsplit("::", 1)[-1] for d in found) == sorted(f"spoke{i}" for i in bad)
    assert all("VNet 'hub' prefix 10.0.0.0/24 contains VNet 'spoke" in d.message for d in found)
    assert {d.policy for d in found} == {"vnet-address-space-overlap"}
    assert pack.analyze_stack(synthetic_estate(2000, preview=preview)) == []
