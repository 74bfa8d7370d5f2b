"""Rules of the circuits: topology versus circuits, peering locations, Premium reach,
on-premises prefixes."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Circuit, StackConfig, Topology
from model.config.rules.layout import layout_vnets
from policies.shared import azure_facts
from policies.shared.addrspace import find_overlaps, parse_prefix


def circuit_issues(cfg: StackConfig) -> Iterator[Issue]:
    primary, secondary = cfg.circuits.primary, cfg.circuits.secondary
    if cfg.two_circuits and secondary is None:
        yield Issue("circuits.secondary", None, f"topology {cfg.topology.value!r} needs a secondary circuit")
        return
    if not cfg.two_circuits and secondary is not None:
        yield Issue(
            "circuits.secondary",
            secondary.id,
            "topology 'single-circuit' takes only circuits.primary; remove the secondary or pick a two-circuit topology",
        )
        return
    for label, circuit in (("primary", primary), ("secondary", secondary)):
        if circuit is None:
            continue
        if azure_facts.geopolitical_region_of_peering_location(circuit.peering_location) is None:
            yield Issue(
                f"circuits.{label}.peeringLocation",
                circuit.peering_location,
                "unknown ExpressRoute peering location (see policies/shared/azure_facts.py)",
            )
    if secondary is not None:
        if secondary.id.lower() == primary.id.lower():
            yield Issue("circuits.secondary.id", secondary.id, "the secondary circuit must differ from the primary")
        same_place = secondary.peering_location.lower() == primary.peering_location.lower()
        if cfg.topology is Topology.TWO_CIRCUITS_TWO_LOCATIONS and same_place:
            yield Issue(
                "circuits.secondary.peeringLocation",
                secondary.peering_location,
                "same as the primary's: use topology 'two-circuits-one-location' or a second peering location",
            )
        if cfg.topology is Topology.TWO_CIRCUITS_ONE_LOCATION and not same_place:
            yield Issue(
                "circuits.secondary.peeringLocation",
                secondary.peering_location,
                f"differs from the primary's ({primary.peering_location}): use topology 'two-circuits-two-locations'",
            )
    # A Standard circuit reaches only VNets in its own geopolitical region.
    reach: list[tuple[str, Circuit, list[str]]] = [("primary", primary, [cfg.regions.source])]
    if secondary is None:
        reach[0][2].append(cfg.regions.target)
    else:
        reach.append(("secondary", secondary, [cfg.regions.target]))
        if cfg.cross_connect:
            reach[0][2].append(cfg.regions.target)
            reach[1][2].append(cfg.regions.source)
    for label, circuit, regions in reach:
        geo = azure_facts.geopolitical_region_of_peering_location(circuit.peering_location)
        if geo is None or circuit.sku_tier == "Premium":
            continue
        for region in regions:
            region_geo = azure_facts.geopolitical_region_of_location(region)
            if region_geo != geo:
                yield Issue(
                    f"circuits.{label}.skuTier",
                    circuit.sku_tier,
                    f"{region} ({region_geo}) is outside the geopolitical region of peering location "
                    f"{circuit.peering_location} ({geo}): the circuit needs skuTier 'Premium'",
                )
                break
    # On-premises prefixes share the routing domain of every VNet linked to the circuit.
    domain_prefixes = [((f"VNet {v.name}", path), net) for v in layout_vnets(cfg.layout) for path, net in v.prefixes]
    for label, circuit in (("primary", primary), ("secondary", secondary)):
        if circuit is None:
            continue
        entries = list(domain_prefixes)
        entries += [
            ((f"on-prem of {label}", f"circuits.{label}.onPremPrefixes[{i}]"), parse_prefix(p))
            for i, p in enumerate(circuit.on_prem_prefixes)
        ]
        for ov in find_overlaps(entries):
            (a_owner, a_path), (b_owner, b_path) = ov.outer_key, ov.inner_key
            if a_owner.startswith("VNet") and b_owner.startswith("VNet"):
                continue
            path, other = (a_path, b_path) if a_owner.startswith("on-prem") else (b_path, a_path)
            net = ov.outer if a_owner.startswith("on-prem") else ov.inner
            yield Issue(path, str(net), f"on-premises prefix overlaps {other}; the circuit could not route both")
