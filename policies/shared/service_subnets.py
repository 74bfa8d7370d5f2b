"""Azure's service subnets, recognised by name, with what Microsoft documents for each.

One table serves the config validation (model/config/rules/layout.py), the networks the stacks
build (model/spec.py, components/network.py) and the pack (policies/rules/service_subnets.py):
a service subnet never gets the 0.0.0.0/0 -> NVA route table nor the Microsoft.Storage endpoint
that goes with it; it gets the route table its service asks for, or none.

Sources (learn.microsoft.com; quoted where the rule is taken):

- GatewaySubnet: "NSGs on the gateway subnet aren't supported. Associating a network security
  group to this subnet might cause your virtual network gateway (VPN and ExpressRoute gateways) to
  stop functioning as expected." (azure/expressroute/expressroute-about-virtual-network-gateways#gwsub,
  azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings#gwsub). "Route propagation shouldn't be
  disabled on the GatewaySubnet. The gateway will not function with this setting disabled."
  (azure/virtual-network/virtual-networks-udr-overview). A route table with routes to prefixes
  through an appliance is allowed, a 0.0.0.0/0 route is not (the gateway-subnet rule of the pack).
- AzureFirewallSubnet: "Subnet level NSGs aren't required on the AzureFirewallSubnet, and are
  disabled to ensure no service interruption." (azure/firewall/firewall-faq, "Are Network Security
  Groups (NSGs) supported on the AzureFirewallSubnet?"). The firewall needs direct Internet
  connectivity (same FAQ): it is the next hop, never sent to itself.
- AzureFirewallManagementSubnet: "The only route allowed on this subnet is a default route to the
  Internet, and BGP route propagation must be disabled." (azure/firewall/forced-tunneling),
  "minimum subnet size /26" (same page).
- AzureBastionSubnet: "UDR isn't supported on an Azure Bastion subnet." (azure/bastion/bastion-faq#udr);
  an NSG is allowed when it carries the rules of azure/bastion/bastion-nsg; "/26 or larger"
  (azure/bastion/configuration-settings#subnet).
- RouteServerSubnet: "Azure Route Server doesn't support configuring a user-defined route (UDR) on
  the RouteServerSubnet subnet." and no NSG association (azure/route-server/route-server-faq,
  "Can I associate a UDR / a network security group (NSG) to the RouteServerSubnet?"); "minimum
  size of /26" (azure/route-server/route-server-best-practices).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .names import AZURE_FIREWALL_SUBNET, GATEWAY_SUBNET

LEARN: Final = "https://learn.microsoft.com/azure/"


class RouteRule(StrEnum):
    """What route table a service subnet may carry."""

    NONE = "none"  # Azure refuses a route table on it
    GATEWAY = "gateway"  # routes to prefixes allowed, no 0.0.0.0/0, BGP propagation on
    INTERNET_DEFAULT = "internetDefault"  # only 0.0.0.0/0 -> Internet, BGP propagation off
    NOT_THE_NVA = "notTheNva"  # the appliance itself: never routed to itself


class NsgRule(StrEnum):
    REFUSED = "refused"
    ALLOWED = "allowed"
    BASTION_RULES = "bastionRules"  # allowed, with the rules of bastion-nsg


@dataclass(frozen=True)
class ServiceSubnet:
    name: str
    service: str
    route: RouteRule
    nsg: NsgRule
    max_prefixlen: int | None  # the longest IPv4 prefix Azure accepts (None: not documented)
    doc: str  # the learn.microsoft.com page of the rules

    @property
    def url(self) -> str:
        return LEARN + self.doc


BASTION_NSG_DOC: Final = LEARN + "bastion/bastion-nsg"

SERVICE_SUBNETS: Final = (
    ServiceSubnet(
        GATEWAY_SUBNET,
        "the virtual network gateway",
        RouteRule.GATEWAY,
        NsgRule.REFUSED,
        27,
        "expressroute/expressroute-about-virtual-network-gateways#gwsub",
    ),
    ServiceSubnet(
        AZURE_FIREWALL_SUBNET,
        "Azure Firewall",
        RouteRule.NOT_THE_NVA,
        NsgRule.REFUSED,
        26,
        "firewall/firewall-faq",
    ),
    ServiceSubnet(
        "AzureFirewallManagementSubnet",
        "Azure Firewall's management traffic",
        RouteRule.INTERNET_DEFAULT,
        NsgRule.ALLOWED,
        26,
        "firewall/forced-tunneling",
    ),
    ServiceSubnet(
        "AzureBastionSubnet",
        "Azure Bastion",
        RouteRule.NONE,
        NsgRule.BASTION_RULES,
        26,
        "bastion/bastion-faq#udr",
    ),
    ServiceSubnet(
        "RouteServerSubnet",
        "Azure Route Server",
        RouteRule.NONE,
        NsgRule.REFUSED,
        26,
        "route-server/route-server-faq",
    ),
)

_BY_NAME: Final = {s.name.lower(): s for s in SERVICE_SUBNETS}


def service_subnet(name: object) -> ServiceSubnet | None:
    """The service subnet ``name`` is (Azure compares subnet names without case), or None for a
    workload subnet."""
    return _BY_NAME.get(name.lower()) if isinstance(name, str) else None


def routed_through_nva(name: object) -> bool:
    """Whether a subnet of this name may get the 0.0.0.0/0 -> NVA route table: workload subnets only."""
    return service_subnet(name) is None


# The rules an NSG on AzureBastionSubnet must carry (learn.microsoft.com/azure/bastion/bastion-nsg,
# "AzureBastionSubnet"): (direction, the peer's prefix or service tag, port). Inbound: HTTPS from
# the Internet, from GatewayManager and from AzureLoadBalancer, the data plane (8080, 5701) within
# the VirtualNetwork. Outbound: SSH and RDP to the VirtualNetwork, the data plane, HTTPS to
# AzureCloud, HTTP to the Internet.
BASTION_NSG_RULES: Final = (
    ("Inbound", "Internet", "443"),
    ("Inbound", "GatewayManager", "443"),
    ("Inbound", "AzureLoadBalancer", "443"),
    ("Inbound", "VirtualNetwork", "8080"),
    ("Inbound", "VirtualNetwork", "5701"),
    ("Outbound", "VirtualNetwork", "22"),
    ("Outbound", "VirtualNetwork", "3389"),
    ("Outbound", "VirtualNetwork", "8080"),
    ("Outbound", "VirtualNetwork", "5701"),
    ("Outbound", "AzureCloud", "443"),
    ("Outbound", "Internet", "80"),
)


def _port_in(port: str, ranges: list[str]) -> bool:
    for r in ranges:
        if r == "*":
            return True
        low, _, high = r.partition("-")
        if low.isdigit() and (high or low).isdigit() and int(low) <= int(port) <= int(high or low):
            return True
    return False


def missing_bastion_rules(rules: list[dict[str, object]]) -> list[str]:
    """The required Bastion rules that no Allow rule covers, as 'direction peer:port'. A rule is
    (direction, access, peers (its source for Inbound, its destination for Outbound), ports)."""
    missing: list[str] = []
    for direction, peer, port in BASTION_NSG_RULES:
        covered = False
        for rule in rules:
            if rule.get("direction") != direction or rule.get("access") != "Allow":
                continue
            peers = rule.get("peers")
            ports = rule.get("ports")
            if not isinstance(peers, list) or not isinstance(ports, list):
                continue
            if any(p in ("*", peer) for p in peers) and _port_in(port, [str(x) for x in ports]):
                covered = True
                break
        if not covered:
            missing.append(f"{direction} {peer}:{port}")
    return missing
