"""What only the target stack adds: the drill network, Site Recovery and the recovery plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import resources

from components.firewall import TargetFirewall
from components.network import DrillArgs, DrillNetwork, Hub, Spoke
from components.recovery_plan import RecoveryPlan, RecoveryPlanArgs
from components.site_recovery import ReplicationSettings, SiteRecovery, SiteRecoveryArgs
from model import identity, naming
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
    estate = identity.resolve(cfg)
    assert estate.site_recovery is not None
    # The resolved estate's IDs, so dr needs no running prod stack for its mappings.
    targets = per_vnet(net, hub, spokes, "vnet_id")
    sources = source_vnet_ids(cfg, provs)
    pairs = {key: (sources[key], targets[key]) for key in sources}
    side.recovery = SiteRecovery(
        naming.SITE_RECOVERY_COMPONENT,
        SiteRecoveryArgs(
            ids=estate.site_recovery,
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
                estate,
                rg.name,
                rg.id,
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


def switch_scopes(cfg: StackConfig, estate: identity.Estate) -> list[tuple[str, str]]:
    """Where the network switch role is assigned: the resource groups of both hubs' gateways and
    connections (in their own subscriptions), and the circuits it joins. A circuit used with an
    authorization key (another subscription's circuit) needs no join permission: the key is the
    permission, and the circuit owner's scope is not ours."""
    keyed = {c for c in ("primary", "secondary") if authorization_key(c) or authorization_key(c, of_source=True)}
    scopes: dict[str, tuple[str, str]] = {}
    for role in Role:
        side = estate.side(role)
        for rid in (side.gateway, *side.connections.values()):
            scopes.setdefault(rid.group_id.lower(), (f"{role.value}-rg", rid.group_id))
    labels: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for label, scope in scopes.values():
        labels[label] = labels.get(label, 0) + 1
        out.append((label if labels[label] == 1 else f"{label}-{labels[label]}", scope))
    out += [(f"{c}-circuit", rid.id) for c, rid in sorted(estate.circuits.items()) if c not in keyed]
    return out


def recovery_plan_args(
    cfg: StackConfig,
    estate: identity.Estate,
    resource_group: pulumi.Input[str],
    resource_group_id: pulumi.Input[str],
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
    ids = estate.recovery_plan
    assert ids is not None, "the estate names a recovery plan wherever one lists replicated items"
    return RecoveryPlanArgs(
        plan_name=ids.plan.name,
        location=cfg.regions.target,
        resource_group_name=resource_group,
        resource_group_id=resource_group_id,
        subscription_id=estate.target.subscription,
        subscription_scope=identity.subscription_scope(estate.target.subscription),
        content_account_name=ids.content_storage.name,
        switch_scopes=switch_scopes(cfg, estate),
        vault_name=vault_name,
        primary_fabric_id=pulumi.Output.concat(vault_id, "/replicationFabrics/", fabric_names["source"]),
        recovery_fabric_id=pulumi.Output.concat(vault_id, "/replicationFabrics/", fabric_names["target"]),
        boot_groups=boot_groups(cfg),
        switch=switch_plan(cfg),
        automation_account_name=ids.automation_account.name,
        drill_vnet_keys=list(drill_vnet_keys),
        drill_vnet_ids=drill_vnet_ids,
        authorization_keys=keys,
        tags=dict(tags or {}),
        depends_on=list(depends_on),
    )
