"""Pure derivations from the validated config: the network each region gets, the drill network,
and the set of ExpressRoute connections each stack holds in each phase.

Everything here is a plain function of :class:`StackConfig`, so the program, the offline plan,
the failover command and the tests all read the same answer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from components.config import (
    GATEWAY_SUBNET,
    Addressing,
    Layout,
    Phase,
    Role,
    StackConfig,
    Topology,
)
from policies.addrspace import Network, parse_address, parse_prefix, translate_address, translate_prefix

STORAGE_ENDPOINT = "Microsoft.Storage"
DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class SubnetSpec:
    name: str
    prefix: str
    routed_to_nva: bool
    service_endpoints: tuple[str, ...] = ()
    adopt_id: str | None = None


@dataclass(frozen=True)
class VnetSpec:
    key: str
    azure_name: str
    address_space: tuple[str, ...]
    subnets: tuple[SubnetSpec, ...]
    adopt_id: str | None = None


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

    @property
    def vnets(self) -> tuple[VnetSpec, ...]:
        return (self.hub, *self.spokes)


def vnet_azure_name(key: str, region: str) -> str:
    return f"{key}-{region}"


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
    vnets = [(layout.hub.name, layout.hub.address_space)] + [(s.name, s.address_space) for s in layout.spokes]
    for name, space in vnets:
        targets = plan[name] if plan is not None else space
        pairs += [(parse_prefix(s), parse_prefix(t)) for s, t in zip(space, targets, strict=True)]
    return _Translator(pairs)


def _build(
    cfg: StackConfig,
    role: Role,
    region: str,
    resource_group: str,
    tr: _Translator,
    name_suffix: str,
    routed: bool,
) -> NetworkSpec:
    layout = cfg.layout
    hub = layout.hub
    adopt = cfg.adopt if role is Role.TARGET and routed else {}

    def subnet(name: str, prefix: str, to_nva: bool, extra: list[str], vnet: str) -> SubnetSpec:
        endpoints = list(dict.fromkeys(extra + ([STORAGE_ENDPOINT] if to_nva else [])))
        adopted = adopt[vnet].subnets.get(name) if vnet in adopt else None
        return SubnetSpec(name, tr.prefix(prefix), to_nva and routed, tuple(endpoints), adopted)

    def vnet(key: str, space: list[str], subnets: tuple[SubnetSpec, ...]) -> VnetSpec:
        adopted = adopt[key].id if key in adopt else None
        azure_name = adopted.rsplit("/", 1)[1] if adopted else vnet_azure_name(key, region) + name_suffix
        return VnetSpec(key, azure_name, tuple(tr.prefix(p) for p in space), subnets, adopted)

    # GatewaySubnet first: subnets are created one at a time, and the gateway (the slowest
    # resource of all) waits only for its own subnet.
    hub_subnets = (
        *((subnet(GATEWAY_SUBNET, hub.gateway_subnet_prefix, False, [], hub.name),) if routed else ()),
        subnet(hub.nva_subnet.name, hub.nva_subnet.prefix, False, hub.nva_subnet.service_endpoints, hub.name),
        *(subnet(s.name, s.prefix, True, s.service_endpoints, hub.name) for s in hub.extra_subnets),
    )
    spokes = tuple(
        vnet(
            s.name,
            s.address_space,
            tuple(subnet(n.name, n.prefix, True, n.service_endpoints, s.name) for n in s.subnets),
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
    )


def network_for(cfg: StackConfig, role: Role) -> NetworkSpec:
    """The routed hub-and-spoke network of ``role``'s region (the target's is the replica)."""
    translated = role is Role.TARGET and cfg.addressing is Addressing.TRANSLATED
    tr = _translator(cfg.layout, cfg.target_address_plan if translated else None)
    region = cfg.regions.source if role is Role.SOURCE else cfg.regions.target
    return _build(cfg, role, region, cfg.resource_group_name(role), tr, "", routed=True)


def drill_plan(cfg: StackConfig) -> dict[str, list[str]]:
    """Carve one block per source prefix, same length, in layout order, from drill.addressSpace.

    Raises ValueError when the drill block is too small or of the wrong IP version.
    """
    base = parse_prefix(cfg.drill.address_space)
    layout = cfg.layout
    vnets = [(layout.hub.name, layout.hub.address_space)] + [(s.name, s.address_space) for s in layout.spokes]
    cursor = int(base.network_address)
    end = int(base.broadcast_address)
    plan: dict[str, list[str]] = {}
    for name, space in vnets:
        out: list[str] = []
        for text in space:
            src = parse_prefix(text)
            if src.version != base.version:
                raise ValueError(f"drill block is IPv{base.version} but {name} has {src}")
            size = src.num_addresses
            cursor = (cursor + size - 1) // size * size  # align to the block size
            if cursor + size - 1 > end:
                raise ValueError(f"drill block {base} is too small for every VNet ({name} {src} does not fit)")
            out.append(str(ipaddress.ip_network(f"{ipaddress.ip_address(cursor)}/{src.prefixlen}")))
            cursor += size
        plan[name] = out
    return plan


def drill_network(cfg: StackConfig) -> NetworkSpec:
    """Isolated copies of every VNet for test failovers: no gateway, no peering, no routes."""
    tr = _translator(cfg.layout, drill_plan(cfg))
    return _build(
        cfg, Role.TARGET, cfg.regions.target, cfg.resource_group_name(Role.TARGET), tr, "-drill", routed=False
    )


# --- connections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSpec:
    """One gateway->circuit connection a stack holds in a given phase."""

    name: str
    circuit: str  # "primary" | "secondary"
    circuit_id: str
    routing_weight: int
    always: bool  # present in every phase (so it can be protected)
    exclusive: bool  # single circuit, same IPs: must never coexist with the peer's connection

    @property
    def authorization_key(self) -> str:
        return f"{self.circuit}AuthorizationKey"


def _circuit_id(cfg: StackConfig, circuit: str) -> str:
    c = cfg.circuits.primary if circuit == "primary" else cfg.circuits.secondary
    assert c is not None, "validated: two-circuit topologies have a secondary circuit"
    return c.id


def connection_plan(cfg: StackConfig, role: Role, phase: Phase) -> list[ConnectionSpec]:
    """Which connections ``role``'s hub holds in ``phase`` (rules of the source article).

    - two circuits: source hub on the primary, target hub on the secondary (pre-connected in
      standby unless preConnectTarget is false); weights move the preference at failover.
    - single circuit, new IPs: both hubs on the one circuit, weights as above.
    - single circuit, same IPs: never both; the source holds it except in failover, the target
      only in failover.
    """
    weights = cfg.routing_weights
    active = phase is Phase.FAILOVER
    own = "primary" if role is Role.SOURCE or not cfg.two_circuits else "secondary"
    other = "secondary" if own == "primary" else "primary"
    single_same = cfg.topology is Topology.SINGLE_CIRCUIT and cfg.addressing is Addressing.SAME
    region = cfg.regions.source if role is Role.SOURCE else cfg.regions.target
    hub = vnet_azure_name(cfg.layout.hub.name, region)

    if role is Role.SOURCE:
        present = not (single_same and active)
        weight = weights.standby if active else weights.preferred
        always = not single_same
    else:
        present = active or cfg.target_pre_connected
        weight = weights.preferred if active else weights.standby
        always = cfg.target_pre_connected
    specs: list[ConnectionSpec] = []
    if present:
        specs.append(ConnectionSpec(f"{hub}-to-{own}", own, _circuit_id(cfg, own), weight, always, single_same))
    if cfg.cross_connect:
        specs.append(ConnectionSpec(f"{hub}-to-{other}", other, _circuit_id(cfg, other), weights.standby, True, False))
    return specs
