"""The benchmark's logic on small known inputs (the benchmarks themselves are not timed here)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from erdr.bench import floor as bench_floor
from erdr.bench.critical_path import (
    CONNECTION,
    GATEWAY,
    PEERING,
    RESOURCE_GROUP,
    SUBNET,
    VNET,
    analyse,
    finish_times,
    nodes_of,
)
from erdr.bench.evaluation import FLOOR_PROGRAM, spec_of
from erdr.bench.failover import failover_work
from erdr.bench.policy import measure
from erdr.bench.stacks import Simulations, scaled_layout, stack_settings
from erdr.bench.stats import growth_exponent, median, nlogn_exponent, table
from erdr.plan import stack_config
from erdr.simulate import Registration, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack
from model.config import Phase

ROUTES = "azure-native:network:RouteTable"


def reg(name: str, type_: str, deps: tuple[str, ...] = (), inputs: dict[str, Any] | None = None) -> Registration:
    return Registration(
        urn=f"urn:{name}",
        type=type_,
        name=name,
        custom=True,
        parent="",
        dependencies=[f"urn:{d}" for d in deps],
        property_dependencies={},
        inputs=inputs or {},
        protect=False,
        delete_before_replace=False,
        import_id="",
        custom_timeouts={},
        ignore_changes=[],
    )


def hub(*extra: Registration) -> list[Registration]:
    """RG -> VNet -> GatewaySubnet -> gateway -> connection, a spoke and both peerings."""
    return [
        reg("rg", RESOURCE_GROUP),
        reg("vnet", VNET, ("rg",)),
        reg("gwsubnet", SUBNET, ("vnet",)),
        reg("gateway", GATEWAY, ("gwsubnet",)),
        reg("connection", CONNECTION, ("gateway",)),
        reg("spoke", VNET, ("rg",)),
        reg("hub-to-spoke", PEERING, ("vnet", "spoke"), {"useRemoteGateways": False}),
        reg("spoke-to-hub", PEERING, ("spoke", "gateway", "hub-to-spoke"), {"useRemoteGateways": True}),
        *extra,
    ]


def test_critical_path_is_the_gateway_chain() -> None:
    report = analyse(hub())
    assert report.critical_minutes == 1 + 1 + 1 + 45 + 10
    assert report.critical_chain == (
        "ResourceGroup rg",
        "VirtualNetwork vnet",
        "Subnet gwsubnet",
        "VirtualNetworkGateway gateway",
        "VirtualNetworkGatewayConnection connection",
    )
    assert report.unavoidable_minutes == report.critical_minutes
    assert report.gateway_start == 3
    assert report.beside_gateway_minutes == 3  # rg -> spoke -> hub-to-spoke
    assert report.waiting_on_gateway == ()
    assert report.meets_target


def test_anything_else_waiting_on_the_gateway_is_reported() -> None:
    late = reg("routes", ROUTES, ("gateway",))
    after = reg("after-routes", SUBNET, ("routes",))
    report = analyse(hub(late, after))
    assert report.waiting_on_gateway == ("RouteTable routes", "Subnet after-routes")
    assert not report.meets_target


def test_a_gateway_that_starts_late_exceeds_the_unavoidable_chain() -> None:
    regs = hub(reg("nva", SUBNET, ("gwsubnet",)))
    regs[3] = reg("gateway", GATEWAY, ("gwsubnet", "nva"))  # waits for a second subnet
    report = analyse(regs)
    assert report.gateway_start == 4
    assert report.critical_minutes == report.unavoidable_minutes + 1
    assert not report.meets_target


def test_without_a_connection_the_remote_gateway_peering_closes_the_chain() -> None:
    regs = [r for r in hub() if r.name != "connection"]
    report = analyse(regs)
    assert report.critical_minutes == 1 + 1 + 1 + 45 + 1
    assert report.critical_chain[-1] == "VirtualNetworkPeering spoke-to-hub"
    assert report.meets_target


def test_a_dependency_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        finish_times(nodes_of([reg("a", VNET, ("b",)), reg("b", VNET, ("a",))]))


def test_growth_fit() -> None:
    sizes = [100, 200, 400, 800]
    assert growth_exponent(sizes, [3 * s**1.5 for s in sizes]) == pytest.approx(1.5)
    assert growth_exponent(sizes, [7 * s for s in sizes]) == pytest.approx(1.0)
    k = nlogn_exponent(sizes)
    assert 1.0 < k < 1 + 1 / math.log(100)
    with pytest.raises(ValueError):
        growth_exponent([5, 5], [1, 2])
    assert median([3, 1, 2]) == 2
    assert table(["a", "b"], [[1, 2]]).splitlines() == ["| a | b |", "| --- | --- |", "| 1 | 2 |"]


def test_scaled_layouts_are_valid_configs() -> None:
    base = load_stack("prod").config["layout"]
    layout = scaled_layout(base, 200)
    prefixes = [s["addressSpace"][0] for s in layout["spokes"]]
    assert len(set(prefixes)) == 200 and layout["hub"] == base["hub"]
    cfg = stack_config(stack_settings("dr", spokes=200))
    assert len(cfg.layout.spokes) == 200


def test_failover_work_of_the_exclusive_and_the_two_circuit_examples() -> None:
    sims = Simulations()
    exclusive = failover_work(sims, "single-circuit-same-ip")
    assert exclusive.stacks["prod"].summary() == "+0 ~0 -1"
    assert exclusive.stacks["dr"].summary() == "+1 ~0 -0"
    assert [s for s, _ in exclusive.steps] == ["prod", "dr"]  # disconnect first (model.phases)
    assert exclusive.rto_minutes == 20  # delete + create, 10 minutes each (labelled estimates)
    assert exclusive.gateways_created == 0 and exclusive.meets_target
    assert exclusive.on_premises == ""  # the circuit itself carries the switch

    for example in ("two-locations-same-ip", "one-location-same-ip", "one-location-new-ip", "single-circuit-new-ip"):
        nothing = failover_work(sims, example)
        assert {s: w.summary() for s, w in nothing.stacks.items()} == {"prod": "+0 ~0 -0", "dr": "+0 ~0 -0"}
        assert nothing.steps == () and nothing.rto_minutes == 0
        assert nothing.switch.startswith("Azure: nothing to change")
        assert nothing.on_premises  # the operator's switch is the failover
        assert nothing.meets_target

    cross = failover_work(sims, "two-locations-new-ip")
    assert cross.creates == 0 and not cross.creates_allowed
    assert {s: w.summary() for s, w in cross.stacks.items()} == {"prod": "+0 ~2 -0", "dr": "+0 ~2 -0"}
    assert all(c.type == CONNECTION and c.paths == ("routingWeight",) for w in cross.stacks.values() for c in w.updates)
    # Only the target gateway's weights are on the critical path; the source's are cleanup.
    assert cross.steps == (("dr", 10.0),) and cross.after_switch == ("prod",)
    assert cross.meets_target


def test_the_floor_registers_the_programs_urns() -> None:
    settings = load_stack("dr")
    program = simulate(settings)
    bench_floor.SPEC = spec_of(program)
    try:
        floor = simulate(settings, program=FLOOR_PROGRAM)
    finally:
        bench_floor.SPEC = None
    assert floor.error is None
    # Registration order is the event loop's; compare by URN.
    assert {r.urn: r.parent for r in floor.resources} == {r.urn: r.parent for r in program.resources}
    assert {r.urn: r.plain_inputs for r in floor.resources} == {r.urn: r.plain_inputs for r in program.resources}
    assert "pulumi_azure_native.network" in bench_floor_modules(program)


def bench_floor_modules(result: Any) -> list[str]:
    return spec_of(result)["modules"]


def test_policy_scale_runs_both_packs_on_the_same_estates() -> None:
    scale = measure(sizes=(2, 8), runs=1)
    assert [r.resources for r in scale.rows] == [10, 28]
    assert all(r.pack > 0 and r.noop > 0 for r in scale.rows)
    assert scale.findings == 0  # the synthetic estate is clean
    assert not scale.meets_time  # 28 resources is not the 6,000 the target names


def test_simulations_answer_the_single_circuit_gate_from_the_peer() -> None:
    sims = Simulations()
    dr = sims.get("single-circuit-same-ip", "dr", Phase.FAILOVER)
    assert ("single-circuit-same-ip", "prod", Phase.FAILOVER, None) in sims.runs
    assert any(r.read for r in dr.resources)


# --- make bench: where it writes, what it exits with ------------------------------------------------


@pytest.fixture
def sections(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Each section's verdict, settable; the sections themselves are not run."""
    from erdr.bench import __main__ as bench

    verdicts = {title: True for title, _ in bench.SECTION_TITLES}
    monkeypatch.setattr(bench, "critical_path_section", lambda _sims: ("## 1", verdicts["critical path"]))
    monkeypatch.setattr(bench, "failover_section", lambda _sims: ("## 2", verdicts["failover work"]))
    monkeypatch.setattr(bench, "policy_section", lambda _runs, _quick: ("## 3", verdicts["policy scale"]))
    monkeypatch.setattr(bench, "eval_section", lambda *_args, **_kw: ("## 4", verdicts["evaluation cost"]))
    monkeypatch.setattr(bench, "plan_speed_section", lambda _runs, _quick: ("## 5", verdicts["plan speed"]))
    return verdicts


def test_bench_writes_under_build_never_into_docs(tmp_path: Path, sections: dict[str, bool]) -> None:
    from erdr.bench import __main__ as bench

    assert bench.OUTPUT == PROJECT_DIR / "build" / "bench" / "benchmarks.md"
    docs = (PROJECT_DIR / "docs" / "benchmarks.md").read_bytes()
    out = tmp_path / "deep" / "benchmarks.md"
    assert bench.main(["--output", str(out), "--runs", "1"]) == 0
    text = out.read_text()
    assert "All 5 targets: **met**" in text and "## 5" in text
    assert (PROJECT_DIR / "docs" / "benchmarks.md").read_bytes() == docs


@pytest.mark.parametrize(
    ("missed", "quick", "code"),
    [
        ("critical path", False, 1),
        ("critical path", True, 1),  # not a timing: a smoke run fails on it too
        ("plan speed", False, 1),
        ("plan speed", True, 0),  # a timing target, not judged by a smoke run
        ("evaluation cost", True, 0),
    ],
)
def test_bench_exits_one_on_a_missed_target(
    tmp_path: Path, sections: dict[str, bool], missed: str, quick: bool, code: int
) -> None:
    from erdr.bench import __main__ as bench

    sections[missed] = False
    out = tmp_path / "benchmarks.md"
    assert bench.main(["--output", str(out), "--runs", "1", *(["--quick"] if quick else [])]) == code
    assert "**NOT all met**" in out.read_text()


def test_plan_speed_estate_is_the_default_stacks_scaled(tmp_path: Path) -> None:
    from erdr.bench import plan_speed

    plan_speed.write_estate(tmp_path, 7)
    for stack in ("prod", "dr"):
        settings = load_stack(stack, stack_file=tmp_path / f"Pulumi.{stack}.yaml")
        cfg = stack_config(settings)
        assert len(cfg.layout.spokes) == 7 and cfg.role.value == ("source" if stack == "prod" else "target")


@pytest.mark.parametrize(("spokes", "expected"), [(4, [1, 1]), (60, [None, 1, 1, None])])
def test_plan_speed_runs_each_distinct_command_and_alternates_them(
    monkeypatch: pytest.MonkeyPatch, spokes: int, expected: list[int | None]
) -> None:
    """Below PARALLEL_FROM_VNETS the planner's default is one job, so `--jobs 1` is the same command
    and runs once per run; above it the default (worker processes) and `--jobs 1` alternate."""
    from erdr.bench import plan_speed

    monkeypatch.setattr(plan_speed, "default_jobs", lambda: 2)
    calls: list[int | None] = []

    def fake_run(folder: Path, jobs: int | None) -> plan_speed.Sample:
        calls.append(jobs)
        out = folder / f"plan-{jobs or 'default'}"
        out.mkdir(exist_ok=True)
        for stack in ("prod", "dr"):
            (out / f"{stack}.state.json").write_text('{"deployment": {"resources": [1, 2, 3]}}')
        return plan_speed.Sample(wall=float(len(calls)), cpu=1.0)

    monkeypatch.setattr(plan_speed, "run_once", fake_run)
    speed = plan_speed.measure(2, spokes)
    assert calls == expected
    assert speed.resources == 6
    assert speed.jobs == (1 if spokes == 4 else 2)
    if spokes == 4:
        assert speed.parallel == speed.serial and len(speed.serial) == 2
    else:
        assert [s.wall for s in speed.parallel] == [1.0, 4.0] and [s.wall for s in speed.serial] == [2.0, 3.0]


@pytest.mark.parametrize("quick", [True, False])
def test_evaluation_counts_outputs_in_the_timed_runs_only_in_a_smoke_run(
    monkeypatch: pytest.MonkeyPatch, quick: bool
) -> None:
    """A full run counts Outputs in two extra, untimed runs (counting slows a run); a smoke run,
    whose timings are reported and not judged, counts them in its first timed program and floor
    runs and starts no extra interpreter. Either way the table shows both counts."""
    from erdr.bench import __main__ as bench
    from erdr.bench import evaluation

    calls: list[tuple[str, str, int | None, bool, bool]] = []
    creators = ("azure-native classes", "program code", "floor", "SDK and harness")  # _count_outputs' keys
    made = {
        "program": dict(zip(creators, (7, 3, 0, 1), strict=True)),
        "floor": dict(zip(creators, (0, 0, 2, 1), strict=True)),
    }

    def fake_sample(
        kind: str, stack: str, spokes: int | None, _spec: Path, keep_aliases: bool = False, count: bool = False
    ) -> evaluation.Sample:
        calls.append((kind, stack, spokes, keep_aliases, count))
        return evaluation.Sample(1.0, 1.0, 50.0, 10, made[kind] if count else None)

    def fake_count(stack: str, spokes: int | None, _workdir: Path) -> dict[str, dict[str, int]]:
        calls.append(("count", stack, spokes, False, True))
        return made

    monkeypatch.setattr(evaluation, "run_sample", fake_sample)
    monkeypatch.setattr(evaluation, "count_outputs", fake_count)
    text, _ok = bench.eval_section(2, (None,), ("dr",), quick=quick) if quick else bench.eval_section(2, (None, 5))
    counted = [c for c in calls if c[4]]
    if quick:
        assert counted == [("program", "dr", None, False, True), ("floor", "dr", None, False, True)]
        assert len(calls) == 2 * 2 + 2  # program and floor twice, the aliases-kept runs twice
        assert "timed run (this smoke run counts in its timed runs)" in text
    else:
        assert counted == [("count", "dr", 5, False, True)]
        assert "untimed run of the dr stack (5 spokes)" in text
    table = text.split("by creator:")[1]
    assert re.search(r"^\|\s*program\s*\|\s*7\s*\|\s*3\s*\|\s*0\s*\|\s*1\s*\|\s*11\s*\|", table, re.M), table
    assert re.search(r"^\|\s*floor\s*\|\s*0\s*\|\s*0\s*\|\s*2\s*\|\s*1\s*\|\s*3\s*\|", table, re.M), table
