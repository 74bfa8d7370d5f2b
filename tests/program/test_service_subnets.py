"""Azure's service subnets in the layout: each keeps the routing Microsoft documents for it
(policies/shared/service_subnets.py), never the 0.0.0.0/0 -> NVA table, on both stacks; hub
workload subnets are routed symmetrically through the NVA."""

from __future__ import annotations

from typing import Any

import pytest

from erdr.simulate import SimResult
from tests.helpers import NO_PEER_CONNECTIONS, ROUTES, SUBNET, VNET, run_stack, short

# A hub with room for a workload subnet (a DNS resolver's inbound endpoint) and the service subnets
# a landing zone's hub carries.
HUB_EXTRAS: dict[str, Any] = {
    "layout.hub.addressSpace": ["10.10.10.0/24", "10.10.12.0/22"],
    "layout.hub.extraSubnets": [
        {"name": "snet-dns-in", "prefix": "10.10.12.0/28"},
        {"name": "AzureFirewallManagementSubnet", "prefix": "10.10.13.0/26"},
        {"name": "AzureBastionSubnet", "prefix": "10.10.13.64/26"},
        {"name": "RouteServerSubnet", "prefix": "10.10.13.128/26"},
    ],
}
SERVICE = ("AzureFirewallManagementSubnet", "AzureBastionSubnet", "RouteServerSubnet")


def run(stack: str, phase: str = "standby", **extra: object) -> SimResult:
    result = run_stack(stack, overrides={**HUB_EXTRAS, "phase": phase, **extra}, peer_outputs=NO_PEER_CONNECTIONS)
    assert result.error is None, result.error
    return result


def subnet(result: SimResult, name: str) -> dict[str, Any]:
    return result.by_name(f"hub-{name}").plain_inputs


def table_of(result: SimResult, name: str) -> dict[str, Any] | None:
    """The registered route table the subnet ``name`` points at, by the URN it waits for."""
    reg = result.by_name(f"hub-{name}")
    urns = reg.property_dependencies.get("routeTable") or []
    if not urns:
        assert reg.plain_inputs.get("routeTable") is None
        return None
    (urn,) = urns
    return result.by_urn(urn).plain_inputs


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_service_subnets_keep_their_services_routing(stack: str) -> None:
    result = run(stack)
    for name in SERVICE:
        endpoints = [e["service"] for e in subnet(result, name).get("serviceEndpoints") or []]
        assert "Microsoft.Storage" not in endpoints, name
    # "UDR isn't supported on an Azure Bastion subnet"; Route Server supports no UDR either.
    assert table_of(result, "AzureBastionSubnet") is None
    assert table_of(result, "RouteServerSubnet") is None
    # "The only route allowed on this subnet is a default route to the Internet, and BGP route
    # propagation must be disabled."
    management = table_of(result, "AzureFirewallManagementSubnet")
    assert management is not None and management["disableBgpRoutePropagation"] is True
    assert [(r["addressPrefix"], r["nextHopType"]) for r in management["routes"]] == [("0.0.0.0/0", "Internet")]
    # The workload subnet beside them is routed through the NVA, with its endpoint.
    workload = table_of(result, "snet-dns-in")
    assert workload is not None
    assert [(r["addressPrefix"], r["nextHopType"]) for r in workload["routes"]] == [("0.0.0.0/0", "VirtualAppliance")]
    assert "Microsoft.Storage" in [e["service"] for e in subnet(result, "snet-dns-in")["serviceEndpoints"]]


def test_no_nva_route_reaches_a_service_subnet_anywhere() -> None:
    """Every subnet of both stacks that points at a table with a route to the NVA is a workload subnet."""
    for stack in ("prod", "dr"):
        result = run(stack)
        for reg in result.of_type(SUBNET):
            for urn in reg.property_dependencies.get("routeTable") or []:
                routes = result.by_urn(urn).plain_inputs["routes"]
                if any(r["nextHopType"] == "VirtualAppliance" for r in routes):
                    assert reg.plain_inputs["subnetName"] not in SERVICE, short(reg.urn)
        assert {short(r.urn) for r in result.of_type(ROUTES)} >= {"hub-AzureFirewallManagementSubnet-routes"}


PHASES = ("standby", "failover", "failback")


@pytest.mark.parametrize("stack", ["prod", "dr"])
@pytest.mark.parametrize("phase", PHASES)
def test_gateway_routes_every_subnet_that_replies_through_the_nva(stack: str, phase: str) -> None:
    """Read from what is registered: every hub subnet whose table sends 0.0.0.0/0 to the NVA is
    routed to the NVA by the GatewaySubnet's table too, beside every spoke's address space."""
    result = run(stack, phase)
    gateway = table_of(result, "GatewaySubnet")
    assert gateway is not None
    to_nva = {r["addressPrefix"] for r in gateway["routes"] if r["nextHopType"] == "VirtualAppliance"}
    replies_via_nva = set()
    for reg in result.of_type(SUBNET):
        if not short(reg.urn).startswith("hub-"):
            continue
        for urn in reg.property_dependencies.get("routeTable") or []:
            routes = result.by_urn(urn).plain_inputs["routes"]
            if any(r["addressPrefix"] == "0.0.0.0/0" and r["nextHopType"] == "VirtualAppliance" for r in routes):
                replies_via_nva.add(reg.plain_inputs["addressPrefix"])
    assert replies_via_nva == {"10.10.12.0/28"}
    spokes = {
        p
        for reg in result.of_type(VNET)
        if short(reg.urn) in ("vnet1-vnet", "vnet2-vnet")
        for p in reg.plain_inputs["addressSpace"]["addressPrefixes"]
    }
    assert to_nva == replies_via_nva | spokes


def _rule(name: str, priority: int, direction: str, peer: str, ports: list[str]) -> dict[str, Any]:
    inbound = direction == "Inbound"
    return {
        "name": name,
        "priority": priority,
        "direction": direction,
        "access": "Allow",
        "protocol": "*",
        "sourceAddressPrefixes": [peer if inbound else "*"],
        "destinationAddressPrefixes": ["*" if inbound else peer],
        "destinationPortRanges": ports,
    }


# The rules learn.microsoft.com/azure/bastion/bastion-nsg lists for AzureBastionSubnet.
BASTION_RULES = [
    _rule("in-https-internet", 120, "Inbound", "Internet", ["443"]),
    _rule("in-gateway-manager", 130, "Inbound", "GatewayManager", ["443"]),
    _rule("in-load-balancer", 140, "Inbound", "AzureLoadBalancer", ["443"]),
    _rule("in-data-plane", 150, "Inbound", "VirtualNetwork", ["8080", "5701"]),
    _rule("out-ssh-rdp", 100, "Outbound", "VirtualNetwork", ["22", "3389"]),
    _rule("out-azure-cloud", 110, "Outbound", "AzureCloud", ["443"]),
    _rule("out-data-plane", 120, "Outbound", "VirtualNetwork", ["8080", "5701"]),
    _rule("out-session", 130, "Outbound", "Internet", ["80"]),
]


def test_bastion_subnet_takes_an_nsg_with_the_documented_rules() -> None:
    extras = [
        {**s, "nsg": {"rules": BASTION_RULES}} if s["name"] == "AzureBastionSubnet" else s
        for s in HUB_EXTRAS["layout.hub.extraSubnets"]
    ]
    result = run("dr", "standby", **{"layout.hub.extraSubnets": extras})
    bastion = result.by_name("hub-AzureBastionSubnet")
    (nsg,) = result.of_type("azure-native:network:NetworkSecurityGroup")
    assert nsg.urn in bastion.property_dependencies["networkSecurityGroup"]
    assert len(nsg.plain_inputs["securityRules"]) == len(BASTION_RULES)
