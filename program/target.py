"""What only the target stack adds: the drill network, Site Recovery and the recovery plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, resources

from components.firewall import TargetFirewall
from components.network import DrillArgs, DrillNetwork, Hub, Spoke
from components.recovery_plan import RecoveryPlan, RecoveryPlanArgs
from components.site_recovery import ReplicationSettings, SiteRecovery, SiteRecoveryArgs
from model.config import Role, StackConfig
from model.phases import switch_plan
from model.spec import NetworkSpec, drill_network
from program.estate import source_vnet_ids, target_firewall
from program.outputs import per_vnet
from program.stack import authorization_key


@dataclass
class TargetSide:
    drill: DrillNetwork | None = None
    recovery: SiteRecovery | None = None
    plan: RecoveryPlan | None = None
    firewall: TargetFirewall | None = None


def build_target_side(
    cfg: StackConfig,
    net: NetworkSpec,
    rg: resources.ResourceGroup,
    hub: Hub,
    spokes: Sequence[Spoke],
    provs: Mapping[str, pulumi.ProviderResource] | None = None,
) -> TargetSide:
    side = TargetSide()
    if cfg.role is not Role.TARGET:
        return side
    provs = provs or {}
    tags = cfg.resource_tags(cfg.role)
    side.firewall = target_firewall(cfg, net, hub, provs)
    if cfg.drill.enabled:
        side.drill = DrillNetwork(
            "drill", DrillArgs(network=drill_network(cfg), resource_group_name=rg.name, tags=tags)
        )
    if not cfg.site_recovery.enabled:
        return side
    # Derived from the shared layout, so dr needs no running prod stack for its mappings.
    subscription = authorization.get_client_config_output().subscription_id
    targets = per_vnet(net, hub, spokes, "vnet_id")
    sources = source_vnet_ids(cfg, subscription, provs)
    pairs = {key: (sources[key], targets[key]) for key in sources}
    side.recovery = SiteRecovery(
        "asr",
        SiteRecoveryArgs(
            resource_group_name=rg.name,
            source_region=cfg.regions.source,
            target_region=cfg.regions.target,
            settings=ReplicationSettings(
                recovery_point_history_minutes=cfg.site_recovery.recovery_point_history_minutes,
                app_consistent_frequency_minutes=cfg.site_recovery.app_consistent_frequency_minutes,
                crash_consistent_frequency_minutes=cfg.site_recovery.crash_consistent_frequency_minutes,
                multi_vm_sync=cfg.site_recovery.multi_vm_sync,
            ),
            network_pairs=pairs,
            tags=tags,
            protect=cfg.protect,
        ),
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


def boot_groups(cfg: StackConfig) -> list[list[str]]:
    """The recovery plan's boot groups: an appliance NVA that Site Recovery replicates boots alone,
    first, so every VM after it finds its next hop up (docs/estates.md); then the configured groups."""
    rp = cfg.recovery_plan
    groups = [list(g.items) for g in rp.boot_groups] if rp else []
    nva = cfg.layout.hub.nva
    if nva.replicated_item and not nva.firewall:
        groups.insert(0, [nva.replicated_item])
    return groups


def recovery_plan_args(
    cfg: StackConfig,
    resource_group: pulumi.Input[str],
    resource_group_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    vault_name: pulumi.Input[str],
    vault_id: pulumi.Input[str],
    fabric_names: Mapping[str, str],
    drill_vnet_keys: Sequence[str] = (),
    drill_vnet_ids: pulumi.Input[Mapping[str, str]] | None = None,
    tags: Mapping[str, str] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> RecoveryPlanArgs:
    """Args from the validated config (call only when cfg.recovery_plan lists replicated items)."""
    rp = cfg.recovery_plan
    assert rp is not None and rp.items, "validated: a plan needs replicated items"
    # role -> circuit -> key: dr's own connections, and prod's, which the runbook rewrites too.
    keys = {
        role.value: {c: key for c in ("primary", "secondary") if (key := authorization_key(c, of_source=of_source))}
        for role, of_source in ((Role.TARGET, False), (Role.SOURCE, True))
    }
    return RecoveryPlanArgs(
        plan_name=rp.name or f"erdr-{cfg.regions.source}-to-{cfg.regions.target}",
        location=cfg.regions.target,
        resource_group_name=resource_group,
        resource_group_id=resource_group_id,
        subscription_id=subscription_id,
        vault_name=vault_name,
        primary_fabric_id=pulumi.Output.concat(vault_id, "/replicationFabrics/", fabric_names["source"]),
        recovery_fabric_id=pulumi.Output.concat(vault_id, "/replicationFabrics/", fabric_names["target"]),
        boot_groups=boot_groups(cfg),
        switch=switch_plan(cfg),
        automation_account_name=rp.automation_account_name or f"aa-erdr-{cfg.regions.target}",
        drill_vnet_keys=list(drill_vnet_keys),
        drill_vnet_ids=drill_vnet_ids,
        authorization_keys=keys,
        tags=dict(tags or {}),
        depends_on=list(depends_on),
    )
