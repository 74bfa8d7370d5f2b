"""Address-space rules: no overlap inside a routing domain; subnets inside their VNet.

A routing domain is a connected component of the graph whose nodes are VNets and circuits
(each circuit its own node; two circuits are never merged) and whose edges are VNet peerings
(either direction) and gateway->circuit connections. Inside a domain every prefix of every
VNet, of the on-premises side of each circuit and of other stacks' networks on those circuits
must be distinct. One :func:`addrspace.find_overlaps` sweep per domain: O(n log n).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, ExternalNetwork, OutsideVnet, Subnet, Vnet, parse_all
from ..framework import CIRCUITS_SCHEMA, EXTERNAL_NETWORKS_SCHEMA, Context, Rule
from ..shared import addrspace
from ..values import UNKNOWN


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def add(self, x: Hashable) -> None:
        self.parent.setdefault(x, x)

    def find(self, x: Hashable) -> Hashable:
        self.add(x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass(frozen=True)
class Holder:
    """Something that owns prefixes in a domain: a VNet, a circuit's on-prem side, another stack."""

    kind: str  # "vnet" | "outside" | "onprem" | "external"
    label: str
    urn: str
    ref: Any = field(compare=False, hash=False, default=None)

    @property
    def in_stack(self) -> bool:
        return self.kind == "vnet"

    def describe(self) -> str:
        if self.kind == "vnet":
            return f"VNet '{self.label}'"
        if self.kind == "onprem":
            return f"the on-premises prefixes of circuit '{self.label}'"
        if self.kind == "external":
            return f"network '{self.label}'"
        return f"VNet '{self.label}' (outside this stack)"


@dataclass
class Domain:
    members: list[Holder] = field(default_factory=list[Holder])
    circuits: list[str] = field(default_factory=list[str])
    unknown_holders: list[Holder] = field(default_factory=list[Holder])
    prefixes: list[tuple[Holder, addrspace.Network]] = field(default_factory=list[tuple[Holder, addrspace.Network]])

    def label(self, limit: int = 4) -> str:
        names = sorted(m.label for m in self.members if m.kind in ("vnet", "outside"))
        shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
        via = f" via circuit {', '.join(sorted(self.circuits))}" if self.circuits else ""
        return f"[{shown}{via}]"


@dataclass
class DomainAnalysis:
    domains: list[Domain]
    undecided: list[tuple[str, str, str]]  # (urn, what, unknown)
    invalid: list[tuple[Holder, str, str]]  # (holder, prefix text, why)


def _vnet_node(ref: Vnet | OutsideVnet) -> Hashable:
    return ("vnet", ref.urn) if isinstance(ref, Vnet) else ("outside", ref.key)


def routing_domains(estate: Estate) -> DomainAnalysis:
    """Group the estate's VNets, circuits and external networks into routing domains."""
    uf = UnionFind()
    undecided: list[tuple[str, str, str]] = []
    holders: dict[Hashable, Holder] = {}
    for v in estate.vnets:
        node = ("vnet", v.urn)
        uf.add(node)
        holders[node] = Holder("vnet", v.label, v.urn, v)

    def endpoint(ref: Any) -> Hashable | None:
        if isinstance(ref, Vnet | OutsideVnet):
            node = _vnet_node(ref)
            if node not in holders:
                holders[node] = Holder("outside", ref.label, "", ref)
            return node
        return None

    for p in estate.peerings:
        a, b = endpoint(p.local), endpoint(p.remote)
        if a is not None and b is not None:
            uf.union(a, b)
        elif p.local is UNKNOWN or p.remote is UNKNOWN:
            side = "virtualNetworkName" if p.local is UNKNOWN else "remoteVirtualNetwork.id"
            undecided.append((p.urn, f"which VNets peering '{p.label}' joins", side))

    circuit_nodes: dict[Hashable, str] = {}
    for c in estate.expressroute_links():
        gw = c.gateway
        vnet = gw.vnet if gw is not None and gw is not UNKNOWN else gw
        if c.circuit is UNKNOWN or gw is UNKNOWN or vnet is UNKNOWN:
            missing = "peer.id" if c.circuit is UNKNOWN else "the gateway's VNet"
            undecided.append((c.urn, f"which circuit connection '{c.label}' joins", missing))
            continue
        a = endpoint(vnet)
        if a is None or not isinstance(c.circuit, str):
            continue
        node = ("circuit", c.circuit)
        circuit_nodes[node] = c.circuit
        uf.union(a, node)

    facts = estate.circuit_facts
    externals: list[ExternalNetwork] = estate.external_networks
    for i, ext in enumerate(externals):
        node = ("external", i)
        holders[node] = Holder("external", ext.name, ext.urn, ext)
        for key in ext.circuit_keys:
            circuit = ("circuit", key)
            circuit_nodes.setdefault(circuit, key)
            uf.union(node, circuit)

    groups: dict[Hashable, Domain] = {}
    invalid: list[tuple[Holder, str, str]] = []

    def place(node: Hashable, holder: Holder, texts: Any) -> None:
        domain = groups.setdefault(uf.find(node), Domain())
        domain.members.append(holder)
        if texts is None:
            return  # a VNet of another stack, known only by ID: no prefixes to compare
        if texts is UNKNOWN or any(t is UNKNOWN for t in texts):
            domain.unknown_holders.append(holder)
            texts = [] if texts is UNKNOWN else texts
        good, bad = parse_all(t for t in texts if isinstance(t, str))
        invalid.extend((holder, t, why) for t, why in bad)
        domain.prefixes.extend((holder, net) for net in good)

    for node, circuit_key in circuit_nodes.items():
        fact = facts.get(circuit_key)
        label = fact.label if fact else circuit_key.rsplit("/", 1)[-1]
        groups.setdefault(uf.find(node), Domain()).circuits.append(label)
        if fact and fact.on_prem_prefixes:
            urn = fact.urn if fact.urn.startswith("urn:") else ""
            place(node, Holder("onprem", label, urn, fact), list(fact.on_prem_prefixes))
    for node, holder in holders.items():
        if holder.kind == "vnet":
            place(node, holder, holder.ref.prefixes)
        elif holder.kind == "external":
            place(node, holder, list(holder.ref.prefixes))
        else:
            place(node, holder, None)
    return DomainAnalysis(list(groups.values()), undecided, invalid)


def _pair_message(domain: Domain, ov: addrspace.Overlap[Holder]) -> str:
    a, b = ov.outer_key, ov.inner_key
    if a == b:
        return (
            f"{a.describe()} lists overlapping prefixes {ov.outer} and {ov.inner}. Remove "
            f"{ov.inner} (it is already inside {ov.outer}) or replace it with a disjoint prefix."
        )
    what = "equals" if ov.outer == ov.inner else "contains"  # CIDR blocks nest or are disjoint
    fix = (
        "change the on-premises advertisement or the VNet's prefix"
        if "onprem" in (a.kind, b.kind)
        else "give one of them a prefix no other member uses (addressing: translated with a "
        "targetAddressPlan), or remove the peering or circuit connection that joins them"
    )
    return (
        f"{a.describe()} prefix {ov.outer} {what} {b.describe()} prefix {ov.inner} in routing domain "
        f"{domain.label()}. Azure refuses the peering or link (VnetAddressSpaceOverlapsWithAlreadyPeeredVnet) "
        f"or routes one of them into a black hole; {fix}."
    )


def check_vnet_overlap(ctx: Context, estate: Estate) -> None:
    analysis = routing_domains(estate)
    for urn, what, unknown in analysis.undecided:
        ctx.undecided(urn, what, unknown)
    for holder, prefix, why in analysis.invalid:
        ctx.violation(
            f"{holder.describe()} has address prefix {prefix!r}, which is not a valid CIDR prefix ({why}).",
            holder.urn or None,
        )
    limit = int(ctx.option("maxReportedPairs"))
    for domain in analysis.domains:
        if domain.unknown_holders and len(domain.members) > 1:
            for h in domain.unknown_holders:
                ctx.undecided(h.urn or None, f"{h.describe()} for overlaps in {domain.label()}", "its address space")
        pairs = [
            ov for ov in addrspace.find_overlaps(domain.prefixes) if ov.outer_key.in_stack or ov.inner_key.in_stack
        ]
        for reported, ov in enumerate(pairs):
            if reported >= limit:
                ctx.violation(
                    f"... and {len(pairs) - limit} more overlapping prefix pairs in routing domain "
                    f"{domain.label()} (maxReportedPairs = {limit}).",
                )
                break
            blamed = ov.inner_key if ov.inner_key.in_stack else ov.outer_key
            ctx.violation(_pair_message(domain, ov), blamed.urn or None)


def check_subnets(ctx: Context, estate: Estate) -> None:
    by_vnet: dict[int, tuple[Vnet, list[Subnet]]] = {}
    for s in estate.subnets:
        if s.vnet is UNKNOWN:
            ctx.undecided(s.urn, f"subnet '{s.name}' against its VNet", "the subnet's virtualNetworkName")
            continue
        if isinstance(s.vnet, Vnet):
            by_vnet.setdefault(id(s.vnet), (s.vnet, []))[1].append(s)
    for vnet, subnets in by_vnet.values():
        if vnet.prefixes is UNKNOWN or any(p is UNKNOWN for p in vnet.prefixes):
            ctx.undecided(vnet.urn, f"the subnets of VNet '{vnet.label}'", "the VNet's address space")
            continue
        space, _ = parse_all(vnet.prefixes)
        items: list[tuple[Subnet, addrspace.Network]] = []
        for s in subnets:
            if s.prefixes is UNKNOWN or any(p is UNKNOWN for p in s.prefixes):
                ctx.undecided(s.urn, f"subnet '{s.label}'", "its address prefix")
                continue
            good, bad = parse_all(s.prefixes)
            for text_, why in bad:
                ctx.violation(f"Subnet '{s.label}' has address prefix {text_!r}, which is not valid ({why}).", s.urn)
            if not good and not bad:
                ctx.violation(f"Subnet '{s.label}' has no address prefix; set addressPrefix.", s.urn)
            for net in good:
                if not any(addrspace.contains(outer, net) for outer in space):
                    ctx.violation(
                        f"Subnet '{s.label}' prefix {net} is not inside VNet '{vnet.label}' address space "
                        f"({', '.join(str(x) for x in space) or 'empty'}). Pick a prefix inside the VNet, or add "
                        "a VNet prefix that contains it.",
                        s.urn,
                    )
                items.append((s, net))
        for ov in addrspace.find_overlaps(items):
            if ov.outer_key is ov.inner_key:
                message = f"Subnet '{ov.inner_key.label}' lists overlapping prefixes {ov.outer} and {ov.inner}."
            else:
                message = (
                    f"Subnet '{ov.inner_key.label}' prefix {ov.inner} overlaps subnet '{ov.outer_key.label}' "
                    f"prefix {ov.outer} in VNet '{vnet.label}'. Azure rejects overlapping subnets "
                    "(NetcfgSubnetRangesOverlap); give each subnet its own range."
                )
            ctx.violation(message, ov.inner_key.urn)


VNET_OVERLAP = Rule(
    name="vnet-address-space-overlap",
    display_name="No overlapping address spaces in a routing domain",
    description=(
        "No two virtual networks that can route to each other (through VNet peerings or through "
        "gateway connections to the same ExpressRoute circuit) may share addresses, and none may "
        "overlap the on-premises prefixes or other stacks' networks on those circuits."
    ),
    severity=Severity.CRITICAL,
    level=EnforcementLevel.MANDATORY,
    remediation=(
        "Give the overlapping VNet a prefix no other member of its routing domain uses (the "
        "target region's 'translated' addressing), or remove the peering or circuit connection "
        "that joins the two; with retained IPs on a single circuit, connect the target only after "
        "the source connection is gone."
    ),
    check=check_vnet_overlap,
    options={
        "circuits": CIRCUITS_SCHEMA,
        "externalNetworks": EXTERNAL_NETWORKS_SCHEMA,
        "readStackReferences": {
            "type": "boolean",
            "description": "Read other stacks' vnetPrefixes and circuitConnections outputs from "
            "StackReference resources in this stack (default true).",
        },
        "maxReportedPairs": {
            "type": "integer",
            "minimum": 1,
            "description": "Report at most this many overlapping pairs per routing domain (default 20).",
        },
    },
    defaults={"onUnknown": "advise", "maxReportedPairs": 20, "readStackReferences": True},
)

SUBNET_OVERLAP = Rule(
    name="subnet-address-overlap",
    display_name="Subnets inside their VNet, never overlapping",
    description=(
        "Every subnet prefix must lie inside its virtual network's address space, and no two "
        "subnets of a virtual network may overlap."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Move the subnet to a free range inside the VNet, or widen the VNet's address space.",
    check=check_subnets,
    defaults={"onUnknown": "advise"},
)
