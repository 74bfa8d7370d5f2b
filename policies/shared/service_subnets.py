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
