"""Hub, spokes and the isolated drill network, as ComponentResources.

Type tokens are stable forever (renaming one needs an Alias). Every child is parented to its
component and named from the component's name, so URNs are deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network

from model.phases import ConnectionSpec
from model.spec import NetworkSpec, SubnetSpec, VnetSpec
from policies.shared.names import DEFAULT_ROUTE, DRILL_TAG, GATEWAY_SUBNET

# ExpressRoute gateway creation takes up to ~45 minutes; updates (SKU change) as long.
GATEWAY_TIMEOUTS = pulumi.CustomTimeouts(create="90m", update="90m", delete="60m")
CONNECTION_TIMEOUTS = pulumi.CustomTimeouts(create="30m", update="30m", delete="30m")


def output_map(resources: Mapping[str, pulumi.CustomResource]) -> pulumi.Output[dict[str, str]]:
    """{key: resource ID} as one Output (an empty mapping stays an empty dict)."""
    if not resources:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**{k: r.id for k, r in resources.items()}).apply(dict)


def _opts(parent: pulumi.Resource, *, protect: bool = False, **kwargs: object) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, protect=protect, **kwargs)  # type: ignore[arg-type]


def _subnets(
    owner: pulumi.ComponentResource,
    prefix: str,
    vnet: network.VirtualNetwork,
    spec: VnetSpec,
    resource_group: pulumi.Input[str],
    route_tables: Mapping[str, network.RouteTable],
) -> dict[str, network.Subnet]:
    """Subnets of one VNet, created one after another: Azure rejects concurrent subnet writes
    on a VNet (AnotherOperationInProgress)."""
    created: dict[str, network.Subnet] = {}
    previous: network.Subnet | None = None
    for sub in spec.subnets:
        table = route_tables.get(sub.name)
        previous = network.Subnet(
            f"{prefix}-{sub.name}",
            subnet_name=sub.name,
            virtual_network_name=vnet.name,
            resource_group_name=resource_group,
            address_prefix=sub.prefix,
            route_table={"id": table.id} if table is not None else None,
            service_endpoints=[{"service": s} for s in sub.service_endpoints] or None,
            opts=_opts(
                owner,
                depends_on=[previous] if previous is not None else [],
                import_=sub.adopt_id,
            ),
        )
        created[sub.name] = previous
    return created


def _vnet(
    owner: pulumi.ComponentResource,
    name: str,
    spec: VnetSpec,
    location: str,
    resource_group: pulumi.Input[str],
    tags: Mapping[str, str],
    protect: bool,
) -> network.VirtualNetwork:
    return network.VirtualNetwork(
        f"{name}-vnet",
        virtual_network_name=spec.azure_name,
        resource_group_name=resource_group,
        location=location,
        address_space={"address_prefixes": list(spec.address_space)},
        tags=dict(tags),
        opts=_opts(owner, protect=protect, import_=spec.adopt_id),
    )


@dataclass(kw_only=True)
class ConnectionArgs:
    spec: ConnectionSpec
    authorization_key: pulumi.Output[str] | None
    # Resolves to the circuit ID; for exclusive connections it resolves only after the peer
    # stack reports that it no longer holds the circuit (program/stack.py, the exclusive gate).
    circuit_id: pulumi.Input[str]


@dataclass(kw_only=True)
class NetworkArgs:
    """What the hub and every spoke share: the region's network, its resource group, tags."""

    network: NetworkSpec
    resource_group_name: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])
    protect: bool = True


@dataclass(kw_only=True)
class HubArgs(NetworkArgs):
    gateway_sku: str
    gateway_public_ip: bool
    connections: Sequence[ConnectionArgs] = field(default_factory=list[ConnectionArgs])


class Hub(pulumi.ComponentResource):
    """Hub VNet: NVA subnet, GatewaySubnet with its route table, ExpressRoute gateway, connections."""

    vnet_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    subnet_ids: pulumi.Output[dict[str, str]]
    gateway_id: pulumi.Output[str]
    connection_ids: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: HubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:network:Hub", name, None, opts)
        spec, rg = args.network, args.resource_group_name
        self.vnet = _vnet(self, name, spec.hub, spec.region, rg, args.tags, args.protect)

        # The GatewaySubnet sends spoke traffic through the NVA; no default route (it would
        # break the gateway) and BGP propagation stays on (the gateway needs on-prem routes).
        gateway_routes = network.RouteTable(
            f"{name}-gateway-routes",
            route_table_name=f"rt-{spec.hub.azure_name}-gateway",
            resource_group_name=rg,
            location=spec.region,
            disable_bgp_route_propagation=False,
            routes=[
                {
                    "name": f"to-{prefix.replace('/', '_').replace(':', '-')}",
                    "address_prefix": prefix,
                    "next_hop_type": "VirtualAppliance",
                    "next_hop_ip_address": spec.nva_address,
                }
                for prefix in spec.spoke_prefixes
            ],
            tags=dict(args.tags),
            opts=_opts(self, delete_before_replace=True),
        )
        tables: dict[str, network.RouteTable] = {GATEWAY_SUBNET: gateway_routes}
        workload = [s for s in spec.hub.subnets if s.routed_to_nva]
        if workload:
            hub_routes = default_route_table(self, f"{name}-workload-routes", spec.hub, spec, rg, args.tags)
            tables.update({s.name: hub_routes for s in workload})
        self.subnets = _subnets(self, name, self.vnet, spec.hub, rg, tables)
        gateway_subnet = self.subnets[GATEWAY_SUBNET]

        ip_config: network.VirtualNetworkGatewayIPConfigurationArgsDict = {
            "name": "default",
            "subnet": {"id": gateway_subnet.id},
        }
        if args.gateway_public_ip:
            pip = network.PublicIPAddress(
                f"{name}-gateway-ip",
                public_ip_address_name=f"pip-ergw-{spec.hub.azure_name}",
                resource_group_name=rg,
                location=spec.region,
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                zones=["1", "2", "3"] if args.gateway_sku.endswith("AZ") else None,
                tags=dict(args.tags),
                opts=_opts(self, protect=args.protect),
            )
            ip_config["public_ip_address"] = {"id": pip.id}
        self.gateway = network.VirtualNetworkGateway(
            f"{name}-gateway",
            virtual_network_gateway_name=spec.gateway_name,
            resource_group_name=rg,
            location=spec.region,
            gateway_type="ExpressRoute",
            sku={"name": args.gateway_sku, "tier": args.gateway_sku},
            ip_configurations=[ip_config],
            tags=dict(args.tags),
            opts=_opts(self, protect=args.protect, custom_timeouts=GATEWAY_TIMEOUTS),
        )

        self.connections: dict[str, network.VirtualNetworkGatewayConnection] = {}
        for conn in args.connections:
            self.connections[conn.spec.name] = network.VirtualNetworkGatewayConnection(
                f"{name}-{conn.spec.circuit}-connection",
                virtual_network_gateway_connection_name=conn.spec.name,
                resource_group_name=rg,
                location=spec.region,
                connection_type="ExpressRoute",
                virtual_network_gateway1={"id": self.gateway.id},
                peer={"id": conn.circuit_id},
                authorization_key=conn.authorization_key,
                routing_weight=conn.spec.routing_weight,
                tags=dict(args.tags),
                opts=_opts(
                    self,
                    # Connections that a phase removes cannot be protected, or the phase
                    # change would be refused.
                    protect=args.protect and conn.spec.always,
                    custom_timeouts=CONNECTION_TIMEOUTS,
                    # A replacement must never hold the circuit twice.
                    delete_before_replace=True,
                ),
            )

        self.vnet_id = self.vnet.id
        self.vnet_name = self.vnet.name
        self.subnet_ids = output_map(self.subnets)
        self.gateway_id = self.gateway.id
        self.connection_ids = output_map(self.connections)
        self.register_outputs(
            {
                "vnet_id": self.vnet_id,
                "vnet_name": self.vnet_name,
                "subnet_ids": self.subnet_ids,
                "gateway_id": self.gateway_id,
                "connection_ids": self.connection_ids,
            }
        )


def default_route_table(
    owner: pulumi.ComponentResource,
    name: str,
    vnet: VnetSpec,
    spec: NetworkSpec,
    resource_group: pulumi.Input[str],
    tags: Mapping[str, str],
) -> network.RouteTable:
    """0.0.0.0/0 -> NVA with BGP propagation off, so on-prem and inter-spoke traffic goes through
    the NVA instead of routes the gateway learns."""
    return network.RouteTable(
        name,
        route_table_name=f"rt-{vnet.azure_name}",
        resource_group_name=resource_group,
        location=spec.region,
        disable_bgp_route_propagation=True,
        routes=[
            {
                "name": "default-to-nva",
                "address_prefix": DEFAULT_ROUTE,
                "next_hop_type": "VirtualAppliance",
                "next_hop_ip_address": spec.nva_address,
            }
        ],
        tags=dict(tags),
        opts=_opts(owner, delete_before_replace=True),
    )


@dataclass(kw_only=True)
class SpokeArgs(NetworkArgs):
    vnet: VnetSpec
    hub: Hub


class Spoke(pulumi.ComponentResource):
    """Spoke VNet, its subnets routed through the NVA, and the peerings with the hub."""

    vnet_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    subnet_ids: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: SpokeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:network:Spoke", name, None, opts)
        spec, net, rg, hub = args.vnet, args.network, args.resource_group_name, args.hub
        self.vnet = _vnet(self, name, spec, net.region, rg, args.tags, args.protect)
        routed: list[SubnetSpec] = [s for s in spec.subnets if s.routed_to_nva]
        tables: dict[str, network.RouteTable] = {}
        if routed:
            table = default_route_table(self, f"{name}-routes", spec, net, rg, args.tags)
            tables = {s.name: table for s in routed}
        self.subnets = _subnets(self, name, self.vnet, spec, rg, tables)
        # A peering write while either VNet still has a subnet write in flight fails.
        settled = [*self.subnets.values(), *hub.subnets.values()]
        hub_name = net.hub.key
        # The article's table, hub to spoke: access, forwarded traffic, gateway transit.
        self.hub_to_spoke = network.VirtualNetworkPeering(
            f"{hub_name}-to-{name}",
            virtual_network_peering_name=f"{net.hub.azure_name}-to-{spec.azure_name}",
            virtual_network_name=hub.vnet.name,
            resource_group_name=rg,
            remote_virtual_network={"id": self.vnet.id},
            allow_virtual_network_access=True,
            allow_forwarded_traffic=True,
            allow_gateway_transit=True,
            use_remote_gateways=False,
            opts=_opts(self, depends_on=settled, delete_before_replace=True),
        )
        # Spoke to hub: access, forwarded traffic, use remote gateways. Azure refuses
        # useRemoteGateways until the hub gateway exists (RemoteVnetHasNoGateways).
        self.spoke_to_hub = network.VirtualNetworkPeering(
            f"{name}-to-{hub_name}",
            virtual_network_peering_name=f"{spec.azure_name}-to-{net.hub.azure_name}",
            virtual_network_name=self.vnet.name,
            resource_group_name=rg,
            remote_virtual_network={"id": hub.vnet.id},
            allow_virtual_network_access=True,
            allow_forwarded_traffic=True,
            allow_gateway_transit=False,
            use_remote_gateways=True,
            opts=_opts(self, depends_on=[*settled, hub.gateway, self.hub_to_spoke], delete_before_replace=True),
        )
        self.vnet_id = self.vnet.id
        self.vnet_name = self.vnet.name
        self.subnet_ids = output_map(self.subnets)
        self.register_outputs({"vnet_id": self.vnet_id, "vnet_name": self.vnet_name, "subnet_ids": self.subnet_ids})


@dataclass(kw_only=True)
class DrillArgs:
    network: NetworkSpec
    resource_group_name: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class DrillNetwork(pulumi.ComponentResource):
    """Isolated copies of the VNets for test failovers: never peered, never connected."""

    vnet_ids: pulumi.Output[dict[str, str]]
    address_spaces: dict[str, list[str]]

    def __init__(self, name: str, args: DrillArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:network:DrillNetwork", name, None, opts)
        vnets: dict[str, network.VirtualNetwork] = {}
        # The tag marks them for the drill-network-isolated policy, also while their names are
        # unknown (a first preview), and for operators in the portal.
        tags = {**args.tags, DRILL_TAG[0]: DRILL_TAG[1]}
        for spec in args.network.vnets:
            vnet = _vnet(self, f"{name}-{spec.key}", spec, args.network.region, args.resource_group_name, tags, False)
            _subnets(self, f"{name}-{spec.key}", vnet, spec, args.resource_group_name, {})
            vnets[spec.key] = vnet
        self.vnet_ids = output_map(vnets)
        self.address_spaces = {s.key: list(s.address_space) for s in args.network.vnets}
        self.register_outputs({"vnet_ids": self.vnet_ids, "address_spaces": self.address_spaces})
