"""What only the target stack adds: the drill network, Site Recovery and the recovery plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import resources

from components.firewall import TargetFirewall
from components.network import DrillArgs, DrillNetwork, Hub, Spoke
from components.recovery_plan import RecoveryPlan, RecoveryPlanArgs, SwitchScopes
from components.site_recovery import ReplicationSettings, SiteRecovery, SiteRecoveryArgs
from model import identity, naming
from model.config import Phase, Role, StackConfig
from model.phases import ConnectionSpec, connection_plan, switch_plan
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
                # Some assignments sit on this stack's own gateway and connections.
                assignments_depend_on=[hub],
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


def switch_scopes(cfg: StackConfig, estate: identity.Estate) -> SwitchScopes:
    """Where the network roles are assigned: only for a hub whose connections some operation
    changes (model/phases.py's role order; the runbook never calls ARM for another), and there
    only on what the runbook writes. A connection some phase lacks is created and deleted, so its
    group gets the connections role; one present in every phase is only reweighted, so it gets the
    weights role itself. The hub's gateway gets join; a circuit gets join unless every connection
    the runbook writes to it redeems an authorization key (the key is the circuit owner's
    permission, and the circuit owner's scope is not ours)."""
    plan = switch_plan(cfg)
    touched = [role for role in Role if any(role.value in roles for roles in plan.role_order.values())]
    # role -> connection name -> spec, over every phase; and the names each role holds in every phase.
    specs: dict[Role, dict[str, ConnectionSpec]] = {}
    every: dict[Role, set[str]] = {}
    for role in touched:
        held = {phase: {c.name: c for c in connection_plan(cfg, role, phase)} for phase in Phase}
        every[role] = set.intersection(*(set(h) for h in held.values()))
        specs[role] = {name: spec for h in held.values() for name, spec in h.items()}
    groups: dict[str, tuple[str, str]] = {}
    for role in touched:
        for name, spec in sorted(specs[role].items()):
            if name not in every[role]:
                rid = _connection_id(spec)
                groups.setdefault(rid.group_id.lower(), (f"{role.value}-connections", rid.group_id))
    weights: list[tuple[str, str]] = []
    gateways: list[tuple[str, str]] = []
    circuits: dict[str, tuple[str, str]] = {}
    for role in touched:
        for name in sorted(every[role]):
            # The runbook writes it whenever it differs from the phase's (weight, tags, drift).
            rid = _connection_id(specs[role][name])
            if rid.group_id.lower() not in groups:  # a group's role already covers it
                weights.append((f"{role.value}-{specs[role][name].circuit}-connection", rid.id))
        gateways.append((f"{role.value}-gateway", estate.side(role).gateway.id))
        for spec in specs[role].values():
            if not authorization_key(spec.circuit, of_source=role is Role.SOURCE):
                circuit = estate.circuits[spec.circuit]
                circuits.setdefault(circuit.id.lower(), (f"{spec.circuit}-circuit", circuit.id))
    return SwitchScopes(
        connections=_numbered(list(groups.values())),
        weights=weights,
        gateways=gateways,
        circuits=sorted(circuits.values()),
    )


def _connection_id(spec: ConnectionSpec) -> identity.ResourceId:
    assert spec.id is not None, "connection_plan names each connection's ID (model/identity.py)"
    return spec.id


def _numbered(scopes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Labels made unique (a hub's connections may sit in several groups)."""
    seen: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for label, scope in scopes:
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label}-{seen[label]}", scope))
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
    assignments_depend_on: Sequence[pulumi.Resource] = (),
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
        automation_account_id=ids.automation_account.id,
        role_definition_ids={
            key.replace("_", "-"): value for key, value in rp.role_definition_ids.model_dump().items() if value
        },
        drill_vnet_keys=list(drill_vnet_keys),
        drill_vnet_ids=drill_vnet_ids,
        authorization_keys=keys,
        tags=dict(tags or {}),
        depends_on=list(depends_on),
        assignments_depend_on=list(assignments_depend_on),
    )
