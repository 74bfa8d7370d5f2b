"""The failover, failback and drill procedures: one ordered list of steps per topology.

This is the single source of the order of operations. The generated runbook (erdr.plan), the
failover command (erdr.failover), the Site Recovery runbook and the README all follow it, and
tests/test_procedure.py proves that no step sequence ever has both hubs on one circuit when they
share an address space.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from components.config import Addressing, Phase, Role, Topology


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
            cmds.append(f"pulumi config set expressroute-dr:phase {self.phase.value} --stack {name}")
        cmds += [f"pulumi config set expressroute-dr:{k} {v} --stack {name}" for k, v in self.extra_config]
        cmds.append(f"pulumi up --stack {name}")
        return cmds


def _exclusive(topology: Topology, addressing: Addressing) -> bool:
    return topology is Topology.SINGLE_CIRCUIT and addressing is Addressing.SAME


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
    if _exclusive(topology, addressing):
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
    if _exclusive(topology, addressing):
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
