"""Evaluation cost: one stack run under the mock runtime, against the floor of the same registrations.

Each measurement is a fresh interpreter (``python -m erdr.bench.evaluation ...``), so module imports,
caches and peak memory belong to that run alone:

- ``program``: :func:`erdr.simulate.simulate` of the real ``__main__.py``; it also writes the
  registrations (type, name, parent, inputs, dependencies) and the azure-native modules the
  program imported to a spec file.
- ``floor``: the same mocks run ``erdr/bench/floor/__main__.py``, which imports those same
  azure-native modules and registers the spec's resources as plain ``pulumi.CustomResource`` /
  ``pulumi.ComponentResource`` with the same type, name, parent, inputs and dependencies: what the
  SDK must do for these resources anyway, without azure-native's classes or the program's logic.

Wall time is from calling ``simulate`` to its return (it includes importing azure-native inside
the program); peak memory is the process's peak RSS (``VmHWM``), interpreter included.
``--keep-aliases`` runs the program with azure-native's API-version aliases left in place (the
SDK's behaviour before program/aliases.py), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erdr.bench import floor as bench_floor
from erdr.bench.stats import median
from erdr.stackfiles import PROJECT_DIR

FLOOR_PROGRAM = Path(bench_floor.__file__).resolve().parent / "__main__.py"
FLOOR_DIR = str(FLOOR_PROGRAM.parent) + "/"
PROGRAM_DIRS = tuple(f"{PROJECT_DIR / d}/" for d in ("components", "program", "model"))
PROGRAM_MAIN = str(PROJECT_DIR / "__main__.py")
TARGET_RATIO = 2.0


def spec_of(result: Any) -> dict[str, Any]:
    """What the floor needs from a program run: every registration, in registration order, and
    the azure-native modules the program loaded."""
    # azure-native registers every package lazily; only those the program touched are loaded.
    modules = sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith("pulumi_azure_native") and type(module) is types.ModuleType
    )
    return {
        "modules": modules,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "custom": r.custom,
                "parent": r.parent,
                "dependencies": sorted(set(r.dependencies)),
                "inputs": r.plain_inputs,
            }
            for r in result.resources
            if not r.read
        ],
    }


def _count_outputs() -> dict[str, int]:
    """Count every Output the SDK tracks from here on, by who created it: azure-native's classes,
    the program's own code (components/, __main__.py), the floor, or the SDK and harness."""
    import pulumi.output

    counts = {"azure-native classes": 0, "program code": 0, "floor": 0, "SDK and harness": 0}
    track = pulumi.output.Output._track  # pyright: ignore[reportPrivateUsage]

    def counting(self: Any) -> None:
        frame = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]
        who = "SDK and harness"
        while frame is not None:
            name = frame.f_code.co_filename
            if "pulumi_azure_native" in name:
                who = "azure-native classes"
                break
            if name.startswith(FLOOR_DIR):
                who = "floor"
                break
            if name.startswith(PROGRAM_DIRS) or name == PROGRAM_MAIN:
                who = "program code"
                break
            frame = frame.f_back
        counts[who] += 1
        track(self)

    pulumi.output.Output._track = counting  # type: ignore[method-assign]  # pyright: ignore[reportPrivateUsage]
    return counts


def peak_rss_mb() -> float:
    """This process's peak resident set. ``VmHWM`` belongs to the current address space, unlike
    ``ru_maxrss``, which Linux carries over an exec from the forking parent (the bench itself)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    maxrss_mb: float
    resources: int
    outputs: dict[str, int] | None = None  # by creator, when the run counted them


def _measure(
    kind: str, stack: str, spokes: int | None, spec_path: Path, keep_aliases: bool, count_outputs: bool = False
) -> dict[str, Any]:
    from erdr.bench.stacks import stack_settings
    from erdr.simulate import simulate

    settings = stack_settings(stack, spokes=spokes)
    floor_spec: dict[str, Any] | None = None
    if kind == "floor":
        floor_spec = bench_floor.SPEC = json.loads(spec_path.read_text())
    elif keep_aliases:
        import program.aliases

        program.aliases.drop_api_version_aliases = lambda args: None  # type: ignore[assignment]
    outputs = _count_outputs() if count_outputs else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = simulate(settings, program=FLOOR_PROGRAM) if kind == "floor" else simulate(settings)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if result.error:
        raise SystemExit(f"{kind} {stack} ({spokes} spokes): {result.error}")
    if kind == "program" and not keep_aliases:
        spec_path.write_text(json.dumps(spec_of(result)))
    if floor_spec is not None:
        want = {r["urn"] for r in floor_spec["resources"]}
        got = {r.urn for r in result.resources}
        if want != got:
            raise SystemExit(f"floor registered other URNs than the program: {sorted(want ^ got)[:5]}")
    return {
        "wall": wall,
        "cpu": cpu,
        "maxrss_mb": peak_rss_mb(),
        "resources": sum(1 for r in result.resources if r.custom),
        "outputs": outputs,
    }


def run_sample(
    kind: str, stack: str, spokes: int | None, spec_path: Path, keep_aliases: bool = False, count: bool = False
) -> Sample:
    """One measurement in a fresh interpreter; ``count`` also counts its Outputs (which slows it)."""
    cmd = [sys.executable, "-m", "erdr.bench.evaluation", kind, stack, "--spec", str(spec_path)]
    if spokes is not None:
        cmd += ["--spokes", str(spokes)]
    if keep_aliases:
        cmd.append("--keep-aliases")
    if count:
        cmd.append("--count-outputs")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    done = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(data["wall"], data["cpu"], data["maxrss_mb"], data["resources"], data["outputs"])


@dataclass(frozen=True)
class EvalRow:
    stack: str
    layout: str
    resources: int
    program: tuple[Sample, ...]
    floor: tuple[Sample, ...]

    @property
    def wall(self) -> float:
        return median([s.wall for s in self.program])

    @property
    def floor_wall(self) -> float:
        return median([s.wall for s in self.floor])

    @property
    def cpu(self) -> float:
        return median([s.cpu for s in self.program])

    @property
    def floor_cpu(self) -> float:
        return median([s.cpu for s in self.floor])

    @property
    def ratio(self) -> float:
        return self.wall / self.floor_wall

    @property
    def cpu_ratio(self) -> float:
        return self.cpu / self.floor_cpu

    @property
    def rss(self) -> float:
        return median([s.maxrss_mb for s in self.program])

    @property
    def floor_rss(self) -> float:
        return median([s.maxrss_mb for s in self.floor])

    @property
    def meets_target(self) -> bool:
        return self.ratio <= TARGET_RATIO

    @property
    def outputs(self) -> dict[str, dict[str, int]] | None:
        """Outputs by creator from the counted program and floor runs, if this row counted them."""
        program, floor = self.program[0].outputs, self.floor[0].outputs
        return None if program is None or floor is None else {"program": program, "floor": floor}


def measure_row(stack: str, spokes: int | None, runs: int, workdir: Path, count: bool = False) -> EvalRow:
    """Program and floor, ``runs`` times each, alternating. ``count``: the first pair also counts
    its Outputs (a smoke run's shortcut: counting slows those runs, so their timings are not a
    verdict; a full run counts in separate, untimed runs with :func:`count_outputs`)."""
    spec = workdir / f"spec-{stack}-{spokes or 'default'}.json"
    program: list[Sample] = []
    floor: list[Sample] = []
    for i in range(runs):  # alternate, so both see the same load on a shared machine
        program.append(run_sample("program", stack, spokes, spec, count=count and i == 0))
        floor.append(run_sample("floor", stack, spokes, spec, count=count and i == 0))
    layout = "default (2 spokes)" if spokes is None else f"{spokes} spokes"
    return EvalRow(stack, layout, program[0].resources, tuple(program), tuple(floor))


def count_outputs(stack: str, spokes: int | None, workdir: Path) -> dict[str, dict[str, int]]:
    """Outputs created in one (untimed) program run and one floor run, by creator."""
    spec = workdir / f"spec-{stack}-{spokes or 'default'}-count.json"
    out: dict[str, dict[str, int]] = {}
    for kind in ("program", "floor"):  # the program run writes the spec the floor reads
        counted = run_sample(kind, stack, spokes, spec, count=True).outputs
        assert counted is not None  # --count-outputs always reports them
        out[kind] = counted
    return out


def measure_keep_aliases(stack: str, runs: int, workdir: Path) -> tuple[Sample, ...]:
    spec = workdir / f"spec-{stack}-aliases.json"
    return tuple(run_sample("program", stack, None, spec, keep_aliases=True) for _ in range(runs))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One evaluation-cost measurement (used by erdr.bench).")
    parser.add_argument("kind", choices=["program", "floor"])
    parser.add_argument("stack")
    parser.add_argument("--spokes", type=int)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--keep-aliases", action="store_true")
    parser.add_argument("--count-outputs", action="store_true", help="diagnostic: count Outputs by creator")
    args = parser.parse_args(argv)
    print(json.dumps(_measure(args.kind, args.stack, args.spokes, args.spec, args.keep_aliases, args.count_outputs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
