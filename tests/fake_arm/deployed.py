"""A deployed estate as ARM would serve it, derived from the stacks' own design: the resolved
estate's identities (model/identity.py), each side's network (model/spec.py), the connections of
each stack's phase (model/phases.py), the drill network and Site Recovery's objects. Nothing here
is hand-written per resource; a fault is one edit of the served bodies (see tests/tooling/test_check.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from model import identity
from model.config import Role, StackConfig
from model.phases import connection_plan
from model.spec import (
    GATEWAY_ROUTES_DISABLE_BGP,
    HUB_TO_SPOKE,
    SPOKE_TO_HUB,
    WORKLOAD_ROUTES_DISABLE_BGP,
    firewall_present,
    network_for,
)
from policies.shared.names import DEFAULT_ROUTE, GATEWAY_SUBNET
from tests.fake_arm.estate import ETAG, Estate
from tests.fake_arm.server import FakeArm

NOW = datetime.now(UTC)


def _body(rid: identity.ResourceId | str, type_: str, props: dict[str, Any], **top: Any) -> dict[str, Any]:
    arm_id = rid.id if isinstance(rid, identity.ResourceId) else rid
    out: dict[str, Any] = {"id": arm_id, "name": arm_id.rsplit("/", 1)[-1], "type": type_, "etag": ETAG, **top}
    out["properties"] = {"provisioningState": "Succeeded", **props}
    return out


def _table(rid: identity.ResourceId, routes: list[tuple[str, str]], disable_bgp: bool, region: str) -> dict[str, Any]:
    return _body(
        rid,
        "Microsoft.Network/routeTables",
        {
            "disableBgpRoutePropagation": disable_bgp,
            "routes": [
                _body(
                    rid.child("routes", f"r{i}"),
                    "Microsoft.Network/routeTables/routes",
                    {"addressPrefix": prefix, "nextHopType": "VirtualAppliance", "nextHopIpAddress": hop},
                )
                for i, (prefix, hop) in enumerate(routes)
            ],
        },
        location=region,
    )


def _side(estate: Estate, arm: FakeArm, cfg: StackConfig, role: Role, circuits: dict[str, list[str]]) -> None:
    side = identity.side(cfg, role)
    spec = network_for(cfg, role)
    region = side.region
    tables: dict[str, identity.ResourceId] = {GATEWAY_SUBNET: side.gateway_routes}
    estate.add(
        _table(
            side.gateway_routes,
            [(p, spec.nva_address) for p in spec.spoke_prefixes],
            GATEWAY_ROUTES_DISABLE_BGP,
            region,
        )
    )
    for vnet_spec, ids in zip(spec.vnets, side.vnets, strict=True):
        estate.add(
            _body(
                ids.vnet,
                "Microsoft.Network/virtualNetworks",
                {"addressSpace": {"addressPrefixes": list(vnet_spec.address_space)}},
                location=region,
            )
        )
        if ids.route_table is not None:
            estate.add(
                _table(ids.route_table, [(DEFAULT_ROUTE, spec.nva_address)], WORKLOAD_ROUTES_DISABLE_BGP, region)
            )
        for sub in vnet_spec.subnets:
            props: dict[str, Any] = {"addressPrefix": sub.prefix}
            if sub.service_endpoints:
                props["serviceEndpoints"] = [{"service": e, "locations": [region]} for e in sub.service_endpoints]
            table = tables.get(sub.name) if ids is side.hub else None
            if sub.routed_to_nva and ids.route_table is not None:
                table = ids.route_table
            if table is not None:
                props["routeTable"] = {"id": table.id}
            if ids is side.hub and sub.name == GATEWAY_SUBNET:
                props["ipConfigurations"] = [{"id": f"{side.gateway.id}/ipConfigurations/default"}]
            estate.add(_body(ids.subnet(sub.name), "Microsoft.Network/virtualNetworks/subnets", props))
    for spoke in side.spokes:
        to_spoke, to_hub = side.peerings[spoke.key]
        for peering, remote, flags in ((to_spoke, spoke, HUB_TO_SPOKE), (to_hub, side.hub, SPOKE_TO_HUB)):
            estate.add(
                _body(
                    peering,
                    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                    {
                        "remoteVirtualNetwork": {"id": remote.vnet.id},
                        "peeringState": "Connected",
                        "peeringSyncLevel": "FullyInSync",
                        **flags.arm(),
                    },
                )
            )
    estate.add(
        _body(
            side.gateway,
            "Microsoft.Network/virtualNetworkGateways",
            {
                "gatewayType": "ExpressRoute",
                "sku": {"name": cfg.gateway_sku, "tier": cfg.gateway_sku},
                "ipConfigurations": [
                    {
                        "id": f"{side.gateway.id}/ipConfigurations/default",
                        "name": "default",
                        "properties": {"subnet": {"id": side.hub.subnet(GATEWAY_SUBNET).id}},
                    }
                ],
            },
            location=region,
        )
    )
    for conn in connection_plan(cfg, role, cfg.phase):
        assert conn.id is not None
        estate.add(
            _body(
                conn.id,
                "Microsoft.Network/connections",
                {
                    "connectionType": "ExpressRoute",
                    "connectionStatus": "Connected",
                    "virtualNetworkGateway1": {"id": side.gateway.id},
                    "peer": {"id": conn.circuit_id},
                    "routingWeight": conn.routing_weight,
                },
                location=region,
            )
        )
    if side.firewall is not None and firewall_present(spec.nva, cfg.phase):
        estate.add(_body(side.firewall.firewall, "Microsoft.Network/azureFirewalls", {}, location=region))
    if role is Role.TARGET:
        prefixes = [p for c in connection_plan(cfg, role, cfg.phase) for p in circuits.get(c.circuit_id.lower(), [])]
        arm.actions[f"{side.gateway.id}/getLearnedRoutes".lower()] = {
            "value": [
                {
                    "localAddress": "10.0.0.4",
                    "network": p,
                    "nextHop": "192.168.0.1",
                    "sourcePeer": "192.168.0.1",
                    "origin": "EBgp",
                    "asPath": "12076-65000",
                    "weight": 32769,
                }
                for p in prefixes
            ]
        }


def _circuits(estate: Estate, cfg: StackConfig) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for circuit in (cfg.circuits.primary, cfg.circuits.secondary):
        if circuit is None:
            continue
        out[circuit.id.lower()] = list(circuit.on_prem_prefixes)
        estate.add(
            _body(
                circuit.id,
                "Microsoft.Network/expressRouteCircuits",
                {
                    "serviceProviderProvisioningState": "Provisioned",
                    "circuitProvisioningState": "Enabled",
                    "peerings": [
                        _body(
                            f"{circuit.id}/peerings/AzurePrivatePeering",
                            "Microsoft.Network/expressRouteCircuits/peerings",
                            {"peeringType": "AzurePrivatePeering", "state": "Enabled"},
                            name="AzurePrivatePeering",
                        )
                    ],
                },
            )
        )
    return out


def _site_recovery(estate: Estate, arm: FakeArm, sr: identity.SiteRecoveryIds, items: list[str]) -> None:
    estate.add(_body(sr.vault, "Microsoft.RecoveryServices/vaults", {}, location="southeastasia"))
    for rid in (*sr.fabrics.values(), *sr.containers.values(), *sr.container_mappings.values()):
        estate.add(_body(rid, rid.type, {}))
    for rid in sr.network_mappings.values():
        estate.add(_body(rid, rid.type, {}))
    protected = [
        _body(
            item,
            "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
            "replicationProtectedItems",
            {
                "friendlyName": item.rsplit("/", 1)[-1],
                "protectionState": "Protected",
                "replicationHealth": "Normal",
                "lastSuccessfulTestFailoverTime": (NOW - timedelta(days=10)).isoformat(),
                "providerSpecificDetails": {
                    "instanceType": "A2A",
                    "rpoInSeconds": 60,
                    "lastRpoCalculatedTime": (NOW - timedelta(minutes=1)).isoformat(),
                },
            },
        )
        for item in items
    ]
    arm.lists[f"{sr.vault.id}/replicationProtectedItems".lower()] = protected


def _routes_tables(arm: FakeArm, prod: StackConfig, dr: StackConfig) -> None:
    """What each circuit's private peering carries: the address spaces of the hubs connected to it."""
    carried: dict[str, list[str]] = {}
    for cfg, role in ((prod, Role.SOURCE), (dr, Role.TARGET)):
        spaces = [p for v in network_for(cfg, role).vnets for p in v.address_space]
        for conn in connection_plan(cfg, role, cfg.phase):
            carried.setdefault(conn.circuit_id, []).extend(spaces)
    for circuit, prefixes in carried.items():
        path = f"{circuit}/peerings/AzurePrivatePeering/routeTables/primary".lower()
        arm.actions[path] = {
            "value": [
                {"network": p, "nextHop": "10.0.0.4", "locPrf": "", "weight": 0, "path": "65515"} for p in prefixes
            ]
        }


def deploy(prod: StackConfig, dr: StackConfig) -> FakeArm:
    """A fake ARM serving both stacks as deployed in their configured phases."""
    estate = Estate()
    arm = FakeArm(estate, compose_vnets=True)
    circuits = _circuits(estate, dr)
    _side(estate, arm, prod, Role.SOURCE, circuits)
    _side(estate, arm, dr, Role.TARGET, circuits)
    _routes_tables(arm, prod, dr)
    resolved = identity.resolve(dr)
    for drill in resolved.drill.values():
        estate.add(_body(drill.vnet, "Microsoft.Network/virtualNetworks", {}, location=dr.regions.target))
        for sub in drill.subnets.values():
            estate.add(_body(sub, "Microsoft.Network/virtualNetworks/subnets", {}))
    if resolved.site_recovery is not None:
        items = dr.recovery_plan.items if dr.recovery_plan is not None else []
        _site_recovery(estate, arm, resolved.site_recovery, items)
    return arm
