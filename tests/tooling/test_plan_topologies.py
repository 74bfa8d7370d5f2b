"""Every example topology through the plan: the standby -> failover diff of both stacks and the
runbook, checked against what the source article says each topology must do.

To keep the suite quick, the examples run with the drill network and Site Recovery switched off
(``--set``): neither depends on the topology, and the default-stack tests cover them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from erdr import dr_runbook
from erdr.plan import Options, Planner, Progress
from erdr.plan_json import Change, Comparison, compare
from erdr.stackfiles import PROJECT_DIR
from model import phases
from model.config import Addressing, Phase, Role, Topology
from tests.helpers import connection_name

EXAMPLES = PROJECT_DIR / "examples"
FAST = {"drill.enabled": False, "siteRecovery.enabled": False}
CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"


@dataclass
class Planned:
    topology: Topology
    addressing: Addressing
    diffs: dict[Role, Comparison]
    text: str


def _plan(example: str) -> Planned:
    opts = Options(stacks=["prod", "dr"], stacks_dir=EXAMPLES / example, overrides=dict(FAST))
    planner = Planner(opts, Progress(0, io.StringIO(), quiet=True))
    planner.prepare()
    made: dict[Role, dr_runbook.StackRuns] = {}
    for p in planner.plans.values():
        runs = {phase: planner.simulate(p.name, phase, False) for phase in Phase}
        made[p.cfg.role] = dr_runbook.StackRuns(p.settings, p.cfg, runs)
    diffs = {
        role: compare(s.settings, s.runs[Phase.STANDBY], s.runs[Phase.FAILOVER], "standby", "failover")
        for role, s in made.items()
    }
    cfg = made[Role.TARGET].cfg
    return Planned(cfg.topology, cfg.addressing, diffs, dr_runbook.render(made[Role.SOURCE], made[Role.TARGET]))


def _weights(c: Change) -> tuple[int | None, int | None]:
    def weight(inputs: object) -> int | None:
        return int(inputs["routingWeight"]) if isinstance(inputs, dict) and "routingWeight" in inputs else None

    return weight(c.before), weight(c.after)


def _connection_changes(diff: Comparison) -> list[Change]:
    return [c for c in diff.changes if c.type == CONNECTION]


EXPECTED = {
    # example: (topology, addressing)
    "two-locations-same-ip": (Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME),
    "two-locations-new-ip": (Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.TRANSLATED),
    "one-location-same-ip": (Topology.TWO_CIRCUITS_ONE_LOCATION, Addressing.SAME),
    "one-location-new-ip": (Topology.TWO_CIRCUITS_ONE_LOCATION, Addressing.TRANSLATED),
    "single-circuit-same-ip": (Topology.SINGLE_CIRCUIT, Addressing.SAME),
    "single-circuit-new-ip": (Topology.SINGLE_CIRCUIT, Addressing.TRANSLATED),
    # An adopted estate: spokes in three subscriptions, an Azure Firewall hub (erdr.discover's output).
    "landing-zone-firewall": (Topology.TWO_CIRCUITS_TWO_LOCATIONS, Addressing.SAME),
}


def test_every_example_is_covered() -> None:
    assert {p.name for p in EXAMPLES.iterdir() if p.is_dir()} == set(EXPECTED)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_failover_diff_and_runbook(example: str) -> None:
    planned = _plan(example)
    assert (planned.topology, planned.addressing) == EXPECTED[example]
    src, tgt = planned.diffs[Role.SOURCE], planned.diffs[Role.TARGET]
    # Failover only moves ExpressRoute connections: VNets, peerings, routes and gateways are
    # pre-provisioned and stay as they are.
    for diff in (src, tgt):
        assert {c.type for c in diff.changes} <= {CONNECTION}, [(c.op, c.type, c.name) for c in diff.changes]
        assert not [c for c in diff.changes if c.op == "delete" and c.protected]

    if planned.topology is Topology.SINGLE_CIRCUIT and planned.addressing is Addressing.SAME:
        # The article: disconnect the source side, then connect the target side; never both.
        assert [(c.op, c.physical) for c in src.changes] == [("delete", "hub-eastasia-to-primary")]
        assert [(c.op, c.physical) for c in tgt.changes] == [("create", "hub-southeastasia-to-primary")]
        assert _weights(tgt.changes[0]) == (None, 100)
    else:
        # Connections are pre-built; failover only swaps the routing preference.
        for diff in (src, tgt):
            assert {c.op for c in diff.changes} == {"update"}
            assert all(set(c.paths) == {"routingWeight"} for c in diff.changes)
        src_own = [c for c in src.changes if c.physical == connection_name(EXAMPLES / example, "prod", "primary")]
        assert [_weights(c) for c in src_own] == [(100, 0)]
        tgt_circuit = "primary" if planned.topology is Topology.SINGLE_CIRCUIT else "secondary"
        tgt_own = [c for c in tgt.changes if c.physical == connection_name(EXAMPLES / example, "dr", tgt_circuit)]
        assert [_weights(c) for c in tgt_own] == [(0, 100)]
        # Cross-connections (each hub also on the other circuit) stay at the standby weight.
        assert all(
            _weights(c) == (0, 0)
            for c in _connection_changes(src) + _connection_changes(tgt)
            if c not in src_own + tgt_own
        )

    text = planned.text
    expected_steps = phases.failover(planned.topology, planned.addressing)
    titles = [f"**{s.title}**" for s in expected_steps]
    positions = [text.index(t) for t in titles]
    assert positions == sorted(positions), "failover steps out of the procedure's order"
    for step in phases.failback(planned.topology, planned.addressing):
        assert f"**{step.title}**" in text
    exclusive = planned.topology is Topology.SINGLE_CIRCUIT and planned.addressing is Addressing.SAME
    assert ("## Failover when the source region is unreachable" in text) is exclusive
    assert ("`expressroute-dr:sourceRegionUnreachable: true`" in text) is exclusive
    remaining = text.split("## What remains to do at failover", 1)[1].split("##", 1)[0]
    for diff, stack in ((src, "prod"), (tgt, "dr")):
        for c in diff.changes:
            assert f"`{stack}`: " in remaining and f"`{c.physical}`" in remaining
    if planned.topology is Topology.SINGLE_CIRCUIT:
        assert "the one circuit now carries the target region's routes" in text
        assert "secondary circuit" not in text.split("## Topology", 1)[1].split("##", 1)[0]
    else:
        assert "make routing use only the secondary circuit" in text
    same_ip = "same IP addresses" if planned.addressing is Addressing.SAME else "new IP addresses"
    assert text.splitlines()[0].endswith(f"{same_ip} after failover")


def test_runbook_refuses_stacks_that_disagree(tmp_path: Path) -> None:
    opts = Options(stacks=["prod", "dr"], overrides=dict(FAST))
    planner = Planner(opts, Progress(0, io.StringIO(), quiet=True))
    planner.prepare()
    prod, dr = planner.plans["prod"], planner.plans["dr"]
    other = dr.cfg.model_copy(update={"addressing": Addressing.TRANSLATED})
    with pytest.raises(ValueError, match="stacks disagree"):
        dr_runbook.render(dr_runbook.StackRuns(prod.settings, prod.cfg), dr_runbook.StackRuns(dr.settings, other))
