"""The address logic against brute force: the one sort-and-sweep, and routing domains built from
random azure-native estates (peerings in either direction, gateway->circuit connections)."""

from __future__ import annotations

import ipaddress
from collections import Counter, deque
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.estate import Estate as Facts
from policies.framework import Context
from policies.pack import BY_NAME
from policies.rules.addressing import check_vnet_overlap, routing_domains
from policies.shared.addrspace import find_overlaps, parse_prefix
from tests.policies.estates import SUB, Estate

POOL = [
    "10.0.0.0/8",
    "10.0.0.0/16",
    "10.0.0.0/24",
    "10.0.1.0/24",
    "10.0.1.128/25",
    "10.1.0.0/16",
    "10.1.0.0/24",
    "172.16.0.0/12",
    "172.16.0.0/24",
    "192.168.0.0/24",
    "fd00::/48",
    "fd00:0:0:1::/64",
    "fd00:1::/48",
    "2001:db8::/32",
]
CIRCUITS = [
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/expressRouteCircuits/c{i}" for i in range(3)
]


def brute_pairs(items: list[tuple[int, str]]) -> Counter[tuple[int, int, str, str]]:
    found: Counter[tuple[int, int, str, str]] = Counter()
    for (ka, a), (kb, b) in combinations(items, 2):
        na, nb = ipaddress.ip_network(a), ipaddress.ip_network(b)
        if na.version == nb.version and na.overlaps(nb):  # type: ignore[arg-type]
            (k1, p1), (k2, p2) = sorted([(ka, a), (kb, b)])
            found[(k1, k2, p1, p2)] += 1
    return found


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(POOL)), max_size=25))
def test_find_overlaps_matches_brute_force(items: list[tuple[int, str]]) -> None:
    got: Counter[tuple[int, int, str, str]] = Counter()
    for ov in find_overlaps((k, parse_prefix(p)) for k, p in items):
        assert ov.outer.supernet_of(ov.inner)  # type: ignore[arg-type]
        (k1, p1), (k2, p2) = sorted([(ov.outer_key, str(ov.outer)), (ov.inner_key, str(ov.inner))])
        got[(k1, k2, p1, p2)] += 1
    assert got == brute_pairs(items)


estates = st.fixed_dictionaries(
    {
        "vnets": st.lists(st.lists(st.sampled_from(POOL), min_size=1, max_size=3), min_size=1, max_size=7),
        "peerings": st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=8),
        "links": st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2)), max_size=6),
        "preview": st.booleans(),
    }
)


def oracle(spec: dict) -> tuple[set[frozenset[str]], Counter[tuple[str, str, str, str]]]:
    """Domains (as sets of VNet names) and overlapping prefix pairs, by BFS and all pairs."""
    n = len(spec["vnets"])
    adj: dict[tuple[str, int], set[tuple[str, int]]] = {("v", i): set() for i in range(n)}
    for a, b in spec["peerings"]:
        if a < n and b < n and a != b:
            adj[("v", a)].add(("v", b))
            adj[("v", b)].add(("v", a))
    for v, c in spec["links"]:
        if v < n:
            adj.setdefault(("c", c), set()).add(("v", v))
            adj[("v", v)].add(("c", c))
    seen: set[tuple[str, int]] = set()
    domains: set[frozenset[str]] = set()
    pairs: Counter[tuple[str, str, str, str]] = Counter()
    for start in adj:
        if start in seen:
            continue
        component, queue = [], deque([start])
        seen.add(start)
        while queue:
            node = queue.popleft()
            component.append(node)
            for nxt in adj[node] - seen:
                seen.add(nxt)
                queue.append(nxt)
        members = sorted(i for kind, i in component if kind == "v")
        if members:
            domains.add(frozenset(f"v{i}" for i in members))
        items = [(i, p) for i in members for p in spec["vnets"][i]]
        for (k1, k2, p1, p2), count in brute_pairs(items).items():
            pairs[(f"v{k1}", f"v{k2}", p1, p2)] += count
    return domains, pairs


def build(spec: dict) -> Estate:
    estate = Estate(preview=spec["preview"])
    n = len(spec["vnets"])
    vnets = [estate.vnet(f"v{i}", prefixes) for i, prefixes in enumerate(spec["vnets"])]
    done: set[tuple[int, int]] = set()
    for a, b in spec["peerings"]:
        if a < n and b < n and a != b and (a, b) not in done:
            done.add((a, b))
            estate.peering(vnets[a], vnets[b])
    linked: set[tuple[int, int]] = set()
    for v, c in spec["links"]:
        if v < n and (v, c) not in linked:
            linked.add((v, c))
            estate.connect(vnets[v], CIRCUITS[c])
    return estate


@settings(max_examples=200, deadline=None)
@given(estates)
def test_routing_domains_and_overlaps_match_brute_force(spec: dict) -> None:
    estate = build(spec)
    facts = Facts(estate.policy_resources())
    analysis = routing_domains(facts)
    assert analysis.undecided == []
    want_domains, want_pairs = oracle(spec)
    got_domains = {frozenset(m.label for m in d.members if m.kind == "vnet") for d in analysis.domains if d.members} - {
        frozenset()
    }
    assert got_domains == want_domains
    got_pairs: Counter[tuple[str, str, str, str]] = Counter()
    for domain in analysis.domains:
        for ov in find_overlaps(domain.prefixes):
            (k1, p1), (k2, p2) = sorted([(ov.outer_key.label, str(ov.outer)), (ov.inner_key.label, str(ov.inner))])
            got_pairs[(k1, k2, p1, p2)] += 1
    assert got_pairs == want_pairs
    # The rule reports each pair once (and nothing else), with both VNets named.
    messages: list[str] = []
    rule = BY_NAME["vnet-address-space-overlap"]
    check_vnet_overlap(
        Context(rule, {**rule.defaults, "maxReportedPairs": 1000}, lambda m, u=None: messages.append(m)), facts
    )
    assert len(messages) == sum(want_pairs.values())
    for k1, k2, _, _ in want_pairs:
        assert any(f"'{k1}'" in m and f"'{k2}'" in m for m in messages)
