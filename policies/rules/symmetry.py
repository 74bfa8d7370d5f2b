"""Symmetric paths through stateful hops: a flow that crosses a virtual appliance (an NVA or Azure
Firewall: both keep connection state) one way must cross the same appliance on the way back, or
the appliance sees half a connection and drops it. Microsoft describes the failure for Azure
Firewall ("Integrate Azure Firewall with Azure Standard Load Balancer", asymmetric routing:
learn.microsoft.com/azure/firewall/integrate-lb#asymmetric-routing) and for NVAs ("Deploy highly
available NVAs": learn.microsoft.com/azure/architecture/networking/guide/network-virtual-appliance-high-availability).

From the stack's route tables, subnets, peerings and gateways this rule computes the first next hop
of each flow the way Azure picks it ("Virtual network traffic routing", How Azure selects a route:
learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#how-azure-selects-a-route):
the longest prefix wins; at equal length a user-defined route beats a BGP route, which beats a
system route. Routes a subnet can hold:

- user-defined routes of its route table;
- system routes: its own VNet's address space (VnetLocal), each directly peered VNet's address
  space (VNetPeering), 0.0.0.0/0 -> Internet;
- BGP routes to on-premises, when the VNet reaches a gateway (its own, or a peer's through
  useRemoteGateways) and the table does not disable BGP route propagation.

Flows checked, both directions:

- on-premises <-> subnet: in through the gateway (its GatewaySubnet's table), out through the
  subnet's table; on-premises prefixes come from the circuits' ``onPremPrefixes`` (stack config,
  this policy's ``circuits``) or ``onPremPrefixes``; when none is known, on-premises is taken to
  advertise prefixes more specific than 0.0.0.0/0 and less specific than any VNet's;
- subnet <-> subnet, for subnets in the same VNet or in directly peered VNets.

Not checked: subnets Azure reserves for its services (the GatewaySubnet, the firewall's), the
subnet an appliance lives in (its own traffic), and what the appliance itself does with the packet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, RouteTable, Subnet, Vnet, parse_all
from ..framework import CIRCUITS_SCHEMA, Context, Rule
from ..shared import addrspace
from ..shared.service_subnets import service_subnet
from ..values import UNKNOWN

Network = addrspace.Network
ON_PREM = "on-premises"


class Undecided(Exception):
    """A value the answer needs is unknown in this preview."""

    def __init__(self, urn: str, what: str, unknown: str) -> None:
        super().__init__(what)
        self.urn, self.what, self.unknown = urn, what, unknown


@dataclass(frozen=True)
class Hop:
    """The first next hop of a flow, and the route that chose it."""

    kind: str  # VirtualAppliance, VnetLocal, VNetPeering, VirtualNetworkGateway, Internet, None
    address: str | None
    via: str  # "route 'x' of table 'y'", "system route", "BGP"

    @property
    def appliance(self) -> str | None:
        return self.address if self.kind == "VirtualAppliance" else None

    def show(self) -> str:
        hop = f"{self.kind} {self.address}" if self.address else self.kind
        return f"{hop} ({self.via})"


@dataclass(frozen=True)
class _Candidate:
    prefixlen: int
    rank: int  # 2 user-defined, 1 BGP, 0 system
    hop: Hop


class Fabric:
    """What the routes of the stack's subnets are made of."""

    def __init__(self, estate: Estate, on_prem: list[Network]) -> None:
        self.estate = estate
        self.on_prem = on_prem
        self.spaces: dict[int, list[Network]] = {}
        for v in estate.vnets:
            if isinstance(v.prefixes, list):
                self.spaces[id(v)] = parse_all([p for p in v.prefixes if isinstance(p, str)])[0]
        self.peers: dict[int, list[Vnet]] = {}
        self.gateway_vnets: set[int] = set()
        self.remote_gateway: dict[int, bool] = {}
        self._peer_ids: dict[int, set[int]] = {}
        for g in estate.gateways:
            if isinstance(g.vnet, Vnet):
                self.gateway_vnets.add(id(g.vnet))
        for p in estate.peerings:
            if isinstance(p.local, Vnet) and isinstance(p.remote, Vnet) and p.allow_access is not False:
                self.peers.setdefault(id(p.local), []).append(p.remote)
                if p.use_remote_gateways is True and id(p.remote) in self.gateway_vnets:
                    self.remote_gateway[id(p.local)] = True

    def reaches_gateway(self, vnet: Vnet) -> bool:
        return id(vnet) in self.gateway_vnets or self.remote_gateway.get(id(vnet), False)

    def hop(self, subnet: Subnet, dest: Network | None, dest_label: str, dest_vnet: Vnet | None = None) -> Hop:
        """The first next hop from ``subnet`` to ``dest``: a subnet of ``dest_vnet``, else on-premises
        (``dest`` None: its prefixes are unknown)."""
        vnet = subnet.vnet
        assert isinstance(vnet, Vnet)
        table = subnet.route_table
        if table is UNKNOWN:
            raise Undecided(subnet.urn, f"the route from '{subnet.label}' to {dest_label}", "routeTable")
        candidates: list[_Candidate] = [_Candidate(0, 0, Hop("Internet", None, "system route 0.0.0.0/0"))]
        to_on_prem = dest_vnet is None
        if isinstance(table, RouteTable):
            candidates += self._udrs(table, dest, dest_label)
        bgp_off = isinstance(table, RouteTable) and table.disable_bgp is True
        if isinstance(table, RouteTable) and table.disable_bgp is UNKNOWN:
            raise Undecided(table.urn, f"the route from '{subnet.label}' to {dest_label}", "disableBgpRoutePropagation")
        if to_on_prem and not bgp_off and self.reaches_gateway(vnet):
            # Learned routes are as long as the advertised prefix; unknown ones sit above /0.
            length = dest.prefixlen if dest is not None else 1
            candidates.append(_Candidate(length, 1, Hop("VirtualNetworkGateway", None, "BGP")))
        if dest is not None and dest_vnet is not None:
            kind = "VnetLocal" if dest_vnet is vnet else "VNetPeering" if id(dest_vnet) in self.peer_ids(vnet) else None
            for net in self.spaces.get(id(dest_vnet), []):
                if kind is not None and _covers(net, dest):
                    candidates.append(_Candidate(net.prefixlen, 0, Hop(kind, None, "system route")))
        best = max(candidates, key=lambda c: (c.prefixlen, c.rank))
        return best.hop

    def peer_ids(self, vnet: Vnet) -> set[int]:
        found = self._peer_ids.get(id(vnet))
        if found is None:
            found = self._peer_ids[id(vnet)] = {id(p) for p in self.peers.get(id(vnet), [])}
        return found

    def _udrs(self, table: RouteTable, dest: Network | None, dest_label: str) -> list[_Candidate]:
        if table.routes is UNKNOWN:
            raise Undecided(table.urn, f"the routes of '{table.label}' towards {dest_label}", "routes")
        out: list[_Candidate] = []
        for route in table.routes:
            appliance = route.next_hop_type in ("VirtualAppliance", UNKNOWN)
            if (
                route.prefix is UNKNOWN
                or route.next_hop_type is UNKNOWN
                or (appliance and route.next_hop_ip is UNKNOWN)
            ):
                raise Undecided(route.urn, f"route '{route.name}' of '{table.label}'", "its prefix or next hop")
            if not isinstance(route.prefix, str) or not isinstance(route.next_hop_type, str):
                continue
            try:
                net = addrspace.parse_prefix(route.prefix)
            except addrspace.PrefixError:
                continue  # another rule reports a malformed prefix
            # Unknown on-premises prefixes: only a default route is known to cover them.
            if (dest is None and net.prefixlen != 0) or (dest is not None and not _covers(net, dest)):
                continue
            ip = route.next_hop_ip if isinstance(route.next_hop_ip, str) else None
            hop = Hop(route.next_hop_type, ip, f"route '{route.name}' of route table '{table.label}'")
            out.append(_Candidate(net.prefixlen, 2, hop))
        return out


def _covers(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _prefixes(subnet: Subnet) -> list[Network]:
    if not isinstance(subnet.prefixes, list):
        return []
    return parse_all([p for p in subnet.prefixes if isinstance(p, str)])[0]


def _on_prem(ctx: Context, estate: Estate) -> list[Network]:
    texts = [p for c in estate.circuit_facts.values() for p in c.on_prem_prefixes]
    texts += [p for p in ctx.option("onPremPrefixes") or [] if isinstance(p, str)]
    return parse_all(dict.fromkeys(texts))[0]


def _checked_subnets(estate: Estate, fabric: Fabric, appliances: set[str]) -> Iterable[tuple[Subnet, list[Network]]]:
    for s in estate.subnets:
        if not isinstance(s.vnet, Vnet) or estate.is_gateway_subnet(s) or service_subnet(s.name) is not None:
            continue
        nets = _prefixes(s)
        space = fabric.spaces.get(id(s.vnet), [])
        if not nets or not all(any(_covers(v, n) for v in space) for n in nets):
            continue  # outside its VNet: subnet-address-overlap reports it
        if any(
            addrspace.parse_address(a).version == n.version and addrspace.parse_address(a) in n
            for a in appliances
            for n in nets
        ):
            continue  # the appliance's own subnet
        yield s, nets


def _appliances(estate: Estate) -> set[str]:
    out: set[str] = set()
    for t in estate.route_tables:
        for r in t.routes if isinstance(t.routes, list) else []:
            if r.next_hop_type == "VirtualAppliance" and isinstance(r.next_hop_ip, str):
                try:
                    addrspace.parse_address(r.next_hop_ip)
                except addrspace.PrefixError:
                    continue
                out.add(r.next_hop_ip)
    return out


def _differ(forward: Hop, back: Hop) -> bool:
    return forward.appliance != back.appliance


def check_symmetric_paths(ctx: Context, estate: Estate) -> None:
    fabric = Fabric(estate, _on_prem(ctx, estate))
    subnets = list(_checked_subnets(estate, fabric, _appliances(estate)))
    entries = _entries(estate)
    for subnet, nets in subnets:
        try:
            _check_on_prem(ctx, fabric, subnet, nets, entries)
        except Undecided as u:
            ctx.undecided(u.urn, f"whether on-premises <-> '{subnet.label}' is symmetric ({u.what})", u.unknown)
    by_vnet: dict[int, list[tuple[Subnet, list[Network]]]] = {}
    for subnet, nets in subnets:
        by_vnet.setdefault(id(subnet.vnet), []).append((subnet, nets))
    done: set[tuple[int, int]] = set()
    for subnet, nets in subnets:
        vnet = subnet.vnet
        assert isinstance(vnet, Vnet)
        near = [vnet, *fabric.peers.get(id(vnet), [])]
        for other_vnet in near:
            for other, other_nets in by_vnet.get(id(other_vnet), []):
                pair = (min(id(subnet), id(other)), max(id(subnet), id(other)))
                if other is subnet or pair in done:
                    continue
                done.add(pair)
                try:
                    _check_pair(ctx, fabric, (subnet, nets[0]), (other, other_nets[0]))
                except Undecided as u:
                    ctx.undecided(
                        u.urn, f"whether '{subnet.label}' <-> '{other.label}' is symmetric ({u.what})", u.unknown
                    )


def _entries(estate: Estate) -> dict[int, Subnet]:
    """VNet -> the GatewaySubnet on-premises traffic enters it through (its own gateway's, or
    the gateway of the hub it uses through useRemoteGateways)."""
    own: dict[int, Subnet] = {}
    for g in estate.gateways:
        if isinstance(g.vnet, Vnet):
            for s in g.subnets:
                if isinstance(s, Subnet):
                    own[id(g.vnet)] = s
    out = dict(own)
    for p in estate.peerings:
        linked = isinstance(p.local, Vnet) and isinstance(p.remote, Vnet) and p.use_remote_gateways is True
        if linked and id(p.remote) in own:
            out.setdefault(id(p.local), own[id(p.remote)])
    return out


def _check_on_prem(
    ctx: Context, fabric: Fabric, subnet: Subnet, nets: list[Network], entries: dict[int, Subnet]
) -> None:
    vnet = subnet.vnet
    assert isinstance(vnet, Vnet)
    entry = entries.get(id(vnet))
    if entry is None:
        return  # no gateway: on-premises does not reach it
    destinations: list[Network | None] = list(fabric.on_prem) or [None]
    for dest in destinations:
        label = str(dest) if dest is not None else ON_PREM
        back = fabric.hop(subnet, dest, label)
        if back.kind not in ("VirtualAppliance", "VirtualNetworkGateway"):
            continue  # the reply does not go to on-premises at all: another problem
        for net in nets:
            forward = fabric.hop(entry, net, f"'{subnet.label}' ({net})", vnet)
            if _differ(forward, back):
                ctx.violation(
                    f"Asymmetric path between {label} and subnet '{subnet.label}' ({net}): traffic from "
                    f"on-premises leaves the gateway subnet '{entry.label}' by {forward.show()}, the reply "
                    f"leaves the subnet by {back.show()}. A stateful appliance that sees one direction only "
                    f"drops the connection. Route {net} to the same appliance in the gateway subnet's "
                    f"table, or send the subnet's replies the way the traffic came.",
                    subnet.urn,
                )
                return


def _check_pair(ctx: Context, fabric: Fabric, a: tuple[Subnet, Network], b: tuple[Subnet, Network]) -> None:
    (sa, na), (sb, nb) = a, b
    assert isinstance(sa.vnet, Vnet) and isinstance(sb.vnet, Vnet)
    forward = fabric.hop(sa, nb, f"'{sb.label}' ({nb})", sb.vnet)
    back = fabric.hop(sb, na, f"'{sa.label}' ({na})", sa.vnet)
    if _differ(forward, back):
        ctx.violation(
            f"Asymmetric path between subnets '{sa.label}' ({na}) and '{sb.label}' ({nb}): the first sends "
            f"by {forward.show()}, the second replies by {back.show()}. A stateful appliance that sees "
            "one direction only drops the connection. Route both directions through the same appliance, "
            "or neither.",
            sa.urn,
        )


SYMMETRY_RULE = Rule(
    name="symmetric-stateful-paths",
    display_name="Paths through a stateful appliance are symmetric",
    description=(
        "From route tables, subnets, peerings and gateways: the first next hop of on-premises <-> "
        "subnet and subnet <-> subnet flows, both directions. A flow that crosses an NVA or Azure "
        "Firewall one way and not the other (or another appliance) is dropped by the appliance."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation=(
        "Route every prefix whose replies leave through the appliance to the same appliance where "
        "the traffic enters (the GatewaySubnet's table for on-premises traffic)."
    ),
    check=check_symmetric_paths,
    options={
        "circuits": CIRCUITS_SCHEMA,
        "onPremPrefixes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Prefixes on-premises advertises, beyond the circuits' onPremPrefixes.",
        },
    },
    defaults={"onUnknown": "advise", "onPremPrefixes": []},
)
