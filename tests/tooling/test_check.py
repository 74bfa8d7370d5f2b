"""python -m erdr.check against a fake ARM that serves the estate the stacks design (tests/fake_arm/
deployed.py): clean, each injected fault, a 403 on one subscription, throttling, the deadline, the
CLI's reports and exit codes, and a 50-spoke estate's timing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr.arm import Clients, StaticTokenCredential
from erdr.bench.critical_path import CONNECTION_MINUTES, GATEWAY_MINUTES
from erdr.check import __main__ as cli
from erdr.check.readiness import Stacks, Status, disagreements, estate_of
from erdr.check.reads import role_for
from erdr.check.report import EXIT_ERROR, EXIT_NOT_READY, EXIT_READY, Report
from erdr.stackfiles import load_stack, stack_config
from model.config import Role
from model.phases import connection_plan
from policies.shared.azure_facts import FIREWALL_CREATE_MINUTES
from tests.check_stacks import CIRCUIT_SUB, SOURCE_SUB, stacks
from tests.fake_arm.deployed import deploy
from tests.fake_arm.server import TOKEN, FakeArm, serve


def clients(arm: FakeArm) -> Clients:
    # The command polls long-running reads every LRO_POLL_S; the fake answers at once, so the tests
    # poll at a fiftieth of it (the subprocess tests of the command run with its own interval).
    return Clients(
        StaticTokenCredential(TOKEN), arm.url, retry_total=3, retry_backoff_factor=0.01, polling_interval=0.02
    )


@pytest.fixture(scope="module")
def design() -> Stacks:
    return stacks()


@pytest.fixture
def served(design: Stacks) -> Iterator[FakeArm]:
    with serve(deploy(design.prod, design.dr)) as arm:
        yield arm


def run(design: Stacks, arm: FakeArm, deadline: float = 30.0) -> Report:
    return cli.check(design, clients(arm), deadline)


def failures(report: Report) -> list[str]:
    return [f"{f.resource} | {f.check} | {f.detail} | {f.fix}" for f in report.findings if f.status is Status.FAIL]


def test_a_clean_estate_is_ready(design: Stacks, served: FakeArm) -> None:
    report = run(design, served)
    assert report.exit_code == EXIT_READY, failures(report) + [
        f.detail for f in report.findings if f.status is Status.ERROR
    ]
    assert report.rto_minutes == 0
    checks = {f.check for f in report.findings}
    # What was held to the design, not just read.
    assert "target gateway learns the on-premises prefixes over BGP" in checks
    assert "peering Connected, FullyInSync, designed flags" in checks
    assert any(c.startswith("successful test failover") for c in checks)
    assert any(c.startswith("route 0.0.0.0/0") for c in checks)
    # Read-only: GETs and the getLearnedRoutes action, nothing else.
    assert all(status in (200, 202) for _, status in served.requests)
    assert [p for p, _ in served.requests if p.lower().endswith("/getlearnedroutes")] != []


def _props(arm: FakeArm, arm_id: str) -> dict[str, Any]:
    return arm.estate.get(arm_id)["properties"]


def _fault_connection(design: Stacks, arm: FakeArm) -> str:
    conn = connection_plan(design.dr, Role.TARGET, design.dr.phase)[0].id
    assert conn is not None
    _props(arm, conn.id)["connectionStatus"] = "NotConnected"
    return conn.id


def _fault_peering(design: Stacks, arm: FakeArm) -> str:
    peering = estate_of(design).target.peerings["vnet1"][1]
    _props(arm, peering.id)["peeringState"] = "Disconnected"
    return peering.id


def _fault_route(design: Stacks, arm: FakeArm) -> str:
    table = estate_of(design).target.spokes[0].route_table
    assert table is not None
    _props(arm, table.id)["routes"] = []
    return table.id


def _fault_drill_peered(design: Stacks, arm: FakeArm) -> str:
    estate = estate_of(design)
    drill = estate.drill["vnet1"].vnet
    arm.estate.add(
        {
            "id": drill.child("virtualNetworkPeerings", "drill-to-hub").id,
            "name": "drill-to-hub",
            "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            "properties": {"peeringState": "Connected", "remoteVirtualNetwork": {"id": estate.target.hub.vnet.id}},
        }
    )
    return drill.id


def _fault_bgp(design: Stacks, arm: FakeArm) -> str:
    gateway = estate_of(design).target.gateway.id
    arm.actions[f"{gateway}/getLearnedRoutes".lower()] = {"value": []}
    return gateway


def _fault_item_critical(design: Stacks, arm: FakeArm) -> str:
    sr = estate_of(design).site_recovery
    assert sr is not None
    item = arm.lists[f"{sr.vault.id}/replicationProtectedItems".lower()][0]
    item["properties"]["replicationHealth"] = "Critical"
    return item["id"]


def _fault_stale_test(design: Stacks, arm: FakeArm) -> str:
    sr = estate_of(design).site_recovery
    assert sr is not None
    item = arm.lists[f"{sr.vault.id}/replicationProtectedItems".lower()][1]
    item["properties"]["lastSuccessfulTestFailoverTime"] = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    return item["id"]


def _fault_gateway_missing(design: Stacks, arm: FakeArm) -> str:
    gateway = estate_of(design).target.gateway.id
    del arm.estate.resources[gateway.lower()]
    return gateway


def _fault_circuit_not_carrying(design: Stacks, arm: FakeArm) -> str:
    circuit = design.dr.circuits.secondary
    assert circuit is not None
    arm.actions[f"{circuit.id}/peerings/AzurePrivatePeering/routeTables/primary".lower()] = {"value": []}
    return circuit.id


FAULTS: dict[str, tuple[Callable[[Stacks, FakeArm], str], str]] = {
    "connection NotConnected": (_fault_connection, "az network vpn-connection show"),
    "peering Disconnected": (_fault_peering, "pulumi up --stack dr"),
    "route removed": (_fault_route, "az network route-table route create"),
    "drill VNet peered": (_fault_drill_peered, "az network vnet peering delete -n drill-to-hub"),
    "BGP not learning on-premises prefixes": (_fault_bgp, "az network vnet-gateway list-learned-routes"),
    "replicated item critical": (_fault_item_critical, "az resource show --ids"),
    "stale test failover": (_fault_stale_test, "python -m erdr.failover drill"),
    "missing gateway": (_fault_gateway_missing, "pulumi up --stack dr"),
    "circuit not carrying the target's prefixes": (
        _fault_circuit_not_carrying,
        "az network express-route list-route-tables",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_makes_the_estate_not_ready_naming_resource_and_fix(
    design: Stacks, served: FakeArm, fault: str
) -> None:
    inject, fix = FAULTS[fault]
    resource = inject(design, served)
    report = run(design, served)
    assert report.exit_code == EXIT_NOT_READY, fault
    named = [f for f in report.findings if f.status is Status.FAIL and f.resource.lower() == resource.lower()]
    assert named, f"{fault}: no failure names {resource}: {failures(report)}"
    assert any(fix in f.fix for f in named), [f.fix for f in named]
    # Subscription and names come from the estate.
    assert all(
        ("--subscription" in f.fix) or f.fix.startswith("python -m") or f.fix.startswith("pulumi") for f in named
    )


def test_a_missing_gateway_costs_the_gateway_and_its_connection(design: Stacks, served: FakeArm) -> None:
    _fault_gateway_missing(design, served)
    assert run(design, served).rto_minutes == GATEWAY_MINUTES + CONNECTION_MINUTES


def test_a_broken_connection_costs_a_connection(design: Stacks, served: FakeArm) -> None:
    _fault_connection(design, served)
    assert run(design, served).rto_minutes == CONNECTION_MINUTES


def test_source_side_faults_cost_no_failover_time(design: Stacks, served: FakeArm) -> None:
    peering = estate_of(design).source.peerings["vnet1"][0]
    _props(served, peering.id)["allowForwardedTraffic"] = False
    report = run(design, served)
    assert report.exit_code == EXIT_NOT_READY
    [f] = [f for f in report.findings if f.status is Status.FAIL]
    assert "allowForwardedTraffic False (designed True)" in f.detail
    assert "--set allowForwardedTraffic=true" in f.fix and f"--subscription {SOURCE_SUB}" in f.fix
    assert report.rto_minutes == 0


def test_forbidden_subscription_is_reported_and_the_rest_checked(design: Stacks, served: FakeArm) -> None:
    served.estate.forbidden.add(CIRCUIT_SUB.lower())
    report = run(design, served)
    assert report.exit_code == EXIT_ERROR, failures(report)
    [access] = [f for f in report.findings if f.area == "access"]
    assert access.resource == f"/subscriptions/{CIRCUIT_SUB}"
    assert "Reader" in access.fix and "Microsoft.Network/read" in access.detail
    # Everything in the other subscriptions was still checked and passed.
    passed = {f.resource.lower() for f in report.findings if f.status is Status.PASS}
    assert estate_of(design).target.gateway.id.lower() in passed
    assert estate_of(design).source.gateway.id.lower() in passed


def test_throttling_is_honoured(design: Stacks, served: FakeArm) -> None:
    gateway = estate_of(design).target.gateway.id
    served.throttle_once.add(gateway.lower())
    report = run(design, served)
    assert report.exit_code == EXIT_READY
    statuses = [s for p, s in served.requests if p.lower() == gateway.lower()]
    assert statuses[:2] == [429, 200]


def test_reads_are_bounded_per_subscription_and_by_the_deadline(design: Stacks, served: FakeArm) -> None:
    served.delay = 0.05
    report = cli.check(design, clients(served), deadline=30, per_subscription=2)
    assert report.exit_code == EXIT_READY
    assert max(served.most_in_flight.values()) <= 2
    served.delay = 1.0
    start = time.monotonic()
    late = cli.check(design, clients(served), deadline=0.5)
    assert time.monotonic() - start < 3
    assert late.exit_code in (EXIT_ERROR, EXIT_NOT_READY)
    assert any("deadline" in f.detail for f in late.findings)


def _stack_files(tmp: Path, design: Stacks) -> Path:
    for stack, cfg in (("prod", design.prod), ("dr", design.dr)):
        doc = {
            f"expressroute-dr:{k}": v
            for k, v in cfg.model_dump(by_alias=True, mode="json", exclude_defaults=True).items()
        }
        (tmp / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": doc}))
    return tmp


def test_the_command_writes_reports_and_exits_by_readiness(design: Stacks, served: FakeArm, tmp_path: Path) -> None:
    stacks_dir = _stack_files(tmp_path, design)
    env = {"ERDR_ARM_TOKEN": TOKEN}
    args = ["--stacks-dir", str(stacks_dir), "--arm-endpoint", served.url, "--markdown", str(tmp_path / "r.md")]
    out = io.StringIO()
    err = io.StringIO()
    assert cli.main([*args, "--json", str(tmp_path / "r.json")], out, err, env) == EXIT_READY, err.getvalue()
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["verdict"] == "ready" and doc["networkRtoMinutes"] == 0 and doc["counts"]["fail"] == 0
    assert "**ready** (exit 0)" in (tmp_path / "r.md").read_text()
    _fault_route(design, served)
    out = io.StringIO()
    assert cli.main(args, out, io.StringIO(), env) == EXIT_NOT_READY
    text = out.getvalue()
    assert "FAIL" in text and "fix: az network route-table route create" in text and "not ready" in text
    err = io.StringIO()
    assert cli.main(["--stacks-dir", str(tmp_path / "none")], io.StringIO(), err, env) == EXIT_ERROR
    assert "no stack file" in err.getvalue()
    assert cli.main([*args[:2], "--arm-endpoint", served.url], io.StringIO(), err, {}) == EXIT_ERROR
    assert "ERDR_ARM_TOKEN" in err.getvalue()


def test_fifty_spokes_are_all_checked_and_ready() -> None:
    """The scale docs/readiness.md quotes: every spoke of a 50-spoke estate is read and checked in
    both regions. How long it takes is measured, not asserted: `python -m tests.check_timings`."""
    design = stacks(50)
    with serve(deploy(design.prod, design.dr)) as arm:
        report = run(design, arm)
    assert report.exit_code == EXIT_READY, failures(report)
    checks = {f.check for f in report.findings}
    for region in ("eastasia", "southeastasia"):
        missing = [i for i in range(50) if f"subnet uses route table rt-s{i:02d}-{region}" not in checks]
        assert not missing, (region, missing)


def test_deployed_fixture_is_not_the_check_copied() -> None:
    # The served estate changes with the design: a different weight is served, and checked.
    design = stacks(
        routingWeights={"preferred": 7, "standby": 3},
        crossConnect=True,
        addressing="translated",
        targetAddressPlan={"hub": ["10.110.10.0/24"], "vnet1": ["10.101.0.0/24"], "vnet2": ["10.102.0.0/24"]},
    )
    with serve(deploy(design.prod, design.dr)) as arm:
        report = run(design, arm)
    assert report.exit_code == EXIT_READY, failures(report)
    weights = {f.check for f in report.findings if "weight" in f.check}
    assert any("weight 7" in w for w in weights) and any("weight 3" in w for w in weights)


EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "examples").iterdir() if p.is_dir())


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
@pytest.mark.parametrize("phase", ["standby", "failover"])
def test_every_example_estate_as_deployed_is_ready(example: Path, phase: str) -> None:
    # Each topology and phase: the check expects exactly what the stacks deploy, no more.
    configs = [
        stack_config(
            load_stack(
                s, stack_file=example / f"Pulumi.{s}.yaml", overrides={"phase": phase, **_example_extra(phase, s)}
            )
        )
        for s in ("prod", "dr")
    ]
    design = Stacks(*configs)
    assert disagreements(design) == []
    with serve(deploy(design.prod, design.dr)) as arm:
        report = run(design, arm)
    assert report.exit_code == EXIT_READY, failures(report)
    # Warnings only for what the example leaves out: replicated items, on-premises prefixes.
    warned = {f.check for f in report.findings if f.status is Status.WARN}
    assert warned <= {"replicated items", "target gateway learns the on-premises prefixes"}, warned


def _example_extra(phase: str, stack: str) -> dict[str, Any]:
    # A failover with the source region reachable is gated on the peer stack (model/config rules).
    if phase == "failover" and stack == "dr":
        return {"sourceRegionUnreachable": True}
    return {}


def test_both_hubs_on_the_one_circuit_with_the_same_ips_is_not_ready() -> None:
    example = EXAMPLES[[p.name for p in EXAMPLES].index("single-circuit-same-ip")]
    design = Stacks(*(stack_config(load_stack(s, stack_file=example / f"Pulumi.{s}.yaml")) for s in ("prod", "dr")))
    estate = estate_of(design)
    [(circuit, conn)] = estate.target.connections.items()
    assert connection_plan(design.dr, Role.TARGET, design.dr.phase) == []  # standby: the target holds none
    with serve(deploy(design.prod, design.dr)) as arm:
        source = arm.estate.get(estate.source.connections[circuit].id)
        arm.estate.add({**source, "id": conn.id, "name": conn.name})
        report = run(design, arm)
    assert report.exit_code == EXIT_NOT_READY
    [f] = [f for f in report.findings if f.status is Status.FAIL]
    assert f.resource == conn.id and "never be held by both hubs" in f.detail
    assert (
        f.fix
        == f"az network vpn-connection delete -n {conn.name} -g {conn.resource_group} --subscription {conn.subscription}"
    )


def test_a_weight_other_than_designed_names_the_update() -> None:
    design = stacks(
        routingWeights={"preferred": 7, "standby": 3},
        crossConnect=True,
        addressing="translated",
        targetAddressPlan={"hub": ["10.110.10.0/24"], "vnet1": ["10.101.0.0/24"], "vnet2": ["10.102.0.0/24"]},
    )
    conn = estate_of(design).target.connections["secondary"]
    with serve(deploy(design.prod, design.dr)) as arm:
        _props(arm, conn.id)["routingWeight"] = 0
        report = run(design, arm)
    [f] = [f for f in report.findings if f.status is Status.FAIL]
    assert f.resource == conn.id and f.detail == "routingWeight 0, designed 3"
    assert f.fix.startswith(f"az network vpn-connection update -n {conn.name}") and f.fix.endswith("--routing-weight 3")


@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("Microsoft.Network/read", "Reader"),
        ("Microsoft.Network/virtualNetworkGateways/read", "Reader"),
        ("Microsoft.RecoveryServices/vaults/read", "Site Recovery Reader"),
        ("Microsoft.Network/virtualNetworkGateways/getLearnedRoutes/action", "Network Contributor"),
        ("Microsoft.Network/expressRouteCircuits/peerings/routeTables/action", "Network Contributor"),
    ],
)
def test_a_refused_action_names_the_role_that_grants_it(action: str, role: str) -> None:
    assert role_for(action).startswith(role)


def test_a_missing_pre_provisioned_firewall_costs_its_create_time() -> None:
    example = EXAMPLES[[p.name for p in EXAMPLES].index("landing-zone-firewall")]
    design = Stacks(*(stack_config(load_stack(s, stack_file=example / f"Pulumi.{s}.yaml")) for s in ("prod", "dr")))
    firewall = estate_of(design).target.firewall
    assert firewall is not None
    with serve(deploy(design.prod, design.dr)) as arm:
        assert run(design, arm).exit_code == EXIT_READY
        del arm.estate.resources[firewall.firewall.id.lower()]
        report = run(design, arm)
    [f] = [f for f in report.findings if f.status is Status.FAIL]
    assert f.resource == firewall.firewall.id and "pulumi up --stack dr" in f.fix
    assert report.rto_minutes == FIREWALL_CREATE_MINUTES


def test_a_replica_address_space_other_than_designed_is_drift(design: Stacks, served: FakeArm) -> None:
    vnet = estate_of(design).target.spokes[1].vnet
    _props(served, vnet.id)["addressSpace"] = {"addressPrefixes": ["10.99.0.0/24"]}
    report = run(design, served)
    [f] = [f for f in report.findings if f.status is Status.FAIL]
    assert f.resource == vnet.id and "address space ['10.99.0.0/24'], designed ['10.2.0.0/24']" in f.detail


def test_the_command_ends_at_its_deadline_even_with_reads_hanging(
    design: Stacks, served: FakeArm, tmp_path: Path
) -> None:
    stacks_dir = _stack_files(tmp_path, design)
    served.delay = 5.0
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "erdr.check",
            "--stacks-dir",
            str(stacks_dir),
            "--arm-endpoint",
            served.url,
            "--deadline",
            "1",
        ],
        env={**os.environ, "ERDR_ARM_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == EXIT_ERROR, proc.stderr[-2000:]
    assert time.monotonic() - start < 5 + 1  # not the 5 s every read would take, nor its retries
    assert "not answered within the 1 s deadline" in proc.stdout


def test_stacks_that_place_the_estate_differently_stop_the_check(design: Stacks, tmp_path: Path) -> None:
    stacks_dir = _stack_files(tmp_path, design)
    dr = yaml.safe_load((stacks_dir / "Pulumi.dr.yaml").read_text())
    dr["config"]["expressroute-dr:resourceGroupNames"] = {"target": "rg-elsewhere"}
    (stacks_dir / "Pulumi.dr.yaml").write_text(yaml.safe_dump(dr))
    err = io.StringIO()
    code = cli.main(
        ["--stacks-dir", str(stacks_dir), "--arm-endpoint", "http://127.0.0.1:9"],
        io.StringIO(),
        err,
        {"ERDR_ARM_TOKEN": TOKEN},
    )
    assert code == EXIT_ERROR
    assert "place the estate differently" in err.getvalue() and "rg-elsewhere" in err.getvalue()
