"""Service subnet rule: Azure's service subnets carry only the routing and NSG their service
supports (policies/shared/service_subnets.py has the rules and the learn.microsoft.com pages):
no route table on AzureBastionSubnet or RouteServerSubnet, only 0.0.0.0/0 -> Internet with BGP
propagation off on AzureFirewallManagementSubnet, no NSG on AzureFirewallSubnet or
RouteServerSubnet. The GatewaySubnet has a rule of its own (gateway-subnet).

A subnet's name is an output Azure returns, unknown in a first preview for a subnet being
created; the stack config's layout (the CLI's PULUMI_CONFIG) names it by its prefix then."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, RouteTable, Subnet, parse_all
from ..framework import Context, Rule
from ..shared.names import GATEWAY_SUBNET
from ..shared.service_subnets import NsgRule, RouteRule, ServiceSubnet, service_subnet
from ..values import UNKNOWN
from .routing import _layout_subnets


def _name_of(subnet: Subnet) -> object:
    if subnet.name is not UNKNOWN:
        return subnet.name
    nets = parse_all([p for p in subnet.prefixes if isinstance(p, str)])[0] if isinstance(subnet.prefixes, list) else []
    for label, _, net in _layout_subnets():
        if net in nets:
            return label.rsplit("/", 1)[-1]
    return UNKNOWN


def _table_problem(rule: ServiceSubnet, table: RouteTable) -> str | None:
    if rule.route is RouteRule.NONE:
        return f"has route table '{table.label}'; {rule.service} supports no route table on it"
    if rule.route is RouteRule.INTERNET_DEFAULT:
        routes = table.routes if isinstance(table.routes, list) else []
        others = [r for r in routes if (r.prefix, r.next_hop_type) != ("0.0.0.0/0", "Internet")]
        if others:
            shown = ", ".join(f"{r.prefix} -> {r.next_hop_type}" for r in others)
            return f"route table '{table.label}' has {shown}; the only route allowed is 0.0.0.0/0 -> Internet"
        if table.disable_bgp is False or table.disable_bgp is None:
            return f"route table '{table.label}' propagates BGP routes; propagation must be disabled"
    return None


def check_service_subnets(ctx: Context, estate: Estate) -> None:
    for s in estate.subnets:
        if estate.is_gateway_subnet(s):
            continue  # the gateway-subnet rule's
        name = _name_of(s)
        if name is UNKNOWN:
            if s.route_table is not None or s.nsg is not None:
                ctx.undecided(s.urn, f"whether '{s.label}' is an Azure service subnet", "its name")
            continue
        rule = service_subnet(name)
        if rule is None or rule.name == GATEWAY_SUBNET:
            continue
        table = s.route_table
        if table is UNKNOWN or (isinstance(table, RouteTable) and table.routes is UNKNOWN):
            ctx.undecided(s.urn, f"the route table of service subnet '{s.label}'", "routeTable")
        elif isinstance(table, RouteTable):
            problem = _table_problem(rule, table)
            if problem:
                ctx.violation(f"Subnet '{s.label}' ({rule.name}) {problem} ({rule.url}).", s.urn)
        if s.nsg is not None and rule.nsg is NsgRule.REFUSED:
            ctx.violation(
                f"Subnet '{s.label}' ({rule.name}) has a network security group; Azure does not support one "
                f"there ({rule.url}). Remove it.",
                s.urn,
            )


SERVICE_SUBNET_RULE = Rule(
    name="azure-service-subnets",
    display_name="Azure service subnets keep their service's routing",
    description=(
        "AzureBastionSubnet and RouteServerSubnet carry no route table, AzureFirewallManagementSubnet "
        "only 0.0.0.0/0 -> Internet with BGP propagation off, AzureFirewallSubnet and RouteServerSubnet "
        "no NSG (Microsoft's documentation for each service)."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Give the service subnet the routing and NSG its service supports; never the NVA's route table.",
    check=check_service_subnets,
    defaults={"onUnknown": "advise"},
)
