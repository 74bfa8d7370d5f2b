"""Routing rule: every UDR through a virtual appliance points into a declared appliance's subnet.

The NVA is the next hop for everything; a route to an address where no appliance lives black-holes
the spoke (in the target region above all, where nothing is there unless it is provided: an
appliance VM that Site Recovery replicates, or Azure Firewall). Declared appliance subnets are:

- every ``AzureFirewallSubnet`` of the stack (Azure Firewall's private IP is taken from it:
  azure-rest-api-specs network azureFirewall.json, ``privateIPAddress``, "to be used as the next
  hop in User Defined Routes");
- the subnet named by this project's ``layout.hub.nvaSubnet.name`` (stack config), in any VNet
  of the stack;
- the CIDRs listed in this policy's ``applianceSubnets`` pack config (estates built elsewhere).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, Route, RouteTable, parse_all, stack_config_value
from ..framework import Context, Rule
from ..shared import addrspace
from ..shared.names import AZURE_FIREWALL_SUBNET
from ..values import UNKNOWN


def _appliance_subnets(ctx: Context, estate: Estate) -> list[tuple[str, addrspace.Network]]:
    """(label, prefix) of every declared appliance subnet."""
    layout = stack_config_value("layout")
    nva_name = None
    if isinstance(layout, dict):
        hub = layout.get("hub")
        nva = hub.get("nvaSubnet") if isinstance(hub, dict) else None
        nva_name = nva.get("name") if isinstance(nva, dict) else None
    names = {AZURE_FIREWALL_SUBNET.lower(), *([nva_name.lower()] if isinstance(nva_name, str) else [])}
    out: list[tuple[str, addrspace.Network]] = []
    for s in estate.subnets:
        if isinstance(s.name, str) and s.name.lower() in names and isinstance(s.prefixes, list):
            good, _ = parse_all([p for p in s.prefixes if isinstance(p, str)])
            out += [(f"subnet '{s.label}'", net) for net in good]
    configured = ctx.option("applianceSubnets") or []
    good, _ = parse_all([c for c in configured if isinstance(c, str)])
    out += [("applianceSubnets", net) for net in good]
    return out


def check_udr_next_hops(ctx: Context, estate: Estate) -> None:
    tables = [t for t in estate.route_tables if isinstance(t.routes, list)]
    appliance_routes = [(t, r) for t in tables for r in t.routes if r.next_hop_type in ("VirtualAppliance", UNKNOWN)]
    if not appliance_routes:
        return
    declared = _appliance_subnets(ctx, estate)
    for table, route in appliance_routes:
        _check(ctx, table, route, declared)
    for t in estate.route_tables:
        if t.routes is UNKNOWN:
            ctx.undecided(t.urn, f"the next hops of route table '{t.name}'", "routes")


def _check(ctx: Context, table: RouteTable, route: Route, declared: list[tuple[str, addrspace.Network]]) -> None:
    hop_type, hop, name, urn = route.next_hop_type, route.next_hop_ip, route.name, route.urn
    if hop_type is UNKNOWN or hop is UNKNOWN:
        ctx.undecided(urn, f"the next hop of route '{name}' in '{table.name}'", "nextHopType or nextHopIpAddress")
        return
    if hop_type != "VirtualAppliance":
        return
    if not isinstance(hop, str):
        ctx.violation(
            f"Route '{name}' in route table '{table.name}' sends traffic to a virtual appliance without a "
            "nextHopIpAddress; give it the appliance's address.",
            urn,
        )
        return
    try:
        address = addrspace.parse_address(hop)
    except addrspace.PrefixError:
        ctx.violation(f"Route '{name}' in route table '{table.name}' has next hop {hop!r}, not an IP address.", urn)
        return
    if any(address.version == net.version and address in net for _, net in declared):
        return
    known = ", ".join(f"{label} ({net})" for label, net in declared) or "none declared"
    ctx.violation(
        f"Route '{name}' in route table '{table.name}' sends {route.prefix} to {hop}, which lies in no "
        f"declared appliance's subnet ({known}). Nothing answers there: point the route at the NVA or "
        "firewall (layout.hub.nvaAddress), or declare the appliance's subnet (layout.hub.nvaSubnet, "
        "an AzureFirewallSubnet, or this policy's applianceSubnets).",
        urn,
    )


UDR_NEXT_HOP_RULE = Rule(
    name="udr-next-hop-in-appliance-subnet",
    display_name="UDR next hops point at a declared appliance",
    description=(
        "Every route with next hop type VirtualAppliance must point at an address inside a declared "
        "appliance subnet: an AzureFirewallSubnet, the NVA subnet of the layout, or one listed in "
        "applianceSubnets. In the target region an appliance exists only when it is provided."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Point the route at the NVA or firewall address, or declare the appliance's subnet.",
    check=check_udr_next_hops,
    options={
        "applianceSubnets": {
            "type": "array",
            "items": {"type": "string"},
            "description": "CIDRs of subnets where appliances live, beyond the stack's own declaration.",
        }
    },
    defaults={"onUnknown": "report", "applianceSubnets": []},
)
