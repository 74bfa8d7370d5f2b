"""The symmetric-stateful-paths rule over the pack's real gRPC interface (Analyze and
AnalyzeStack, as tests/policies/test_policy_grpc.py drives them), on a dr stack whose hub carries
a workload subnet (a DNS resolver's inbound endpoint) beside Azure's service subnets: the fixed
estate passes in a first preview and after `pulumi up`; each broken variant fails with this rule
alone, naming the subnet."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from erdr import engine_view
from erdr.policy_client import (
    Diagnostic,
    PolicyPackClient,
    appliance_subnets,
    check_simulation,
    circuits_config,
    stack_env,
)
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import StackSettings, load_stack
from tests.helpers import NO_PEER_CONNECTIONS
from tests.program.test_service_subnets import HUB_EXTRAS

RULE = "symmetric-stateful-paths"
NOTE = "Not decided in this preview"
DNS = "10.10.12.0/28"


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackClient]:
    with PolicyPackClient() as client:
        yield client


_RUNS: dict[tuple[str, bool], tuple[StackSettings, SimResult]] = {}


def stack(name: str, preview: bool) -> tuple[StackSettings, SimResult]:
    if (name, preview) not in _RUNS:
        settings = load_stack(name, overrides=dict(HUB_EXTRAS))
        result = simulate(settings, preview=preview, peer_outputs=NO_PEER_CONNECTIONS)
        assert result.error is None, result.error
        _RUNS[(name, preview)] = (settings, result)
    return _RUNS[(name, preview)]


def configure(pack: PolicyPackClient, settings: StackSettings, on_prem: list[str] | None = None) -> None:
    circuits = circuits_config(settings)
    if on_prem is not None:
        circuits = [{**c, "onPremPrefixes": on_prem} for c in circuits]
    pack.configure(
        {
            RULE: {"circuits": circuits},
            "udr-next-hop-in-appliance-subnet": {"applianceSubnets": appliance_subnets(settings)},
        }
    )


def edit(result: SimResult, name: str, change: Callable[[dict[str, Any]], None]) -> SimResult:
    out = copy.deepcopy(result)
    reg = out.by_name(name)
    change(reg.inputs)
    # An input the program no longer sets is fed by no resource either.
    reg.property_dependencies = {k: v for k, v in reg.property_dependencies.items() if k in reg.inputs}
    reg.outputs = engine_view.outputs_for(reg.type, reg.inputs, preview=out.preview, resource_id=reg.id)
    return out


def findings(found: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in found if not (d.level == "advisory" and NOTE in d.message)]


def without_dns_route(p: dict[str, Any]) -> None:
    """The GatewaySubnet's table as it was before issue #21: spoke prefixes only."""
    p["routes"] = [r for r in p["routes"] if r["addressPrefix"] != DNS]


def spoke_to_dns_through_nva(p: dict[str, Any]) -> None:
    """The spoke sends the hub's DNS subnet through the NVA; the DNS subnet replies over the peering."""
    p["routes"].append(
        {"name": "to-dns", "addressPrefix": DNS, "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.10.10.10"}
    )


BROKEN: dict[str, tuple[str, Callable[[dict[str, Any]], None], str]] = {
    # On-premises -> hub DNS subnet arrives directly; its reply leaves through the NVA.
    "gateway-misses-hub-workload": ("hub-gateway-routes", without_dns_route, "hub-snet-dns-in"),
    # On-premises -> spoke goes through the NVA; the spoke, without its table, replies directly.
    "spoke-without-route-table": ("vnet1-workload", lambda p: p.pop("routeTable"), "vnet1-workload"),
    # subnet <-> subnet: one way through the NVA, the other over the peering.
    "spoke-to-hub-subnet-one-way": ("vnet1-routes", spoke_to_dns_through_nva, "vnet1-workload"),
}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("name", ["prod", "dr"])
def test_symmetric_estate_passes(pack: PolicyPackClient, name: str, preview: bool) -> None:
    settings, result = stack(name, preview)
    configure(pack, settings)
    found = check_simulation(pack, result)
    assert findings(found) == [], [d.message for d in found]
    if not preview:
        assert found == []


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("variant", list(BROKEN))
def test_asymmetric_variant_fails(pack: PolicyPackClient, variant: str, preview: bool) -> None:
    settings, result = stack("dr", preview)
    resource, change, subnet = BROKEN[variant]
    configure(pack, settings)
    found = findings(check_simulation(pack, edit(result, resource, change)))
    assert {d.policy for d in found} == {RULE}, [d.message for d in found]
    assert all(d.level == "mandatory" and "Asymmetric path" in d.message for d in found)
    assert any(d.urn.endswith(f"::{subnet}") for d in found), [d.urn for d in found]


def test_known_on_premises_prefixes_are_routed_as_advertised(pack: PolicyPackClient) -> None:
    """With on-premises prefixes known, a spoke route to one of them straight to the gateway's BGP
    route (a more specific UDR through the NVA is missing) is still caught; the fixed estate passes."""
    settings, result = stack("dr", False)
    configure(pack, settings, on_prem=["192.168.0.0/16"])
    assert findings(check_simulation(pack, result)) == []
    # The spoke's table lets BGP routes in: 192.168.0.0/16 (learned) beats its 0.0.0.0/0 -> NVA.
    broken = edit(result, "vnet1-routes", lambda p: p.update(disableBgpRoutePropagation=False))
    found = findings(check_simulation(pack, broken))
    assert {d.policy for d in found} == {RULE}
    assert any("192.168.0.0/16" in d.message and d.urn.endswith("::vnet1-workload") for d in found)


def test_unknown_route_table_in_preview_is_advised_not_failed(pack: PolicyPackClient) -> None:
    """A subnet whose route table is an unknown no resource feeds: undecided, one advisory note."""
    settings, result = stack("dr", True)
    broken = copy.deepcopy(result)
    reg = broken.by_name("vnet1-workload")
    reg.inputs["routeTable"] = {"id": engine_view.UNKNOWN}
    reg.property_dependencies.pop("routeTable", None)
    reg.outputs = engine_view.outputs_for(reg.type, reg.inputs, preview=True, resource_id=reg.id)
    configure(pack, settings)
    found = [d for d in check_simulation(pack, broken) if d.policy == RULE]
    assert [d.level for d in found] == ["advisory"] and NOTE in found[0].message


@pytest.mark.parametrize("name", ["prod", "dr"])
def test_private_endpoint_subnet_without_a_table_is_symmetric(pack: PolicyPackClient, name: str) -> None:
    """A spoke subnet with routeTable 'none' is sent straight to its VNet by the GatewaySubnet's
    table (VnetLocal), so neither direction crosses the NVA; without that route it fails."""
    from tests.program.test_subnet_properties import SPOKE

    settings = load_stack(name, overrides=dict(SPOKE))
    result = simulate(settings, preview=False, peer_outputs=NO_PEER_CONNECTIONS)
    assert result.error is None, result.error
    configure(pack, settings)
    assert findings(check_simulation(pack, result)) == []
    bypass_dropped = edit(
        result,
        "hub-gateway-routes",
        lambda p: p.update(routes=[r for r in p["routes"] if r["nextHopType"] != "VnetLocal"]),
    )
    found = findings(check_simulation(pack, bypass_dropped))
    assert {d.policy for d in found} == {RULE} and any(d.urn.endswith("::vnet1-pe") for d in found)


# --- azure-service-subnets, on the same estate -----------------------------------------------------

SERVICE_RULE = "azure-service-subnets"


def with_workload_table(result: SimResult, subnet: str) -> SimResult:
    """``subnet`` given the hub's 0.0.0.0/0 -> NVA table, as the program did before issue #21."""
    out = copy.deepcopy(result)
    reg, table = out.by_name(subnet), out.by_name("hub-workload-routes")
    reg.inputs["routeTable"] = {"id": table.id or engine_view.UNKNOWN}
    reg.property_dependencies["routeTable"] = [table.urn]
    reg.outputs = engine_view.outputs_for(reg.type, reg.inputs, preview=out.preview, resource_id=reg.id)
    return out


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_service_subnets_with_the_nva_table_fail(preview: bool) -> None:
    """With the stack config the CLI passes, names unknown in a first preview come from the layout."""
    settings, result = stack("dr", preview)
    with PolicyPackClient(env=stack_env(settings, preview=preview)) as own:
        configure(own, settings)
        assert [d for d in check_simulation(own, result) if d.policy == SERVICE_RULE] == []
        bastion = [d for d in check_simulation(own, with_workload_table(result, "hub-AzureBastionSubnet"))]
        bgp_on = edit(
            result, "hub-AzureFirewallManagementSubnet-routes", lambda p: p.update(disableBgpRoutePropagation=False)
        )
        management = list(check_simulation(own, bgp_on))
    found = [d for d in bastion if d.policy == SERVICE_RULE]
    assert [d.level for d in found] == ["mandatory"] and "AzureBastionSubnet" in found[0].message
    found = [d for d in management if d.policy == SERVICE_RULE]
    assert [d.level for d in found] == ["mandatory"] and "propagation must be disabled" in found[0].message
