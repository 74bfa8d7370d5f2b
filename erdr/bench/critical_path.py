"""Deployment critical path: the longest chain of waits in the dependency graph a stack registers.

The engine starts a resource as soon as every resource it depends on is done (its explicit
``dependsOn`` and the resources its inputs come from); a parent component is not a wait. So the
first ``pulumi up`` of a stack takes at least the longest path through that graph, each resource
weighted by how long Azure takes to create it (:data:`CREATE_MINUTES`).

The unavoidable chain is what Azure itself orders: resource group -> hub VNet -> GatewaySubnet ->
ExpressRoute gateway -> whatever cannot exist before the gateway (the circuit connection, and the
spoke-to-hub peering with ``useRemoteGateways``, refused with RemoteVnetHasNoGateways until the
gateway exists). :func:`analyse` reports the program's longest path, that chain, and anything
else that waits for a gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from erdr.simulate import Registration, SimResult
from policies.shared import azure_facts
from policies.shared.names import CONNECTION, GATEWAY, PEERING, RESOURCE_GROUP, SUBNET, VNET

# Minutes to create, by type (docs/benchmarks.md gives the sources). Only the gateway has a
# published figure ("can take up to 45 minutes", azure_facts.GATEWAY_CREATE_MINUTES). Microsoft
# publishes none for the circuit connection: azure_facts.CONNECTION_CREATE_MINUTES is a labelled
# planning estimate, shared with the DR runbook. Everything else is a 1-minute placeholder (no
# published figure either).
GATEWAY_MINUTES = float(azure_facts.GATEWAY_CREATE_MINUTES)
CONNECTION_MINUTES = float(azure_facts.CONNECTION_CREATE_MINUTES)
DEFAULT_MINUTES = 1.0
CREATE_MINUTES: dict[str, float] = {GATEWAY: GATEWAY_MINUTES, CONNECTION: CONNECTION_MINUTES}
READ_MINUTES = 0.0  # a StackReference read or a component: no Azure work


def weight(reg: Registration, minutes: Mapping[str, float] = CREATE_MINUTES) -> float:
    if reg.read or not reg.custom:
        return READ_MINUTES
    return minutes.get(reg.type, DEFAULT_MINUTES)


def waits_for(reg: Registration) -> set[str]:
    """URNs this resource waits for: explicit dependencies and those of its inputs."""
    out = set(reg.dependencies)
    for urns in reg.property_dependencies.values():
        out.update(urns)
    out.discard(reg.urn)
    return out


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    minutes: float
    deps: frozenset[str]
    remote_gateways: bool = False  # a peering that uses the remote VNet's gateway

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} {self.name}"


def nodes_of(resources: Iterable[Registration], minutes: Mapping[str, float] = CREATE_MINUTES) -> dict[str, Node]:
    regs = list(resources)
    known = {r.urn for r in regs}
    out: dict[str, Node] = {}
    for r in regs:
        remote = r.type == PEERING and r.plain_inputs.get("useRemoteGateways") is True
        out[r.urn] = Node(r.urn, r.type, r.name, weight(r, minutes), frozenset(waits_for(r) & known), remote)
    return out


def finish_times(nodes: Mapping[str, Node]) -> tuple[dict[str, float], dict[str, str | None]]:
    """Earliest finish of every node (all starting at 0, unlimited parallelism) and, for each,
    the dependency that finishes last (the previous link of its longest chain)."""
    finish: dict[str, float] = {}
    before: dict[str, str | None] = {}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(urn: str) -> float:
        # Iterative DFS: scaled layouts make chains longer than Python's recursion limit allows.
        stack: list[tuple[str, bool]] = [(urn, False)]
        while stack:
            cur, expanded = stack.pop()
            if state.get(cur) == 2:
                continue
            if expanded:
                node = nodes[cur]
                last = max(node.deps, key=lambda d: (finish[d], d), default=None)
                finish[cur] = node.minutes + (finish[last] if last is not None else 0.0)
                before[cur] = last
                state[cur] = 2
                continue
            if state.get(cur) == 1:
                raise ValueError(f"dependency cycle through {cur}")
            state[cur] = 1
            stack.append((cur, True))
            stack.extend((d, False) for d in nodes[cur].deps if state.get(d) != 2)
        return finish[urn]

    for urn in nodes:
        visit(urn)
    return finish, before


def chain_to(urn: str, before: Mapping[str, str | None]) -> list[str]:
    out: list[str] = []
    cur: str | None = urn
    while cur is not None:
        out.append(cur)
        cur = before[cur]
    return out[::-1]


def descendants(nodes: Mapping[str, Node], roots: Iterable[str]) -> set[str]:
    """Everything that waits, directly or through others, for any of ``roots``."""
    users: dict[str, set[str]] = {u: set() for u in nodes}
    for n in nodes.values():
        for d in n.deps:
            users[d].add(n.urn)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for u in users[todo.pop()]:
            if u not in seen:
                seen.add(u)
                todo.append(u)
    return seen


@dataclass(frozen=True)
class PathReport:
    resources: int
    critical_minutes: float
    critical_chain: tuple[str, ...]  # labels, first to last
    unavoidable_minutes: float
    gateway_start: float | None  # minutes after the start until the gateway can begin
    gateway_start_floor: float | None  # resource group + VNet + GatewaySubnet
    beside_gateway_minutes: float  # longest chain that does not involve a gateway
    waiting_on_gateway: tuple[str, ...]  # labels of what waits for a gateway and needn't

    @property
    def meets_target(self) -> bool:
        return self.critical_minutes <= self.unavoidable_minutes and not self.waiting_on_gateway

    def as_json(self) -> dict[str, Any]:
        return {
            "resources": self.resources,
            "criticalMinutes": self.critical_minutes,
            "criticalChain": list(self.critical_chain),
            "unavoidableMinutes": self.unavoidable_minutes,
            "gatewayStart": self.gateway_start,
            "besideGatewayMinutes": self.beside_gateway_minutes,
            "waitingOnGateway": list(self.waiting_on_gateway),
            "meetsTarget": self.meets_target,
        }


def _minutes_of(nodes: Mapping[str, Node], type_: str, default: float) -> float:
    return next((n.minutes for n in nodes.values() if n.type == type_), default)


def analyse(resources: Iterable[Registration], minutes: Mapping[str, float] = CREATE_MINUTES) -> PathReport:
    nodes = nodes_of(resources, minutes)
    custom = [n for n in nodes.values() if n.minutes > 0]
    finish, before = finish_times(nodes)
    end = max(nodes, key=lambda u: (finish[u], u))
    chain = tuple(nodes[u].label for u in chain_to(end, before) if nodes[u].minutes > 0)

    gateways = [n.urn for n in nodes.values() if n.type == GATEWAY]
    waiting = descendants(nodes, gateways)
    # Azure orders these after the gateway; nothing else has to wait for it.
    required = {u for u in waiting if nodes[u].type == CONNECTION or nodes[u].remote_gateways}
    needless = sorted(nodes[u].label for u in waiting - required if nodes[u].minutes > 0)

    start = start_floor = None
    unavoidable = 0.0
    if gateways:
        start = max(finish[g] - nodes[g].minutes for g in gateways)
        start_floor = (
            _minutes_of(nodes, RESOURCE_GROUP, DEFAULT_MINUTES)
            + _minutes_of(nodes, VNET, DEFAULT_MINUTES)
            + _minutes_of(nodes, SUBNET, DEFAULT_MINUTES)
        )
        after = max((nodes[u].minutes for u in required), default=0.0)
        unavoidable = start_floor + max(nodes[g].minutes for g in gateways) + after
    beside_nodes = {u: n for u, n in nodes.items() if u not in waiting and u not in gateways}
    beside = 0.0
    if beside_nodes:
        trimmed = {
            u: Node(n.urn, n.type, n.name, n.minutes, n.deps & beside_nodes.keys()) for u, n in beside_nodes.items()
        }
        beside = max(finish_times(trimmed)[0].values())
    return PathReport(
        resources=len(custom),
        critical_minutes=finish[end],
        critical_chain=chain,
        unavoidable_minutes=unavoidable,
        gateway_start=start,
        gateway_start_floor=start_floor,
        beside_gateway_minutes=beside,
        waiting_on_gateway=tuple(needless),
    )


def analyse_result(result: SimResult, minutes: Mapping[str, float] = CREATE_MINUTES) -> PathReport:
    return analyse(result.resources, minutes)
