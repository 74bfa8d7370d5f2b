"""model/phases.py on its own: links per phase, the procedures' shape, what moves traffic."""

from __future__ import annotations

import itertools

import pytest

from model.config import Addressing, Phase, Role, Topology
from model.links import Weight, links
from model.phases import Action, Design, Kind, Operation, procedure, role_order, traffic_switch

DESIGNS = [
    Design(t, a, pre, cross)
    for t, a, pre, cross in itertools.product(Topology, Addressing, (None, False), (False, True))
    # crossConnect needs two circuits (at one or two peering locations) and translated addresses.
    if not cross or (t is not Topology.SINGLE_CIRCUIT and a is Addressing.TRANSLATED)
    # the exclusive design cannot pre-connect; None is its default.
    if not (t is Topology.SINGLE_CIRCUIT and a is Addressing.SAME and pre is not None)
]
IDS = [f"{d.topology.value}-{d.addressing.value}-pre{d.pre_connect_target}-cross{d.cross_connect}" for d in DESIGNS]


@pytest.mark.parametrize("design", DESIGNS, ids=IDS)
def test_exactly_one_connection_carries_traffic_in_each_phase(design: Design) -> None:
    for phase in Phase:
        carrying = [(r, x.circuit) for r in Role for x in links(design, r, phase) if x.carries_traffic]
        serving = Role.TARGET if phase is Phase.FAILOVER else Role.SOURCE
        assert [r for r, _ in carrying] == [serving], (phase, carrying)


@pytest.mark.parametrize("design", DESIGNS, ids=IDS)
def test_weights_choose_only_on_gateways_with_several_connections(design: Design) -> None:
    for role, phase in itertools.product(Role, Phase):
        held = links(design, role, phase)
        if len(held) <= 1:
            assert all(x.weight is Weight.SINGLE for x in held)
        else:
            assert sorted(x.weight for x in held) == sorted([Weight.PREFERRED, Weight.STANDBY])
            preferred = next(x.circuit for x in held if x.weight is Weight.PREFERRED)
            assert preferred == ("secondary" if phase is Phase.FAILOVER else "primary")


@pytest.mark.parametrize("design", DESIGNS, ids=IDS)
@pytest.mark.parametrize("reachable", [True, False], ids=["source-up", "source-down"])
def test_procedures_name_every_manual_step_and_move_traffic_once(design: Design, reachable: bool) -> None:
    for operation in (Operation.FAILOVER, Operation.FAILBACK):
        steps = procedure(operation, design, reachable)
        assert all(Kind(s.kind) for s in steps if s.action is Action.MANUAL)
        assert sum(s.switch for s in steps) == 1, [s.title for s in steps]
        if operation is Operation.FAILOVER and not reachable:
            assert all(s.role is not Role.SOURCE for s in steps), "nothing touches a source region that is down"
    assert all(Kind(s.kind) for s in procedure(Operation.DRILL, design))


@pytest.mark.parametrize("design", DESIGNS, ids=IDS)
def test_role_order_lists_only_hubs_whose_connections_change(design: Design) -> None:
    for operation, (before, after) in (
        (Operation.FAILOVER, (Phase.STANDBY, Phase.FAILOVER)),
        (Operation.FAILBACK, (Phase.FAILOVER, Phase.FAILBACK)),
    ):

        def azure(role: Role, phase: Phase) -> set[tuple[str, Weight]]:
            return {(x.circuit, x.weight) for x in links(design, role, phase)}

        changing = {r for r in Role if azure(r, before) != azure(r, after)}
        assert set(role_order(operation, design)) == changing
        if not changing:
            assert traffic_switch(design, operation).startswith("Azure: nothing to change")


def test_exclusive_order_gives_up_the_circuit_first() -> None:
    design = Design(Topology.SINGLE_CIRCUIT, Addressing.SAME)
    assert role_order(Operation.FAILOVER, design) == [Role.SOURCE, Role.TARGET]
    assert role_order(Operation.FAILBACK, design) == [Role.TARGET, Role.SOURCE]
