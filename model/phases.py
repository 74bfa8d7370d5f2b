"""The phase rules, in one place: which connections each hub holds in each phase, and the
ordered failover, failback and drill procedures that move the stacks between phases.

Which circuits each hub holds per phase is :mod:`model.links`; the program registers :func:`connection_plan`'s connections; the offline plan's DR runbook, the
failover command (erdr.failover) and the Automation runbook's generated settings
(:func:`switch_plan`) follow :func:`procedure`. The tests prove that no step sequence ever puts
both hubs on one circuit while they share an address space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from model import identity
from model.config import Addressing, Design, Phase, Role, StackConfig
from model.links import SINGLE_CONNECTION_WEIGHT, Weight, links
from model.spec import network_for
from policies.shared.names import NAMESPACE

# --- connections per phase (the links, named and weighted) ---------------------------------------


@dataclass(frozen=True)
class ConnectionSpec:
    """One gateway->circuit connection a stack holds in a given phase."""

    name: str
    circuit: str  # "primary" | "secondary"
    circuit_id: str
    routing_weight: int
    always: bool  # present in every phase (so it can be protected)
    exclusive: bool  # single circuit, same IPs: must never coexist with the peer's connection
    weight: Weight = Weight.SINGLE
    carries_traffic: bool = False
    # Where the connection lives (model/identity.py): subscription, group, ARM ID.
    id: identity.ResourceId | None = None


def _circuit_id(cfg: StackConfig, circuit: str) -> str:
    c = cfg.circuits.primary if circuit == "primary" else cfg.circuits.secondary
    assert c is not None, "validated: two-circuit topologies have a secondary circuit"
    return c.id


def weight_value(cfg: StackConfig, weight: Weight) -> int:
    if weight is Weight.PREFERRED:
        return cfg.routing_weights.preferred
    if weight is Weight.STANDBY:
        return cfg.routing_weights.standby
    return SINGLE_CONNECTION_WEIGHT


def connection_plan(cfg: StackConfig, role: Role, phase: Phase) -> list[ConnectionSpec]:
    """The connections ``role``'s hub holds in ``phase``, named and weighted (see :func:`links`);
    names and IDs are the resolved estate's (an adopted production connection keeps its own)."""
    ids = identity.connections(cfg, role)
    return [
        ConnectionSpec(
            ids[link.circuit].name,
            link.circuit,
            _circuit_id(cfg, link.circuit),
            weight_value(cfg, link.weight),
            link.always,
            link.exclusive,
            link.weight,
            link.carries_traffic,
            ids[link.circuit],
        )
        for link in links(Design.of(cfg), role, phase)
    ]


# --- procedures ------------------------------------------------------------------------------


class Operation(StrEnum):
    FAILOVER = "failover"
    FAILBACK = "failback"
    DRILL = "drill"


class Action(StrEnum):
    UP = "up"  # set the stack's phase, then `pulumi up`
    REFRESH = "refresh"  # `pulumi refresh`: state catches up with what Azure really holds
    MANUAL = "manual"  # something outside the stacks (Site Recovery, on-premises routing)


STACK_OF_ROLE = {Role.SOURCE: "prod", Role.TARGET: "dr"}


@dataclass(frozen=True)
class Step:
    action: Action
    title: str
    role: Role | None = None
    phase: Phase | None = None
    check: str = ""
    # Extra config to set with the phase (e.g. sourceRegionUnreachable on the target stack).
    extra_config: tuple[tuple[str, str], ...] = ()
    # The step changes resources in Azure (connections); an `up` without it only records the phase.
    azure: bool = False
    # The step that moves traffic for this topology: what the runbook and diagrams lead with.
    switch: bool = False
    # What a manual step is (Kind), so the runbook can give its commands and checks.
    kind: str = ""
    # For the switch and its checks: the region that serves traffic once the step is done.
    serving: Role | None = None

    @property
    def stack(self) -> str | None:
        return STACK_OF_ROLE[self.role] if self.role is not None else None

    def commands(self, stacks: dict[Role, str] | None = None) -> list[str]:
        if self.role is None:
            return []
        name = (stacks or STACK_OF_ROLE)[self.role]
        if self.action is Action.REFRESH:
            return [f"pulumi refresh --yes --stack {name}"]
        cmds: list[str] = []
        if self.phase is not None:
            cmds.append(f"pulumi config set {NAMESPACE}:phase {self.phase.value} --stack {name}")
        cmds += [f"pulumi config set {NAMESPACE}:{k} {v} --stack {name}" for k, v in self.extra_config]
        cmds.append(f"pulumi up --stack {name}")
        return cmds


_HUB = {Role.SOURCE: "source", Role.TARGET: "target"}


class Kind(StrEnum):
    """The manual steps, by what they do."""

    SITE_RECOVERY_FAILOVER = "site-recovery-failover"
    SITE_RECOVERY_FAILBACK = "site-recovery-failback"
    ROUTING_SWITCH = "routing-switch"  # on-premises BGP preference between the two circuits
    DNS_SWITCH = "dns-switch"  # clients to the other region's (translated) addresses
    ROUTES_CHECK = "routes-check"  # one circuit, same IPs: the circuit carries the other region
    SOURCE_RETURNS = "source-returns"
    DRILL_START = "drill-start"
    DRILL_VALIDATE = "drill-validate"
    DRILL_CLEANUP = "drill-cleanup"


class _Walk:
    """The phase each stack is in while a procedure is built, so each `up` knows what it changes."""

    def __init__(self, design: Design, source: Phase, target: Phase) -> None:
        self.design = design
        self.phase = {Role.SOURCE: source, Role.TARGET: target}

    def up(self, role: Role, phase: Phase, extra: tuple[tuple[str, str], ...] = (), switch: bool = False) -> Step:
        before_phase = self.phase[role]
        before, after = links(self.design, role, before_phase), links(self.design, role, phase)
        self.phase[role] = phase
        stack, hub = STACK_OF_ROLE[role], _HUB[role]
        gone = sorted({x.circuit for x in before} - {x.circuit for x in after})
        new = sorted({x.circuit for x in after} - {x.circuit for x in before})
        reweighted = {x.circuit for x in after} & {x.circuit for x in before} and {
            (x.circuit, x.weight) for x in after
        } != {(x.circuit, x.weight) for x in before if x.circuit not in gone}
        parts: list[str] = []
        checks: list[str] = []
        if gone:
            why = " (same IPs cannot share it)" if self.design.exclusive else ""
            parts.append(f"drop the {hub} hub's connection to the {' and '.join(gone)} circuit{why}")
            checks.append(f"{stack} output circuitConnections no longer lists the {' or '.join(gone)} circuit")
        if new:
            why = ""
            if role is Role.TARGET and not self.design.target_pre_connected and not self.design.exclusive:
                why = " (preConnectTarget is false: this create is the price of that choice)"
            parts.append(f"connect the {hub} hub to the {' and '.join(new)} circuit{why}")
            checks.append(f"{stack} output circuitConnections lists the {' and '.join(new)} circuit")
        firewall = role is Role.TARGET and self.design.target_firewall_at_failover
        if firewall and phase is Phase.FAILOVER and before_phase is not Phase.FAILOVER:
            parts.append("create the target hub's Azure Firewall (provisioning atFailover), the next hop of its UDRs")
            checks.append("dr output firewallPrivateIp is the address the target's UDRs use")
        if firewall and before_phase is Phase.FAILOVER and phase is not Phase.FAILOVER:
            parts.append("remove the target hub's Azure Firewall (provisioning atFailover)")
            checks.append("dr output firewallId is gone")
        if reweighted:
            preferred = [x.circuit for x in after if x.weight is Weight.PREFERRED]
            parts.append(
                f"move the {hub} gateway's routing preference to the {' and '.join(preferred)} circuit "
                "(routing weights: the gateway holds several connections)"
            )
            checks.append(f"{stack} output connectionRoutingWeights prefers the {' and '.join(preferred)} circuit")
        if parts:
            title = "; ".join(parts)
            title = title[0].upper() + title[1:]
            check = "; ".join(checks) + "."
        else:
            title = f"Record phase '{phase.value}' on {stack} (no Azure resource changes: nothing here alters a route)"
            check = (
                f"pulumi preview --stack {stack} shows no resource changes; {stack} output phase is '{phase.value}'."
            )
        return Step(Action.UP, title, role, phase, check, extra, azure=bool(parts), switch=switch and bool(parts))


def _switch_step(design: Design, operation: Operation) -> Step:
    """The manual step that moves traffic where Azure has nothing to change (or the on-premises
    check where the circuit itself carries the switch)."""
    to_target = operation is Operation.FAILOVER
    if design.exclusive:
        region = "target" if to_target else "source"
        return Step(
            Action.MANUAL,
            f"On-premises: confirm the circuit now carries the {region} hub's routes (the same prefixes, "
            f"now from the {region} region); withdraw any static route or firewall rule that still points "
            f"at the other region",
            check=f"On-premises routers learn the Azure prefixes over the circuit; traceroute reaches a {region} VM.",
            kind=Kind.ROUTES_CHECK,
            serving=Role.TARGET if to_target else Role.SOURCE,
        )
    if design.two_circuits:
        circuit, other = ("secondary", "primary") if to_target else ("primary", "secondary")
        return Step(
            Action.MANUAL,
            f"Switch on-premises routing to the {circuit} circuit: give the Azure routes learned over the "
            f"{circuit} a higher BGP local preference than those over the {other} (local preference decides "
            "on-premises' path to Azure); for the return direction, Azure to on-premises, prepend AS-path "
            f"on the on-premises prefixes advertised over the {other}. The article requires this with both "
            "circuits connected",
            check=f"On-premises routers show the Azure prefixes via the {circuit} circuit as best path; "
            f"traceroute from on-premises reaches a {'target' if to_target else 'source'} VM.",
            switch=True,
            kind=Kind.ROUTING_SWITCH,
            serving=Role.TARGET if to_target else Role.SOURCE,
        )
    region, other = ("target", "source") if to_target else ("source", "target")
    return Step(
        Action.MANUAL,
        f"Point clients at the {region} region's addresses: update DNS records and any on-premises static "
        f"route or firewall rule from the {other} to the {region} prefixes (both hubs are on the circuit "
        "already with distinct prefixes)",
        check=f"DNS answers the {region} addresses; traceroute from on-premises reaches a {region} VM.",
        switch=True,
        kind=Kind.DNS_SWITCH,
        serving=Role.TARGET if to_target else Role.SOURCE,
    )


def failover(design: Design, source_reachable: bool = True) -> list[Step]:
    walk = _Walk(design, Phase.STANDBY, Phase.STANDBY)
    steps = [
        Step(
            Action.MANUAL,
            "Start the Site Recovery failover (recovery plan or per VM) to the target region",
            check="Replicated items show 'Failover completed'; VMs run in the target VNets.",
            kind=Kind.SITE_RECOVERY_FAILOVER,
        )
    ]
    if design.exclusive:
        if source_reachable:
            steps.append(walk.up(Role.SOURCE, Phase.FAILOVER))
            steps.append(walk.up(Role.TARGET, Phase.FAILOVER, switch=True))
        else:
            step = walk.up(Role.TARGET, Phase.FAILOVER, (("sourceRegionUnreachable", "true"),), switch=True)
            steps.append(
                Step(
                    step.action,
                    "Source region down: " + step.title[0].lower() + step.title[1:] + " without waiting for "
                    "prod (the stale source connection is removed first thing when the region returns)",
                    step.role,
                    step.phase,
                    step.check,
                    step.extra_config,
                    step.azure,
                    step.switch,
                    step.kind,
                )
            )
        steps.append(_switch_step(design, Operation.FAILOVER))
    else:
        steps += _taker_first(walk, design, Operation.FAILOVER, Role.TARGET, Role.SOURCE, source_reachable)
    if not source_reachable:
        steps.append(
            Step(
                Action.MANUAL,
                "When the source region returns: run the failback procedure's first steps at once "
                "(refresh prod, bring it to phase 'failover') before anything else",
                check="prod output phase is 'failover' and matches Azure (after pulumi refresh).",
                kind=Kind.SOURCE_RETURNS,
            )
        )
    return steps


def _taker_first(
    walk: _Walk, design: Design, operation: Operation, taker: Role, giver: Role, giver_reachable: bool
) -> list[Step]:
    """Two circuits, or one circuit with distinct prefixes: the side taking the traffic first when
    Azure has something to change there, then the switch, then the rest (bookkeeping, cleanup)."""
    phase = Phase.FAILOVER if operation is Operation.FAILOVER else Phase.FAILBACK
    taker_step = walk.up(taker, phase)
    steps = [taker_step] if taker_step.azure else []
    steps.append(_switch_step(design, operation))
    if not taker_step.azure:
        steps.append(taker_step)
    if giver_reachable:
        steps.append(walk.up(giver, phase))
    return steps


def failback(design: Design, source_was_unreachable: bool = False) -> list[Step]:
    walk = _Walk(design, Phase.FAILOVER, Phase.FAILOVER)
    steps: list[Step] = []
    if source_was_unreachable:
        # The source stack still says standby (its failover step was skipped); what Azure holds
        # there is read first, then brought to the failover phase.
        walk.phase[Role.SOURCE] = Phase.STANDBY
        back = walk.up(Role.SOURCE, Phase.FAILOVER)
        steps += [
            Step(
                Action.REFRESH,
                "Source region is back: read what Azure really holds in prod",
                Role.SOURCE,
                check="pulumi refresh completes; a surviving source connection shows in the state.",
            ),
            Step(
                Action.UP,
                "Bring prod to phase 'failover' at once: " + back.title[0].lower() + back.title[1:],
                Role.SOURCE,
                Phase.FAILOVER,
                back.check,
                azure=back.azure,
            ),
        ]
    steps.append(
        Step(
            Action.MANUAL,
            "Re-protect the VMs (target to source), wait for sync, then fail over back to the source region",
            check="Replicated items show 'Failover completed' in the source region.",
            kind=Kind.SITE_RECOVERY_FAILBACK,
        )
    )
    unset = (("sourceRegionUnreachable", "false"),) if source_was_unreachable else ()
    if design.exclusive:
        steps += [
            walk.up(Role.TARGET, Phase.FAILBACK, unset),
            walk.up(Role.SOURCE, Phase.FAILBACK, switch=True),
            _switch_step(design, Operation.FAILBACK),
        ]
    else:
        taken = _taker_first(walk, design, Operation.FAILBACK, Role.SOURCE, Role.TARGET, True)
        steps += [
            Step(s.action, s.title, s.role, s.phase, s.check, unset, s.azure, s.switch, s.kind)
            if s.role is Role.TARGET and s.action is Action.UP
            else s
            for s in taken
        ]
    steps += [walk.up(Role.SOURCE, Phase.STANDBY), walk.up(Role.TARGET, Phase.STANDBY)]
    return steps


def drill() -> list[Step]:
    return [
        Step(
            Action.MANUAL,
            "Start a Site Recovery test failover and pick, per VM, the drill VNet from dr output drillVnetIds",
            check="Test VMs boot in the drill VNets; nothing is peered or connected to a circuit.",
            kind=Kind.DRILL_START,
        ),
        Step(
            Action.MANUAL,
            "Validate the application inside the drill network (no production traffic reaches it)",
            check="Application checks pass; on-premises routes are unchanged.",
            kind=Kind.DRILL_VALIDATE,
        ),
        Step(
            Action.MANUAL,
            "Clean up the test failover in Site Recovery",
            check="Test VMs are deleted; the drill VNets stay for the next drill.",
            kind=Kind.DRILL_CLEANUP,
        ),
    ]


def procedure(operation: Operation, design: Design, source_reachable: bool = True) -> list[Step]:
    if operation is Operation.FAILOVER:
        return failover(design, source_reachable)
    if operation is Operation.FAILBACK:
        return failback(design, source_was_unreachable=not source_reachable)
    return drill()


def role_order(operation: Operation, design: Design) -> list[Role]:
    """The hubs whose connections change in ``operation``, in the order :func:`procedure` changes
    them: with one circuit and the same IPs the side giving up the circuit goes first, otherwise
    the side taking the traffic. A hub with nothing to change is not listed, so nothing touches it
    (above all a source region that may be down)."""
    roles: list[Role] = []
    for step in procedure(operation, design):
        if step.azure and step.role is not None and step.phase is not Phase.STANDBY and step.role not in roles:
            roles.append(step.role)
    return roles


def traffic_switch(design: Design, operation: Operation = Operation.FAILOVER) -> str:
    """One line for the runbook and the diagrams to lead with: what really moves traffic."""
    steps = procedure(operation, design)
    azure = [s for s in steps if s.azure and s.phase in (Phase.FAILOVER, Phase.FAILBACK)]
    moves = [s for s in steps if s.switch]
    if design.exclusive:
        first, second = ("source", "target") if operation is Operation.FAILOVER else ("target", "source")
        return (
            f"Azure: delete the {first} hub's connection, then create the {second} hub's (one circuit, the same "
            f"IPs); the circuit then carries the {second} region's routes"
        )
    circuit = "secondary" if operation is Operation.FAILOVER else "primary"
    if design.two_circuits:
        manual = f"on-premises routing prefers the {circuit} circuit"
    else:
        manual = "DNS and on-premises rules point at the " + ("target" if operation is Operation.FAILOVER else "source")
        manual += " addresses"
    first_azure = [s for s in azure if steps.index(s) < steps.index(moves[0])] if moves else azure
    if not first_azure:
        return f"Azure: nothing to change; {manual}"
    what = "; ".join(s.title[0].lower() + s.title[1:] for s in first_azure)
    return f"Azure: {what}; then {manual}"


# --- the Automation runbook's settings ------------------------------------------------------


@dataclass(frozen=True)
class SwitchPlan:
    """What the runbook needs to know, as plain data (becomes the ``erdr-*`` variables)."""

    topology: str
    addressing: str
    regions: dict[str, str]
    # role -> the hub gateway's ARM ID, and the group of its connections (the estate's).
    gateway_ids: dict[str, str]
    resource_groups: dict[str, str]
    circuit_ids: dict[str, str]
    routing_weights: dict[str, int]
    # role -> phase -> [{"name", "id", "circuit", "weight"}]; weight names a Weight ("preferred", ...).
    connections: dict[str, dict[str, list[dict[str, str]]]]
    tags: dict[str, dict[str, str]]
    retry: dict[str, int]
    # operation -> roles in the order their connections change (role_order).
    role_order: dict[str, list[str]]
    # The hub's next hop (layout.hub.nva): kind, the address each side's UDRs use, and for an
    # appliance VM its replicated item, which must come up in the target with that address.
    nva: dict[str, Any] = field(default_factory=dict[str, Any])


def switch_plan(cfg: StackConfig) -> SwitchPlan:
    connections = {
        role.value: {
            phase.value: [
                {"name": c.name, "id": c.id.id if c.id else "", "circuit": c.circuit, "weight": c.weight.value}
                for c in connection_plan(cfg, role, phase)
            ]
            for phase in Phase
        }
        for role in Role
    }
    circuits = {"primary": cfg.circuits.primary.id}
    if cfg.circuits.secondary is not None:
        circuits["secondary"] = cfg.circuits.secondary.id
    regions = {role.value: cfg.regions.of(role) for role in Role}
    rp = cfg.recovery_plan
    return SwitchPlan(
        topology=cfg.topology.value,
        addressing=cfg.addressing.value,
        regions=regions,
        gateway_ids={role.value: identity.hub_gateway(cfg, role).id for role in Role},
        resource_groups={role.value: identity.hub_gateway(cfg, role).resource_group for role in Role},
        circuit_ids=circuits,
        routing_weights={w.value: weight_value(cfg, w) for w in Weight},
        connections=connections,
        tags={role.value: cfg.resource_tags(role) for role in Role},
        retry={
            "attempts": rp.retry_attempts if rp else 5,
            "delaySeconds": rp.retry_delay_seconds if rp else 10,
            # Connection create/delete takes minutes; poll for up to 30 minutes.
            "pollAttempts": max(1, 1800 // (rp.retry_delay_seconds if rp else 10)),
        },
        role_order={
            op.value: [r.value for r in role_order(op, Design.of(cfg))]
            for op in (Operation.FAILOVER, Operation.FAILBACK)
        },
        nva=nva_statement(cfg),
    )


def nva_statement(cfg: StackConfig) -> dict[str, Any]:
    """What the target's next hop is and the address it must answer on (the UDRs point there)."""
    nva = cfg.layout.hub.nva
    out: dict[str, Any] = {
        "kind": nva.kind.value,
        "subnet": cfg.layout.hub.nva_subnet.name,
        # The source stack may omit a translated plan (only the target builds from it).
        "address": {
            role.value: network_for(cfg, role).nva_address
            for role in Role
            if role is Role.SOURCE or cfg.addressing is Addressing.SAME or cfg.target_address_plan
        },
    }
    if nva.replicated_item and not nva.firewall:
        out["replicatedItem"] = nva.replicated_item
    if nva.firewall:
        out["provisioning"] = nva.provisioning.value
    return out


def switch_variables(plan: SwitchPlan) -> dict[str, Any]:
    """The ``erdr-*`` Automation variables (without the prefix): every ID is the estate's."""
    return {
        "topology": plan.topology,
        "addressing": plan.addressing,
        "regions": plan.regions,
        "resource-groups": plan.resource_groups,
        "gateway-ids": plan.gateway_ids,
        "circuit-ids": plan.circuit_ids,
        "routing-weights": plan.routing_weights,
        "connections": plan.connections,
        "tags": plan.tags,
        "retry": plan.retry,
        "role-order": plan.role_order,
        "nva": plan.nva,
    }
