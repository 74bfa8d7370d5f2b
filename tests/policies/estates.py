"""Build small azure-native estates for the policy tests, the way the engine would describe them.

The builder records each resource's *inputs*, as a program registers them. Stack policies get
what the engine gives ``AnalyzeStack``, the *outputs*, derived from those inputs by
:mod:`erdr.engine_view` (azure-native's own output shapes):

- ``Estate(preview=True)``: a first ``pulumi preview``. References between the new resources are
  unknown in the inputs and followed by property dependencies; in the outputs ``id``, ``name``
  and every unset property are unknown and path parameters are absent;
- ``Estate(preview=False)``: after ``pulumi up``. Real-looking ARM IDs and names, no property
  dependencies on references, so rules must follow the IDs.

Resource policies get the inputs (``Analyze``). The same builder feeds the pure tests (as the
SDK's PolicyResources, props wrapped in its unknown-checking proxy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import unknown_checking_proxy

from erdr import engine_view
from erdr.engine_view import UNKNOWN, secret
from policies.values import mark_secrets

SUB = "00000000-0000-0000-0000-000000000000"
N = "azure-native:network:"
ER_HK = f"/subscriptions/{SUB}/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-hongkong"
ER_SG = f"/subscriptions/{SUB}/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-singapore"
HK = {"id": ER_HK, "name": "er-hongkong", "peeringLocation": "Hong Kong", "skuTier": "Standard", "bandwidthMbps": 1000}
SG = {"id": ER_SG, "name": "er-singapore", "peeringLocation": "Singapore", "skuTier": "Standard", "bandwidthMbps": 500}


@dataclass
class Item:
    urn: str
    props: dict[str, Any]
    deps: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    resource_id: str = ""  # Azure's ID when not the one its inputs give (another subscription)

    @property
    def type(self) -> str:
        return self.urn.split("::")[-2]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


class Estate:
    def __init__(self, preview: bool = False, rg: str = "rg", stack: str = "test") -> None:
        self.preview, self.rg, self.stack = preview, rg, stack
        self.items: dict[str, Item] = {}
        self.gateway_of: dict[str, str] = {}

    # --- plumbing -------------------------------------------------------------------------

    def urn(self, type_: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::project::{type_}::{name}"

    def arm(self, path: str) -> str:
        return f"/subscriptions/{SUB}/resourceGroups/{self.rg}/providers/Microsoft.Network/{path}"

    def ident(self, path: str) -> str:
        return UNKNOWN if self.preview else self.arm(path)

    def add(self, type_: str, name: str, props: dict[str, Any], deps: Mapping[str, list[str]] | None = None) -> str:
        urn = self.urn(type_, name)
        self.items[urn] = Item(urn, props, dict(deps or {}))
        return urn

    def props(self, urn: str) -> dict[str, Any]:
        return self.items[urn].props

    def remove(self, urn: str) -> None:
        del self.items[urn]

    def path_of(self, urn: str) -> str:
        item = self.items[urn]
        p = item.props
        if item.type == N + "VirtualNetwork":
            return f"virtualNetworks/{p['virtualNetworkName']}"
        if item.type == N + "Subnet":
            return f"virtualNetworks/{p['virtualNetworkName']}/subnets/{p['subnetName']}"
        if item.type == N + "RouteTable":
            return f"routeTables/{p['routeTableName']}"
        if item.type == N + "VirtualNetworkGateway":
            return f"virtualNetworkGateways/{p['virtualNetworkGatewayName']}"
        raise KeyError(item.type)

    def ref(self, urn: str) -> dict[str, str]:
        return {"id": self.ident(self.path_of(urn))}

    def dep(self, urn: str) -> list[str]:
        """Property dependencies exist only in preview here, so up-mode tests follow IDs alone."""
        return [urn] if self.preview else []

    # --- resources --------------------------------------------------------------------------

    def vnet(
        self,
        name: str,
        prefixes: Sequence[str],
        location: str = "eastasia",
        tags: Mapping[str, str] | None = None,
        subnets: Sequence[tuple[str, str]] = (),
    ) -> str:
        """A VNet; ``subnets`` (name, prefix) declared inline, in its own ``subnets`` property."""
        props: dict[str, Any] = {
            "virtualNetworkName": name,
            "resourceGroupName": self.rg,
            "location": location,
            "addressSpace": {"addressPrefixes": list(prefixes)},
        }
        if tags:
            props["tags"] = dict(tags)
        if subnets:
            props["subnets"] = [{"name": n, "addressPrefix": p} for n, p in subnets]
        return self.add(N + "VirtualNetwork", name, props)

    def gateway_on_inline_subnet(self, vnet: str, subnet: str = "GatewaySubnet", sku: str = "ErGw1AZ") -> str:
        """A gateway whose ipConfigurations name a subnet declared inline on ``vnet`` (the program
        writes ``vnet.subnets[i].id``): in a first preview an unknown ID that depends on the VNet."""
        vnet_name = self.props(vnet)["virtualNetworkName"]
        subnet_id = self.ident(f"virtualNetworks/{vnet_name}/subnets/{subnet}")
        urn = self.add(
            N + "VirtualNetworkGateway",
            f"{vnet_name}-gateway",
            {
                "virtualNetworkGatewayName": f"ergw-{vnet_name}",
                "resourceGroupName": self.rg,
                "location": self.props(vnet)["location"],
                "gatewayType": "ExpressRoute",
                "sku": {"name": sku, "tier": sku},
                "ipConfigurations": [{"name": "default", "subnet": {"id": subnet_id}}],
            },
            {"ipConfigurations": self.dep(vnet)},
        )
        self.gateway_of[vnet] = urn
        return urn

    def route_table(self, name: str, routes: Iterable[tuple[str, str]] = (), disable_bgp: bool = False) -> str:
        return self.add(
            N + "RouteTable",
            name,
            {
                "routeTableName": name,
                "resourceGroupName": self.rg,
                "location": "eastasia",
                "disableBgpRoutePropagation": disable_bgp,
                "routes": [
                    {"name": f"r{i}", "addressPrefix": p, "nextHopType": hop, "nextHopIpAddress": "10.10.10.10"}
                    for i, (p, hop) in enumerate(routes)
                ],
            },
        )

    def subnet(
        self,
        vnet: str,
        name: str,
        prefix: str,
        *,
        route_table: str | None = None,
        nsg: bool = False,
        endpoints: Iterable[str] = (),
    ) -> str:
        vnet_name = self.props(vnet)["virtualNetworkName"]
        props: dict[str, Any] = {
            "subnetName": name,
            "virtualNetworkName": vnet_name,
            "resourceGroupName": self.rg,
            "addressPrefix": prefix,
        }
        deps = {"virtualNetworkName": [vnet]}
        if route_table is not None:
            props["routeTable"] = self.ref(route_table)
            deps["routeTable"] = self.dep(route_table)
        if nsg:
            props["networkSecurityGroup"] = {"id": self.arm("networkSecurityGroups/nsg")}
        if endpoints:
            props["serviceEndpoints"] = [{"service": e} for e in endpoints]
        return self.add(N + "Subnet", f"{vnet_name}-{name}", props, deps)

    def gateway(self, vnet: str, sku: str = "ErGw1AZ", location: str = "eastasia", subnet: str | None = None) -> str:
        if vnet in self.gateway_of:
            return self.gateway_of[vnet]
        vnet_name = self.props(vnet)["virtualNetworkName"]
        if subnet is None:
            prefix = self.props(vnet)["addressSpace"]["addressPrefixes"][0]
            subnet = self.subnet(vnet, "GatewaySubnet", prefix)
        urn = self.add(
            N + "VirtualNetworkGateway",
            f"{vnet_name}-gateway",
            {
                "virtualNetworkGatewayName": f"ergw-{vnet_name}",
                "resourceGroupName": self.rg,
                "location": location,
                "gatewayType": "ExpressRoute",
                "sku": {"name": sku, "tier": sku},
                "ipConfigurations": [{"name": "default", "subnet": self.ref(subnet)}],
            },
            {"ipConfigurations": self.dep(subnet)},
        )
        self.gateway_of[vnet] = urn
        return urn

    def connect(self, vnet: str, circuit_id: str, *, key: str | None = None, key_secret: bool = True) -> str:
        gateway = self.gateway(vnet)
        vnet_name = self.props(vnet)["virtualNetworkName"]
        circuit = circuit_id.rsplit("/", 1)[-1]
        props: dict[str, Any] = {
            "virtualNetworkGatewayConnectionName": f"{vnet_name}-to-{circuit}",
            "resourceGroupName": self.rg,
            "location": self.props(vnet)["location"],
            "connectionType": "ExpressRoute",
            "virtualNetworkGateway1": self.ref(gateway),
            "peer": {"id": circuit_id},
        }
        if key is not None:
            props["authorizationKey"] = secret(key) if key_secret else key
        return self.add(
            N + "VirtualNetworkGatewayConnection",
            f"{vnet_name}-to-{circuit}",
            props,
            {"virtualNetworkGateway1": self.dep(gateway)},
        )

    def peering(self, local: str, remote: str, **settings: bool) -> str:
        a, b = self.props(local)["virtualNetworkName"], self.props(remote)["virtualNetworkName"]
        props: dict[str, Any] = {
            "virtualNetworkPeeringName": f"{a}-to-{b}",
            "virtualNetworkName": a,
            "resourceGroupName": self.rg,
            "remoteVirtualNetwork": self.ref(remote),
            "allowVirtualNetworkAccess": True,
            "allowForwardedTraffic": True,
            "allowGatewayTransit": False,
            "useRemoteGateways": False,
        }
        props.update(settings)
        return self.add(
            N + "VirtualNetworkPeering",
            f"{a}-to-{b}",
            props,
            {"virtualNetworkName": [local], "remoteVirtualNetwork": self.dep(remote)},
        )

    def hub_and_spoke(self, hub: str, spoke: str) -> None:
        """Both peerings with the article's settings (the hub needs a gateway first)."""
        self.peering(hub, spoke, allowGatewayTransit=True)
        self.peering(spoke, hub, useRemoteGateways=True)

    def stack_reference(self, name: str, outputs: Mapping[str, Any]) -> str:
        return self.add("pulumi:pulumi:StackReference", name, {"name": name, "outputs": dict(outputs)})

    # --- views ------------------------------------------------------------------------------

    def outputs(self, item: Item) -> dict[str, Any]:
        """What the engine hands AnalyzeStack for ``item`` (see the module docstring)."""
        if item.type == "pulumi:pulumi:StackReference":
            return engine_view.stack_reference_outputs(item.props["name"], item.props["outputs"])
        return engine_view.outputs_for(item.type, item.props, preview=self.preview, resource_id=item.resource_id)

    def id_of(self, urn: str) -> Any:
        """The ``id`` output the engine hands AnalyzeStack for ``urn``."""
        return self.outputs(self.items[urn])["id"]

    def policy_resources(self) -> list[PolicyResource]:
        """As the SDK hands them to a stack policy: outputs in its proxy, linked dependencies."""
        opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
        out = {
            i.urn: PolicyResource(
                i.type, unknown_checking_proxy(mark_secrets(self.outputs(i))), i.urn, i.name, opts, None, None, [], {}
            )
            for i in self.items.values()
        }
        for i in self.items.values():
            # The engine sends only properties that depend on something (analyzer_plugin.go).
            out[i.urn].property_dependencies = {k: [out[u] for u in v if u in out] for k, v in i.deps.items() if v}
            out[i.urn].dependencies = [out[u] for v in i.deps.values() for u in v if u in out]
        return list(out.values())

    def resource_args(self, urn: str) -> ResourceValidationArgs:
        """As the SDK hands a resource to a resource policy: its inputs (Analyze)."""
        i = self.items[urn]
        opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
        return ResourceValidationArgs(i.type, unknown_checking_proxy(mark_secrets(i.props)), i.urn, i.name, opts, None)


def article_estate(preview: bool = False, circuit: str = ER_HK) -> tuple[Estate, dict[str, str]]:
    """The article's source region: hub with NVA subnet and GatewaySubnet, two spokes."""
    e = Estate(preview=preview)
    hub = e.vnet("hub", ["10.10.10.0/24"])
    gw_routes = e.route_table("rt-gateway", [("10.1.0.0/24", "VirtualAppliance"), ("10.2.0.0/24", "VirtualAppliance")])
    spoke_routes = e.route_table("rt-spokes", [("0.0.0.0/0", "VirtualAppliance")], disable_bgp=True)
    e.subnet(hub, "nva", "10.10.10.0/25")
    gw_subnet = e.subnet(hub, "GatewaySubnet", "10.10.10.128/25", route_table=gw_routes)
    e.gateway(hub, subnet=gw_subnet)
    connection = e.connect(hub, circuit, key="key-1")
    names = {"hub": hub, "connection": connection, "gateway_subnet": gw_subnet, "gateway_routes": gw_routes}
    for i, prefix in ((1, "10.1.0.0/24"), (2, "10.2.0.0/24")):
        spoke = e.vnet(f"vnet{i}", [prefix])
        names[f"vnet{i}"] = spoke
        names[f"vnet{i}-workload"] = e.subnet(
            spoke, "workload", prefix, route_table=spoke_routes, endpoints=["Microsoft.Storage"]
        )
        e.hub_and_spoke(hub, spoke)
    return e, names


def inline_subnet_estate(preview: bool = True) -> tuple[Estate, dict[str, str]]:
    """The article's hub and spokes written in the inline-subnet style: each VNet declares its
    subnets in ``subnets``, the hub gateway's ipConfigurations point at the inline GatewaySubnet."""
    e = Estate(preview=preview)
    hub = e.vnet("hub", ["10.10.10.0/24"], subnets=[("nva", "10.10.10.0/25"), ("GatewaySubnet", "10.10.10.128/25")])
    e.gateway_on_inline_subnet(hub)
    names = {"hub": hub, "connection": e.connect(hub, ER_HK, key="key-1")}
    for i, prefix in ((1, "10.1.0.0/24"), (2, "10.2.0.0/24")):
        spoke = e.vnet(f"vnet{i}", [prefix], subnets=[("workload", prefix)])
        names[f"vnet{i}"] = spoke
        e.hub_and_spoke(hub, spoke)
    return e, names
