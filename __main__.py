"""expressroute-dr: the hub-and-spoke network of one region, and (target) its Site Recovery side.

Stack YAML -> validated model -> components -> outputs. See README.md for the config reference.
"""

import pulumi
from pulumi_azure_native import resources

from components.network import Hub, HubArgs, Spoke, SpokeArgs
from model.spec import network_for
from policies.shared import azure_facts
from program.aliases import drop_api_version_aliases
from program.outputs import stack_outputs
from program.stack import connections, read_config
from program.target import build_target_side

cfg = read_config()  # raises before anything is registered when the config is invalid
# azure-native's API-version aliases can never match this program's state and cost most of a run.
pulumi.runtime.register_stack_transformation(drop_api_version_aliases)
net = network_for(cfg, cfg.role)
tags = cfg.resource_tags(cfg.role)
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
        network=net,
        resource_group_name=rg.name,
        tags=tags,
        protect=cfg.protect,
        gateway_sku=cfg.gateway_sku,
        gateway_public_ip=azure_facts.gateway_needs_public_ip(cfg.gateway_sku, cfg.gateway.public_ip),
        connections=connections(cfg),
    ),
)
spokes = [
    Spoke(s.key, SpokeArgs(network=net, resource_group_name=rg.name, tags=tags, protect=cfg.protect, vnet=s, hub=hub))
    for s in net.spokes
]
target = build_target_side(cfg, net, rg, hub, spokes)

for key, value in stack_outputs(cfg, net, rg, hub, spokes, target.drill, target.recovery, target.plan).items():
    pulumi.export(key, value)
