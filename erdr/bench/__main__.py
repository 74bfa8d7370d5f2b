"""``make bench``: the five performance measurements of the program, written to
build/bench/benchmarks.md (docs/benchmarks.md is a copy made on purpose, never by this command).

1. Deployment critical path per stack (erdr/bench/critical_path.py).
2. Failover work per topology x addressing (erdr/bench/failover.py).
3. Policy scale: the CrossGuard pack against a no-op pack (erdr/bench/policy.py).
4. Evaluation cost: a run under the mock runtime against the plain-resource floor
   (erdr/bench/evaluation.py).
5. Plan speed: `python -m erdr.plan` on 60 spokes, worker processes against one job
   (erdr/bench/plan_speed.py).

Timings are medians of several runs, each ratio against a baseline measured in the same run
(interleaved with it), and the machine is written down with the figures. The exit status is 1 when
a target is missed (with --quick, a smoke run, only the targets that do not depend on timing).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from erdr.bench import critical_path, evaluation, failover, plan_speed, policy
from erdr.bench.stacks import Simulations, examples
from erdr.bench.stats import median, table
from erdr.plan import PARALLEL_FROM_VNETS
from erdr.stackfiles import PROJECT_DIR
from model.config import Phase

OUTPUT = PROJECT_DIR / "build" / "bench" / "benchmarks.md"
DOCS_COPY = PROJECT_DIR / "docs" / "benchmarks.md"
SECTION_TITLES = (
    ("critical path", 1),
    ("failover work", 2),
    ("policy scale", 3),
    ("evaluation cost", 4),
    ("plan speed", 5),
)
# Sections whose verdict rests on timings: a --quick run reports them without failing on them.
TIMED = frozenset({"policy scale", "evaluation cost", "plan speed"})
EVAL_LAYOUTS: tuple[int | None, ...] = (None, 50, 200)
STACKS = ("prod", "dr")
QUICK_EVAL_STACKS = ("dr",)  # the larger of the two: it also builds the drill copies and Site Recovery

GATEWAY_DOC = (
    '"Creating virtual network gateway can take up to 45 minutes to complete." Configure a virtual '
    "network gateway for ExpressRoute using the Azure portal, "
    "https://learn.microsoft.com/azure/expressroute/expressroute-howto-add-gateway-portal-resource-manager"
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical CPUs (nproc); load average at start {load}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()} {platform.release()}",
        f"- pulumi {metadata.version('pulumi')}, pulumi-azure-native {metadata.version('pulumi_azure_native')}, "
        f"pulumi-policy {metadata.version('pulumi_policy')}",
    ]


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


# --- 1 ------------------------------------------------------------------------------------------


def critical_path_section(sims: Simulations) -> tuple[str, bool]:
    rows: list[list[object]] = []
    ok = True
    placeholder_ok = True
    cases: list[tuple[str | None, str, str | None]] = [(None, "prod", None), (None, "dr", None)]
    cases.append((None, "dr", "recovery-plan"))
    cases += [(e, s, None) for e in examples() for s in ("prod", "dr")]
    for example, stack, variant in cases:
        result = sims.get(example, stack, Phase.STANDBY, variant)
        report = critical_path.analyse_result(result)
        low = critical_path.analyse_result(result, {**critical_path.CREATE_MINUTES, critical_path.CONNECTION: 1.0})
        placeholder_ok &= low.meets_target
        ok &= report.meets_target
        name = f"{example or 'project'}/{stack}" + (f" + {variant}" if variant else "")
        rows.append(
            [
                name,
                report.resources,
                f"{report.critical_minutes:g}",
                f"{report.unavoidable_minutes:g}",
                f"{report.gateway_start:g}" if report.gateway_start is not None else "-",
                f"{report.beside_gateway_minutes:g}",
                ", ".join(report.waiting_on_gateway) or "none",
                " → ".join(report.critical_chain),
                _yes(report.meets_target),
            ]
        )
    text = [
        "## 1. Deployment critical path",
        "",
        "The longest chain of waits in the dependency graph each stack registers (phase `standby`, "
        "the first `pulumi up`), from the simulated registrations: a resource waits for its explicit "
        "`dependsOn` and for the resources its inputs come from; a parent component is not a wait. "
        "Weights, in minutes to create:",
        "",
        f"- ExpressRoute virtual network gateway: {critical_path.GATEWAY_MINUTES:g}. {GATEWAY_DOC} "
        "(`policies/shared/azure_facts.py` `GATEWAY_CREATE_MINUTES`).",
        f"- Gateway-to-circuit connection: {critical_path.CONNECTION_MINUTES:g}. **No Microsoft figure "
        'exists**: "Connect a virtual network to an ExpressRoute circuit" (portal, PowerShell and CLI '
        "versions) states no duration; 10 is the issue's planning figure (`azure_facts` keeps a "
        "1-minute placeholder). The verdicts below are the same with 1 minute: "
        f"{'all met' if placeholder_ok else 'NOT all met'}.",
        f"- Everything else: {critical_path.DEFAULT_MINUTES:g} (placeholder; Microsoft publishes no "
        "creation times for VNets, subnets, peerings, route tables, resource groups or Site Recovery "
        "objects).",
        "",
        "*Unavoidable* is the chain Azure itself orders: resource group → hub VNet → GatewaySubnet → "
        "gateway → the longest of what cannot exist before the gateway (the circuit connection; the "
        "spoke-to-hub peering with `useRemoteGateways`, refused with `RemoteVnetHasNoGateways` until "
        "the gateway exists). *Gateway starts* is when the gateway can begin (its floor is 3: resource "
        "group, VNet, GatewaySubnet). *Beside the gateway* is the longest chain of everything that "
        "does not wait for a gateway. Target: critical ≤ unavoidable, and nothing else waits for a "
        "gateway.",
        "",
        table(
            [
                "stack",
                "resources",
                "critical (min)",
                "unavoidable (min)",
                "gateway starts (min)",
                "beside the gateway (min)",
                "needlessly waiting on the gateway",
                "critical chain",
                "target met",
            ],
            rows,
        ),
    ]
    return "\n".join(text), ok


# --- 2 ------------------------------------------------------------------------------------------


def failover_section(sims: Simulations) -> tuple[str, bool]:
    works = failover.all_failover_work(sims, examples())
    rows: list[list[object]] = []
    for w in works:
        changes = [line for s in w.stacks.values() for line in s.describe()]
        steps = " + ".join(f"{stack} {m:g}" for stack, m in w.steps) or "no Azure operation"
        rows.append(
            [
                w.example,
                w.topology,
                w.addressing,
                w.stacks["prod"].summary(),
                w.stacks["dr"].summary(),
                w.gateways_created,
                "<br>".join(changes) or "none",
                f"{w.rto_minutes:g} ({steps})",
                f"{failover.BEFORE_RTO_MINUTES:g}",
                w.switch,
                _yes(w.meets_target),
            ]
        )
    ok = all(w.meets_target for w in works)
    on_premises = sorted({w.on_premises for w in works if w.on_premises})
    text = [
        "## 2. Failover work",
        "",
        "What `pulumi up` does to each stack when its phase goes from `standby` to `failover` "
        "(`+create ~update -delete`, from `erdr.plan_json.compare` over the two phases' simulated "
        "registrations), and the network RTO it implies: the chain of Azure operations the failover "
        "must wait for, i.e. the `pulumi up` steps of `model.phases.failover` that change Azure before "
        "or as traffic moves, one after another. Inside a step the engine runs independent changes in "
        "parallel and deletes after creates and updates, each change weighted as in section 1: "
        f"{critical_path.CONNECTION_MINUTES:g} minutes per connection create, update or delete is a "
        "**labelled estimate** (Microsoft publishes no figure for any of them). Steps after the "
        "switch (the source side's cleanup, record-only updates) and every step on a source region "
        "that may be down are off the critical path. Site Recovery's own VM failover is not network "
        "work and is not counted. Target: no gateway created in any topology; with two circuits, or "
        "one circuit with new IPs, nothing created; routing weights change only on gateways that hold "
        "several connections (crossConnect).",
        "",
        table(
            [
                "example",
                "topology",
                "addressing",
                "prod",
                "dr",
                "gateways created",
                "changes",
                "network RTO (Azure min, critical steps)",
                "before (min)",
                "what moves traffic",
                "target met",
            ],
            rows,
        ),
        "",
        "Before: the network RTO of the same examples before a phase change was limited to what alters "
        "routing (`docs/benchmarks.md` at commit fb39fe5): every failover swapped the routing weights "
        "on both stacks, two `pulumi up` runs modelled at 10 minutes each, the second against the "
        "source region, although a weight only chooses among the connections of one gateway "
        "(https://learn.microsoft.com/azure/expressroute/expressroute-optimize-routing).",
        "",
        "The on-premises step, on a line of its own (the operator's routers or DNS; not Azure time):",
        "",
        *(f"- {line}" for line in on_premises),
        "",
        "The single-circuit same-IP pair is the one topology that must delete and create at failover: "
        "the circuit may carry the shared address space once, so the source connection is deleted and "
        "the target one created (in that order, by the peerStack gate). A two-circuit stack with "
        "`preConnectTarget: false` pays one connection create at failover: the price of that choice.",
    ]
    return "\n".join(text), ok


# --- 3 ------------------------------------------------------------------------------------------


def policy_section(runs: int, quick: bool) -> tuple[str, bool]:
    scale = policy.measure(policy.QUICK_SIZES if quick else policy.SIZES, runs)
    rows = [
        [
            r.spokes,
            r.resources,
            f"{r.pack:.3f}",
            f"{r.noop:.3f}",
            f"{r.ratio:.2f}",
            f"{r.pack / r.resources * 1000:.3f}",
        ]
        for r in scale.rows
    ]
    big = scale.largest
    ok = scale.meets_growth and scale.meets_time
    text = [
        "## 3. Policy scale",
        "",
        "AnalyzeStack over a hub with N spokes (3 resources a spoke: VNet and both peerings; plus "
        "the hub's VNet, GatewaySubnet, gateway and connection), sent over gRPC to the real pack as "
        "the CLI runs it (`python -m pulumi.policy`), against a pack with one no-op stack policy "
        "(`erdr/bench/noop_pack`): what pulumi-policy itself spends delivering the stack. Calls "
        f"alternate between the two packs; medians of {scale.runs} calls each.",
        "",
        table(["spokes", "resources", "pack (s)", "no-op pack (s)", "pack / no-op", "pack s per 1k resources"], rows),
        "",
        f"Fitted growth (least squares on log time vs log resources): pack n^{scale.pack_exponent:.2f}, "
        f"no-op pack n^{scale.noop_exponent:.2f}; exact n log n over the same sizes fits "
        f"n^{scale.nlogn_exponent:.2f}. Target no worse than n log n (within "
        f"{policy.EXPONENT_TOLERANCE} for timing noise): {_yes(scale.meets_growth)}. "
        f"{big.resources:,} resources in {big.pack:.2f} s (target under {policy.TARGET_SECONDS:g} s "
        + (
            f"for {policy.TARGET_RESOURCES:,}): {_yes(scale.meets_time)}. "
            if not quick
            else f"for {policy.TARGET_RESOURCES:,}, judged by a full run; this is a smoke run). "
        )
        + f"Findings on the largest (clean) estate: {scale.findings}.",
    ]
    return "\n".join(text), ok


# --- 4 ------------------------------------------------------------------------------------------


def eval_section(
    runs: int, layouts: Sequence[int | None], stacks: Sequence[str] = STACKS, quick: bool = False
) -> tuple[str, bool]:
    """``quick``: the Outputs are counted in the timed runs of the counted row rather than in two
    more untimed runs (a smoke run's timings are reported, not judged)."""
    rows: list[list[object]] = []
    results: list[evaluation.EvalRow] = []
    counted_spokes = max((s for s in layouts if s is not None), default=None)
    counts: dict[str, dict[str, int]] | None = None
    with tempfile.TemporaryDirectory(prefix="erdr-bench-") as tmp:
        for spokes in layouts:
            for stack in stacks:
                count = quick and stack == "dr" and spokes == counted_spokes
                row = evaluation.measure_row(stack, spokes, runs, Path(tmp), count=count)
                counts = row.outputs if count else counts
                results.append(row)
                rows.append(
                    [
                        row.stack,
                        row.layout,
                        row.resources,
                        f"{row.wall:.2f}",
                        f"{row.floor_wall:.2f}",
                        f"**{row.ratio:.2f}**",
                        f"{row.cpu_ratio:.2f}",
                        f"{row.rss:.0f}",
                        f"{row.floor_rss:.0f}",
                        _yes(row.meets_target),
                    ]
                )
        kept = {stack: evaluation.measure_keep_aliases(stack, runs, Path(tmp)) for stack in stacks}
        if counts is None:
            counts = evaluation.count_outputs("dr", counted_spokes, Path(tmp))
    default = {r.stack: r for r in results if r.layout.startswith("default")}
    alias_rows = [
        [
            stack,
            f"{median([s.wall for s in samples]):.2f}",
            f"{default[stack].wall:.2f}",
            f"{median([s.wall for s in samples]) / default[stack].floor_wall:.2f}",
        ]
        for stack, samples in kept.items()
        if stack in default
    ]
    ok = all(r.meets_target for r in results)
    creators = list(counts["program"])
    count_rows = [[kind, *(counts[kind][c] for c in creators), sum(counts[kind].values())] for kind in counts]
    over = [r for r in results if not r.meets_target]
    verdict = (
        "Every row is within the target."
        if not over
        else "Above the target: "
        + ", ".join(f"{r.stack} {r.layout} ({r.ratio:.2f}x)" for r in over)
        + ". The Output counts above are why: the excess is azure-native's classes, not the program."
    )
    text = [
        "## 4. Evaluation cost",
        "",
        "Wall time of one run of each stack under Pulumi's mock runtime (`erdr.simulate`, phase "
        "`standby`, `up`), each in a fresh interpreter, against the floor: the same mocks running "
        "`erdr/bench/floor`, which imports the same azure-native modules and registers the same "
        "resources (type, name, parent, inputs, dependencies; URNs checked equal) as plain "
        "`pulumi.CustomResource`/`ComponentResource`. Scaled layouts are the default hub with N "
        "one-subnet spokes (the dr stack also builds the drill copies and Site Recovery mappings). "
        f"Medians of {runs} runs each, program and floor alternating; memory is the process's peak "
        "RSS (interpreter included). Target: within "
        f"{evaluation.TARGET_RATIO:g}x of the floor."
        + (
            ""
            if tuple(stacks) == STACKS
            else f" This smoke run (`--quick`) measures the {' and '.join(stacks)} stack only."
        ),
        "",
        table(
            [
                "stack",
                "layout",
                "resources",
                "program (s)",
                "floor (s)",
                "ratio",
                "CPU-time ratio",
                "program peak RSS (MB)",
                "floor peak RSS (MB)",
                "target met",
            ],
            rows,
        ),
        "",
        "Where the time went (cProfile, dr stack, 50 spokes): before `program/aliases.py`, "
        "over 80 % of a run was the SDK turning azure-native's API-version aliases (60 on a "
        "VirtualNetwork, one per API version) into chains of Outputs in `Resource.__init__` and "
        "then waiting for all of them (`wait_for_rpcs` → `asyncio.wait` over every pending Output). "
        "The program now drops those aliases with a stack transformation before the SDK sees them "
        '(safe: see "Why dropping the aliases is safe" below). Same run, default '
        "layout, with the aliases kept:",
        "",
        table(["stack", "aliases kept (s)", "aliases dropped (s)", "aliases kept / floor"], alias_rows),
        "",
        "What remains above the floor is azure-native's own per-resource work: each generated class "
        "builds its typed args, its `Alias` objects and an Output for every output property, which the "
        "SDK tracks and then waits for (`wait_for_rpcs` runs `asyncio.wait` over every pending Output "
        "once per round of registrations, so the cost grows with resources x Outputs per resource); "
        "the SDK also records a Python stack trace for each resource created from a class, which it "
        "skips for the floor's direct `CustomResource` calls. Outputs created in one "
        + ("timed run (this smoke run counts in its timed runs)" if quick else "untimed run")
        + f" of the dr stack ({counted_spokes or 2} spokes), by creator:",
        "",
        table(["run", *creators, "total"], count_rows),
        "",
        verdict,
    ]
    return "\n".join(text), ok


# --- 5 ------------------------------------------------------------------------------------------


def plan_speed_section(runs: int, quick: bool) -> tuple[str, bool]:
    spokes = plan_speed.QUICK_SPOKES if quick else plan_speed.SPOKES
    speed = plan_speed.measure(runs, spokes)
    rows = [
        [
            label,
            f"{median([s.wall for s in samples]):.1f}",
            ", ".join(f"{s.wall:.1f}" for s in samples),
            f"{median([s.cpu for s in samples]):.1f}",
        ]
        for label, samples in (
            (f"default (here --jobs {speed.jobs})", speed.parallel),
            ("--jobs 1" + (" (the default's runs: the same command)" if speed.jobs == 1 else ""), speed.serial),
        )
    ]
    text = [
        "## 5. Plan speed",
        "",
        f"`python -m erdr.plan` (what `make plan` runs) on the default stacks with {spokes} one-subnet spokes "
        f"({speed.resources:,} resources in the two stacks' state): both stacks in their configured phase and "
        "in failover, every phase for the runbook, the policy pack, four pictures as SVG and PNG. Each run is a "
        "fresh interpreter; the default (simulations in worker processes, one per available CPU, for a layout "
        f"of {PARALLEL_FROM_VNETS} VNets or more: {plan_speed.cpu_count_note()}) alternates with `--jobs 1` "
        "(everything in one process); "
        f"medians of {runs} runs each. CPU is user + system time of the planner and everything it started. "
        f"Target: under {plan_speed.TARGET_SECONDS:g} s at {plan_speed.SPOKES} spokes.",
        "",
        table(["run", "wall (s, median)", "each run (s)", "CPU (s, median)"], rows),
        "",
        f"Default against one job: **{speed.ratio:.2f}x** the wall time. {speed.wall:.1f} s at {spokes} spokes: "
        + (
            f"target {_yes(speed.meets_target)}."
            if not quick
            else f"smoke run at {spokes} spokes, the target is judged at {plan_speed.SPOKES}."
        ),
    ]
    return "\n".join(text), speed.meets_target or quick


SAFETY = """## Why dropping the aliases is safe

`program/aliases.py` registers one stack transformation (`__main__.py`, before any resource)
that removes, from each azure-native resource, exactly the aliases of the form
`Alias(type_="azure-native:<module>/v<date>[preview]:<Name>")` where `<module>` and `<Name>` are
the resource's own: the aliases azure-native adds so that state written by an explicitly
versioned SDK (`pulumi package add azure-native network 2023-02-01`, see Pulumi's "Azure Native
version guide") can move to the default type without a replacement. Any other alias is kept.

- URNs, inputs, options and dependencies are unchanged: `tests/program/test_bench_aliases.py` runs both
  default stacks with and without the transformation and compares every registration; it also
  checks that what is removed is only those versioned-type aliases, and that nothing else is.
- No state of this program can hold a versioned type: the program has only ever registered
  resources under their default types (`azure-native:network:VirtualNetwork`, ...), adopted
  VNets come in with `import_`, not aliases, and the stack exports of `make plan` show only
  default types. An alias that can never match changes nothing in the engine's diff.
- azure-native upgrades keep the default type tokens (a new API version changes the default
  module's inputs, not its token), so they do not rely on these aliases.
- Should a resource ever move *from* a versioned type into this program, give it that one
  alias explicitly (`opts=ResourceOptions(aliases=[...])` is kept by the transformation).
"""


def render(sections: Sequence[tuple[str, bool]], seconds: float, runs: int) -> str:
    verdict = "met" if all(ok for _, ok in sections) else "NOT all met"
    head = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m erdr.bench`, to build/bench/benchmarks.md; this copy in docs/ is "
        "made on purpose with `cp build/bench/benchmarks.md docs/`); do not edit by hand. "
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s, {runs} runs per timing.",
        "",
        *machine(),
        "",
        f"All {len(sections)} targets: **{verdict}**.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n\n".join(s for s, _ in sections) + "\n\n" + SAFETY


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure the performance targets; write build/bench/benchmarks.md. Exit 1 if a target is missed."
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default {OUTPUT.relative_to(PROJECT_DIR)}")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"smoke run: {', '.join(map(str, policy.QUICK_SIZES))} spokes and medians of 3 for section 3, the "
            f"default layout of the dr stack only for section 4, {plan_speed.QUICK_SPOKES} spokes for section 5; timing targets "
            "reported, not judged"
        ),
    )
    parser.add_argument(
        "--section",
        action="append",
        choices=[t for t, _ in SECTION_TITLES],
        help="run only this section (repeatable)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sims = Simulations()
    runs = {
        "critical path": lambda: critical_path_section(sims),
        "failover work": lambda: failover_section(sims),
        "policy scale": lambda: policy_section(max(args.runs, 3 if args.quick else 5), args.quick),
        "evaluation cost": lambda: (
            eval_section(args.runs, (None,), QUICK_EVAL_STACKS, quick=True)
            if args.quick
            else eval_section(args.runs, EVAL_LAYOUTS)
        ),
        "plan speed": lambda: plan_speed_section(args.runs, args.quick),
    }
    chosen = [t for t, _ in SECTION_TITLES if not args.section or t in args.section]
    sections: list[tuple[str, bool]] = []
    for title in chosen:
        t0 = time.perf_counter()
        sections.append(runs[title]())
        print(f"bench: {title}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(sections, time.perf_counter() - started, args.runs))
    missed = [t for t, (_, ok) in zip(chosen, sections, strict=True) if not ok]
    failing = [t for t in missed if not (args.quick and t in TIMED)]
    print(f"bench: wrote {args.output}; targets missed: {', '.join(missed) or 'none'}", file=sys.stderr)
    if args.output.resolve() != DOCS_COPY and not failing:
        print(
            f"bench: to publish these figures: cp {args.output} {DOCS_COPY.relative_to(PROJECT_DIR)}", file=sys.stderr
        )
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
