"""The runbooks the real-tool tests check: the default stacks, every example, an invented estate.

The invented estate is tests/model/test_identity.py's: the hub in its own group and a connectivity
subscription, spokes in two landing-zone subscriptions, the dr stack in a third; here twice: with the
target's circuit joined by authorization key, and with a recovery plan, so the runbooks show those
variants too. Each runbook is rendered as `make plan` renders it (both stacks simulated
in every phase, erdr.dr_runbook.render), once per test run (tests/session_cache.py).
"""

from __future__ import annotations

import functools
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from erdr import dr_runbook
from erdr.plan import Options, Planner, Progress
from erdr.stackfiles import PROJECT_DIR
from model.config import Phase, Role
from policies.shared.names import NAMESPACE
from tests import azcli, session_cache
from tests.helpers import REPLICATED_ITEM
from tests.model.test_identity import ESTATE

EXAMPLES = sorted(p.name for p in (PROJECT_DIR / "examples").iterdir() if (p / "Pulumi.prod.yaml").is_file())
# What an operator substitutes for the runbook's placeholders: a circuit authorization key is a GUID
# ("az network express-route auth list", https://learn.microsoft.com/cli/azure/network/express-route/auth).
VALUES = {
    "primaryAuthorizationKey": "5f1c0d8e-3b7a-4c2e-9d41-6a0b2c3d4e5f",
    "secondaryAuthorizationKey": "7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
}


@dataclass
class Runbook:
    name: str
    text: str
    stacks: dict[Role, dr_runbook.StackRuns]
    lines: list[azcli.AzLine]


def invented_stacks(folder: Path, key: bool = False, plan: bool = False) -> Path:
    """The invented estate as stack files in ``folder``: the target's circuit joined by authorization
    key, or a recovery plan; the runbook tests render each on its own, so each one's steps are
    checked without the other's."""
    for stack in ("prod", "dr"):
        doc = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
        config = doc["config"]
        config.update({f"{NAMESPACE}:{k}": v for k, v in ESTATE.items() if k != "peerStack"})
        config[f"{NAMESPACE}:peerStack"] = f"org/{NAMESPACE}/{'dr' if stack == 'prod' else 'prod'}"
        if stack == "dr" and key:
            config[f"{NAMESPACE}:primaryAuthorizationKey"] = {"secure": "v1:c2VjcmV0"}
        if stack == "dr" and plan:
            config[f"{NAMESPACE}:recoveryPlan"] = {"bootGroups": [{"items": [REPLICATED_ITEM.format("db")]}]}
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    return folder


def render(name: str, stacks_dir: Path) -> Runbook:
    planner = Planner(Options(stacks=["prod", "dr"], stacks_dir=stacks_dir), Progress(0, io.StringIO(), quiet=True))
    planner.prepare()
    made: dict[Role, dr_runbook.StackRuns] = {}
    for p in planner.plans.values():
        runs = {phase: planner.simulate(p.name, phase, False) for phase in Phase}
        errors = {phase: r.error for phase, r in runs.items() if r.error}
        assert not errors, (name, p.name, errors)
        made[p.cfg.role] = dr_runbook.StackRuns(p.settings, p.cfg, runs)
    text = dr_runbook.render(made[Role.SOURCE], made[Role.TARGET])
    return Runbook(name, text, made, azcli.az_lines(text, VALUES))


def _render_all() -> list[Runbook]:
    with tempfile.TemporaryDirectory(prefix="erdr-invented-") as tmp:
        (Path(tmp) / "key").mkdir()
        (Path(tmp) / "plan").mkdir()
        dirs = {
            "default": PROJECT_DIR,
            **{e: PROJECT_DIR / "examples" / e for e in EXAMPLES},
            "invented": invented_stacks(Path(tmp) / "key", key=True),
            "invented-plan": invented_stacks(Path(tmp) / "plan", plan=True),
        }
        return [render(name, folder) for name, folder in dirs.items()]


@functools.cache
def rendered() -> list[Runbook]:
    """Every runbook, rendered once per test run and shared by the xdist workers (about 9 s of
    simulations that each worker used to repeat)."""
    return session_cache.once("runbooks", _render_all)
