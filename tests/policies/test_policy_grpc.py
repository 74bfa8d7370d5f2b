"""The pack over its real analyzer gRPC interface, started as the CLI starts it, fed with what the
engine would send for every example stack: Analyze gets each resource's inputs, AnalyzeStack the
whole deployment with each resource's outputs (erdr.engine_view), in a first preview (IDs, names
and unset properties unknown), after `pulumi up`, and in the preview of a phase change on a
deployed stack. Broken variants are edits to the registered inputs, from which the engine view
derives both shapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from erdr import engine_view
from erdr.bench.policy import synthetic_estate
from erdr.engine_view import UNKNOWN
from erdr.policy_client import (
    Diagnostic,
    PolicyPackClient,
    analyzer_resources,
    appliance_subnets,
    check_simulation,
    circuits_config,
    stack_env,
)
from erdr.simulate import Registration, SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack
from policies.pack import RULES
from policies.shared import names as T

EXAMPLES = sorted(p for p in (PROJECT_DIR / "examples").glob("*/") if (p / "Pulumi.prod.yaml").exists())
PEER = {"prod": "organization/expressroute-dr/dr", "dr": "organization/expressroute-dr/prod"}
CIRCUIT_RULES = (
    "vnet-address-space-overlap",
    "expressroute-premium-outside-geopolitical-region",
    "circuits-same-peering-location",
    "expressroute-link-limits",
)
NOTE = "Not decided in this preview"
# What a first preview cannot know (names of resources being created) and says so: the exact
# spelling of the subnet a gateway sits in, whether VNets named later match the drill pattern, and
# (without the stack config that names them by prefix) whether a subnet is an Azure service subnet.
PREVIEW_NOTES = {"gateway-subnet", "drill-network-isolated", "azure-service-subnets"}


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


def is_note(d: Diagnostic) -> bool:
    return d.level == "advisory" and NOTE in d.message


def violations(found: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in found if not is_note(d)]


def show(found: list[Diagnostic]) -> str:
    return "\n".join(f"[{d.level}] {d.policy}: {d.message}" for d in found)


_SIMS: dict[str, SimResult] = {}


def _settings(example: Path | None, stack: str, phase: str) -> StackSettings:
    path = example / f"Pulumi.{stack}.yaml" if example else None
    return load_stack(stack, stack_file=path, overrides={"phase": phase})


def _sim(
    example: Path | None, stack: str, phase: str, preview: bool, peers: dict[str, Any], deployed: bool = False
) -> SimResult:
    key = json.dumps([str(example), stack, phase, preview, peers, deployed], sort_keys=True)
    if key not in _SIMS:
        prior = _sim(example, stack, "standby", False, peers) if deployed else None
        _SIMS[key] = simulate(_settings(example, stack, phase), preview=preview, peer_outputs=peers, prior=prior)
        assert _SIMS[key].error is None, _SIMS[key].error
    return _SIMS[key]


def simulated(example: Path | None, stack: str, phase: str, mode: str) -> tuple[StackSettings, SimResult]:
    """One stack of a pair, ``mode`` "preview" (a first preview), "up" (after `pulumi up`) or
    "change" (the preview of moving the deployed standby stack to ``phase``); when it reads the
    other stack (StackReference), with that stack's real outputs behind it."""
    other = "dr" if stack == "prod" else "prod"
    preview, deployed = mode != "up", mode == "change"
    empty = {PEER[stack]: {"circuitConnections": []}}
    result = _sim(example, stack, phase, preview, empty, deployed)
    if result.of_type(T.STACK_REFERENCE):
        peer = _sim(example, other, phase, False, {PEER[other]: {"circuitConnections": []}})
        result = _sim(example, stack, phase, preview, {PEER[stack]: peer.outputs}, deployed)
    return _settings(example, stack, phase), result


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
    assert levels["circuits-same-peering-location"] == "mandatory"
    assert levels["expressroute-gateway-zone-redundant"] == "advisory"
    assert levels["vnet-address-space-overlap"] == "mandatory"


# --- every example stack passes, in every shape the engine sends -----------------------------------

MODES = ("preview", "up")
CASES = [(None, s, "standby", m) for s in ("prod", "dr") for m in MODES]
CASES += [(e, s, "standby", m) for e in EXAMPLES for s in ("prod", "dr") for m in MODES]
# The failover phase: where it changes which stack holds a circuit (single circuit) as a stack of
# its own, and for every topology as the preview of the change on the deployed stacks.
CASES += [(e, s, "failover", m) for e in EXAMPLES if "single-circuit" in e.name for s in ("prod", "dr") for m in MODES]
CASES += [(e, s, "failover", "change") for e in EXAMPLES for s in ("prod", "dr")]


@pytest.mark.parametrize(
    ("example", "stack", "phase", "mode"),
    CASES,
    ids=[f"{e.name if e else 'default'}-{s}-{ph}-{m}" for e, s, ph, m in CASES],
)
def test_example_stacks_pass_every_rule(
    pack: PolicyPackClient, example: Path | None, stack: str, phase: str, mode: str
) -> None:
    settings, result = simulated(example, stack, phase, mode)
    configure_for(pack, settings)
    found = check_simulation(pack, result)
    assert violations(found) == [], show(found)
    if mode == "up":
        assert found == [], show(found)  # every value known: everything decided
    else:
        assert {d.policy for d in found} <= PREVIEW_NOTES, show(found)
        assert len(found) == len({d.policy for d in found})  # one note per policy


def test_examples_exist_and_are_covered() -> None:
    assert len(EXAMPLES) >= 6
    assert {e for e, *_ in CASES if e} == set(EXAMPLES)
    assert {m for *_, m in CASES} == {"preview", "up", "change"}


def test_analyze_sees_inputs_and_analyze_stack_sees_outputs() -> None:
    """What each call carries, in a first preview: inputs name things by path parameters; outputs
    have no path parameters and unknown IDs and names, the links kept as property dependencies."""
    _, result = simulated(None, "dr", "standby", "preview")
    stack = {r.urn.rsplit("::", 1)[-1]: r for r in analyzer_resources(result)}
    subnet = json_format.MessageToDict(stack["hub-GatewaySubnet"].properties)
    assert "virtualNetworkName" not in subnet and "subnetName" not in subnet
    assert subnet["name"] == UNKNOWN and subnet["id"] == UNKNOWN and subnet["addressPrefix"] == "10.10.10.128/25"
    assert list(stack["hub-GatewaySubnet"].propertyDependencies["virtualNetworkName"].urns) == [
        result.by_name("hub-vnet").urn
    ]
    fed_by = [u.rsplit("::", 1)[-1] for u in stack["hub-gateway"].propertyDependencies["ipConfigurations"].urns]
    assert "hub-GatewaySubnet" in fed_by  # beside the gateway's public IP, when one is created
    types = {r.type for r in stack.values()}
    assert {engine_view.STACK_TYPE, engine_view.PROVIDER_TYPE, "expressroute-dr:network:Hub"} <= types
    analyzed = result.by_name("hub-GatewaySubnet")
    assert analyzed.inputs["subnetName"] == "GatewaySubnet" and "id" not in analyzed.inputs


def test_stack_config_reaches_the_pack_as_the_cli_passes_it() -> None:
    """The CLI gives the pack the stack config in PULUMI_CONFIG; circuit facts come from there."""
    settings, result = simulated(None, "dr", "standby", "up")
    far = move_gateway_vnet(result, "westeurope")
    with PolicyPackClient(env=stack_env(settings, preview=False)) as client:
        client.configure()
        found = client.analyze_stack(analyzer_resources(far))
    assert {d.policy for d in found} == {"expressroute-premium-outside-geopolitical-region"}


# --- broken variants, each caught by its rule, in preview as after up --------------------------------


def changed(result: SimResult) -> SimResult:
    return copy.deepcopy(result)


def refresh(result: SimResult, reg: Registration) -> None:
    """The outputs the engine would hold for ``reg``'s (edited) inputs."""
    reg.outputs = engine_view.outputs_for(reg.type, reg.inputs, preview=result.preview, resource_id=reg.id)


def edit(result: SimResult, name: str, change: Callable[[dict[str, Any]], None]) -> SimResult:
    out = changed(result)
    reg = out.by_name(name)
    change(reg.inputs)
    refresh(out, reg)
    return out


def drop(result: SimResult, name: str) -> SimResult:
    out = changed(result)
    out.resources = [r for r in out.resources if r.name != name]
    return out


def ref(result: SimResult, name: str) -> dict[str, Any]:
    """A reference to resource ``name`` as the program would write it: unknown in a preview."""
    reg = result.by_name(name)
    return {"id": reg.id if reg.id else UNKNOWN}


def azure_name(result: SimResult, name: str) -> Any:
    """``name``'s Azure name as a dependent resource's input: its output, unknown in a preview."""
    return result.by_name(name).outputs["name"]


def add(result: SimResult, type_: str, name: str, inputs: dict[str, Any], deps: dict[str, list[str]]) -> Registration:
    urn = f"urn:pulumi:{result.stack}::{result.project}::{type_}::{name}"
    rid = "" if result.preview else engine_view.arm_id(type_, inputs) or ""
    reg = Registration(
        urn=urn,
        type=type_,
        name=name,
        custom=True,
        parent=result.stack_urn,
        dependencies=sorted({u for urns in deps.values() for u in urns}),
        property_dependencies=deps,
        inputs=inputs,
        protect=False,
        delete_before_replace=False,
        import_id="",
        custom_timeouts={},
        ignore_changes=[],
        id=rid,
    )
    refresh(result, reg)
    result.resources.append(reg)
    return reg


def move_gateway_vnet(result: SimResult, location: str) -> SimResult:
    out = edit(result, "hub-vnet", lambda p: p.update(location=location))
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


def connection_to(result: SimResult, circuit: str, suffix: str) -> SimResult:
    """Another connection from the hub's gateway to ``circuit``, as the program writes one."""
    out = changed(result)
    base = out.by_name("hub-secondary-connection")
    inputs = {k: v for k, v in base.inputs.items() if k not in ("authorizationKey", "routingWeight")}
    inputs["peer"] = {"id": circuit}
    inputs["virtualNetworkGatewayConnectionName"] += f"-{suffix}"
    deps = {"virtualNetworkGateway1": [out.by_name("hub-gateway").urn]}
    add(out, T.CONNECTION, f"hub-{suffix}-connection", inputs, deps)
    return out


def extra_connections(result: SimResult, count: int) -> SimResult:
    out = result
    for i in range(count):
        out = connection_to(
            out, result.by_name("hub-secondary-connection").inputs["peer"]["id"] + f"-extra{i}", f"extra{i}"
        )
    return out


def peered_both_ways(result: SimResult, local: str, remote: str, *, local_is_hub: bool) -> SimResult:
    """Both peerings between two VNets of the stack, with the article's hub/spoke settings."""
    out = changed(result)
    for a, b, transit in ((local, remote, local_is_hub), (remote, local, not local_is_hub)):
        va, vb = out.by_name(f"{a}-vnet"), out.by_name(f"{b}-vnet")
        inputs = {
            "virtualNetworkPeeringName": f"{a}-to-{b}-extra",
            "virtualNetworkName": azure_name(out, f"{a}-vnet"),
            "resourceGroupName": va.inputs["resourceGroupName"],
            "remoteVirtualNetwork": ref(out, f"{b}-vnet"),
            "allowVirtualNetworkAccess": True,
            "allowForwardedTraffic": True,
            "allowGatewayTransit": transit,
            "useRemoteGateways": not transit,
        }
        deps = {"virtualNetworkName": [va.urn], "remoteVirtualNetwork": [vb.urn]}
        add(out, T.PEERING, f"{a}-to-{b}-extra", inputs, deps)
    return out


def overlapping_spoke(result: SimResult) -> SimResult:
    """A new spoke with vnet1's prefix, peered with the hub like the others."""
    out = changed(result)
    hub = out.by_name("hub-vnet")
    inputs = {**hub.inputs, "virtualNetworkName": "vnet9", "addressSpace": {"addressPrefixes": ["10.1.0.0/24"]}}
    add(out, T.VNET, "vnet9-vnet", inputs, {k: v for k, v in hub.property_dependencies.items() if v})
    return peered_both_ways(out, "hub", "vnet9", local_is_hub=True)


def stack_reference_with_prod(result: SimResult, prod_outputs: dict[str, Any]) -> SimResult:
    out = changed(result)
    name = "organization/expressroute-dr/prod"
    reg = add(out, T.STACK_REFERENCE, "prod-ref", {"name": name}, {})
    reg.read, reg.outputs = True, engine_view.stack_reference_outputs(name, prod_outputs)
    return out


Variant = Callable[[SimResult, dict[str, Any]], SimResult]
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
    "peering-into-an-overlapping-vnet": (lambda rs, _: overlapping_spoke(rs), "vnet-address-space-overlap", {}),
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
    "gateway-subnet-with-nsg": (
        lambda rs, _: edit(rs, "hub-GatewaySubnet", lambda p: p.update(networkSecurityGroup={"id": "/x/nsg"})),
        "gateway-subnet",
        {},
    ),
    "gateway-subnet-default-route": (
        lambda rs, _: edit(rs, "hub-gateway-routes", add_route),
        "gateway-subnet",
        {},
    ),
    # In a first preview subnet names are unknown: the rule tells the spoke's subnet from the NVA's
    # by the stack config the CLI hands the pack (PULUMI_CONFIG), as it does in real runs.
    "udr-next-hop-outside-appliance-subnet": (
        lambda rs, _: edit(rs, "vnet1-routes", hop_into_spoke),
        "udr-next-hop-in-appliance-subnet",
        {"stack-config": True},
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
    # Both circuits of one location on the hub pass (up to four do, the ExpressRoute FAQ); a fifth
    # is refused. An ErGw3AZ gateway takes the five connections (16), so only the location limit trips.
    "five-circuits-one-location-one-vnet": (
        lambda rs, ctx: edit(
            extra_connections(connection_to(rs, ctx["primary"], "primary"), 3),
            "hub-gateway",
            lambda p: p.update(sku={"name": "ErGw3AZ", "tier": "ErGw3AZ"}),
        ),
        "circuits-same-peering-location",
        {"same-location": True},
    ),
    "spoke-without-storage-endpoint": (
        lambda rs, _: edit(rs, "vnet2-workload", lambda p: p.pop("serviceEndpoints")),
        "storage-endpoint-behind-nva-default-route",
        {},
    ),
    "drill-peered-to-hub": (
        lambda rs, _: peered_both_ways(rs, "hub", "drill-hub", local_is_hub=True),
        "drill-network-isolated",
        {},
    ),
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
    "five-circuits-on-one-gateway": (lambda rs, _: extra_connections(rs, 4), "expressroute-link-limits", {}),
    "target-on-prods-circuit-same-ips-stack-reference": (
        lambda rs, ctx: stack_reference_with_prod(connection_to(rs, ctx["primary"], "primary"), ctx["prod"]),
        "vnet-address-space-overlap",
        {},
    ),
    "target-on-prods-circuit-same-ips-pack-config": (
        lambda rs, ctx: connection_to(rs, ctx["primary"], "primary"),
        "vnet-address-space-overlap",
        {"external": True},
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_broken_variant_is_caught_by_its_rule(pack: PolicyPackClient, variant: str, mode: str) -> None:
    make, rule, flags = VARIANTS[variant]
    settings, result = simulated(None, "dr", "standby", mode)
    _, prod = simulated(None, "prod", "standby", "up")
    circuits = circuits_config(settings)
    primary = next(c["id"] for c in circuits if c["name"] == "primary")
    extra: dict[str, Any] = {}
    if flags.get("same-location"):
        moved = [{**c, "peeringLocation": "Singapore"} for c in circuits]
        secondary = next(c for c in moved if c["name"] == "secondary")
        moved += [{**secondary, "name": f"extra{i}", "id": secondary["id"] + f"-extra{i}"} for i in range(3)]
        extra = {"circuits-same-peering-location": {"circuits": moved}}
    if flags.get("external"):
        external = {"name": "prod", "circuitIds": prod.outputs["circuitConnections"]}
        external["addressPrefixes"] = [p for ps in prod.outputs["vnetPrefixes"].values() for p in ps]
        extra = {"vnet-address-space-overlap": {"externalNetworks": [external]}}
    broken = make(result, {"primary": primary, "prod": prod.outputs})
    if flags.get("stack-config"):
        with PolicyPackClient(env=stack_env(settings, preview=mode == "preview")) as own:
            configure_for(own, settings, extra)
            assert violations(check_simulation(own, result)) == []
            found = violations(check_simulation(own, broken))
            level = own.default_levels()[rule]
        assert {d.policy for d in found} == {rule}, show(found)
        assert all(d.level == level for d in found)
        return
    configure_for(pack, settings, extra)
    assert violations(check_simulation(pack, result)) == []
    found = violations(check_simulation(pack, broken))
    assert {d.policy for d in found} == {rule}, show(found)
    level = pack.default_levels()[rule]
    assert all(d.level == level for d in found)
    assert not any("can't run policy" in d.message for d in found)


# --- unknowns over the wire --------------------------------------------------------------------------


def test_unknown_that_blocks_a_decision_is_advised_then_reported_as_configured(pack: PolicyPackClient) -> None:
    settings, result = simulated(None, "dr", "standby", "preview")
    resources = analyzer_resources(result)
    peering = next(r for r in resources if r.urn.endswith("::vnet1-to-hub"))
    assert json_format.MessageToDict(peering.properties)["remoteVirtualNetwork"]["id"] == UNKNOWN
    del peering.propertyDependencies["remoteVirtualNetwork"]
    configure_for(pack, settings)
    found: list[Diagnostic] = pack.analyze_stack(resources)
    blocked = {"vnet-address-space-overlap", "hub-spoke-peering", "drill-network-isolated"}
    assert all(is_note(d) for d in found), show(found)
    assert blocked <= {d.policy for d in found if "waits for remoteVirtualNetwork.id" in d.message}
    assert not any("can't run policy" in d.message for d in found)
    configure_for(pack, settings, {name: {"onUnknown": "report"} for name in blocked})
    reported = [d for d in pack.analyze_stack(resources) if "remoteVirtualNetwork.id is not known" in d.message]
    assert {d.policy for d in reported} == blocked and all(d.level == "mandatory" for d in reported)
    configure_for(pack, settings, {name: {"onUnknown": "ignore"} for name in blocked})
    assert {d.policy for d in pack.analyze_stack(resources)} <= PREVIEW_NOTES - blocked


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
    everything = pack.analyze_stack(synthetic_estate(2000, overlaps=bad, preview=preview))
    found = violations(everything)
    # Its subnets carry no route table or NSG: nothing for azure-service-subnets to wait for.
    expected = PREVIEW_NOTES - {"azure-service-subnets"}
    assert {d.policy for d in everything if is_note(d)} == (expected if preview else set())
    assert sorted(d.urn.rsplit("::", 1)[-1] for d in found) == sorted(f"spoke{i}" for i in bad)
    assert all("VNet 'hub' prefix 10.0.0.0/24 contains VNet 'spoke" in d.message for d in found)
    assert {d.policy for d in found} == {"vnet-address-space-overlap"}
    assert violations(pack.analyze_stack(synthetic_estate(2000, preview=preview))) == []


# --- estates written in the inline-subnet style ------------------------------------------------------


def _stack_of(estate: Any) -> list[Any]:
    """What AnalyzeStack receives for a tests/policies/estates.py estate: each resource's outputs
    and the property dependencies the engine sends (only non-empty ones)."""
    from erdr.policy_client import make_resource

    return [
        make_resource(i.urn, estate.outputs(i), property_dependencies={k: v for k, v in i.deps.items() if v})
        for i in estate.items.values()
    ]


def _undecided(found: list[Diagnostic]) -> set[str]:
    """Policies that left to `pulumi up` where a gateway sits (what no preview can know, whether
    VNets being created get names matching the drill pattern, is a note of its own: PREVIEW_NOTES)."""
    return {d.policy for d in found if is_note(d) and "gateway's VNet" in d.message}


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_inline_subnet_estates_are_decided_through_the_vnet_dependency(pack: PolicyPackClient, preview: bool) -> None:
    """A VNet declaring its subnets inline and a gateway whose ipConfigurations depend on that VNet
    (a common style): in a first preview the pack follows the dependency to the VNet's inline
    GatewaySubnet, so the overlap and drill checks decide instead of leaving it to `pulumi up`."""
    from tests.policies.estates import ER_HK, HK, inline_subnet_estate

    pack.configure({"vnet-address-space-overlap": {"circuits": [HK]}})
    estate, _ = inline_subnet_estate(preview)
    found = pack.analyze_stack(_stack_of(estate))
    assert violations(found) == [], show(found)
    assert not _undecided(found), show(found)
    assert not {d.policy for d in found if is_note(d)} & {"vnet-address-space-overlap", "gateway-subnet"}

    # Another hub with the hub's prefix on the same circuit: an overlap in the circuit's routing domain.
    twin = estate.vnet("twin", ["10.10.10.0/24"], subnets=[("GatewaySubnet", "10.10.10.0/27")])
    estate.gateway_on_inline_subnet(twin)
    estate.connect(twin, ER_HK)
    # A drill VNet connected to the circuit: no longer isolated.
    drill = estate.vnet(
        "drill", ["172.16.0.0/24"], tags={"purpose": "drill"}, subnets=[("GatewaySubnet", "172.16.0.0/27")]
    )
    estate.gateway_on_inline_subnet(drill)
    estate.connect(drill, ER_HK)
    found = pack.analyze_stack(_stack_of(estate))
    by_policy = {d.policy for d in violations(found)}
    assert {"vnet-address-space-overlap", "drill-network-isolated"} <= by_policy, show(found)
    assert all(d.level == "mandatory" for d in violations(found) if d.policy in by_policy)
    assert not _undecided(found), show(found)

    if preview:
        # Control: without the dependency on the VNet the first preview cannot tell where the
        # gateways sit, and says so instead of deciding.
        for item in estate.items.values():
            item.deps.pop("ipConfigurations", None)
        found = pack.analyze_stack(_stack_of(estate))
        assert {"vnet-address-space-overlap", "drill-network-isolated"} <= _undecided(found), show(found)
    pack.configure()
