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

from typing import Any

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
    return out + [("the layout's NVA subnet", net) for _, is_nva, net in _layout_subnets() if is_nva]


def _layout_subnets() -> list[tuple[str, bool, addrspace.Network]]:
    """(label, is the NVA subnet, prefix) of every subnet this stack's config declares, as the
    stack builds it: the layout's prefixes, or, on a target with translated addressing, moved by
    the same offset into each VNet's target prefix (model/spec.py translates this way). Known in a
    first preview, unlike subnet names."""
    layout = stack_config_value("layout")
    if not isinstance(layout, dict) or not isinstance(layout.get("hub"), dict):
        return []
    hub = layout["hub"]
    translated = stack_config_value("role") == "target" and stack_config_value("addressing") == "translated"
    plan = stack_config_value("targetAddressPlan") if translated else None
    nva = hub.get("nvaSubnet") if isinstance(hub.get("nvaSubnet"), dict) else {}
    vnets: list[tuple[dict[str, Any], list[tuple[Any, bool, Any]]]] = [
        (
            hub,
            [("nva", True, nva.get("prefix")), ("GatewaySubnet", False, hub.get("gatewaySubnetPrefix"))]
            + [(x.get("name"), False, x.get("prefix")) for x in hub.get("extraSubnets") or [] if isinstance(x, dict)],
        )
    ]
    for spoke in layout.get("spokes") or []:
        if isinstance(spoke, dict):
            vnets.append(
                (
                    spoke,
                    [
                        (x.get("name"), False, x.get("prefix"))
                        for x in spoke.get("subnets") or []
                        if isinstance(x, dict)
                    ],
                )
            )
    out: list[tuple[str, bool, addrspace.Network]] = []
    for vnet, subnets in vnets:
        name = str(vnet.get("name") or "hub")
        pairs: list[tuple[addrspace.Network, addrspace.Network]] = []
        try:
            targets = plan.get(name) if isinstance(plan, dict) else None
            for i, src in enumerate(vnet.get("addressSpace") or []):
                source = addrspace.parse_prefix(src)
                target = (
                    addrspace.parse_prefix(targets[i]) if isinstance(targets, list) and i < len(targets) else source
                )
                pairs.append((source, target))
            for label, is_nva, text in subnets:
                net = addrspace.parse_prefix(text)
                for source, target in pairs:
                    if net.version == source.version and net.subnet_of(source):  # type: ignore[arg-type]
                        net = addrspace.translate_prefix(net, source, target)
                        break
                out.append((f"{name}/{label}", is_nva, net))
        except (addrspace.PrefixError, TypeError, ValueError):
            continue
    return out


def check_udr_next_hops(ctx: Context, estate: Estate) -> None:
    tables = [t for t in estate.route_tables if isinstance(t.routes, list)]
    appliance_routes = [(t, r) for t in tables for r in t.routes if r.next_hop_type in ("VirtualAppliance", UNKNOWN)]
    if not appliance_routes:
        return
    declared = _appliance_subnets(ctx, estate)
    for table, route in appliance_routes:
        _check(ctx, table, route, declared, _unnamed_subnets(estate))
    for t in estate.route_tables:
        if t.routes is UNKNOWN:
            ctx.undecided(t.urn, f"the next hops of route table '{t.name}'", "routes")


def _unnamed_subnets(estate: Estate) -> list[list[addrspace.Network] | None]:
    """Prefixes of the subnets whose names a first preview does not know yet (they are outputs
    Azure has not returned: pulumi-azure-native previewOutputs.go); None where the prefix is
    unknown too."""
    out: list[list[addrspace.Network] | None] = []
    for s in estate.subnets:
        if s.name is not UNKNOWN:
            continue
        known = isinstance(s.prefixes, list) and all(isinstance(p, str) for p in s.prefixes)
        out.append(parse_all(s.prefixes)[0] if known else None)
    return out


def _check(
    ctx: Context,
    table: RouteTable,
    route: Route,
    declared: list[tuple[str, addrspace.Network]],
    unnamed: list[list[addrspace.Network] | None] | None = None,
) -> None:
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
    # The next hop lies in a subnet whose name is not known yet: it may be the NVA's, unless the
    # stack's config says which subnet that address belongs to (one that is not the NVA's).
    declared_elsewhere = any(
        address.version == net.version and address in net for _, is_nva, net in _layout_subnets() if not is_nva
    )
    in_unnamed = any(
        nets is None or any(address.version == n.version and address in n for n in nets) for nets in unnamed or []
    )
    if in_unnamed and not declared_elsewhere:
        ctx.undecided(urn, f"whether route '{name}' points into an appliance subnet", "the subnets' names")
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
    defaults={"onUnknown": "advise", "applianceSubnets": []},
)
