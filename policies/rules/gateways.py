"""Gateway rules: the GatewaySubnet, zone-redundant SKUs, and ExpressRoute link limits."""

from __future__ import annotations

import contextlib
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, RouteTable, Subnet, Vnet, parse_all
from ..framework import CIRCUITS_SCHEMA, EXTERNAL_NETWORKS_SCHEMA, Context, Rule
from ..shared import azure_facts
from ..shared.names import DEFAULT_ROUTE, GATEWAY, GATEWAY_SUBNET
from ..values import UNKNOWN, text


def _is_gateway_subnet_name(name: object) -> bool:
    return isinstance(name, str) and name.lower() == GATEWAY_SUBNET.lower()


def check_gateway_subnet(ctx: Context, estate: Estate) -> None:
    """Every GatewaySubnet: a subnet named so, or one a gateway of this stack sits in.

    In a preview a subnet being created has no known name. It is still checked when a gateway of
    this stack uses it (the gateway's ``ipConfigurations`` name it by ID or property dependency).
    One no gateway uses is checked on ``pulumi up``, once its name is known, and cannot break a
    gateway before then: being new, no gateway outside this stack can sit in it yet.
    """
    longest = int(ctx.option("maxPrefixLength"))
    for s in estate.subnets:
        hosts = estate.gateway_hosts.get(id(s), [])
        if not estate.is_gateway_subnet(s):
            continue
        if s.name is UNKNOWN:
            ctx.undecided(s.urn, f"the exact name of '{s.label}', where gateway '{hosts[0].label}' sits", "its name")
        elif not _is_gateway_subnet_name(s.name):
            ctx.violation(
                f"Gateway '{hosts[0].label}' is placed in subnet '{s.label}'; virtual network gateways "
                f"must be in the subnet named '{GATEWAY_SUBNET}'.",
                hosts[0].urn,
            )
            continue
        elif s.name != GATEWAY_SUBNET:
            ctx.violation(
                f"Subnet '{s.label}' must be named exactly '{GATEWAY_SUBNET}' (case matters to the "
                "gateway deployment); rename it.",
                s.urn,
            )
        _check_size(ctx, s, longest)
        if s.nsg is UNKNOWN:
            ctx.undecided(s.urn, f"whether '{s.label}' has a network security group", "networkSecurityGroup")
        elif s.nsg is not None:
            ctx.violation(
                f"'{s.label}' has a network security group; a GatewaySubnet must not have one (the "
                "gateway stops working). Remove networkSecurityGroup from the subnet.",
                s.urn,
            )
        _check_routes(ctx, s)


def _check_size(ctx: Context, s: Subnet, longest: int) -> None:
    if s.prefixes is UNKNOWN or any(p is UNKNOWN for p in s.prefixes):
        ctx.undecided(s.urn, f"the size of '{s.label}'", "its address prefix")
        return
    good, _ = parse_all(s.prefixes)
    for net in good:
        if net.version == 4 and net.prefixlen > longest:
            ctx.violation(
                f"'{s.label}' is {net} (/{net.prefixlen}); a GatewaySubnet needs /{longest} or larger "
                "so the ExpressRoute gateway can scale and coexist with a VPN gateway. Give it a "
                f"/{longest} or shorter prefix.",
                s.urn,
            )


def _check_routes(ctx: Context, s: Subnet) -> None:
    table = s.route_table
    if table is None:
        return
    if table is UNKNOWN:
        ctx.undecided(s.urn, f"the route table of '{s.label}'", "routeTable.id")
        return
    if not isinstance(table, RouteTable):
        return
    if table.disable_bgp is UNKNOWN:
        ctx.undecided(table.urn, f"BGP propagation on '{s.label}'", "disableBgpRoutePropagation")
    elif table.disable_bgp is True:
        ctx.violation(
            f"Route table '{table.label}' on '{s.label}' disables BGP route propagation; the gateway "
            "then loses the on-premises routes it learns. Set disableBgpRoutePropagation to false.",
            table.urn,
        )
    if table.routes is UNKNOWN:
        ctx.undecided(table.urn, f"the routes of '{s.label}'", "routes")
        return
    for route in table.routes:
        if route.prefix is UNKNOWN:
            ctx.undecided(route.urn, f"a route on '{s.label}'", "addressPrefix")
        elif route.prefix == DEFAULT_ROUTE:
            ctx.violation(
                f"Route table '{table.label}' on '{s.label}' has a 0.0.0.0/0 route ('{route.name}'); a "
                "default route on the GatewaySubnet breaks the gateway. Remove it; send only the "
                "spoke prefixes to the NVA.",
                route.urn,
            )


def check_zone_redundant(ctx: Context, resource: Any) -> None:
    p = resource.props
    kind = text(p, "gatewayType")
    if kind is UNKNOWN:
        ctx.undecided(resource.urn, "the gateway's SKU", "gatewayType")
        return
    if kind != "ExpressRoute":
        return
    sku, location = text(p, "sku", "name"), text(p, "location")
    if sku is UNKNOWN or location is UNKNOWN:
        ctx.undecided(resource.urn, "whether the gateway is zone-redundant", "sku.name or location")
        return
    if not isinstance(sku, str):
        return
    canonical = azure_facts.canonical_gateway_sku(sku) or sku
    if canonical in azure_facts.ZONE_REDUNDANT_GATEWAY_SKUS:
        return
    if isinstance(location, str) and not azure_facts.region_has_zones(location):
        return  # no zones in the region: nothing to be redundant across
    ctx.violation(
        f"ExpressRoute gateway '{resource.name}' uses SKU {sku}, which is not zone-redundant, in region "
        f"{location}, which has availability zones. Use ErGw1AZ, ErGw2AZ, ErGw3AZ or ErGwScale.",
        resource.urn,
    )


def check_link_limits(ctx: Context, estate: Estate) -> None:
    facts = estate.circuit_facts
    per_circuit: dict[str, set[str]] = {}
    per_gateway: dict[str, set[str]] = {}
    for c in estate.expressroute_links():
        if c.circuit is UNKNOWN or c.gateway is UNKNOWN:
            ctx.undecided(c.urn, f"the link counts of connection '{c.label}'", "peer.id or virtualNetworkGateway1.id")
            continue
        if not isinstance(c.circuit, str) or c.gateway is None:
            continue
        vnet = c.gateway.vnet
        vnet_key = vnet.urn if isinstance(vnet, Vnet) else c.gateway.urn
        per_circuit.setdefault(c.circuit, set()).add(vnet_key)
        per_gateway.setdefault(c.gateway.urn, set()).add(c.circuit)
    for ext in estate.external_networks:
        for key in ext.circuit_keys:
            if key in per_circuit:
                per_circuit[key].add(f"external:{ext.name}")
    for key, vnets in per_circuit.items():
        fact = facts.get(key)
        if fact is None or fact.sku_tier is None:
            continue
        try:
            limit = azure_facts.max_vnet_links(fact.sku_tier, int(fact.bandwidth_mbps or 50))
        except ValueError:
            continue
        if len(vnets) > limit:
            ctx.violation(
                f"Circuit '{fact.label}' ({fact.sku_tier}, {fact.bandwidth_mbps or '?'} Mbps) would link "
                f"{len(vnets)} virtual networks, above its limit of {limit}. Use Premium or a larger "
                "bandwidth (more links), or route more VNets through fewer hubs.",
            )
    gateways = {g.urn: g for g in estate.gateways}
    for urn, circuits in per_gateway.items():
        g = gateways[urn]
        if not isinstance(g.sku, str):
            if g.sku is UNKNOWN:
                ctx.undecided(urn, f"the circuit limit of gateway '{g.label}'", "sku.name")
            continue
        limit = azure_facts.max_circuits_per_gateway(g.sku)
        if limit is None:
            continue
        if azure_facts.canonical_gateway_sku(g.sku) == "ErGwScale" and isinstance(g.min_scale_units, int | float):
            with contextlib.suppress(ValueError):  # out of range: keep the SKU's maximum
                limit = azure_facts.max_circuits_for_ergwscale(int(g.min_scale_units))
        if len(circuits) > limit:
            ctx.violation(
                f"Gateway '{g.label}' ({g.sku}) connects {len(circuits)} circuits; that SKU allows {limit}. "
                "Move to a larger SKU (ErGw2AZ: 8, ErGw3AZ: 16) or drop a connection.",
                urn,
            )


GATEWAY_SUBNET_RULE = Rule(
    name="gateway-subnet",
    display_name="GatewaySubnet as Azure needs it",
    description=(
        "A virtual network gateway's subnet must be named exactly GatewaySubnet, be /27 or "
        "larger, have no network security group, no 0.0.0.0/0 route and BGP route propagation on."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation=(
        "Name the subnet GatewaySubnet, give it a /27 or larger prefix, remove any NSG, remove the "
        "0.0.0.0/0 route from its route table and keep disableBgpRoutePropagation false."
    ),
    check=check_gateway_subnet,
    options={
        "maxPrefixLength": {
            "type": "integer",
            "minimum": 16,
            "maximum": 29,
            "description": f"Longest IPv4 prefix length accepted for a GatewaySubnet (default {azure_facts.GATEWAY_SUBNET_MAX_PREFIXLEN}).",
        }
    },
    defaults={"onUnknown": "advise", "maxPrefixLength": azure_facts.GATEWAY_SUBNET_MAX_PREFIXLEN},
)

ZONE_REDUNDANT_RULE = Rule(
    name="expressroute-gateway-zone-redundant",
    display_name="Zone-redundant ExpressRoute gateways",
    description=(
        "An ExpressRoute gateway in a region with availability zones should use a zone-redundant "
        "SKU (ErGw1AZ, ErGw2AZ, ErGw3AZ or ErGwScale) so a zone failure does not cut on-premises access."
    ),
    severity=Severity.LOW,
    level=EnforcementLevel.ADVISORY,
    remediation="Set the gateway SKU to ErGw1AZ (or ErGw2AZ/ErGw3AZ for more circuits and throughput).",
    check=check_zone_redundant,
    kind="resource",
    resource_types=(GATEWAY,),
    defaults={"onUnknown": "advise"},
)

LINK_LIMITS_RULE = Rule(
    name="expressroute-link-limits",
    display_name="ExpressRoute circuit and gateway link limits",
    description=(
        "A circuit may link at most 10 virtual networks on Standard, 20 to 100 on Premium by "
        "bandwidth; a gateway may connect at most 4, 8 or 16 circuits by SKU."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Upgrade the circuit to Premium or more bandwidth, or the gateway SKU; or link fewer VNets.",
    check=check_link_limits,
    options={"circuits": CIRCUITS_SCHEMA, "externalNetworks": EXTERNAL_NETWORKS_SCHEMA},
    defaults={"onUnknown": "advise"},
)
