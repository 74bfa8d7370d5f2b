"""Measures the failover command under two faults of issue #22 (a measurement, not a test):

- **Ctrl-C during ``pulumi up``**: the time from SIGINT to a clean stop of the command with the
  CLI's update finished. The stand-in ``pulumi`` (tests/fake_pulumi/cli.py, first on PATH) is in
  the middle of an Azure operation of ``FAKE_PULUMI_OP_SECONDS`` when SIGINT reaches the command's
  process group, as a terminal's Ctrl-C does; with ``FAKE_PULUMI_CANCEL_SECONDS=N`` the operation
  in flight ends exactly N s after the CLI gets its SIGINT, then the CLI saves the state, releases
  its lock and exits ("update canceled"). Reported: seconds from SIGINT to the command's exit, and
  that time over N (1.0 = the command adds nothing to the CLI's own stop). A run counts only if it
  stopped cleanly: exit 130, the CLI got exactly one SIGINT and exited by itself, no pending
  operation and no lock left in the stack, the journal recording the interruption.
- **An ARM that never answers** the connection check before the failover connects (tests/fake_arm/
  faulty.py, mode ``hang``: reads the request, never answers; ``drip``: headers, then a byte every
  second, so no single socket read times out). Reported: seconds from the check's first request to
  the command's exit with the check failed (exit 1, nothing connected).

    .venv/bin/python -m tests.fault_timings [--runs 3] [--cancel-seconds 5] [--skip-arm] [--skip-sigint]

Medians of ``--runs`` runs; each run's figures are printed too. Takes about (N + 10) s per Ctrl-C
run and about 70 s per ARM run (the production timeouts of erdr.arm.CALL_TIMEOUTS, unchanged).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erdr.arm import CALL_TIMEOUTS
from erdr.stackfiles import PROJECT_DIR
from tests.fake_arm.faulty import TOKEN, FaultyArm, serve
from tests.fake_pulumi.harness import FakePulumi, fake_pulumi, pending_stack, wait_until


@dataclass
class Sample:
    seconds: float
    detail: str


def _command(fake: FakePulumi, root: Path, arm_url: str, **env: str) -> subprocess.Popen[str]:
    """The failover command as an operator starts it: its own process group (the terminal's
    foreground group), the stand-in pulumi first on PATH."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "erdr.failover",
            "failover",
            "--yes",
            "--project-dir",
            str(fake.project),
            "--log",
            str(root / "failover.jsonl"),
            "--arm-endpoint",
            arm_url,
        ],
        cwd=PROJECT_DIR,
        env=fake.env(PYTHONPATH=str(PROJECT_DIR), ERDR_ARM_TOKEN=TOKEN, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def sigint_run(cancel_seconds: float) -> Sample:
    with tempfile.TemporaryDirectory(prefix="erdr-sigint-") as tmp, serve(FaultyArm()) as arm:
        root = Path(tmp)
        fake = fake_pulumi(root / "fake")
        process = _command(
            fake, root, arm.url, FAKE_PULUMI_OP_SECONDS="300", FAKE_PULUMI_CANCEL_SECONDS=f"{cancel_seconds:g}"
        )
        wait_until("an Azure operation in flight", lambda: pending_stack(fake) is not None, process, 120, interval=0.01)
        stack = pending_stack(fake)
        time.sleep(0.5)  # well inside the operation, as a person's Ctrl-C would be
        sent = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=cancel_seconds + 120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError("the command did not stop within N + 120 s") from None
        stopped = time.monotonic() - sent
        up = [c for c in fake.calls() if "up" in c["argv"]]
        journal = [json.loads(line) for line in (root / "failover.jsonl").read_text().splitlines()]
        problems = _unclean(process.returncode, up, fake, journal, output)
        if problems:
            raise RuntimeError(f"not a clean stop: {'; '.join(problems)}\n{output[-3000:]}")
        cli = up[-1]
        cli_after = cli["end"] - cli["signals"][0][0]
        return Sample(stopped, f"stack {stack}: CLI stopped {cli_after:.2f} s after its SIGINT (exit {cli['exit']})")


def _unclean(
    code: int | None, up: list[dict[str, Any]], fake: FakePulumi, journal: list[Any], output: str
) -> list[str]:
    problems = []
    if code != 130:
        problems.append(f"exit {code}, not 130")
    if not up or len(up[-1]["signals"]) != 1 or up[-1].get("terminated") or up[-1].get("exit") != 255:
        problems.append(f"the CLI's up did not end by one graceful cancel: {up[-1:]}")
    for stack in ("prod", "dr"):
        if fake.deployment(stack).get("pending_operations"):
            problems.append(f"pending operations left in {stack}")
        if fake.locks(stack):
            problems.append(f"lock left on {stack}")
    if not any("interrupt" in str(entry.get("event", "")) for entry in journal):
        problems.append("the journal does not record the interruption")
    if "Traceback" in output:
        problems.append("a traceback was printed")
    return problems


def arm_run(mode: str) -> Sample:
    with tempfile.TemporaryDirectory(prefix="erdr-arm-") as tmp, serve(FaultyArm(default=mode)) as arm:
        root = Path(tmp)
        fake = fake_pulumi(root / "fake")
        process = _command(fake, root, arm.url, FAKE_PULUMI_OP_SECONDS="0.2")
        wait_until("the connection check's request", lambda: bool(arm.requests), process, 120, interval=0.01)
        first = arm.requests[0].at
        try:
            output, _ = process.communicate(timeout=CALL_TIMEOUTS.deadline * 5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"the command still waits after {CALL_TIMEOUTS.deadline * 5:g} s") from None
        gave_up = time.monotonic() - first
        if process.returncode != 1 or "cannot confirm in Azure" not in output:
            raise RuntimeError(f"the check did not fail closed (exit {process.returncode}):\n{output[-3000:]}")
        tries = len(arm.requests)
        dr_connected = [c for c in fake.calls() if "up" in c["argv"] and "dr" in c["argv"]]
        if dr_connected:
            raise RuntimeError("dr was updated although the check failed")
        return Sample(gave_up, f"{tries} request(s) to {arm.requests[0].path.rsplit('/', 1)[-1]}")


def _report(title: str, samples: list[Sample], unit: Callable[[float], str]) -> None:
    print(f"{title}: median {unit(statistics.median(s.seconds for s in samples))} of {len(samples)} runs")
    for i, s in enumerate(samples, 1):
        print(f"  run {i}: {unit(s.seconds)}; {s.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fault_timings", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cancel-seconds", type=float, default=5.0, help="the stand-in CLI's time to stop (N)")
    parser.add_argument("--skip-sigint", action="store_true")
    parser.add_argument("--skip-arm", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores; {CALL_TIMEOUTS}")
    if not args.skip_sigint:
        n = args.cancel_seconds
        samples = [sigint_run(n) for _ in range(args.runs)]
        _report(
            f"SIGINT to a clean stop (stand-in CLI stops {n:g} s after SIGINT)",
            samples,
            lambda s: f"{s:.2f} s ({s / n:.3f} x N)",
        )
    if not args.skip_arm:
        for mode in ("hang", "drip"):
            _report(
                f"giving up on an ARM that {mode}s", [arm_run(mode) for _ in range(args.runs)], lambda s: f"{s:.1f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
