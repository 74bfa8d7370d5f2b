"""The readiness report: a terminal table, JSON and Markdown, and the exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from erdr.check.readiness import Finding, Status

EXIT_READY, EXIT_NOT_READY, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    phases: dict[str, str]  # stack -> phase read
    rto_minutes: float
    seconds: float
    reads: int

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    @property
    def exit_code(self) -> int:
        """1 when something is known not to be ready; else 2 when something could not be read."""
        if self.count(Status.FAIL):
            return EXIT_NOT_READY
        if self.count(Status.ERROR):
            return EXIT_ERROR
        return EXIT_READY

    @property
    def verdict(self) -> str:
        return {EXIT_READY: "ready", EXIT_NOT_READY: "not ready", EXIT_ERROR: "unknown (could not read everything)"}[
            self.exit_code
        ]

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s.value}" for s in Status)
        return (
            f"erdr.check: {self.verdict}; {counts}; network RTO if a failover started now: "
            f"{self.rto_minutes:g} min; {self.reads} reads in {self.seconds:.2f} s"
        )

    def document(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exitCode": self.exit_code,
            "phases": self.phases,
            "networkRtoMinutes": self.rto_minutes,
            "counts": {s.value: self.count(s) for s in Status},
            "seconds": round(self.seconds, 3),
            "reads": self.reads,
            "findings": [f.as_dict() for f in self.findings],
        }


def _short(arm_id: str) -> str:
    parts = arm_id.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else arm_id


def table(report: Report, verbose: bool = False) -> str:
    """Failures, errors and warnings (every check with ``verbose``), the fix under each."""
    rows = [f for f in report.findings if verbose or f.status is not Status.PASS]
    order = {Status.ERROR: 0, Status.FAIL: 1, Status.WARN: 2, Status.PASS: 3}
    rows.sort(key=lambda f: order[f.status])
    width = max((len(f.side) for f in rows), default=4)
    lines = []
    for f in rows:
        detail = f" - {f.detail}" if f.detail else ""
        lines.append(f"{f.status.value.upper():5} {f.side:<{width}} {_short(f.resource)}: {f.check}{detail}")
        if f.fix:
            lines.append(f"      fix: {f.fix}")
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> str:
    return json.dumps(report.document(), indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    phases = ", ".join(f"{k}: {v}" for k, v in report.phases.items())
    out = [
        "# DR readiness",
        "",
        f"**{report.verdict}** (exit {report.exit_code}). Phases: {phases}. Network RTO if a failover started "
        f"now: **{report.rto_minutes:g} min**. {report.reads} ARM reads in {report.seconds:.2f} s.",
        "",
        "| status | side | resource | check | detail | fix |",
        "|---|---|---|---|---|---|",
    ]
    order = {Status.ERROR: 0, Status.FAIL: 1, Status.WARN: 2, Status.PASS: 3}
    for f in sorted(report.findings, key=lambda f: order[f.status]):
        out.append(
            f"| {f.status.value} | {f.side} | `{_cell(f.resource)}` | {_cell(f.check)} | {_cell(f.detail)} | "
            f"{'`' + _cell(f.fix) + '`' if f.fix else ''} |"
        )
    return "\n".join(out) + "\n"
