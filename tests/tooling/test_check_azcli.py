"""Every `az` fix `python -m erdr.check` prints goes through the real Azure CLI's parser (tests/azcli.py):
an operator pastes it at the worst moment, so an unknown command or argument is a bug here, not there.

All of test_check's faults are injected at once, so every kind of fix the check writes is produced.
"""

from __future__ import annotations

import re

from erdr.check.readiness import Status
from tests import azcli
from tests.check_stacks import stacks
from tests.fake_arm.deployed import deploy
from tests.fake_arm.server import serve
from tests.tooling.test_check import FAULTS, run

# A fix is `az ...`, possibly followed by "; then <what else>" or "(<advice>)".
AZ = re.compile(r"(az \S.*?)(?:;\s*then\b.*|\s\(.*\))?$")


def _fix_lines() -> list[str]:
    design = stacks()
    with serve(deploy(design.prod, design.dr)) as arm:
        for inject, _ in FAULTS.values():
            if inject.__name__ != "_fault_gateway_missing":  # it hides the faults behind the gateway
                inject(design, arm)
        report = run(design, arm)
    lines: set[str] = set()
    for f in report.findings:
        if f.status is Status.FAIL and f.fix.startswith("az "):
            m = AZ.match(f.fix)
            assert m, f.fix
            lines.add(m.group(1).strip())
    return sorted(lines)


def test_every_az_fix_the_check_prints_parses_with_the_real_cli() -> None:
    lines = _fix_lines()
    # The kinds of fix the faults produce: a check that printed none would pass vacuously.
    assert len({" ".join(line.split()[:4]) for line in lines}) >= 5, lines
    bad = [f"{r.line}\n    {r.phase}: {r.error}" for r in azcli.parse(lines).results if not r.ok]
    assert not bad, "\n".join(bad)


def test_control_a_wrong_argument_in_a_fix_fails_the_parse() -> None:
    line = _fix_lines()[0].replace("--subscription", "--subscriptoin")
    (result,) = azcli.parse([line]).results
    assert not result.ok
