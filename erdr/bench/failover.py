"""Failover work: what ``pulumi up`` changes in each stack going from ``standby`` to ``failover``,
and the network RTO that implies.

The changes come from :func:`erdr.plan_json.compare` (the offline plan's phase diff) over the two
phases' simulated registrations. The network RTO is the chain of Azure operations the failover
must wait for: the ``pulumi up`` steps of :func:`model.phases.failover` that change Azure before
(or as) traffic moves, one after another. Steps after the switch (the source side's cleanup,
record-only updates) are off the critical path, and so is every step on a source region that may
be down. Inside a step the engine runs independent changes in parallel and deletes after creates
and updates, so a step lasts its longest chain of dependent creates/updates plus its longest chain
of deletes, each weighted with :data:`erdr.bench.critical_path.CREATE_MINUTES` (Microsoft
publishes no create, update or delete time for a connection: a labelled estimate). The
on-premises switch is the operator's own routing change and is reported on a line of its own.
Site Recovery's own failover of the VMs is not network work and is not counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from erdr.bench.critical_path import GATEWAY, Node, finish_times, nodes_of
from erdr.bench.stacks import Simulations, stack_settings
from erdr.plan import stack_config, with_phase
from erdr.plan_json import Change, compare
from erdr.simulate import SimResult
from model import phases
from model.config import Phase


@dataclass(frozen=True)
class StackWork:
    stack: str
    creates: tuple[Change, ...]
    updates: tuple[Change, ...]
    deletes: tuple[Change, ...]
    minutes: float

    @property
    def gateways_created(self) -> int:
        return sum(1 for c in self.creates if c.type == GATEWAY)

    def summary(self) -> str:
        return f"+{len(self.creates)} ~{len(self.updates)} -{len(self.deletes)}"

    def describe(self) -> list[str]:
        sign = {"create": "+", "update": "~", "delete": "-"}
        return [
            f"{self.stack}: {sign[c.op]}{c.type.rsplit(':', 1)[-1]} {c.physical}"
            for c in (*self.creates, *self.updates, *self.deletes)
        ]


def _longest(nodes: Mapping[str, Node], changed: set[str]) -> float:
    if not changed:
        return 0.0
    sub = {u: Node(n.urn, n.type, n.name, n.minutes, n.deps & changed) for u, n in nodes.items() if u in changed}
    return max(finish_times(sub)[0].values())


def stack_work(stack: str, before: SimResult, after: SimResult) -> StackWork:
    settings = stack_settings(stack)  # only its project and stack name are read
    comparison = compare(settings, before, after, Phase.STANDBY.value, Phase.FAILOVER.value)
    creates = tuple(comparison.of("create"))
    updates = tuple(comparison.of("update"))
    deletes = tuple(comparison.of("delete"))
    forward = _longest(nodes_of(after.resources), {c.urn for c in (*creates, *updates)})
    backward = _longest(nodes_of(before.resources), {c.urn for c in deletes})
    return StackWork(stack, creates, updates, deletes, forward + backward)


# Network RTO of every example before the phase model changed only what alters routing (issue 17):
# docs/benchmarks.md at commit fb39fe5 (section 2): each failover was two `pulumi up` runs
# modelled at 10 minutes each, the second on the source region, whatever the topology.
BEFORE_RTO_MINUTES = 20.0


@dataclass(frozen=True)
class FailoverWork:
    example: str
    topology: str
    addressing: str
    stacks: dict[str, StackWork]
    steps: tuple[tuple[str, float], ...]  # (stack, minutes) of the critical steps, in procedure order
    switch: str  # what moves traffic (model.phases.traffic_switch)
    on_premises: str  # the operator's own step, when the switch is on-premises routing or DNS
    after_switch: tuple[str, ...]  # stacks updated after traffic moved (cleanup, records)

    @property
    def rto_minutes(self) -> float:
        return sum(m for _, m in self.steps)

    @property
    def gateways_created(self) -> int:
        return sum(w.gateways_created for w in self.stacks.values())

    @property
    def creates(self) -> int:
        return sum(len(w.creates) for w in self.stacks.values())

    @property
    def creates_allowed(self) -> bool:
        """Only one circuit with the same IPs on both sides may create (the target's connection)."""
        return self.topology == "single-circuit" and self.addressing == "same"

    @property
    def meets_target(self) -> bool:
        return self.gateways_created == 0 and (self.creates == 0 or self.creates_allowed)


def failover_work(sims: Simulations, example: str) -> FailoverWork:
    cfg = stack_config(with_phase(stack_settings("prod", example), Phase.STANDBY))
    works = {
        stack: stack_work(stack, sims.get(example, stack, Phase.STANDBY), sims.get(example, stack, Phase.FAILOVER))
        for stack in ("prod", "dr")
    }
    design = phases.Design.of(cfg)
    procedure = phases.failover(design)
    switch_at = next(i for i, step in enumerate(procedure) if step.switch)
    critical: list[tuple[str, float]] = []
    after: list[str] = []
    on_premises = ""
    for i, step in enumerate(procedure):
        if step.action is phases.Action.MANUAL:
            if step.switch:
                on_premises = step.title
            continue
        if step.role is None:
            continue
        stack = phases.STACK_OF_ROLE[step.role]
        if step.azure and i <= switch_at:
            critical.append((stack, works[stack].minutes))
        else:
            after.append(stack)
    return FailoverWork(
        example,
        cfg.topology.value,
        cfg.addressing.value,
        works,
        tuple(critical),
        phases.traffic_switch(design),
        on_premises,
        tuple(after),
    )


def all_failover_work(sims: Simulations, examples: Sequence[str]) -> list[FailoverWork]:
    return [failover_work(sims, e) for e in examples]
