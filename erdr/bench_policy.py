"""Policy scale: AnalyzeStack on growing estates, the CrossGuard pack against a no-op pack.

Both packs run as the CLI runs them (``python -m pulumi.policy``, over gRPC, through
:class:`erdr.policy_client.PolicyPackClient`) and get the same request: the hub-and-N-spokes
estate of :func:`erdr.policy_client.synthetic_estate` (3 resources a spoke, plus the hub's 4).
The no-op pack (``erdr/bench_noop_pack``) has one stack policy that checks nothing, so its time is
what pulumi-policy itself spends delivering the stack; calls alternate between the two packs so
both see the same machine load.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from erdr.bench_stats import growth_exponent, median, nlogn_exponent
from erdr.policy_client import POLICIES_DIR, PolicyPackClient, synthetic_estate

NOOP_PACK = Path(__file__).resolve().parent / "bench_noop_pack"
SIZES = (100, 200, 500, 1000, 2000)
TARGET_RESOURCES = 6000
TARGET_SECONDS = 5.0
# Timing noise on a shared machine moves a fitted exponent by a few hundredths.
EXPONENT_TOLERANCE = 0.05


def resources_for(spokes: int) -> int:
    return 3 * spokes + 4


@dataclass(frozen=True)
class PolicyRow:
    spokes: int
    resources: int
    pack: float  # median seconds
    noop: float

    @property
    def ratio(self) -> float:
        return self.pack / self.noop


@dataclass(frozen=True)
class PolicyScale:
    rows: tuple[PolicyRow, ...]
    runs: int
    findings: int  # diagnostics the pack returned on the largest (clean) estate

    @property
    def pack_exponent(self) -> float:
        return growth_exponent([r.resources for r in self.rows], [r.pack for r in self.rows])

    @property
    def noop_exponent(self) -> float:
        return growth_exponent([r.resources for r in self.rows], [r.noop for r in self.rows])

    @property
    def nlogn_exponent(self) -> float:
        return nlogn_exponent([r.resources for r in self.rows])

    @property
    def largest(self) -> PolicyRow:
        return max(self.rows, key=lambda r: r.resources)

    @property
    def meets_growth(self) -> bool:
        return self.pack_exponent <= self.nlogn_exponent + EXPONENT_TOLERANCE

    @property
    def meets_time(self) -> bool:
        big = self.largest
        return big.resources >= TARGET_RESOURCES and big.pack < TARGET_SECONDS


def measure(sizes: Sequence[int] = SIZES, runs: int = 5) -> PolicyScale:
    rows: list[PolicyRow] = []
    findings = 0
    with PolicyPackClient(POLICIES_DIR) as pack, PolicyPackClient(NOOP_PACK) as noop:
        pack.configure()
        noop.configure()
        warm = synthetic_estate(10)
        pack.analyze_stack(warm)
        noop.analyze_stack(warm)
        for spokes in sizes:
            estate = synthetic_estate(spokes)
            times: dict[str, list[float]] = {"pack": [], "noop": []}
            for _ in range(runs):
                for name, client in (("pack", pack), ("noop", noop)):
                    start = time.perf_counter()
                    diagnostics = client.analyze_stack(estate)
                    times[name].append(time.perf_counter() - start)
                    if name == "pack":
                        findings = len(diagnostics)
            rows.append(PolicyRow(spokes, resources_for(spokes), median(times["pack"]), median(times["noop"])))
    return PolicyScale(tuple(rows), runs, findings)
