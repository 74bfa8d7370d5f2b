"""A landing-zone estate as ARM returns it: a hub in the connectivity subscription, spokes in
three landing-zone subscriptions, an ExpressRoute gateway and its connection, and either an Azure
Firewall or an appliance VM as the hub's next hop.

Bodies follow the 2024-05-01 network examples of github.com/Azure/azure-rest-api-specs
(specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/examples/):
VirtualNetworkGet.json, VirtualNetworkPeeringGet.json, RouteTableGet.json,
VirtualNetworkGatewayGet.json, VirtualNetworkGatewayConnectionGet.json, ExpressRouteCircuitGet.json,
AzureFirewallGet.json: ``id``/``name``/``type``/``etag``/``location``/``tags`` at the top,
everything else under ``properties`` with ``provisioningState``, references as ``{"id": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONNECTIVITY = "c0000000-0000-4000-8000-000000000001"
LZ_APP1 = "a1000000-0000-4000-8000-000000000002"
LZ_APP2 = "a2000000-0000-4000-8000-000000000003"
LZ_DATA = "a3000000-0000-4000-8000-000000000004"
REGION = "eastasia"
HUB_RG = "rg-connectivity-eastasia"
CIRCUIT_RG = "rg-expressroute"
FIREWALL_IP = "10.100.0.68"
NVA_IP = "10.100.0.68"
ETAG = 'W/"00000000-0000-0000-0000-000000000000"'


def rid(subscription: str, group: str, path: str = "") -> str:
    base = f"/subscriptions/{subscription}/resourceGroups/{group}"
    return f"{base}/providers/Microsoft.Network/{path}" if path else base


HUB_ID = rid(CONNECTIVITY, HUB_RG, "virtualNetworks/vnet-hub-eastasia")
GATEWAY_ID = rid(CONNECTIVITY, HUB_RG, "virtualNetworkGateways/ergw-hub-eastasia")
GATEWAY_IP_ID = rid(CONNECTIVITY, HUB_RG, "publicIPAddresses/pip-ergw-hub-eastasia")
VPN_GATEWAY_ID = rid(CONNECTIVITY, HUB_RG, "virtualNetworkGateways/vpngw-hub-eastasia")
CONNECTION_ID = rid(CONNECTIVITY, HUB_RG, "connections/conn-hub-eastasia-er-hongkong")
PRIMARY_CIRCUIT_ID = rid(CONNECTIVITY, CIRCUIT_RG, "expressRouteCircuits/er-hongkong")
SECONDARY_CIRCUIT_ID = rid(CONNECTIVITY, CIRCUIT_RG, "expressRouteCircuits/er-singapore")
FIREWALL_ID = rid(CONNECTIVITY, HUB_RG, "azureFirewalls/afw-hub-eastasia")
FIREWALL_POLICY_ID = rid(CONNECTIVITY, HUB_RG, "firewallPolicies/afwp-hub-eastasia")


@dataclass(frozen=True)
class SpokeDef:
    subscription: str
    group: str
    name: str
    prefix: str
    table: str
    route_name: str
    subnets: tuple[tuple[str, str, tuple[str, ...]], ...]  # (name, prefix, service endpoints)
    private_endpoint: bool = False

    @property
    def id(self) -> str:
        return rid(self.subscription, self.group, f"virtualNetworks/{self.name}")

    @property
    def table_id(self) -> str:
        return rid(self.subscription, self.group, f"routeTables/{self.table}")


SPOKES = (
    SpokeDef(
        LZ_APP1,
        "rg-app1-network",
        "vnet-app1-eastasia",
        "10.110.0.0/24",
        "rt-app1",
        "default",
        (("snet-web", "10.110.0.0/25", ("Microsoft.Storage",)), ("snet-pe", "10.110.0.128/26", ("Microsoft.Storage",))),
        private_endpoint=True,
    ),
    SpokeDef(
        LZ_APP2,
        "rg-app2-network",
        "vnet-app2-eastasia",
        "10.120.0.0/24",
        "rt-app2",
        "default-route",
        (("snet-app", "10.120.0.0/24", ("Microsoft.Storage", "Microsoft.KeyVault")),),
    ),
    SpokeDef(
        LZ_DATA,
        "rg-data-network",
        "vnet-data-eastasia",
        "10.130.0.0/24",
        "rt-data",
        "default",
        (("snet-db", "10.130.0.0/24", ("Microsoft.Storage",)),),
    ),
)


@dataclass
class Estate:
    """ARM ID (lower-case) -> body, plus the subscriptions whose every request answers 403."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    forbidden: set[str] = field(default_factory=set[str])

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        self.resources[body["id"].lower()] = body
        return body

    def get(self, arm_id: str) -> dict[str, Any]:
        return self.resources[arm_id.lower()]

    def children(self, parent_id: str, kind: str) -> list[dict[str, Any]]:
        prefix = f"{parent_id}/{kind}/".lower()
        return [b for k, b in sorted(self.resources.items()) if k.startswith(prefix) and "/" not in k[len(prefix) :]]


def _resource(arm_id: str, type_: str, properties: dict[str, Any], **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": arm_id, "name": arm_id.rsplit("/", 1)[-1], "type": type_, "etag": ETAG}
    body.update(top)
    body["properties"] = {"provisioningState": "Succeeded", **properties}
    return body


def _subnet(vnet_id: str, name: str, prefix: str, *, table: str | None = None, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "addressPrefix": prefix,
        "privateEndpointNetworkPolicies": "Disabled",
        "privateLinkServiceNetworkPolicies": "Enabled",
        **extra,
    }
    if table:
        props["routeTable"] = {"id": table}
    return _resource(f"{vnet_id}/subnets/{name}", "Microsoft.Network/virtualNetworks/subnets", props)


def _endpoints(services: tuple[str, ...]) -> list[dict[str, Any]]:
    # Azure adds the locations a service endpoint reaches (the region and its pair).
    return [{"service": s, "locations": [REGION, "southeastasia"], "provisioningState": "Succeeded"} for s in services]


def _peering(local_id: str, name: str, remote_id: str, remote_prefix: str, *, hub_side: bool) -> dict[str, Any]:
    return _resource(
        f"{local_id}/virtualNetworkPeerings/{name}",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        {
            "peeringState": "Connected",
            "peeringSyncLevel": "FullyInSync",
            "remoteVirtualNetwork": {"id": remote_id},
            "allowVirtualNetworkAccess": True,
            "allowForwardedTraffic": True,
            "allowGatewayTransit": hub_side,
            "useRemoteGateways": not hub_side,
            "doNotVerifyRemoteGateways": False,
            "remoteAddressSpace": {"addressPrefixes": [remote_prefix]},
            "remoteVirtualNetworkAddressSpace": {"addressPrefixes": [remote_prefix]},
            "remoteBgpCommunities": {"virtualNetworkCommunity": "12076:20002", "regionalCommunity": "12076:50004"},
        },
    )


def _route_table(arm_id: str, routes: list[tuple[str, str]], next_hop: str, *, disable_bgp: bool) -> dict[str, Any]:
    return _resource(
        arm_id,
        "Microsoft.Network/routeTables",
        {
            "disableBgpRoutePropagation": disable_bgp,
            "routes": [
                _resource(
                    f"{arm_id}/routes/{name}",
                    "Microsoft.Network/routeTables/routes",
                    {
                        "addressPrefix": prefix,
                        "nextHopType": "VirtualAppliance",
                        "nextHopIpAddress": next_hop,
                        "hasBgpOverride": False,
                    },
                )
                for name, prefix in routes
            ],
            "subnets": [],
        },
        location=REGION,
        tags={"environment": "prod", "owner": "platform"},
    )


def _group(subscription: str, group: str) -> dict[str, Any]:
    # Resource groups answer from Microsoft.Resources (ResourceGroups_Get), same envelope.
    return {
        "id": rid(subscription, group),
        "name": group,
        "type": "Microsoft.Resources/resourceGroups",
        "location": REGION,
        "tags": {"environment": "prod"},
        "properties": {"provisioningState": "Succeeded"},
    }


GATEWAY_NSG_ID = rid(CONNECTIVITY, HUB_RG, "networkSecurityGroups/nsg-gateway")
BASTION_NSG_ID = rid(CONNECTIVITY, HUB_RG, "networkSecurityGroups/nsg-bastion")
SPOKE_BASTION_PREFIX = "10.110.0.192/26"  # in vnet-app1, with service_subnets
MANAGEMENT_TABLE_ID = rid(CONNECTIVITY, HUB_RG, "routeTables/rt-hub-fw-mgmt")

# The rules learn.microsoft.com/azure/bastion/bastion-nsg gives an NSG on AzureBastionSubnet:
# (name, priority, direction, source, destination, ports).
BASTION_RULES = (
    ("AllowHttpsInbound", 120, "Inbound", "Internet", "*", ("443",)),
    ("AllowGatewayManagerInbound", 130, "Inbound", "GatewayManager", "*", ("443",)),
    ("AllowAzureLoadBalancerInbound", 140, "Inbound", "AzureLoadBalancer", "*", ("443",)),
    ("AllowBastionHostCommunication", 150, "Inbound", "VirtualNetwork", "VirtualNetwork", ("8080", "5701")),
    ("AllowSshRdpOutbound", 100, "Outbound", "*", "VirtualNetwork", ("22", "3389")),
    ("AllowAzureCloudOutbound", 110, "Outbound", "*", "AzureCloud", ("443",)),
    ("AllowBastionCommunication", 120, "Outbound", "VirtualNetwork", "VirtualNetwork", ("8080", "5701")),
    ("AllowHttpOutbound", 130, "Outbound", "*", "Internet", ("80",)),
)


def _bastion_nsg() -> dict[str, Any]:
    return _resource(
        BASTION_NSG_ID,
        "Microsoft.Network/networkSecurityGroups",
        {
            "securityRules": [
                {
                    "id": f"{BASTION_NSG_ID}/securityRules/{name}",
                    "name": name,
                    "properties": {
                        "priority": priority,
                        "direction": direction,
                        "access": "Allow",
                        "protocol": "Tcp",
                        "sourceAddressPrefix": source,
                        "sourcePortRange": "*",
                        "destinationAddressPrefix": destination,
                        "destinationPortRanges": list(ports),
                    },
                }
                for name, priority, direction, source, destination, ports in BASTION_RULES
            ]
        },
        location=REGION,
    )


def _management_table() -> dict[str, Any]:
    # AzureFirewallManagementSubnet's table (learn.microsoft.com/azure/firewall/forced-tunneling):
    # "The only route allowed on this subnet is a default route to the Internet, and BGP route
    # propagation must be disabled."
    route = f"{MANAGEMENT_TABLE_ID}/routes/default-internet"
    return _resource(
        MANAGEMENT_TABLE_ID,
        "Microsoft.Network/routeTables",
        {
            "disableBgpRoutePropagation": True,
            "routes": [
                _resource(
                    route,
                    "Microsoft.Network/routeTables/routes",
                    {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet", "hasBgpOverride": False},
                )
            ],
            "subnets": [],
        },
        location=REGION,
    )


def build(
    *,
    nva: str = "firewall",
    forbidden: tuple[str, ...] = (),
    gateway_nsg: bool = False,
    service_subnets: bool = False,
    pe_without_table: bool = False,
) -> Estate:
    """The estate; ``nva``: ``firewall`` (Azure Firewall hub) or ``appliance`` (an NVA VM);
    ``gateway_nsg``: someone put an NSG on the GatewaySubnet (which breaks the gateway);
    ``service_subnets``: the hub also holds AzureFirewallManagementSubnet (its own 0.0.0.0/0 -> Internet
    table), RouteServerSubnet, and an NSG with Microsoft's rules on AzureBastionSubnet; vnet-app1 an
    AzureBastionSubnet of its own; ``pe_without_table``: vnet-app1's private-endpoint subnet has no
    route table (the GatewaySubnet's table lacks the VnetLocal route the program adds for it)."""
    e = Estate(forbidden=set(forbidden))
    e.add(_group(CONNECTIVITY, HUB_RG))
    hop = FIREWALL_IP if nva == "firewall" else NVA_IP
    gateway_table = rid(CONNECTIVITY, HUB_RG, "routeTables/rt-hub-gateway")
    shared_table = rid(CONNECTIVITY, HUB_RG, "routeTables/rt-hub-shared")
    e.add(
        _route_table(
            gateway_table,
            # The spokes and the hub's shared-services subnet, whose replies leave through the NVA.
            [(f"to-{s.name.split('-')[1]}", s.prefix) for s in SPOKES] + [("to-shared", "10.100.1.0/24")],
            hop,
            disable_bgp=False,
        )
    )
    e.add(_route_table(shared_table, [("default-via-nva", "0.0.0.0/0")], hop, disable_bgp=True))
    # The shared-services subnet's NSG: DNS from on-premises, nothing else inbound from it.
    nsg_id = rid(CONNECTIVITY, HUB_RG, "networkSecurityGroups/nsg-shared")
    rules = [
        ("allow-dns-from-onprem", 200, "Allow", "Udp", "192.168.0.0/16", "53"),
        ("deny-onprem", 4000, "Deny", "*", "192.168.0.0/16", "*"),
    ]
    e.add(
        _resource(
            nsg_id,
            "Microsoft.Network/networkSecurityGroups",
            {
                "securityRules": [
                    {
                        "id": f"{nsg_id}/securityRules/{name}",
                        "name": name,
                        "properties": {
                            "priority": priority,
                            "direction": "Inbound",
                            "access": access,
                            "protocol": protocol,
                            "sourceAddressPrefix": source,
                            "sourcePortRange": "*",
                            "destinationAddressPrefix": "10.100.1.0/24",
                            "destinationPortRange": port,
                        },
                    }
                    for name, priority, access, protocol, source, port in rules
                ]
            },
        )
    )
    nva_subnet = "AzureFirewallSubnet" if nva == "firewall" else "snet-nva"
    nva_ipconfig = (
        f"{FIREWALL_ID}/azureFirewallIpConfigurations/ipconfig1"
        if nva == "firewall"
        else rid(CONNECTIVITY, HUB_RG, "networkInterfaces/nic-nva1-eastasia/ipConfigurations/ipconfig1")
    )
    bastion: dict[str, Any] = {"networkSecurityGroup": {"id": BASTION_NSG_ID}} if service_subnets else {}
    hub_subnets = [
        _subnet(
            HUB_ID,
            "GatewaySubnet",
            "10.100.0.0/26",
            table=gateway_table,
            **({"networkSecurityGroup": {"id": GATEWAY_NSG_ID}} if gateway_nsg else {}),
            ipConfigurations=[
                {"id": f"{GATEWAY_ID}/ipConfigurations/default"},
                {"id": f"{VPN_GATEWAY_ID}/ipConfigurations/default"},
            ],
        ),
        _subnet(HUB_ID, nva_subnet, "10.100.0.64/26", ipConfigurations=[{"id": nva_ipconfig}]),
        _subnet(
            HUB_ID,
            "snet-shared",
            "10.100.1.0/24",
            table=shared_table,
            serviceEndpoints=_endpoints(("Microsoft.Storage",)),
            networkSecurityGroup={"id": rid(CONNECTIVITY, HUB_RG, "networkSecurityGroups/nsg-shared")},
        ),
        _subnet(HUB_ID, "AzureBastionSubnet", "10.100.2.0/26", **bastion),
    ]
    if service_subnets:
        e.add(_bastion_nsg())
        e.add(_management_table())
        hub_subnets += [
            _subnet(HUB_ID, "AzureFirewallManagementSubnet", "10.100.0.128/26", table=MANAGEMENT_TABLE_ID),
            _subnet(HUB_ID, "RouteServerSubnet", "10.100.0.192/26"),
        ]
    hub_peerings = [
        _peering(HUB_ID, f"peer-hub-to-{s.name.split('-')[1]}", s.id, s.prefix, hub_side=True) for s in SPOKES
    ]
    e.add(
        _resource(
            HUB_ID,
            "Microsoft.Network/virtualNetworks",
            {
                "addressSpace": {"addressPrefixes": ["10.100.0.0/22"]},
                "dhcpOptions": {"dnsServers": []},
                "subnets": hub_subnets,
                "virtualNetworkPeerings": hub_peerings,
                "enableDdosProtection": False,
                "resourceGuid": "5c9b0c64-0a9d-4c4b-9a89-6a5b1d3c7e01",
            },
            location=REGION,
            tags={"environment": "prod", "owner": "platform"},
        )
    )
    for body in hub_subnets + hub_peerings:
        e.add(body)
    for s in SPOKES:
        table = e.add(_route_table(s.table_id, [(s.route_name, "0.0.0.0/0")], hop, disable_bgp=True))
        subnets = []
        for name, prefix, services in s.subnets:
            extra: dict[str, Any] = {"serviceEndpoints": _endpoints(services)}
            if s.private_endpoint and name == "snet-pe":
                extra["privateEndpoints"] = [{"id": rid(s.subscription, s.group, "privateEndpoints/pe-sql-app1")}]
            routed = not (pe_without_table and name == "snet-pe")
            subnets.append(_subnet(s.id, name, prefix, table=table["id"] if routed else None, **extra))
        if service_subnets and s.private_endpoint:
            # A Bastion in a landing zone of its own, without an NSG: no route table, as Azure asks.
            subnets.append(_subnet(s.id, "AzureBastionSubnet", SPOKE_BASTION_PREFIX))
        back = _peering(s.id, "peer-to-hub", HUB_ID, "10.100.0.0/22", hub_side=False)
        e.add(
            _resource(
                s.id,
                "Microsoft.Network/virtualNetworks",
                {
                    "addressSpace": {"addressPrefixes": [s.prefix]},
                    "subnets": subnets,
                    "virtualNetworkPeerings": [back],
                    "enableDdosProtection": False,
                },
                location=REGION,
                tags={"environment": "prod", "landingZone": s.name.split("-")[1]},
            )
        )
        for body in [*subnets, back]:
            e.add(body)
    e.add(
        _resource(
            GATEWAY_ID,
            "Microsoft.Network/virtualNetworkGateways",
            {
                "gatewayType": "ExpressRoute",
                "sku": {"name": "ErGw1AZ", "tier": "ErGw1AZ", "capacity": 2},
                "ipConfigurations": [
                    {
                        "id": f"{GATEWAY_ID}/ipConfigurations/default",
                        "name": "default",
                        "properties": {
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": f"{HUB_ID}/subnets/GatewaySubnet"},
                            "publicIPAddress": {"id": GATEWAY_IP_ID},
                            "provisioningState": "Succeeded",
                        },
                    }
                ],
                "enableBgp": False,
                "activeActive": False,
                "allowRemoteVnetTraffic": False,
                "allowVirtualWanTraffic": False,
            },
            location=REGION,
            tags={"environment": "prod"},
        )
    )
    e.add(
        _resource(
            GATEWAY_IP_ID,
            "Microsoft.Network/publicIPAddresses",
            {
                "publicIPAddressVersion": "IPv4",
                "publicIPAllocationMethod": "Static",
                "idleTimeoutInMinutes": 4,
                "ipAddress": "20.2.0.10",
                "ipConfiguration": {"id": f"{GATEWAY_ID}/ipConfigurations/default"},
            },
            location=REGION,
            sku={"name": "Standard", "tier": "Regional"},
            zones=["1", "2", "3"],
        )
    )
    e.add(
        _resource(
            VPN_GATEWAY_ID,
            "Microsoft.Network/virtualNetworkGateways",
            {"gatewayType": "Vpn", "vpnType": "RouteBased", "sku": {"name": "VpnGw1AZ", "tier": "VpnGw1AZ"}},
            location=REGION,
        )
    )
    e.add(
        _resource(
            CONNECTION_ID,
            "Microsoft.Network/connections",
            {
                "connectionType": "ExpressRoute",
                "virtualNetworkGateway1": {"id": GATEWAY_ID},
                "peer": {"id": PRIMARY_CIRCUIT_ID},
                "routingWeight": 0,  # Azure's default; a gateway's only connection has nothing to weigh
                "enableBgp": False,
                "expressRouteGatewayBypass": False,
                "connectionStatus": "Connected",
            },
            location=REGION,
            tags={"environment": "prod"},
        )
    )
    for circuit_id, location, mbps in (
        (PRIMARY_CIRCUIT_ID, "Hong Kong", 1000),
        (SECONDARY_CIRCUIT_ID, "Singapore", 500),
    ):
        e.add(
            _resource(
                circuit_id,
                "Microsoft.Network/expressRouteCircuits",
                {
                    "serviceProviderProperties": {
                        "serviceProviderName": "Equinix",
                        "peeringLocation": location,
                        "bandwidthInMbps": mbps,
                    },
                    "circuitProvisioningState": "Enabled",
                    "serviceProviderProvisioningState": "Provisioned",
                },
                location=REGION if location == "Hong Kong" else "southeastasia",
                sku={"name": "Standard_MeteredData", "tier": "Standard", "family": "MeteredData"},
            )
        )
    if nva == "firewall":
        e.add(
            _resource(
                FIREWALL_ID,
                "Microsoft.Network/azureFirewalls",
                {
                    "sku": {"name": "AZFW_VNet", "tier": "Standard"},
                    "threatIntelMode": "Alert",
                    "firewallPolicy": {"id": FIREWALL_POLICY_ID},
                    "ipConfigurations": [
                        {
                            "name": "ipconfig1",
                            "id": f"{FIREWALL_ID}/azureFirewallIpConfigurations/ipconfig1",
                            "properties": {
                                "provisioningState": "Succeeded",
                                "privateIPAddress": FIREWALL_IP,
                                "subnet": {"id": f"{HUB_ID}/subnets/AzureFirewallSubnet"},
                                "publicIPAddress": {"id": rid(CONNECTIVITY, HUB_RG, "publicIPAddresses/pip-afw-hub")},
                            },
                        }
                    ],
                },
                location=REGION,
                zones=["1", "2", "3"],
            )
        )
    return e
