"""`make plan` on a large estate: wall time of `python -m erdr.plan` with the default stacks
scaled to N spokes, as it runs by default (worker processes on every CPU for a layout this large)
against one job (the planner as it ran before the worker processes), the two alternating, each in a
fresh interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from erdr import safe_yaml
from erdr.bench.stacks import scaled_layout
from erdr.bench.stats import median
from erdr.plan import PARALLEL_FROM_VNETS, default_jobs
from erdr.stackfiles import PROJECT_DIR, load_stack

SPOKES = 60
QUICK_SPOKES = 4
TARGET_SECONDS = 20.0


@dataclass
class Sample:
    wall: float
    cpu: float  # user + system time of the planner and everything it started


@dataclass
class PlanSpeed:
    spokes: int
    jobs: int
    runs: int
    parallel: list[Sample]
    serial: list[Sample]
    resources: int  # in both stacks' state after the first `pulumi up`

    @property
    def wall(self) -> float:
        return median([s.wall for s in self.parallel])

    @property
    def serial_wall(self) -> float:
        return median([s.wall for s in self.serial])

    @property
    def ratio(self) -> float:
        return self.wall / self.serial_wall

    @property
    def meets_target(self) -> bool:
        return self.wall <= TARGET_SECONDS


def write_estate(folder: Path, spokes: int) -> None:
    """The project's prod and dr stack files with the layout scaled to ``spokes`` spokes."""
    layout = scaled_layout(load_stack("prod").config["layout"], spokes)
    for stack in ("prod", "dr"):
        doc = safe_yaml.load_file(PROJECT_DIR / f"Pulumi.{stack}.yaml")
        doc["config"]["expressroute-dr:layout"] = layout
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(folder: Path, jobs: int | None) -> Sample:
    """One `python -m erdr.plan` (``jobs`` None: its default) in a fresh interpreter."""
    out = folder / f"plan-{jobs or 'default'}"
    args = [sys.executable, "-m", "erdr.plan", "--stacks-dir", str(folder), "--out", str(out), "-q"]
    args += ["--jobs", str(jobs)] if jobs else []
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:])} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return Sample(wall, _children_cpu() - cpu)


def default_jobs_at(spokes: int) -> int:
    """What `--jobs` the planner picks by itself for the default hub with ``spokes`` spokes."""
    return default_jobs() if 1 + spokes >= PARALLEL_FROM_VNETS else 1


def measure(runs: int, spokes: int = SPOKES) -> PlanSpeed:
    parallel: list[Sample] = []
    serial: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="erdr-bench-plan-") as tmp:
        folder = Path(tmp)
        write_estate(folder, spokes)
        jobs = default_jobs_at(spokes)
        for i in range(runs):
            if jobs == 1:  # below PARALLEL_FROM_VNETS the default is one job: the same command, run once
                serial.append(run_once(folder, 1))
                continue
            # Alternate which goes first, so a change in machine load falls on both alike.
            for default in (True, False) if i % 2 == 0 else (False, True):
                (parallel if default else serial).append(run_once(folder, None if default else 1))
        resources = sum(
            len(json.loads((folder / "plan-1" / f"{stack}.state.json").read_text())["deployment"]["resources"])
            for stack in ("prod", "dr")
        )
    return PlanSpeed(spokes, jobs, runs, parallel or serial, serial, resources)


def cpu_count_note() -> str:
    return f"{os.cpu_count()} logical CPUs, {default_jobs()} available to the planner"
