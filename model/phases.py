"""The phase rules, in one place: which connections each hub holds in each phase, and the
ordered failover, failback and drill procedures that move the stacks between phases.

The program registers :func:`connection_plan`'s connections; the offline plan's DR runbook, the
failover command (erdr.failover) and the Automation runbook's generated settings
(:func:`switch_plan`) follow :func:`procedure`. The tests prove that no step sequence ever puts
both hubs on one circuit while they share an address space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from model.config import Addressing, Phase, Role, StackConfig, Topology, exclusive_circuit
from model.spec import hub_azure_name, hub_gateway_name, hub_location, imported_name, network_for
from policies.shared.names import NAMESPACE

# --- connections per phase ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSpec:
    """One gateway->circuit connection a stack holds in a given phase."""

    name: str
    circuit: str  # "primary" | "secondary"
    circuit_id: str
    routing_weight: int
    always: bool  # present in every phase (so it can be protected)
    exclusive: bool  # single circuit, same IPs: must never coexist with the peer's connection


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
    single_same = cfg.exclusive_circuit
    hub = hub_azure_name(cfg, role)

    if role is Role.SOURCE:
        present = not (single_same and active)
        weight = weights.standby if active else weights.preferred
        always = not single_same
    else:
        present = active or cfg.target_pre_connected
        weight = weights.preferred if active else weights.standby
        always = cfg.target_pre_connected
    specs: list[ConnectionSpec] = []

    def name(circuit: str) -> str:  # an adopted production connection keeps its name
        return imported_name(cfg, role, f"{cfg.layout.hub.name}-{circuit}-connection") or f"{hub}-to-{circuit}"

    if present:
        specs.append(ConnectionSpec(name(own), own, _circuit_id(cfg, own), weight, always, single_same))
    if cfg.cross_connect:
        specs.append(ConnectionSpec(name(other), other, _circuit_id(cfg, other), weights.standby, True, False))
    return specs


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


def _routing_note(topology: Topology) -> str:
    if topology is Topology.SINGLE_CIRCUIT:
        return (
            "On-premises: the one circuit now carries the target region's routes; "
            "withdraw any static routes or firewall rules that still point at the source region."
        )
    return (
        "On-premises: make routing use only the secondary circuit and its connection (lower the "
        "primary's BGP local preference / raise AS-path prepends), as the article requires with "
        "simultaneous connections."
    )


def failover(topology: Topology, addressing: Addressing, source_reachable: bool = True) -> list[Step]:
    asr = Step(
        Action.MANUAL,
        "Start the Site Recovery failover (recovery plan or per VM) to the target region",
        check="Replicated items show 'Failover completed'; VMs run in the target VNets.",
    )
    steps = [asr]
    if exclusive_circuit(topology, addressing):
        if source_reachable:
            steps.append(
                Step(
                    Action.UP,
                    "Drop the source hub's connection from the circuit (same IPs cannot share it)",
                    Role.SOURCE,
                    Phase.FAILOVER,
                    check="prod output circuitConnections is empty; the connection is gone in the portal.",
                )
            )
            steps.append(
                Step(
                    Action.UP,
                    "Connect the target hub's gateway to the circuit",
                    Role.TARGET,
                    Phase.FAILOVER,
                    check="dr output circuitConnections lists the circuit; on-prem learns the target routes.",
                )
            )
        else:
            steps.append(
                Step(
                    Action.UP,
                    "Source region down: connect the target hub without waiting for prod "
                    "(the stale source connection is removed first thing when the region returns)",
                    Role.TARGET,
                    Phase.FAILOVER,
                    check="dr output circuitConnections lists the circuit; on-prem learns the target routes.",
                    extra_config=(("sourceRegionUnreachable", "true"),),
                )
            )
    else:
        steps.append(
            Step(
                Action.UP,
                "Prefer the target connection (routing weight up; created if it was not pre-connected)",
                Role.TARGET,
                Phase.FAILOVER,
                check="dr output connectionRoutingWeights shows the preferred weight.",
            )
        )
        if source_reachable:
            steps.append(
                Step(
                    Action.UP,
                    "Demote the source connection (routing weight down)",
                    Role.SOURCE,
                    Phase.FAILOVER,
                    check="prod output connectionRoutingWeights shows the standby weight.",
                )
            )
    steps.append(Step(Action.MANUAL, _routing_note(topology), check="Traceroute from on-premises reaches a target VM."))
    if not source_reachable:
        steps.append(
            Step(
                Action.MANUAL,
                "When the source region returns: run the failback procedure's first step at once "
                "(bring prod to phase 'failover') before anything else",
                check="prod output phase is 'failover' and matches Azure (after pulumi refresh).",
            )
        )
    return steps


def failback(topology: Topology, addressing: Addressing, source_was_unreachable: bool = False) -> list[Step]:
    steps: list[Step] = []
    if source_was_unreachable:
        steps += [
            Step(
                Action.REFRESH,
                "Source region is back: read what Azure really holds in prod",
                Role.SOURCE,
                check="pulumi refresh completes; a surviving source connection shows in the state.",
            ),
            Step(
                Action.UP,
                "Bring prod to phase 'failover' (removes a stale source connection at once)",
                Role.SOURCE,
                Phase.FAILOVER,
                check="prod output circuitConnections matches the failover plan.",
            ),
        ]
    steps.append(
        Step(
            Action.MANUAL,
            "Re-protect the VMs (target to source), wait for sync, then fail over back to the source region",
            check="Replicated items show 'Failover completed' in the source region.",
        )
    )
    unset = (("sourceRegionUnreachable", "false"),) if source_was_unreachable else ()
    if exclusive_circuit(topology, addressing):
        steps += [
            Step(
                Action.UP,
                "Drop the target hub's connection from the circuit",
                Role.TARGET,
                Phase.FAILBACK,
                check="dr output circuitConnections is empty.",
                extra_config=unset,
            ),
            Step(
                Action.UP,
                "Reconnect the source hub's gateway to the circuit",
                Role.SOURCE,
                Phase.FAILBACK,
                check="prod output circuitConnections lists the circuit; on-prem learns the source routes.",
            ),
        ]
    else:
        steps += [
            Step(
                Action.UP,
                "Prefer the source connection again (routing weight up)",
                Role.SOURCE,
                Phase.FAILBACK,
                check="prod output connectionRoutingWeights shows the preferred weight.",
            ),
            Step(
                Action.UP,
                "Return the target connection to standby (weight down; removed if not pre-connected)",
                Role.TARGET,
                Phase.FAILBACK,
                check="dr output connectionRoutingWeights shows the standby weight.",
                extra_config=unset,
            ),
        ]
    steps.append(
        Step(
            Action.MANUAL,
            "On-premises: route the Azure prefixes through the primary circuit again",
            check="Traceroute from on-premises reaches a source VM.",
        )
    )
    steps += [
        Step(
            Action.UP,
            "Close the failback on prod (no resource changes)",
            Role.SOURCE,
            Phase.STANDBY,
            check="pulumi preview shows no changes.",
        ),
        Step(
            Action.UP,
            "Close the failback on dr (no resource changes)",
            Role.TARGET,
            Phase.STANDBY,
            check="pulumi preview shows no changes.",
        ),
    ]
    return steps


def drill() -> list[Step]:
    return [
        Step(
            Action.MANUAL,
            "Start a Site Recovery test failover and pick, per VM, the drill VNet from dr output drillVnetIds",
            check="Test VMs boot in the drill VNets; nothing is peered or connected to a circuit.",
        ),
        Step(
            Action.MANUAL,
            "Validate the application inside the drill network (no production traffic reaches it)",
            check="Application checks pass; on-premises routes are unchanged.",
        ),
        Step(
            Action.MANUAL,
            "Clean up the test failover in Site Recovery",
            check="Test VMs are deleted; the drill VNets stay for the next drill.",
        ),
    ]


def procedure(
    operation: Operation, topology: Topology, addressing: Addressing, source_reachable: bool = True
) -> list[Step]:
    if operation is Operation.FAILOVER:
        return failover(topology, addressing, source_reachable)
    if operation is Operation.FAILBACK:
        return failback(topology, addressing, source_was_unreachable=not source_reachable)
    return drill()


def role_order(operation: Operation, topology: Topology, addressing: Addressing) -> list[Role]:
    """The order in which the two hubs' connections change in ``operation`` (failover or
    failback), as :func:`procedure` updates the stacks: with one circuit and the same IPs the side
    giving up the circuit goes first, otherwise the side taking the preference."""
    roles: list[Role] = []
    for step in procedure(operation, topology, addressing):
        moves = step.phase in (Phase.FAILOVER, Phase.FAILBACK)
        if step.action is Action.UP and step.role is not None and moves and step.role not in roles:
            roles.append(step.role)
    return roles


# --- the Automation runbook's settings ------------------------------------------------------


@dataclass(frozen=True)
class SwitchPlan:
    """What the runbook needs to know, as plain data (becomes the ``erdr-*`` variables)."""

    topology: str
    addressing: str
    regions: dict[str, str]
    resource_groups: dict[str, str]  # role -> the group of the hub's gateway and connections
    gateway_names: dict[str, str]
    circuit_ids: dict[str, str]
    routing_weights: dict[str, int]
    # role -> phase -> [{"name", "circuit", "weight"}]; weight is "preferred" or "standby".
    connections: dict[str, dict[str, list[dict[str, str]]]]
    tags: dict[str, dict[str, str]]
    retry: dict[str, int]
    # operation -> roles in the order their connections change (role_order).
    role_order: dict[str, list[str]]
    # role -> the hub's subscription when placed in another one than the dr stack's (placement).
    subscriptions: dict[str, str] = field(default_factory=dict[str, str])
    # The hub's next hop (layout.hub.nva): kind, the address each side's UDRs use, and for an
    # appliance VM its replicated item, which must come up in the target with that address.
    nva: dict[str, Any] = field(default_factory=dict[str, Any])


def switch_plan(cfg: StackConfig) -> SwitchPlan:
    weights = cfg.routing_weights
    names = {weights.preferred: "preferred", weights.standby: "standby"}
    connections = {
        role.value: {
            phase.value: [
                {"name": c.name, "circuit": c.circuit, "weight": names[c.routing_weight]}
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
        resource_groups={role.value: hub_location(cfg, role)[1] for role in Role},
        gateway_names={role.value: hub_gateway_name(cfg, role) for role in Role},
        circuit_ids=circuits,
        routing_weights={"preferred": weights.preferred, "standby": weights.standby},
        connections=connections,
        tags={role.value: cfg.resource_tags(role) for role in Role},
        retry={
            "attempts": rp.retry_attempts if rp else 5,
            "delaySeconds": rp.retry_delay_seconds if rp else 10,
            # Connection create/delete takes minutes; poll for up to 30 minutes.
            "pollAttempts": max(1, 1800 // (rp.retry_delay_seconds if rp else 10)),
        },
        role_order={
            op.value: [r.value for r in role_order(op, cfg.topology, cfg.addressing)]
            for op in (Operation.FAILOVER, Operation.FAILBACK)
        },
        subscriptions={role.value: sub for role in Role if (sub := hub_location(cfg, role)[0])},
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


def _arm(subscription: str, group: str, provider_path: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{provider_path}"


def switch_variables(plan: SwitchPlan, subscription: str) -> dict[str, Any]:
    """The ``erdr-*`` Automation variables (without the prefix), given the subscription ID."""
    rgs = plan.resource_groups
    subs = {role: plan.subscriptions.get(role, subscription) for role in rgs}
    connections = {
        role: {
            phase: [
                {**c, "id": _arm(subs[role], rgs[role], f"Microsoft.Network/connections/{c['name']}")} for c in items
            ]
            for phase, items in phases.items()
        }
        for role, phases in plan.connections.items()
    }
    return {
        "topology": plan.topology,
        "addressing": plan.addressing,
        "regions": plan.regions,
        "resource-groups": rgs,
        "gateway-ids": {
            role: _arm(subs[role], rgs[role], f"Microsoft.Network/virtualNetworkGateways/{name}")
            for role, name in plan.gateway_names.items()
        },
        "circuit-ids": plan.circuit_ids,
        "routing-weights": plan.routing_weights,
        "connections": connections,
        "tags": plan.tags,
        "retry": plan.retry,
        "role-order": plan.role_order,
        "nva": plan.nva,
    }
