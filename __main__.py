"""expressroute-dr: the hub-and-spoke network of one region, and (target) its Site Recovery side.

Stack YAML -> validated model -> components -> outputs. See README.md for the config reference.
"""

import pulumi
from pulumi_azure_native import authorization, resources

from components.aliases import drop_api_version_aliases
from components.network import DrillArgs, DrillNetwork, Hub, HubArgs, Spoke, SpokeArgs
from components.outputs import stack_outputs
from components.recovery_plan import RecoveryPlan, recovery_plan_args
from components.replica import drill_network, network_for
from components.site_recovery import SiteRecovery, SiteRecoveryArgs
from components.stack import connections, is_target, read_config, source_vnet_id
from policies import azure_facts

cfg = read_config()  # raises before anything is registered when the config is invalid
# azure-native's API-version aliases can never match this program's state and cost most of a run.
pulumi.runtime.register_stack_transformation(drop_api_version_aliases)
net = network_for(cfg, cfg.role)
tags = {"project": "expressroute-dr", "role": cfg.role.value, **cfg.tags}
rg = resources.ResourceGroup(
    "network-rg",
    resource_group_name=net.resource_group,
    location=net.region,
    tags=tags,
    # Adopted VNets live in a group that already exists: import it too rather than fail creating it.
    opts=pulumi.ResourceOptions(protect=cfg.protect, import_=cfg.adopted_resource_group_id),
)
hub = Hub(
    net.hub.key,
    HubArgs(
        spec=net,
        resource_group_name=rg.name,
        gateway_sku=cfg.gateway_sku,
        gateway_public_ip=azure_facts.gateway_needs_public_ip(cfg.gateway_sku, cfg.gateway.public_ip),
        connections=connections(cfg),
        tags=tags,
        protect=cfg.protect,
    ),
)
spokes = [Spoke(s.key, SpokeArgs(s, net, rg.name, hub, tags, cfg.protect)) for s in net.spokes]
drill = recovery = plan = None
if is_target(cfg):
    if cfg.drill.enabled:
        drill = DrillNetwork("drill", DrillArgs(drill_network(cfg), rg.name, tags))
    if cfg.site_recovery.enabled:
        source = network_for(cfg, cfg.role.SOURCE)
        subscription = authorization.get_client_config_output().subscription_id
        targets = {net.hub.key: hub.vnet_id, **{v.key: s.vnet_id for v, s in zip(net.spokes, spokes, strict=True)}}
        pairs = {
            v.key: (source_vnet_id(subscription, source.resource_group, v.azure_name), targets[v.key])
            for v in source.vnets
        }
        recovery = SiteRecovery(
            "asr",
            SiteRecoveryArgs(
                rg.name, cfg.regions.source, cfg.regions.target, cfg.site_recovery, pairs, tags, cfg.protect
            ),
        )
        if cfg.recovery_plan is not None and cfg.recovery_plan.items:  # no replicated items, no plan
            plan = RecoveryPlan(
                "recovery-plan",
                recovery_plan_args(
                    cfg,
                    rg.name,
                    rg.id,
                    subscription,
                    recovery.vault_name,
                    recovery.vault_id,
                    recovery.fabric_names,
                    drill_vnet_keys=list(drill.address_spaces) if drill else (),
                    drill_vnet_ids=drill.vnet_ids if drill else None,
                    tags=tags,
                    depends_on=[recovery],
                ),
            )

for key, value in stack_outputs(cfg, net, rg, hub, spokes, drill, recovery, plan).items():
    pulumi.export(key, value)
