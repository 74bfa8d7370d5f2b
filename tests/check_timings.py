"""Times the readiness check against discover on the same fake ARM (a measurement, not a test):
the figures of docs/readiness.md, "Fast and polite".

- **``erdr.check``**: both sides of an N-spoke design (tests/check_stacks.py, the design
  tests/tooling/test_check.py checks), Site Recovery included, read as the command reads it:
  ``erdr.check.__main__.check`` with the command's own clients (``command_clients``: its retries,
  timeouts and the 1 s ``LRO_POLL_S`` of the long-running reads), its default deadline and
  ``--per-subscription``. A run counts only if the estate is found ready (exit 0).
- **``erdr.discover``**: the source side of the same served estate, as ``python -m erdr.discover
  --hub-id <the design's source hub> --target-region <its target region> --arm-endpoint URL``
  runs it (one request at a time). A run counts only if it exits 0 with every spoke found.

Each is served by the fake ARM of the tests (tests/fake_arm/deployed.py over
tests/fake_arm/server.py, a fresh one per measurement, ``FakeArm.delay`` seconds of latency per
request); the time is from the start of the command's work to its report, the fake's setup
excluded. The two alternate (check first in even runs, discover first in odd ones), so both see
the same load on a shared machine; a CPU baseline (a fixed pure-Python loop, one core) is timed
before each pair, so figures from another machine compare as multiples of it. Printed: each run's
figures, the requests the fake answered for each (the check's reads plus the polls of its
long-running reads), and the medians with their ratio.

    .venv/bin/python -m tests.check_timings [--runs 3] [--spokes 50] [--latency 0 --latency 0.05]

Takes about 14 s a run at 50 ms latency and 50 spokes (discover alone reads for 10 s), 3 s without
latency: under a minute with the defaults.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from erdr import discover
from erdr.arm import StaticTokenCredential
from erdr.check import __main__ as cli
from erdr.check.readiness import Stacks, estate_of
from erdr.check.report import EXIT_READY, Report
from tests.check_stacks import stacks
from tests.fake_arm.deployed import deploy
from tests.fake_arm.server import TOKEN, FakeArm, serve

DEADLINE_S = cli.build_parser().get_default("deadline")
PER_SUBSCRIPTION = cli.build_parser().get_default("per_subscription")
BASELINE_LOOP = 3_000_000


@dataclass
class Sample:
    seconds: float
    requests: int  # what the fake answered
    reads: int | None = None  # the check's reads (its report)


def baseline() -> float:
    """Seconds for a fixed pure-Python loop: the machine's single-core speed right now."""
    start = time.perf_counter()
    total = 0
    for i in range(BASELINE_LOOP):
        total += i * i % 7
    elapsed = time.perf_counter() - start
    if total <= 0:
        raise AssertionError("the baseline loop computed nothing")
    return elapsed


def _served(design: Stacks, latency: float) -> FakeArm:
    arm = deploy(design.prod, design.dr)
    arm.delay = latency
    return arm


def check_run(design: Stacks, latency: float) -> Sample:
    with serve(_served(design, latency)) as arm:
        clients = cli.command_clients(StaticTokenCredential(TOKEN), arm.url, DEADLINE_S)
        start = time.monotonic()
        report: Report = cli.check(design, clients, DEADLINE_S, PER_SUBSCRIPTION)
        seconds = time.monotonic() - start
        requests = len(arm.requests)
    if report.exit_code != EXIT_READY:
        raise RuntimeError(f"the check did not find the served estate ready (exit {report.exit_code})")
    return Sample(seconds, requests, report.reads)


def discover_run(design: Stacks, latency: float, spokes: int) -> Sample:
    estate = estate_of(design)
    with serve(_served(design, latency)) as arm:
        argv = [
            "--hub-id",
            estate.source.hub.vnet.id,
            "--target-region",
            estate.target.region,
            "--arm-endpoint",
            arm.url,
        ]
        out, err = io.StringIO(), io.StringIO()
        start = time.monotonic()
        code = discover.main(argv, out, err, {"ERDR_ARM_TOKEN": TOKEN})
        seconds = time.monotonic() - start
        requests = len(arm.requests)
    if code != discover.EXIT_OK or f"hub, {spokes} spokes," not in err.getvalue() or "0 problems" not in err.getvalue():
        raise RuntimeError(f"discover did not describe the served estate (exit {code}): {err.getvalue()[-2000:]}")
    return Sample(seconds, requests)


def _one(values: Sequence[int | None], what: str) -> int | None:
    if len(set(values)) != 1:
        raise RuntimeError(f"{what} differ between runs: {list(values)}")
    return values[0]


def measure(design: Stacks, latency: float, runs: int, spokes: int) -> None:
    checks: list[Sample] = []
    discovers: list[Sample] = []
    baselines: list[float] = []
    order: tuple[Callable[[], None], Callable[[], None]] = (
        lambda: checks.append(check_run(design, latency)),
        lambda: discovers.append(discover_run(design, latency, spokes)),
    )
    print(f"\nfake ARM latency {latency * 1000:g} ms per request, {spokes} spokes:")
    for n in range(runs):
        baselines.append(baseline())
        for step in order if n % 2 == 0 else order[::-1]:
            step()
        c, d = checks[-1], discovers[-1]
        print(
            f"  run {n + 1}: check {c.seconds:.2f} s ({c.reads} reads, {c.requests} requests), "
            f"discover {d.seconds:.2f} s ({d.requests} requests), baseline {baselines[-1]:.3f} s"
        )
    check_s = statistics.median(s.seconds for s in checks)
    discover_s = statistics.median(s.seconds for s in discovers)
    base = statistics.median(baselines)
    reads = _one([s.reads for s in checks], "the check's reads")
    check_requests = _one([s.requests for s in checks], "the check's requests")
    discover_requests = _one([s.requests for s in discovers], "discover's requests")
    print(
        f"  median of {runs}: check {check_s:.2f} s ({reads} reads, {check_requests} requests; "
        f"{check_s / base:.1f} baselines), discover {discover_s:.2f} s ({discover_requests} requests; "
        f"{discover_s / base:.1f} baselines), check/discover {check_s / discover_s:.2f}, baseline {base:.3f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.check_timings", description="Times erdr.check against erdr.discover on the fake ARM."
    )
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--spokes", type=int, default=50)
    p.add_argument(
        "--latency",
        type=float,
        action="append",
        help="seconds per request of the fake ARM (repeatable; default 0, 0.05)",
    )
    args = p.parse_args(argv)
    latencies: list[float] = args.latency or [0.0, 0.05]
    if args.runs < 1 or args.spokes < 1 or min(latencies) < 0:
        p.error("--runs and --spokes must be at least 1, --latency not negative")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} logical CPUs, load average {load}; baseline: {BASELINE_LOOP:,} pure-Python iterations")
    design = stacks(args.spokes)
    for latency in latencies:
        measure(design, latency, args.runs, args.spokes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
