"""Rules that tie the topology, the phase and the stack's role together, and the gateway,
routing weights, adoption and replication settings that depend on them."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Addressing, Phase, Role, StackConfig, Topology
from model.config.rules.layout import layout_subnet_names
from model.config.rules.placement import vnet_locations
from policies.shared import azure_facts


def topology_issues(cfg: StackConfig) -> Iterator[Issue]:
    single_same = cfg.exclusive_circuit
    if cfg.regions.source == cfg.regions.target:
        yield Issue("regions.target", cfg.regions.target, "the target region must differ from the source region")
    if single_same and cfg.pre_connect_target:
        yield Issue(
            "preConnectTarget",
            True,
            "with a single circuit and the same IPs the target cannot be connected before failover "
            "(two VNets with one address space on one circuit); use addressing 'translated' or leave it false",
        )
    # crossConnect with two circuits of one peering location gives each hub both circuits of that
    # location: two connections, within Microsoft's "up to four connections from the same peering
    # location ... to the same virtual network" (ExpressRoute FAQ,
    # https://learn.microsoft.com/azure/expressroute/expressroute-faqs). The config cannot declare
    # more circuits than two; the policy pack (circuits-same-peering-location) refuses a fifth in
    # any estate.
    if cfg.cross_connect and cfg.topology is Topology.SINGLE_CIRCUIT:
        yield Issue(
            "crossConnect",
            True,
            "connects each hub to the other circuit as well, and topology 'single-circuit' has no other circuit",
        )
    if cfg.cross_connect and cfg.addressing is Addressing.SAME:
        yield Issue(
            "crossConnect",
            True,
            "with the same IPs, two hubs with one address space would share each circuit; use addressing 'translated'",
        )
    if cfg.source_region_unreachable and (cfg.role is not Role.TARGET or cfg.phase is not Phase.FAILOVER):
        yield Issue("sourceRegionUnreachable", True, "only meaningful on the target stack in phase 'failover'")
    if (
        single_same
        and cfg.role is Role.TARGET
        and cfg.phase is Phase.FAILOVER
        and not cfg.peer_stack
        and not cfg.source_region_unreachable
    ):
        yield Issue(
            "phase",
            cfg.phase.value,
            "single circuit with the same IPs: set peerStack so the target connection waits for the "
            "source connection to be gone, or sourceRegionUnreachable: true if the source region is down",
        )
    if single_same and cfg.role is Role.SOURCE and cfg.phase is Phase.FAILBACK and not cfg.peer_stack:
        yield Issue(
            "phase",
            cfg.phase.value,
            "single circuit with the same IPs: set peerStack so the source connection waits for the "
            "target connection to be gone before it reconnects",
        )
    if cfg.adopt and cfg.role is not Role.TARGET:
        yield Issue(
            "adopt",
            sorted(cfg.adopt),
            "adoption is for target VNets that Site Recovery created; only on the target stack",
        )
    known = {cfg.layout.hub.name, *(s.name for s in cfg.layout.spokes)}
    for name in cfg.adopt:
        if name not in known:
            yield Issue(f"adopt.{name}", name, f"no VNet of that name in the layout ({', '.join(sorted(known))})")
    yield from _adopt_issues(cfg, known)
    sku = cfg.gateway_sku
    if sku not in azure_facts.ALL_GATEWAY_SKUS:
        yield Issue(
            "gateway.sku", sku, f"not an ExpressRoute gateway SKU ({', '.join(sorted(azure_facts.ALL_GATEWAY_SKUS))})"
        )
    weights_set = sorted(cfg.routing_weights.model_fields_set) if "routing_weights" in cfg.model_fields_set else []
    if weights_set and not cfg.cross_connect:
        key = weights_set[0]
        yield Issue(
            f"routingWeights.{key}",
            getattr(cfg.routing_weights, key),
            "routing weights only choose among the connections of one gateway, and without crossConnect every "
            "gateway holds one connection: remove routingWeights (or use crossConnect: true)",
        )
    if cfg.routing_weights.preferred <= cfg.routing_weights.standby:
        yield Issue(
            "routingWeights.preferred",
            cfg.routing_weights.preferred,
            f"must be higher than routingWeights.standby ({cfg.routing_weights.standby}): Azure prefers the higher weight",
        )
    freq = cfg.site_recovery.app_consistent_frequency_minutes
    if freq and freq % 60:
        yield Issue(
            "siteRecovery.appConsistentFrequencyMinutes", freq, "must be 0 (off) or a whole number of hours (60..720)"
        )
    if freq and freq > cfg.site_recovery.recovery_point_history_minutes:
        yield Issue("siteRecovery.appConsistentFrequencyMinutes", freq, "must not exceed recoveryPointHistoryMinutes")


def _adopt_issues(cfg: StackConfig, known: set[str]) -> Iterator[Issue]:
    """An import only adopts what the program would declare: same group, same names.

    The program puts every target VNet in its target placement (layout.*.placement.target, by
    default the target resource group) under the name taken from the adopted ID; a VNet in another
    group would be planned as a replacement, not an import.
    """
    locations = vnet_locations(cfg, Role.TARGET)
    subscriptions: dict[str, str] = {}
    for name, adopted in cfg.adopt.items():
        if name not in known:
            continue
        parts = adopted.id.split("/")
        subscription, group = parts[2].lower(), parts[4]
        loc = locations[name]
        path, placed_subscription, target_rg = loc.path, loc.subscription, loc.resource_group
        if placed_subscription:
            if placed_subscription.lower() != subscription:
                yield Issue(
                    f"adopt.{name}.id",
                    adopted.id,
                    f"is in another subscription than its placement ({path}.subscriptionId {placed_subscription})",
                )
        else:
            if subscriptions and subscription not in subscriptions:
                first = next(iter(subscriptions.values()))
                yield Issue(
                    f"adopt.{name}.id",
                    adopted.id,
                    f"is in another subscription than {first}; one stack, one subscription "
                    f"(or set {path}.subscriptionId)",
                )
            subscriptions.setdefault(subscription, f"adopt.{name}.id")
        if group.lower() != target_rg.lower():
            where, key = (
                (f"{target_rg!r} ({path})", f"{path}.resourceGroup")
                if loc.explicit_group
                else (f"the target stack's {target_rg!r}", "resourceGroupNames.target")
            )
            yield Issue(
                f"adopt.{name}.id",
                adopted.id,
                f"lives in resource group {group!r}, not in {where}: set {key} to {group!r} so the VNet is imported where it is",
            )
        names = layout_subnet_names(cfg.layout, name)
        for sub_name, sub_id in adopted.subnets.items():
            path = f"adopt.{name}.subnets.{sub_name}"
            if sub_name not in names:
                yield Issue(path, sub_id, f"no subnet of that name in {name} ({', '.join(names)})")
                continue
            expected = f"{adopted.id}/subnets/{sub_name}"
            if sub_id.lower() != expected.lower():
                yield Issue(
                    path, sub_id, f"is not a subnet of adopt.{name}.id named {sub_name!r} (expected {expected})"
                )
