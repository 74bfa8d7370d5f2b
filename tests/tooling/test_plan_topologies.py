"""Every example topology through the plan: the standby -> failover diff of both stacks and the
runbook, checked against what the source article says each topology must do.

To keep the suite quick, the examples run with the drill network and Site Recovery switched off
(``--set``): neither depends on the topology, and the default-stack tests cover them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from erdr import dr_runbook
from erdr.plan import Options, Planner, Progress
from erdr.plan_json import Change, Comparison, compare
from erdr.stackfiles import PROJECT_DIR
from model import phases
from model.config import Addressing, Phase, Role, Topology

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
        # The target gateway's only connection: a weight chooses nothing, Azure's default stays.
        assert _weights(tgt.changes[0]) == (None, 0)
    elif example == "two-locations-new-ip":
        # Cross-connected: each gateway holds both circuits, so the preference moves with
        # on-premises' choice (the primary in standby, the secondary after failover).
        for diff, hub in ((src, "hub-eastasia"), (tgt, "hub-southeastasia")):
            assert {c.physical: (c.op, c.paths, _weights(c)) for c in diff.changes} == {
                f"{hub}-to-primary": ("update", ("routingWeight",), (100, 0)),
                f"{hub}-to-secondary": ("update", ("routingWeight",), (0, 100)),
            }
    else:
        # Each gateway holds one connection: a weight would choose nothing. The failover is the
        # on-premises switch (or DNS, with translated addresses on one circuit); Azure keeps all.
        assert src.changes == [] and tgt.changes == []

    text = planned.text
    design = phases.Design(planned.topology, planned.addressing, cross_connect=example == "two-locations-new-ip")
    expected_steps = phases.failover(design)
    titles = [f"**{s.title}**" for s in expected_steps]
    positions = [text.index(t) for t in titles]
    assert positions == sorted(positions), "failover steps out of the procedure's order"
    for step in phases.failback(design):
        assert f"**{step.title}**" in text
    exclusive = planned.topology is Topology.SINGLE_CIRCUIT and planned.addressing is Addressing.SAME
    assert ("`expressroute-dr:sourceRegionUnreachable: true`" in text) is exclusive
    # Issue 15: every example's runbook has each procedure, the prerequisite and a check per step.
    sections = {
        "## Failover (source region reachable)": ".venv/bin/python -m erdr.failover failover\n",
        "## Failover when the source region is down": ".venv/bin/python -m erdr.failover failover --source-unreachable\n",
        "## Failback": ".venv/bin/python -m erdr.failover failback\n",
        "## Failback after the source region was down": ".venv/bin/python -m erdr.failover failback --source-unreachable\n",
        "## Drill (test failover)": ".venv/bin/python -m erdr.failover drill\n",
    }
    for heading, command in sections.items():
        body = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
        assert command in body, heading
        steps = re.findall(r"^\d+\. \*\*", body, flags=re.M)
        checks = re.findall(r"^   - check:$", body, flags=re.M)
        assert steps and len(checks) == len(steps), f"{heading}: {len(steps)} steps, {len(checks)} checks"
        assert body.count("     prints: ") == len(steps)
    down = text.split("## Failover when the source region is down\n", 1)[1].split("\n## ", 1)[0]
    assert "--stack prod" not in down.split("When the source region returns")[0], "nothing touches the source region"
    prerequisites = text.split("## Before you need it\n", 1)[1].split("\n## ", 1)[0]
    assert "**On-premises routing in standby**" in prerequisites
    if planned.topology is not Topology.SINGLE_CIRCUIT:
        assert "prefer the **primary** circuit" in prerequisites
    addresses = text.split("## Addresses after failover\n", 1)[1].split("\n## ", 1)[0]
    if planned.addressing is Addressing.TRANSLATED:
        assert "update DNS records" in addresses and "| vnet1 | 10.1.0.0/24 | 10.21.0.0/24 |" in addresses
    else:
        assert "DNS records and on-premises firewall rules stay as they are" in addresses
    remaining = text.split("## What remains to do at failover", 1)[1].split("##", 1)[0]
    for diff, stack in ((src, "prod"), (tgt, "dr")):
        for c in diff.changes:
            assert f"`{stack}`: " in remaining and f"`{c.physical}`" in remaining
    if planned.topology is Topology.SINGLE_CIRCUIT:
        if planned.addressing is Addressing.SAME:
            assert "confirm the circuit now carries the target hub's routes" in text
        else:
            assert "Point clients at the target region's addresses" in text
        assert "secondary circuit" not in text.split("## Topology", 1)[1].split("##", 1)[0]
    else:
        assert "Switch on-premises routing to the secondary circuit" in text
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
