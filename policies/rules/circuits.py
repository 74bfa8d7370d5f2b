"""Circuit rules: Premium outside the geopolitical region, circuits sharing a peering location,
authorization keys as secrets; and the Microsoft.Storage endpoint behind an NVA default route."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..estate import (
    Circuit,
    Connection,
    Estate,
    Gateway,
    RouteTable,
    Vnet,
)
from ..framework import CIRCUITS_SCHEMA, Context, Rule
from ..shared import azure_facts
from ..shared.names import CIRCUIT_AUTHORIZATION, CONNECTION, DEFAULT_ROUTE
from ..values import UNKNOWN, secrecy

STORAGE_ENDPOINTS = ("microsoft.storage", "microsoft.storage.global")


def _links(ctx: Context, estate: Estate) -> list[tuple[Connection, Gateway, Circuit | None]]:
    """(connection, its gateway, the circuit's facts or None) of each resolved circuit link."""
    out: list[tuple[Connection, Gateway, Circuit | None]] = []
    for c in estate.expressroute_links():
        if c.circuit is UNKNOWN or c.gateway is UNKNOWN:
            ctx.undecided(c.urn, f"the circuit of connection '{c.label}'", "peer.id or virtualNetworkGateway1.id")
            continue
        if isinstance(c.circuit, str) and isinstance(c.gateway, Gateway):
            out.append((c, c.gateway, estate.circuit_facts.get(c.circuit)))
    return out


def check_premium(ctx: Context, estate: Estate) -> None:
    for c, gateway, fact in _links(ctx, estate):
        vnet = gateway.vnet
        location = vnet.location if isinstance(vnet, Vnet) else UNKNOWN if vnet is UNKNOWN else None
        if not isinstance(location, str):
            location = gateway.location
        if location is UNKNOWN:
            ctx.undecided(c.urn, f"whether circuit link '{c.label}' needs Premium", "the VNet's location")
            continue
        if fact is None or fact.peering_location is None or fact.sku_tier is None:
            if ctx.option("requireCircuitFacts"):
                ctx.violation(
                    f"Connection '{c.label}' links circuit {c.circuit} whose peering location and SKU "
                    "tier are unknown to the pack; list it under 'circuits' in this policy's config.",
                    c.urn,
                )
            continue
        if not isinstance(location, str):
            continue
        vnet_geo = azure_facts.geopolitical_region_of_location(location)
        circuit_geo = azure_facts.geopolitical_region_of_peering_location(fact.peering_location)
        if vnet_geo is None or circuit_geo is None:
            ctx.violation(
                f"Cannot tell whether '{c.label}' needs ExpressRoute Premium: "
                f"{'region ' + location if vnet_geo is None else 'peering location ' + fact.peering_location} "
                "is not in the pack's table (policies/shared/azure_facts.py). Add it, or check the link by hand.",
                c.urn,
            )
            continue
        if vnet_geo != circuit_geo and fact.sku_tier.lower() != "premium":
            ctx.violation(
                f"Connection '{c.label}' links a VNet in {location} ({vnet_geo}) to circuit "
                f"'{fact.label}' at {fact.peering_location} ({circuit_geo}), a {fact.sku_tier} circuit. "
                "Outside its geopolitical region a circuit needs the Premium add-on: upgrade the "
                "circuit's SKU tier to Premium, or use a circuit in the VNet's geopolitical region.",
                c.urn,
            )


def check_same_location(ctx: Context, estate: Estate) -> None:
    per_vnet: dict[int, tuple[Any, dict[str, list[Circuit]]]] = {}
    for _, gateway, fact in _links(ctx, estate):
        vnet = gateway.vnet
        if fact is None or fact.peering_location is None or not isinstance(vnet, Vnet):
            continue
        location = fact.peering_location.casefold().replace(" ", "")
        seen = per_vnet.setdefault(id(vnet), (vnet, {}))[1].setdefault(location, [])
        if all(f.key != fact.key for f in seen):
            seen.append(fact)
    limit = azure_facts.MAX_CIRCUITS_SAME_PEERING_LOCATION_PER_VNET
    for vnet, by_location in per_vnet.values():
        for circuits in by_location.values():
            if len(circuits) > limit:
                names = ", ".join(f"'{f.label}'" for f in circuits)
                ctx.violation(
                    f"VNet '{vnet.label}' is connected to {len(circuits)} circuits at peering location "
                    f"{circuits[0].peering_location} ({names}); Azure allows {limit} circuits of one "
                    "peering location per VNet (ExpressRoute FAQ). Connect the others to another VNet's "
                    "gateway, or use circuits at other peering locations.",
                    vnet.urn,
                )


def check_authorization_key(ctx: Context, resource: Any) -> None:
    state = secrecy(resource.props, "authorizationKey")
    if state == "plain":
        ctx.violation(
            f"'{resource.name}' sets authorizationKey in plain text; anyone who reads the state or the "
            "preview can redeem the circuit. Pass it as a secret: `pulumi config set --secret "
            "<key> <value>` and read it with require_secret (or wrap it in pulumi.Output.secret).",
            resource.urn,
        )
    elif state == "unknown":
        ctx.undecided(resource.urn, "whether the authorization key is a secret", "authorizationKey")


def check_storage_endpoint(ctx: Context, estate: Estate) -> None:
    for s in estate.subnets:
        if estate.is_gateway_subnet(s):
            continue  # a default route there is the gateway-subnet rule's violation, and no VM lives there
        table = s.route_table
        if table is UNKNOWN:
            ctx.undecided(s.urn, f"the routes of subnet '{s.label}'", "routeTable.id")
            continue
        if not isinstance(table, RouteTable):
            continue
        if table.routes is UNKNOWN:
            ctx.undecided(table.urn, f"the routes of subnet '{s.label}'", "routes")
            continue
        defaults = [r for r in table.routes if r.prefix == DEFAULT_ROUTE]
        if not defaults:
            if any(r.prefix is UNKNOWN for r in table.routes):
                ctx.undecided(table.urn, f"the default route of subnet '{s.label}'", "a route's addressPrefix")
            continue
        hops = [r.next_hop_type for r in defaults]
        if UNKNOWN in hops:
            ctx.undecided(table.urn, f"the default route of subnet '{s.label}'", "nextHopType")
            continue
        if "VirtualAppliance" not in hops:
            continue
        if s.service_endpoints is UNKNOWN or UNKNOWN in s.service_endpoints:
            ctx.undecided(s.urn, f"the service endpoints of subnet '{s.label}'", "serviceEndpoints")
            continue
        if not any(isinstance(e, str) and e.lower() in STORAGE_ENDPOINTS for e in s.service_endpoints):
            ctx.violation(
                f"Subnet '{s.label}' sends 0.0.0.0/0 to a network virtual appliance (route table "
                f"'{table.label}') but has no Microsoft.Storage service endpoint, so Site Recovery's "
                "replication traffic goes through the NVA and can overload it. Add a serviceEndpoints "
                "entry {service: Microsoft.Storage}.",
                s.urn,
            )


PREMIUM_RULE = Rule(
    name="expressroute-premium-outside-geopolitical-region",
    display_name="ExpressRoute Premium outside the circuit's geopolitical region",
    description=(
        "A circuit linked to a virtual network in a region outside the circuit's geopolitical "
        "region must have the Premium SKU tier."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Upgrade the circuit to the Premium tier, or link a circuit in the VNet's geopolitical region.",
    check=check_premium,
    options={
        "circuits": CIRCUITS_SCHEMA,
        "requireCircuitFacts": {
            "type": "boolean",
            "description": "Report links to circuits the pack knows nothing about (default false).",
        },
    },
    defaults={"onUnknown": "advise", "requireCircuitFacts": False},
)

SAME_LOCATION_RULE = Rule(
    name="circuits-same-peering-location",
    display_name="Circuits of one peering location on one VNet, within Azure's limit",
    description=(
        "At most four ExpressRoute circuits of one peering location may be connected to one virtual "
        "network (ExpressRoute FAQ, https://learn.microsoft.com/azure/expressroute/expressroute-faqs, "
        "and the ExpressRoute limits); Azure refuses the fifth connection."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Connect the extra circuit to another VNet's gateway, or use a circuit at another peering location.",
    check=check_same_location,
    options={"circuits": CIRCUITS_SCHEMA},
    defaults={"onUnknown": "advise"},
)

AUTHORIZATION_KEY_RULE = Rule(
    name="circuit-authorization-key-secret",
    display_name="Circuit authorization keys are secrets",
    description=(
        "An ExpressRoute circuit authorization key must reach the engine as a secret, never as "
        "plain text in the state or the preview."
    ),
    severity=Severity.CRITICAL,
    level=EnforcementLevel.MANDATORY,
    remediation="Set the key with `pulumi config set --secret` and read it with require_secret.",
    check=check_authorization_key,
    kind="resource",
    resource_types=(CONNECTION, CIRCUIT_AUTHORIZATION),
    defaults={"onUnknown": "advise"},
)

STORAGE_ENDPOINT_RULE = Rule(
    name="storage-endpoint-behind-nva-default-route",
    display_name="Microsoft.Storage endpoint where 0.0.0.0/0 goes to an NVA",
    description=(
        "A subnet whose route table sends 0.0.0.0/0 to a network virtual appliance must have the "
        "Microsoft.Storage service endpoint, so Site Recovery replication stays inside Azure and "
        "does not overload the appliance."
    ),
    severity=Severity.MEDIUM,
    level=EnforcementLevel.MANDATORY,
    remediation="Add {service: Microsoft.Storage} to the subnet's serviceEndpoints.",
    check=check_storage_endpoint,
    defaults={"onUnknown": "advise"},
)
