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

from automation import network_switch as rb
from erdr.simulate import Registration, SimResult, simulate
from erdr.stackfiles import load_stack
from model.config import Phase
from model.phases import Operation
from tests.automation.test_network_switch import (
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
from tests.helpers import CONNECTION, NO_PEER_CONNECTIONS, RECOVERY_PLAN, VNET

PLAN = RECOVERY_PLAN
PEERS = NO_PEER_CONNECTIONS
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
    return sim(example, "dr", Phase.STANDBY, "plan")


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


def _by_name(result: SimResult) -> dict[tuple[str, str], Registration]:
    # A StackReference is read, not managed: it follows whether the gated connection exists.
    return {(r.type, r.name): r for r in result.resources if r.type not in (CONNECTION, "pulumi:pulumi:StackReference")}


def assert_phase_moves_only_connections(standby: SimResult, other: SimResult) -> None:
    """So once the connections match (the runbook made them match), nothing else can drift."""
    before, after = _by_name(standby), _by_name(other)
    assert after.keys() == before.keys()
    changed = [key for key, r in after.items() if r.plain_inputs != before[key].plain_inputs]
    assert changed == [], f"{other.stack}: inputs change with the phase for {changed}"


# One test per example, so each simulation runs once even when pytest-xdist spreads the tests.
@pytest.mark.parametrize("example", EXAMPLE_PAIRS)
def test_runbook_ends_where_the_stacks_end(example: str) -> None:
    cfg = example_config(example)
    dr = with_plan(example)
    variables = automation_variables(dr)
    prod = {phase: sim(example, "prod", phase) for phase in Phase}
    with serve(FakeArm()) as fake:
        seed_from(fake, prod[Phase.STANDBY], dr)
        assert fake_connections(fake) == registered_connections(prod[Phase.STANDBY], dr)

        run(fake, variables, context("Unplanned"))
        assert fake_connections(fake) == registered_connections(
            prod[Phase.FAILOVER], sim(example, "dr", Phase.FAILOVER)
        )
        assert write_roles(fake, cfg) == procedure_roles(cfg, Operation.FAILOVER)

        fake.requests.clear()
        run(fake, variables, context("Planned", "SecondaryToPrimary"))
        assert fake_connections(fake) == registered_connections(
            prod[Phase.FAILBACK], sim(example, "dr", Phase.FAILBACK)
        )
        assert write_roles(fake, cfg) == procedure_roles(cfg, Operation.FAILBACK)
    for phase in (Phase.FAILOVER, Phase.FAILBACK):
        assert_phase_moves_only_connections(prod[Phase.STANDBY], prod[phase])


def test_full_dr_stack_drill_variables_and_phase() -> None:
    """The whole dr stack (Site Recovery, drill network, recovery plan) of the single-circuit,
    same-IP topology, the one whose phase matters most."""
    standby = sim(FULL_EXAMPLE, "dr", Phase.STANDBY, "full")
    variables = automation_variables(standby)
    settings = rb.load_settings(reader(variables))
    assert settings.role_order["failover"] == ["source", "target"]  # one circuit, same IPs: source first
    assert settings.retry.attempts == 5
    # The deadlines and the (empty) outage declaration the stack registers are what the runbook reads.
    assert settings.timeouts == rb.DEFAULT_TIMEOUTS
    assert settings.retry.poll_attempts * settings.retry.delay_seconds == settings.timeouts.operation_seconds
    assert settings.outage_declaration == ""

    with serve(FakeArm()) as fake:
        seed_from(fake, standby)
        before = json.dumps(fake.resources, sort_keys=True)
        result = run(fake, variables, context("Test"))
        assert fake.writes == []
        assert json.dumps(fake.resources, sort_keys=True) == before
    drill_ids = json.loads(variables["erdr-drill-vnet-ids"])
    assert sorted(c.resource for c in result.changes if c.action == "checked") == sorted(drill_ids.values())

    failover = sim(FULL_EXAMPLE, "dr", Phase.FAILOVER, "full")
    assert any(t.startswith("azure-native:recoveryservices") for t, _ in _by_name(failover))
    assert_phase_moves_only_connections(standby, failover)
