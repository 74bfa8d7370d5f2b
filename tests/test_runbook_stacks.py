"""The runbook and the Pulumi stacks agree: same order of operations, same end state.

Each example stack pair is simulated (the real program under Pulumi's mocks) in standby, failover
and failback. The fake ARM endpoint starts with the connections the standby stacks register, the
runbook runs with the variables the dr stack registers, and afterwards the fake holds exactly the
connections the stacks register in the new phase: the same IDs, gateways, circuits, weights,
locations and tags. Everything else the stacks register does not depend on the phase, so after a
portal-driven failover only the connections have to be brought into the stacks' state
(docs/recovery-plan.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import Phase
from erdr.procedure import Operation
from erdr.simulate import Registration, SimResult, simulate
from erdr.stackfiles import load_stack
from runbooks import network_switch as rb
from tests.helpers import CONNECTION, VNET
from tests.test_runbook import (
    EXAMPLES,
    FakeArm,
    context,
    example_config,
    procedure_roles,
    reader,
    run,
    serve,
    write_roles,
)

ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/{}"
)
PLAN = {"bootGroups": [{"items": [ITEM.format("db")]}, {"items": [ITEM.format("app"), ITEM.format("web")]}]}
PEERS = {f"organization/expressroute-dr/{s}": {"circuitConnections": []} for s in ("prod", "dr")}
# The runbook's three behaviours: one circuit with the same IPs (remove, then create), one circuit
# with new IPs (weights), two circuits with cross-connections (weights, extra connections).
EXAMPLE_PAIRS = ("single-circuit-same-ip", "single-circuit-new-ip", "two-locations-new-ip")
# Simulations are the slow part of these tests, so each uses the smallest dr stack that answers
# its question: connections do not depend on Site Recovery or the drill network ("connections");
# the runbook's variables need the recovery plan ("plan"); the drill path and the phase check
# use everything, for one topology ("full").
VARIANTS: dict[str, dict[str, Any]] = {
    "connections": {"siteRecovery.enabled": False, "drill.enabled": False},
    "plan": {"recoveryPlan": PLAN, "drill.enabled": False},
    "full": {"recoveryPlan": PLAN},
}
FULL_EXAMPLE = "single-circuit-same-ip"

_SIMS: dict[tuple[str, str, str, str], SimResult] = {}


def sim(example: str, stack: str, phase: Phase, variant: str = "connections") -> SimResult:
    key = (example, stack, phase.value, variant)
    if key not in _SIMS:
        overrides: dict[str, Any] = {"phase": phase.value}
        if stack == "dr":
            overrides.update(VARIANTS[variant])
        settings = load_stack(stack, stack_file=EXAMPLES / example / f"Pulumi.{stack}.yaml", overrides=overrides)
        result = simulate(settings, peer_outputs=PEERS)
        assert result.error is None, result.error
        _SIMS[key] = result
    return _SIMS[key]


def with_plan(example: str) -> SimResult:
    """The dr stack in standby with the recovery plan: what the Automation account holds."""
    return sim(example, "dr", Phase.STANDBY, "full" if example == FULL_EXAMPLE else "plan")


def registered_connections(*results: SimResult) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for result in results:
        for r in result.of_type(CONNECTION):
            i = r.plain_inputs
            out[r.id.lower()] = (
                i["location"],
                json.dumps(i["tags"], sort_keys=True),
                i["virtualNetworkGateway1"]["id"].lower(),
                i["peer"]["id"].lower(),
                int(i["routingWeight"]),
            )
    return out


def fake_connections(fake: FakeArm) -> dict[str, tuple[Any, ...]]:
    return {
        k: (
            v["location"],
            json.dumps(v["tags"], sort_keys=True),
            v["properties"]["virtualNetworkGateway1"]["id"].lower(),
            v["properties"]["peer"]["id"].lower(),
            int(v["properties"]["routingWeight"]),
        )
        for k, v in fake.connections().items()
        if v["properties"]["provisioningState"] == "Succeeded"
    }


def seed_from(fake: FakeArm, *results: SimResult) -> None:
    for result in results:
        for r in result.of_type(CONNECTION):
            i = r.plain_inputs
            props = {k: i[k] for k in ("connectionType", "virtualNetworkGateway1", "peer", "routingWeight")}
            fake.add(
                r.id,
                {
                    "location": i["location"],
                    "tags": i["tags"],
                    "properties": {**props, "provisioningState": "Succeeded"},
                },
            )
        for r in result.of_type(VNET):
            fake.add(r.id, {"location": r.plain_inputs["location"], "properties": {"virtualNetworkPeerings": []}})


def automation_variables(result: SimResult) -> dict[str, str]:
    """What the Automation account holds: variable name -> JSON text."""
    return {
        r.plain_inputs["variableName"]: r.plain_inputs["value"]
        for r in result.of_type("azure-native:automation:Variable")
    }


@pytest.mark.parametrize("example", EXAMPLE_PAIRS)
def test_runbook_ends_where_the_stacks_end(example: str) -> None:
    cfg = example_config(example)
    variables = automation_variables(with_plan(example))
    with serve(FakeArm()) as fake:
        seed_from(fake, sim(example, "prod", Phase.STANDBY), with_plan(example))
        assert fake_connections(fake) == registered_connections(sim(example, "prod", Phase.STANDBY), with_plan(example))

        run(fake, variables, context("Unplanned"))
        assert fake_connections(fake) == registered_connections(
            sim(example, "prod", Phase.FAILOVER), sim(example, "dr", Phase.FAILOVER)
        )
        assert write_roles(fake, cfg) == procedure_roles(cfg.topology, cfg.addressing, Operation.FAILOVER)

        fake.requests.clear()
        run(fake, variables, context("Planned", "SecondaryToPrimary"))
        assert fake_connections(fake) == registered_connections(
            sim(example, "prod", Phase.FAILBACK), sim(example, "dr", Phase.FAILBACK)
        )
        assert write_roles(fake, cfg) == procedure_roles(cfg.topology, cfg.addressing, Operation.FAILBACK)


def test_drill_run_leaves_the_stacks_resources_as_they_are() -> None:
    example = FULL_EXAMPLE
    variables = automation_variables(with_plan(example))
    with serve(FakeArm()) as fake:
        seed_from(fake, sim(example, "prod", Phase.STANDBY), with_plan(example))
        before = json.dumps(fake.resources, sort_keys=True)
        result = run(fake, variables, context("Test"))
        assert fake.writes == []
        assert json.dumps(fake.resources, sort_keys=True) == before
        drill_ids = json.loads(variables["erdr-drill-vnet-ids"])
        assert sorted(c.resource for c in result.changes if c.action == "checked") == sorted(drill_ids.values())


def _by_name(result: SimResult) -> dict[tuple[str, str], Registration]:
    # A StackReference is read, not managed: it follows whether the gated connection exists.
    return {(r.type, r.name): r for r in result.resources if r.type not in (CONNECTION, "pulumi:pulumi:StackReference")}


@pytest.mark.parametrize(
    ("example", "stack", "phase"),
    [
        *((e, "prod", p) for e in EXAMPLE_PAIRS for p in (Phase.FAILOVER, Phase.FAILBACK)),
        # The full dr stack, recovery plan included, of the most phase-sensitive topology.
        (FULL_EXAMPLE, "dr", Phase.FAILOVER),
    ],
)
def test_phase_moves_nothing_but_connections(example: str, stack: str, phase: Phase) -> None:
    """So once the connections match (the runbook made them match), nothing else can drift."""
    variant = "full" if stack == "dr" else "connections"
    standby = _by_name(sim(example, stack, Phase.STANDBY, variant))
    other = _by_name(sim(example, stack, phase, variant))
    assert other.keys() == standby.keys()
    assert any(t.startswith("azure-native:recoveryservices") for t, _ in other) == (stack == "dr")
    changed = [key for key, r in other.items() if r.plain_inputs != standby[key].plain_inputs]
    assert changed == [], f"{stack} in {phase.value}: inputs change for {changed}"


def test_variables_are_the_ones_the_runbook_reads() -> None:
    variables = automation_variables(with_plan(FULL_EXAMPLE))
    settings = rb.load_settings(reader(variables))
    assert settings.exclusive
    assert set(settings.connections) == {"source", "target"}
    assert settings.retry.attempts == 5
