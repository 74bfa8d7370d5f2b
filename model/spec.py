"""Every network the stacks build, as plain data: the source hub-and-spoke, the target's
replica (same IPs or translated), and the isolated drill network.

Everything here is a plain function of :class:`StackConfig`, so the program, the offline plan,
the failover command and the tests all read the same answer. The connections each hub holds
per phase are :mod:`model.phases`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from model import identity, naming
from model.config import Addressing, Layout, Phase, Role, StackConfig, SubnetLayout
from model.config.estate import FirewallProvisioning, NvaKind, NvaLayout, SourceMode
from model.config.models import SecurityRule
from model.identity import ResourceId, VnetIds
from policies.shared.addrspace import (
    Network,
    PrefixError,
    carve,
    parse_address,
    parse_prefix,
    translate_address,
    translate_prefix,
)
from policies.shared.names import GATEWAY_SUBNET, STORAGE_ENDPOINT
from policies.shared.service_subnets import RouteRule, ServiceSubnet, routed_through_nva, service_subnet


@dataclass(frozen=True)
class PeeringFlags:
    """A hub-spoke peering's flags: the source article's table. The program writes them and the
    readiness check (erdr.check) holds the live peerings to them."""

    allow_virtual_network_access: bool
    allow_forwarded_traffic: bool
    allow_gateway_transit: bool
    use_remote_gateways: bool

    def args(self) -> dict[str, bool]:
        """As azure-native's VirtualNetworkPeering arguments."""
        return {
            "allow_virtual_network_access": self.allow_virtual_network_access,
            "allow_forwarded_traffic": self.allow_forwarded_traffic,
            "allow_gateway_transit": self.allow_gateway_transit,
            "use_remote_gateways": self.use_remote_gateways,
        }

    def arm(self) -> dict[str, bool]:
        """As ARM's ``properties`` spell them."""
        return {
            "allowVirtualNetworkAccess": self.allow_virtual_network_access,
            "allowForwardedTraffic": self.allow_forwarded_traffic,
            "allowGatewayTransit": self.allow_gateway_transit,
            "useRemoteGateways": self.use_remote_gateways,
        }


# Hub to spoke: access, forwarded traffic (it passes the NVA), gateway transit. Spoke to hub:
# access, forwarded traffic, the hub's gateway (Azure refuses it until that gateway exists).
HUB_TO_SPOKE = PeeringFlags(True, True, True, False)
SPOKE_TO_HUB = PeeringFlags(True, True, False, True)
# The GatewaySubnet's table keeps BGP propagation (the gateway needs the on-premises routes); the
# workload tables turn it off, so on-premises traffic takes 0.0.0.0/0 through the NVA.
GATEWAY_ROUTES_DISABLE_BGP = False
WORKLOAD_ROUTES_DISABLE_BGP = True


@dataclass(frozen=True)
class SubnetSpec:
    name: str
    prefix: str
    routed_to_nva: bool
    service_endpoints: tuple[str, ...] = ()
    adopt_id: str | None = None
    # The NSG to attach: an existing one (its ID), or the one this stack creates (``nsg_rules``).
    nsg_id: str | None = None
    nsg_rules: tuple[Mapping[str, object], ...] | None = None
    delegations: tuple[str, ...] = ()
    private_endpoint_network_policies: str | None = None
    private_link_service_network_policies: str | None = None
    default_outbound_access: bool | None = None

    @property
    def service(self) -> ServiceSubnet | None:
        """The Azure service this subnet is reserved for, recognised by its name (never routed
        through the NVA; its route table is the service's own rule)."""
        return service_subnet(self.name)

    @property
    def internet_default(self) -> bool:
        """The subnet's service asks for a table of its own: 0.0.0.0/0 -> Internet, BGP off."""
        return self.service is not None and self.service.route is RouteRule.INTERNET_DEFAULT


@dataclass(frozen=True)
class VnetSpec:
    key: str
    azure_name: str
    address_space: tuple[str, ...]
    subnets: tuple[SubnetSpec, ...]
    adopt_id: str | None = None
    # Placement (layout.*.placement): the subscription it names (written through an explicit
    # provider; None: the stack's), and the group when it is not the stack's own.
    subscription_id: str | None = None
    resource_group: str | None = None
    # Where it really is: subscription, group, name, ARM ID (model/identity.py).
    id: ResourceId | None = None


@dataclass(frozen=True)
class NvaSpec:
    """The hub's next hop in one region (layout.hub.nva)."""

    kind: NvaKind
    subnet: str
    address: str  # the UDR next hop: the source address, or its translation in the target
    replicated_item: str | None = None
    firewall_sku: str = "Standard"
    provisioning: FirewallProvisioning = FirewallProvisioning.PRE_PROVISIONED
    base_policy_id: str | None = None  # the source region's policy (for the runbook)
    target_base_policy_id: str | None = None  # the target policy's parent, in the target region

    @property
    def firewall(self) -> bool:
        return self.kind is NvaKind.AZURE_FIREWALL


@dataclass(frozen=True)
class NetworkSpec:
    role: Role
    region: str
    resource_group: str
    hub: VnetSpec
    nva_subnet: str
    nva_address: str
    spokes: tuple[VnetSpec, ...]
    spoke_prefixes: tuple[str, ...] = field(default=())
    nva: NvaSpec | None = None
    # adopted source (source.imports, source.routeNames): resource name -> existing ARM ID, and
    # route table resource name -> {prefix: existing route name}.
    imports: dict[str, str] = field(default_factory=dict[str, str])
    # logical (Pulumi) name -> the resource's identity (model/identity.py): names, groups, IDs.
    ids: dict[str, ResourceId] = field(default_factory=dict[str, ResourceId])
    route_names: dict[str, dict[str, str]] = field(default_factory=dict[str, dict[str, str]])

    @property
    def vnets(self) -> tuple[VnetSpec, ...]:
        return (self.hub, *self.spokes)

    @property
    def gateway_nva_prefixes(self) -> tuple[str, ...]:
        """What the GatewaySubnet's table sends to the NVA: every spoke prefix and every hub
        subnet whose replies leave through the NVA (0.0.0.0/0 -> NVA). Without a hub subnet here,
        on-premises traffic would reach it directly while its reply crosses the stateful NVA,
        which drops it ("Integrate Azure Firewall with Azure Standard Load Balancer",
        learn.microsoft.com/azure/firewall/integrate-lb#asymmetric-routing)."""
        return (*self.spoke_prefixes, *(s.prefix for s in self.hub.subnets if s.routed_to_nva))

    @property
    def gateway_direct_prefixes(self) -> tuple[str, ...]:
        """Spoke subnets whose replies do not leave through the NVA (routeTable 'none', service
        subnets): the GatewaySubnet's table sends them straight to the VNet (next hop VnetLocal),
        more specific than the spoke's route to the NVA, so both directions bypass it."""
        return tuple(s.prefix for v in self.spokes for s in v.subnets if not s.routed_to_nva)

    def name(self, logical: str) -> ResourceId:
        """The identity of the resource the stack registers as ``logical`` (model/identity.py)."""
        return self.ids[logical]

    def route_name(self, table: str, prefix: str, *, to_internet: bool = False) -> str:
        """The route for ``prefix`` in the table registered as ``table``: an adopted route keeps
        its existing name (source.routeNames)."""
        fresh = naming.INTERNET_ROUTE if to_internet else naming.route_name(prefix)
        return self.route_names.get(table, {}).get(prefix) or fresh


def firewall_present(nva: NvaSpec | None, phase: Phase) -> bool:
    """Whether the target hub's firewall exists in ``phase``: always when pre-provisioned; with
    ``atFailover`` only in phase failover (the update that fails over creates it, failback removes it)."""
    if nva is None or not nva.firewall:
        return False
    return nva.provisioning is FirewallProvisioning.PRE_PROVISIONED or phase is Phase.FAILOVER


class _Translator:
    """Maps source addresses to target addresses VNet by VNet (identity for 'same')."""

    def __init__(self, pairs: list[tuple[Network, Network]]) -> None:
        self._pairs = pairs

    def _pair_for(self, net: Network) -> tuple[Network, Network]:
        for src, tgt in self._pairs:
            if src.version == net.version and net.subnet_of(src):  # type: ignore[arg-type]
                return src, tgt
        raise ValueError(f"{net} lies in no translated VNet prefix")

    def prefix(self, text: str) -> str:
        net = parse_prefix(text)
        src, tgt = self._pair_for(net)
        return str(translate_prefix(net, src, tgt))

    def address(self, text: str) -> str:
        addr = parse_address(text)
        host = ipaddress.ip_network(f"{addr}/{addr.max_prefixlen}")
        src, tgt = self._pair_for(host)
        return str(translate_address(addr, src, tgt))


def _translator(layout: Layout, plan: dict[str, list[str]] | None) -> _Translator:
    pairs: list[tuple[Network, Network]] = []
    for name, space in layout.address_spaces():
        targets = plan[name] if plan is not None else space
        pairs += [(parse_prefix(s), parse_prefix(t)) for s, t in zip(space, targets, strict=True)]
    return _Translator(pairs)


def _build(
    cfg: StackConfig,
    role: Role,
    region: str,
    resource_group: str,
    tr: _Translator,
    ids: Mapping[str, VnetIds],
    by_logical: dict[str, ResourceId],
    routed: bool,
) -> NetworkSpec:
    layout = cfg.layout
    hub = layout.hub
    adopt = cfg.adopt if role is Role.TARGET and routed else {}

    def subnet(
        name: str, prefix: str, to_nva: bool, extra: list[str], vnet: str, lay: SubnetLayout | None = None
    ) -> SubnetSpec:
        # Azure's service subnets keep their service's routing: never 0.0.0.0/0 -> NVA; a subnet
        # declared routeTable 'none' (a private-endpoint subnet) has no table either.
        to_nva = to_nva and routed_through_nva(name) and (lay is None or lay.route_table != "none")
        endpoints = list(dict.fromkeys(extra + ([STORAGE_ENDPOINT] if to_nva else [])))
        adopted = adopt[vnet].subnets.get(name) if vnet in adopt else None
        nsg_id, rules = None, None
        if lay is not None and lay.nsg is not None and routed:
            if role is Role.SOURCE:
                nsg_id = lay.nsg.source
            elif lay.nsg.target is not None:
                nsg_id = lay.nsg.target
            elif lay.nsg.rules is not None:
                rules = tuple(_security_rule(r, tr) for r in lay.nsg.rules)
        return SubnetSpec(
            name,
            tr.prefix(prefix),
            to_nva and routed,
            tuple(endpoints),
            adopted,
            nsg_id=nsg_id,
            nsg_rules=rules,
            delegations=tuple(lay.delegations) if lay is not None else (),
            private_endpoint_network_policies=lay.private_endpoint_network_policies if lay is not None else None,
            private_link_service_network_policies=lay.private_link_service_network_policies
            if lay is not None
            else None,
            default_outbound_access=lay.default_outbound_access if lay is not None else None,
        )

    imports = cfg.source.imports if role is Role.SOURCE and cfg.source.mode is SourceMode.ADOPTED else {}

    def vnet(key: str, space: list[str], subnets: tuple[SubnetSpec, ...]) -> VnetSpec:
        found = ids[key]
        group = found.vnet.resource_group
        return VnetSpec(
            key,
            found.vnet.name,
            tuple(tr.prefix(p) for p in space),
            subnets,
            adopt[key].id if key in adopt else None,
            subscription_id=found.placed_subscription,
            resource_group=group if group.lower() != resource_group.lower() else None,
            id=found.vnet,
        )

    # GatewaySubnet first: subnets are created one at a time, and the gateway (the slowest
    # resource of all) waits only for its own subnet.
    hub_subnets = (
        *((subnet(GATEWAY_SUBNET, hub.gateway_subnet_prefix, False, [], hub.name),) if routed else ()),
        subnet(
            hub.nva_subnet.name,
            hub.nva_subnet.prefix,
            False,
            hub.nva_subnet.service_endpoints,
            hub.name,
            hub.nva_subnet,
        ),
        *(subnet(s.name, s.prefix, True, s.service_endpoints, hub.name, s) for s in hub.extra_subnets),
    )
    spokes = tuple(
        vnet(
            s.name,
            s.address_space,
            tuple(subnet(n.name, n.prefix, True, n.service_endpoints, s.name, n) for n in s.subnets),
        )
        for s in layout.spokes
    )
    return NetworkSpec(
        role=role,
        region=region,
        resource_group=resource_group,
        hub=vnet(hub.name, hub.address_space, hub_subnets),
        nva_subnet=hub.nva_subnet.name,
        nva_address=tr.address(hub.nva_address),
        spokes=spokes,
        spoke_prefixes=tuple(p for s in spokes for p in s.address_space),
        nva=_nva(hub.nva, hub.nva_subnet.name, tr.address(hub.nva_address)) if routed else None,
        imports=dict(imports),
        route_names={k: dict(v) for k, v in cfg.source.route_names.items()} if imports else {},
        ids=by_logical,
    )


def _security_rule(rule: SecurityRule, tr: _Translator) -> dict[str, object]:
    """A source NSG rule for the target: prefixes inside a translated VNet move with it; service
    tags, '*' and prefixes elsewhere (on-premises) stay."""

    def moved(text: str) -> str:
        try:
            return tr.prefix(text)
        except (ValueError, PrefixError):
            return text

    return {
        "name": rule.name,
        "priority": rule.priority,
        "direction": rule.direction,
        "access": rule.access,
        "protocol": rule.protocol,
        "source_address_prefixes": [moved(p) for p in rule.source_address_prefixes],
        "source_port_ranges": list(rule.source_port_ranges),
        "destination_address_prefixes": [moved(p) for p in rule.destination_address_prefixes],
        "destination_port_ranges": list(rule.destination_port_ranges),
        "description": rule.description,
    }


def _nva(nva: NvaLayout, subnet: str, address: str) -> NvaSpec:
    return NvaSpec(
        nva.kind,
        subnet,
        address,
        nva.replicated_item,
        nva.firewall_sku,
        nva.provisioning,
        nva.base_policy_id,
        nva.target_base_policy_id,
    )


def network_for(cfg: StackConfig, role: Role) -> NetworkSpec:
    """The routed hub-and-spoke network of ``role``'s region (the target's is the replica)."""
    translated = role is Role.TARGET and cfg.addressing is Addressing.TRANSLATED
    tr = _translator(cfg.layout, cfg.target_address_plan if translated else None)
    found = identity.side(cfg, role)
    ids = {v.key: v for v in found.vnets}
    return _build(cfg, role, cfg.regions.of(role), found.resource_group.name, tr, ids, found.by_logical(), routed=True)


def drill_plan(cfg: StackConfig) -> dict[str, list[str]]:
    """Carve one block per source prefix, same length, in layout order, from drill.addressSpace.

    Raises ValueError (:class:`PrefixError`) when the drill block is too small or of the wrong
    IP version; config validation reports that before anything is built.
    """
    plan: dict[str, list[str]] = {name: [] for name, _ in cfg.layout.address_spaces()}
    for name, net in carve(cfg.layout.prefixes(), parse_prefix(cfg.drill.address_space)):
        plan[name].append(str(net))
    return plan


def drill_network(cfg: StackConfig) -> NetworkSpec:
    """Isolated copies of every VNet for test failovers: no gateway, no peering, no routes."""
    tr = _translator(cfg.layout, drill_plan(cfg))
    estate = identity.drill(cfg)
    by_logical = identity.drill_by_logical(estate)
    return _build(
        cfg, Role.TARGET, cfg.regions.target, cfg.resource_group_name(Role.TARGET), tr, estate, by_logical, routed=False
    )
