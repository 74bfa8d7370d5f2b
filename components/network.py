"""Hub, spokes and the isolated drill network, as ComponentResources.

Type tokens are stable forever (renaming one needs an Alias). Every child is parented to its
component and named from the component's name, so URNs are deterministic.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pulumi
from pulumi_azure_native import network

from model import naming
from model.identity import Logical
from model.phases import ConnectionSpec
from model.spec import (
    GATEWAY_ROUTES_DISABLE_BGP,
    HUB_TO_SPOKE,
    SPOKE_TO_HUB,
    WORKLOAD_ROUTES_DISABLE_BGP,
    NetworkSpec,
    SubnetSpec,
    VnetSpec,
)
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


@cache
def _input_names(cls: type) -> frozenset[str]:
    """Every input a resource class takes (its ``__init__`` keywords), snake_case as Python spells them."""
    skip = {"self", "resource_name", "opts", "args", "__self__", "__props__", "id"}
    init = getattr(cls, "_internal_init", cls.__init__)
    return frozenset(p for p in inspect.signature(init).parameters if p not in skip)


def unmodelled_inputs(cls: type, inputs: Mapping[str, Any]) -> list[str]:
    """The inputs of ``cls`` this program leaves unset: an imported resource keeps its own values
    for them. The engine copies ignored properties from the imported state before it diffs, so the
    import reads as no change (pulumi/pulumi pkg/resource/deploy/step_generator.go, import with
    ignoreChanges)."""
    return sorted(_input_names(cls) - {k for k, v in inputs.items() if v is not None})


@dataclass(frozen=True)
class Placed:
    """Where one VNet's resources go: provider (its subscription), their names and groups (the
    resolved estate's, model/identity.py), adoption."""

    owner: pulumi.ComponentResource
    network: NetworkSpec
    # The stack's resource group, as the Output of the group the stack registers: a resource in
    # it waits for the group to exist.
    stack_group: pulumi.Input[str]
    provider: pulumi.ProviderResource | None

    @property
    def imports(self) -> Mapping[str, str]:
        return self.network.imports

    def name(self, logical: str) -> str:
        """The Azure name of the resource registered as ``logical`` (the adopted one's own)."""
        return self.network.name(logical).name

    def group(self, logical: str) -> pulumi.Input[str]:
        found = self.network.name(logical).resource_group
        return self.stack_group if found.lower() == self.network.resource_group.lower() else found

    def create(self, cls: Any, logical: str, *, protect: bool = False, **inputs: Any) -> Any:
        """``cls(logical, **inputs)`` parented to the owner, in this subscription; imported (with
        the inputs the program does not model left as they are) when ``logical`` was adopted."""
        options: dict[str, Any] = inputs.pop("options", {})
        # Declared (so the policy pack sees the design) but kept as the estate has them once adopted.
        kept: list[str] = inputs.pop("kept_when_adopted", [])
        import_id = self.imports.get(logical)
        if import_id:
            # Adopted production: the program owns the routing it models; tags and everything
            # else on the resource stay as the estate has them.
            inputs.pop("tags", None)
            options["import_"] = import_id
            options["ignore_changes"] = sorted({*unmodelled_inputs(cls, inputs), *kept})
        if self.provider is not None:
            options["provider"] = self.provider
        return cls(logical, opts=_opts(self.owner, protect=protect, **options), **inputs)


def placed(
    owner: pulumi.ComponentResource,
    spec: VnetSpec,
    args: NetworkArgs,
) -> Placed:
    provider = args.providers.get(spec.subscription_id) if spec.subscription_id else None
    return Placed(owner, args.network, args.resource_group_name, provider)


def _subnets(
    at: Placed,
    prefix: str,
    vnet: network.VirtualNetwork,
    spec: VnetSpec,
    route_tables: Mapping[str, network.RouteTable],
    tags: Mapping[str, str] | None = None,
) -> dict[str, network.Subnet]:
    """Subnets of one VNet, created one after another: Azure rejects concurrent subnet writes
    on a VNet (AnotherOperationInProgress)."""
    created: dict[str, network.Subnet] = {}
    previous: network.Subnet | None = None
    for sub in spec.subnets:
        table = route_tables.get(sub.name)
        options: dict[str, Any] = {"depends_on": [previous] if previous is not None else []}
        if sub.adopt_id:
            options["import_"] = sub.adopt_id
        logical = Logical.subnet(prefix, sub.name)
        nsg_ref: dict[str, Any] | None = {"id": sub.nsg_id} if sub.nsg_id else None
        if sub.nsg_rules is not None:
            nsg_name = Logical.subnet_nsg(prefix, sub.name)
            nsg = at.create(
                network.NetworkSecurityGroup,
                nsg_name,
                network_security_group_name=at.name(nsg_name),
                resource_group_name=at.group(nsg_name),
                location=at.network.region,
                security_rules=list(sub.nsg_rules),
                tags=dict(tags or {}),
            )
            nsg_ref = {"id": nsg.id}
        subnet: network.Subnet = at.create(
            network.Subnet,
            logical,
            subnet_name=sub.name,
            virtual_network_name=vnet.name,
            resource_group_name=at.group(logical),
            address_prefix=sub.prefix,
            route_table={"id": table.id} if table is not None else None,
            service_endpoints=[{"service": s} for s in sub.service_endpoints] or None,
            network_security_group=nsg_ref,
            delegations=[{"name": naming.delegation_name(d), "service_name": d} for d in sub.delegations] or None,
            private_endpoint_network_policies=sub.private_endpoint_network_policies,
            private_link_service_network_policies=sub.private_link_service_network_policies,
            default_outbound_access=sub.default_outbound_access,
            # Azure fills in each endpoint's locations, which the program cannot know; erdr.discover
            # reports an adopted routed subnet that lacks Microsoft.Storage.
            kept_when_adopted=["service_endpoints"],
            options=options,
        )
        created[sub.name] = previous = subnet
    return created


def _vnet(
    at: Placed,
    name: str,
    spec: VnetSpec,
    location: str,
    tags: Mapping[str, str],
    protect: bool,
) -> network.VirtualNetwork:
    options: dict[str, Any] = {"import_": spec.adopt_id} if spec.adopt_id else {}
    logical = Logical.vnet(name)
    return at.create(
        network.VirtualNetwork,
        logical,
        protect=protect,
        virtual_network_name=at.name(logical),
        resource_group_name=at.group(logical),
        location=location,
        address_space={"address_prefixes": list(spec.address_space)},
        tags=dict(tags),
        options=options,
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
    # Subscription ID -> its explicit provider, for VNets placed in other subscriptions.
    providers: Mapping[str, pulumi.ProviderResource] = field(default_factory=dict[str, pulumi.ProviderResource])


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
        spec = args.network
        at = placed(self, spec.hub, args)
        self.placement = at
        self.vnet = _vnet(at, name, spec.hub, spec.region, args.tags, args.protect)

        # The GatewaySubnet sends traffic for the spokes and the hub's workload subnets through
        # the NVA, the way their replies leave; no default route (it would break the gateway) and
        # BGP propagation stays on (the gateway needs on-prem routes).
        table_name = Logical.gateway_routes(name)
        gateway_routes = at.create(
            network.RouteTable,
            table_name,
            route_table_name=at.name(table_name),
            resource_group_name=at.group(table_name),
            location=spec.region,
            disable_bgp_route_propagation=GATEWAY_ROUTES_DISABLE_BGP,
            routes=_routes(
                at,
                table_name,
                [
                    {
                        "name": spec.route_name(table_name, prefix),
                        "address_prefix": prefix,
                        "next_hop_type": "VirtualAppliance",
                        "next_hop_ip_address": spec.nva_address,
                    }
                    for prefix in spec.gateway_nva_prefixes
                ]
                + [
                    {
                        "name": spec.route_name(table_name, prefix),
                        "address_prefix": prefix,
                        "next_hop_type": "VnetLocal",
                    }
                    for prefix in spec.gateway_direct_prefixes
                ],
            ),
            tags=dict(args.tags),
            options={"delete_before_replace": True},
        )
        tables: dict[str, network.RouteTable] = {GATEWAY_SUBNET: gateway_routes}
        workload = [s for s in spec.hub.subnets if s.routed_to_nva]
        if workload:
            hub_routes = default_route_table(at, Logical.workload_routes(name), spec, args.tags)
            tables.update({s.name: hub_routes for s in workload})
        tables.update(service_route_tables(at, name, spec.hub, spec, args.tags))
        self.subnets = _subnets(at, name, self.vnet, spec.hub, tables, args.tags)
        gateway_subnet = self.subnets[GATEWAY_SUBNET]

        ip_config: network.VirtualNetworkGatewayIPConfigurationArgsDict = {
            "name": "default",
            "subnet": {"id": gateway_subnet.id},
        }
        if args.gateway_public_ip:
            pip_name = Logical.gateway_ip(name)
            pip = at.create(
                network.PublicIPAddress,
                pip_name,
                protect=args.protect,
                public_ip_address_name=at.name(pip_name),
                resource_group_name=at.group(pip_name),
                location=spec.region,
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                zones=["1", "2", "3"] if args.gateway_sku.endswith("AZ") else None,
                tags=dict(args.tags),
            )
            ip_config["public_ip_address"] = {"id": pip.id}
        gateway_name = Logical.gateway(name)
        self.gateway = at.create(
            network.VirtualNetworkGateway,
            gateway_name,
            protect=args.protect,
            virtual_network_gateway_name=at.name(gateway_name),
            resource_group_name=at.group(gateway_name),
            location=spec.region,
            gateway_type="ExpressRoute",
            sku={"name": args.gateway_sku, "tier": args.gateway_sku},
            ip_configurations=[ip_config],
            # An adopted gateway keeps its IP configuration: changing it means rebuilding the gateway.
            kept_when_adopted=["ip_configurations"],
            tags=dict(args.tags),
            options={"custom_timeouts": GATEWAY_TIMEOUTS},
        )

        self.connections: dict[str, network.VirtualNetworkGatewayConnection] = {}
        for conn in args.connections:
            conn_name = Logical.connection(name, conn.spec.circuit)
            self.connections[conn.spec.name] = at.create(
                network.VirtualNetworkGatewayConnection,
                conn_name,
                # Connections that a phase removes cannot be protected, or the phase
                # change would be refused.
                protect=args.protect and conn.spec.always,
                virtual_network_gateway_connection_name=at.name(conn_name),
                resource_group_name=at.group(conn_name),
                location=spec.region,
                connection_type="ExpressRoute",
                virtual_network_gateway1={"id": self.gateway.id},
                peer={"id": conn.circuit_id},
                authorization_key=conn.authorization_key,
                routing_weight=conn.spec.routing_weight,
                tags=dict(args.tags),
                options={
                    "custom_timeouts": CONNECTION_TIMEOUTS,
                    # A replacement must never hold the circuit twice.
                    "delete_before_replace": True,
                },
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


def _routes(at: Placed, table: str, routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes as written; an adopted table's routes also carry their IDs, as Azure returns them
    (azure-native reads an imported table's routes with their IDs, so leaving them out would be a diff)."""
    if not at.imports.get(table):
        return routes
    return [{**r, "id": at.network.name(table).child("routes", r["name"]).id} for r in routes]


def default_route_table(
    at: Placed,
    name: str,
    spec: NetworkSpec,
    tags: Mapping[str, str],
) -> network.RouteTable:
    """0.0.0.0/0 -> NVA with BGP propagation off, so on-prem and inter-spoke traffic goes through
    the NVA instead of routes the gateway learns."""
    return at.create(
        network.RouteTable,
        name,
        route_table_name=at.name(name),
        resource_group_name=at.group(name),
        location=spec.region,
        disable_bgp_route_propagation=WORKLOAD_ROUTES_DISABLE_BGP,
        routes=_routes(
            at,
            name,
            [
                {
                    "name": spec.route_name(name, DEFAULT_ROUTE),
                    "address_prefix": DEFAULT_ROUTE,
                    "next_hop_type": "VirtualAppliance",
                    "next_hop_ip_address": spec.nva_address,
                }
            ],
        ),
        tags=dict(tags),
        options={"delete_before_replace": True},
    )


def service_route_tables(
    at: Placed, key: str, vnet: VnetSpec, spec: NetworkSpec, tags: Mapping[str, str]
) -> dict[str, network.RouteTable]:
    """The tables Azure service subnets ask for: AzureFirewallManagementSubnet's "only route allowed
    on this subnet is a default route to the Internet, and BGP route propagation must be disabled"
    (learn.microsoft.com/azure/firewall/forced-tunneling). Other service subnets get none."""
    out: dict[str, network.RouteTable] = {}
    for sub in vnet.subnets:
        if not sub.internet_default:
            continue
        name = Logical.service_routes(key, sub.name)
        out[sub.name] = at.create(
            network.RouteTable,
            name,
            route_table_name=at.name(name),
            resource_group_name=at.group(name),
            location=spec.region,
            disable_bgp_route_propagation=True,
            routes=_routes(
                at,
                name,
                [
                    {
                        "name": spec.route_name(name, DEFAULT_ROUTE, to_internet=True),
                        "address_prefix": DEFAULT_ROUTE,
                        "next_hop_type": "Internet",
                    }
                ],
            ),
            tags=dict(tags),
            options={"delete_before_replace": True},
        )
    return out


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
        spec, net, hub = args.vnet, args.network, args.hub
        at = placed(self, spec, args)
        self.vnet = _vnet(at, name, spec, net.region, args.tags, args.protect)
        routed: list[SubnetSpec] = [s for s in spec.subnets if s.routed_to_nva]
        tables: dict[str, network.RouteTable] = {}
        if routed:
            table = default_route_table(at, Logical.spoke_routes(name), net, args.tags)
            tables = {s.name: table for s in routed}
        tables.update(service_route_tables(at, name, spec, net, args.tags))
        self.subnets = _subnets(at, name, self.vnet, spec, tables, args.tags)
        # A peering write while either VNet still has a subnet write in flight fails.
        settled = [*self.subnets.values(), *hub.subnets.values()]
        hub_name = net.hub.key
        # Each peering lives in its local VNet's subscription and points at the remote VNet by ID,
        # which may be in another subscription of the tenant ("Create a virtual network peering -
        # Resource Manager, different subscriptions", learn.microsoft.com/azure/virtual-network/
        # create-peering-different-subscriptions). The hub side is written with the hub's provider.
        hub_at = Placed(self, net, hub.placement.stack_group, hub.placement.provider)
        # The article's table, hub to spoke: access, forwarded traffic, gateway transit.
        to_spoke = Logical.peering(hub_name, name)
        self.hub_to_spoke = hub_at.create(
            network.VirtualNetworkPeering,
            to_spoke,
            virtual_network_peering_name=hub_at.name(to_spoke),
            virtual_network_name=hub.vnet.name,
            resource_group_name=hub_at.group(to_spoke),
            remote_virtual_network={"id": self.vnet.id},
            **HUB_TO_SPOKE.args(),
            options={"depends_on": settled, "delete_before_replace": True},
        )
        # Spoke to hub: access, forwarded traffic, use remote gateways. Azure refuses
        # useRemoteGateways until the hub gateway exists (RemoteVnetHasNoGateways).
        to_hub = Logical.peering(name, hub_name)
        self.spoke_to_hub = at.create(
            network.VirtualNetworkPeering,
            to_hub,
            virtual_network_peering_name=at.name(to_hub),
            virtual_network_name=self.vnet.name,
            resource_group_name=at.group(to_hub),
            remote_virtual_network={"id": hub.vnet.id},
            **SPOKE_TO_HUB.args(),
            options={"depends_on": [*settled, hub.gateway, self.hub_to_spoke], "delete_before_replace": True},
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
        at = Placed(self, args.network, args.resource_group_name, None)
        # The tag marks them for the drill-network-isolated policy, also while their names are
        # unknown (a first preview), and for operators in the portal.
        tags = {**args.tags, DRILL_TAG[0]: DRILL_TAG[1]}
        for spec in args.network.vnets:
            vnet = _vnet(at, Logical.drill(spec.key), spec, args.network.region, tags, False)
            _subnets(at, Logical.drill(spec.key), vnet, spec, {})
            vnets[spec.key] = vnet
        self.vnet_ids = output_map(vnets)
        self.address_spaces = {s.key: list(s.address_space) for s in args.network.vnets}
        self.register_outputs({"vnet_ids": self.vnet_ids, "address_spaces": self.address_spaces})
