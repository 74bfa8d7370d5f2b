"""expressroute-dr: the hub-and-spoke network of one region, and (target) its Site Recovery side.

Stack YAML -> validated model -> components -> outputs. See README.md for the config reference.
"""

import pulumi

from components.network import Hub, HubArgs, NetworkArgs, Spoke, SpokeArgs
from model.spec import network_for
from policies.shared import azure_facts
from program.aliases import drop_api_version_aliases
from program.estate import manages_network, network_resource_group, providers
from program.outputs import external_source_outputs, stack_outputs
from program.stack import connections, read_config
from program.target import build_target_side

cfg = read_config()  # raises before anything is registered when the config is invalid
# azure-native's API-version aliases can never match this program's state and cost most of a run.
pulumi.runtime.register_stack_transformation(drop_api_version_aliases)
net = network_for(cfg, cfg.role)
if not manages_network(cfg):  # source.mode external: production is managed elsewhere
    for key, value in external_source_outputs(cfg, net).items():
        pulumi.export(key, value)
else:
    tags = cfg.resource_tags(cfg.role)
    provs = providers(cfg)  # one per subscription named in a placement; none by default
    rg = network_resource_group(cfg, net, tags)
    # What the hub and every spoke share (typed by NetworkArgs, spread into each component's args).
    shared = vars(
        NetworkArgs(network=net, resource_group_name=rg.name, tags=tags, protect=cfg.protect, providers=provs)
    )
    hub = Hub(
        net.hub.key,
        HubArgs(
            **shared,
            gateway_sku=cfg.gateway_sku,
            gateway_public_ip=azure_facts.gateway_needs_public_ip(cfg.gateway_sku, cfg.gateway.public_ip),
            connections=connections(cfg),
        ),
    )
    spokes = [Spoke(s.key, SpokeArgs(**shared, vnet=s, hub=hub)) for s in net.spokes]
    target = build_target_side(cfg, net, rg, hub, spokes, provs)
    outputs = stack_outputs(cfg, net, rg, hub, spokes, target.drill, target.recovery, target.plan, target.firewall)
    for key, value in outputs.items():
        pulumi.export(key, value)
