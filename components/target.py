"""What only the target stack adds: the drill network, Site Recovery and the recovery plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulumi_azure_native import authorization, resources

from components.config import Role, StackConfig
from components.network import DrillArgs, DrillNetwork, Hub, Spoke, per_vnet
from components.recovery_plan import RecoveryPlan, recovery_plan_args
from components.replica import NetworkSpec, drill_network, network_for
from components.site_recovery import SiteRecovery, SiteRecoveryArgs
from components.stack import source_vnet_id


@dataclass
class TargetSide:
    drill: DrillNetwork | None = None
    recovery: SiteRecovery | None = None
    plan: RecoveryPlan | None = None


def build_target_side(
    cfg: StackConfig, net: NetworkSpec, rg: resources.ResourceGroup, hub: Hub, spokes: Sequence[Spoke]
) -> TargetSide:
    side = TargetSide()
    if cfg.role is not Role.TARGET:
        return side
    tags = cfg.resource_tags(cfg.role)
    if cfg.drill.enabled:
        side.drill = DrillNetwork("drill", DrillArgs(drill_network(cfg), rg.name, tags))
    if not cfg.site_recovery.enabled:
        return side
    source = network_for(cfg, Role.SOURCE)
    # Derived from the shared layout, so dr needs no running prod stack for its mappings.
    subscription = authorization.get_client_config_output().subscription_id
    targets = per_vnet(net, hub, spokes, "vnet_id")
    pairs = {
        v.key: (source_vnet_id(subscription, source.resource_group, v.azure_name), targets[v.key]) for v in source.vnets
    }
    side.recovery = SiteRecovery(
        "asr",
        SiteRecoveryArgs(rg.name, cfg.regions.source, cfg.regions.target, cfg.site_recovery, pairs, tags, cfg.protect),
    )
    if cfg.recovery_plan is not None and cfg.recovery_plan.items:  # no replicated items, no plan
        drill = side.drill
        side.plan = RecoveryPlan(
            "recovery-plan",
            recovery_plan_args(
                cfg,
                rg.name,
                rg.id,
                subscription,
                side.recovery.vault_name,
                side.recovery.vault_id,
                side.recovery.fabric_names,
                drill_vnet_keys=list(drill.address_spaces) if drill else (),
                drill_vnet_ids=drill.vnet_ids if drill else None,
                tags=tags,
                depends_on=[side.recovery],
            ),
        )
    return side
