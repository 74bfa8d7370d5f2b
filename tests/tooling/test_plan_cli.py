"""The plan command on a user's own estate: every failure issue #15 lists, each as a test.

Translated estates, stacks that disagree, misspelt namespaces, `--set` in `pulumi config set
--path` terms and per stack, exit codes (0 clean, 1 mandatory policy, 2 config, 3 anything else),
one name per thing, the summary's columns, each advisory once, and the failover command without
the Pulumi CLI.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from erdr import diagram, plan
from erdr.simulate import SimResult
from erdr.stackfiles import PROJECT_DIR

EXAMPLES = PROJECT_DIR / "examples"
QUICK = ["--no-images", "--no-policy", "--jobs", "1", "-q"]
ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/db"
)


def _run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(args, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _pair(tmp_path: Path, prod: str, dr: str) -> Path:
    """A stacks directory holding these two example stack files."""
    folder = tmp_path / "stacks"
    folder.mkdir()
    shutil.copy(EXAMPLES / prod / "Pulumi.prod.yaml", folder)
    shutil.copy(EXAMPLES / dr / "Pulumi.dr.yaml", folder)
    return folder


# --- translated estates ---------------------------------------------------------------------------


def test_a_translated_estate_declared_only_in_the_dr_file_plans_with_both_pictures(tmp_path: Path) -> None:
    """The KeyError 'hub' of the issue: prod's picture draws the target region, whose addresses
    are in Pulumi.dr.yaml only. Both pictures now show the target's translated plan."""
    example = EXAMPLES / "one-location-new-ip"
    assert "targetAddressPlan" not in (example / "Pulumi.prod.yaml").read_text()
    out = tmp_path / "plan"
    code, stdout, stderr = _run(["--stacks-dir", str(example), "--out", str(out), "--no-policy", "--jobs", "1", "-q"])
    assert code == plan.EXIT_OK, stdout + stderr
    for picture in ("prod", "prod-failover", "dr", "dr-failover"):
        svg = (out / f"{picture}.svg").read_text()
        assert "10.20.10.0/24" in svg and "10.21.0.0/24" in svg, picture  # dr's targetAddressPlan
        assert "10.10.10.0/24" in svg and "10.1.0.0/24" in svg, picture  # the source layout
    assert (out / "dr-runbook.md").is_file()


def test_a_source_stack_alone_draws_a_translated_target_from_the_dr_file(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    args = ["--stacks-dir", str(EXAMPLES / "two-locations-new-ip"), "--stack", "prod", "--out", str(out)]
    code, stdout, stderr = _run([*args, "--compare-phase", "none", "--no-policy", "--jobs", "1", "-q"])
    assert code == plan.EXIT_OK, stdout + stderr
    assert "10.20.10.0/24" in (out / "prod.dot").read_text()


# --- stacks that disagree, misspelt namespaces -------------------------------------------------------


def test_stacks_that_disagree_are_a_config_error_naming_both_files(tmp_path: Path) -> None:
    """prod `same`, dr `translated`: no traceback from the runbook writer, but exit 2 and a line
    naming both stack files, before any program runs."""
    folder = _pair(tmp_path, "two-locations-same-ip", "two-locations-new-ip")
    out = tmp_path / "plan"
    code, stdout, stderr = _run(["--stacks-dir", str(folder), "--out", str(out), *QUICK])
    assert code == plan.EXIT_CONFIG
    assert stdout == "" and "Traceback" not in stderr
    assert (
        "stack 'dr': config expressroute-dr:addressing = 'translated': Pulumi.dr.yaml and Pulumi.prod.yaml "
        "(stack 'prod': 'same') disagree" in stderr
    )
    assert "crossConnect = true: Pulumi.dr.yaml and Pulumi.prod.yaml (stack 'prod': false) disagree" in stderr
    assert not out.exists()


def test_a_prod_copy_of_the_target_plan_that_drifted_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _run(
        [
            "--stacks-dir",
            str(EXAMPLES / "two-locations-new-ip"),
            "--stack-set",
            "prod",
            'targetAddressPlan={"hub": ["10.30.10.0/24"], "vnet1": ["10.21.0.0/24"], "vnet2": ["10.22.0.0/24"]}',
            "--out",
            str(tmp_path / "plan"),
            *QUICK,
        ]
    )
    assert code == plan.EXIT_CONFIG
    assert "stack 'prod': config expressroute-dr:targetAddressPlan.hub[0] = '10.30.10.0/24'" in stderr
    assert "targetAddressPlan belongs in Pulumi.dr.yaml only: remove it from Pulumi.prod.yaml" in stderr


def test_a_misspelt_namespace_in_a_stack_file_is_an_error_with_a_did_you_mean(tmp_path: Path) -> None:
    folder = tmp_path / "stacks"
    folder.mkdir()
    for stack in ("prod", "dr"):
        shutil.copy(EXAMPLES / "two-locations-new-ip" / f"Pulumi.{stack}.yaml", folder)
    prod = folder / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text().replace("expressroute-dr:crossConnect", "expressroutedr:crossConnect"))
    code, _, stderr = _run(["--stacks-dir", str(folder), "--out", str(tmp_path / "plan"), *QUICK])
    assert code == plan.EXIT_CONFIG
    assert (
        "stack 'prod': config expressroutedr:crossConnect = true: unknown namespace 'expressroutedr' "
        "(did you mean 'expressroute-dr:crossConnect'?" in stderr
    )


def test_a_key_without_a_namespace_is_refused_as_the_cli_refuses_it(tmp_path: Path) -> None:
    folder = tmp_path / "stacks"
    folder.mkdir()
    (folder / "Pulumi.prod.yaml").write_text("config:\n  role: source\n")
    code, _, stderr = _run(["--stacks-dir", str(folder), "--stack", "prod", "--out", str(tmp_path / "p"), *QUICK])
    assert code == plan.EXIT_CONFIG
    assert "could not parse role as a configuration key" in stderr and "Pulumi.prod.yaml" in stderr


# --- --set --------------------------------------------------------------------------------------------


def test_the_readme_single_circuit_example_names_the_phase_and_then_plans_with_stack_set(tmp_path: Path) -> None:
    """Single circuit with the same IPs needs peerStack for the failover the plan compares with:
    the message says so, in that phase, instead of naming a phase the stack file does not hold."""
    base = ["--set", "topology=single-circuit", "--override", "circuits.secondary=null", "--out", str(tmp_path / "p")]
    code, _, stderr = _run([*base, *QUICK])
    assert code == plan.EXIT_CONFIG
    assert (
        "stack 'dr' in phase 'failover' (the plan compares with it: --compare-phase; its stack file says 'standby'): "
        "config expressroute-dr:phase = 'failover': single circuit with the same IPs: set peerStack" in stderr
    )
    per_stack = [
        "--stack-set",
        "prod",
        "peerStack=organization/expressroute-dr/dr",
        "--stack-set",
        "dr",
        "peerStack=organization/expressroute-dr/prod",
    ]
    code, stdout, stderr = _run([*base, *per_stack, *QUICK])
    assert code == plan.EXIT_OK, stdout + stderr
    assert "+0 ~0 -1" in stdout and "+1 ~0 -0" in stdout  # prod drops its connection, dr creates its own


def test_set_takes_the_path_form_and_json_and_null(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    code, stdout, stderr = _run(
        [
            "--set",
            "targetAddressPlan=null",  # allowed by the docs: no plan with addressing 'same'
            "--override",  # a project key: --set would replace Pulumi.yaml's whole circuits, as the CLI does
            "circuits.primary.onPremPrefixes=[192.168.0.0/16]",
            "--stack-set",
            "dr",
            f"recoveryPlan.bootGroups[0].items[0]={ITEM}",
            "--stack",
            "dr",
            "--compare-phase",
            "none",
            "--out",
            str(out),
            *QUICK,
        ]
    )
    assert code == plan.EXIT_OK, stdout + stderr
    digest = json.loads((out / "dr.json").read_text())
    types = {s["newState"]["type"] for s in digest["steps"]}
    assert "azure-native:recoveryservices:ReplicationRecoveryPlan" in types
    assert json.loads(digest["config"]["expressroute-dr:circuits"])["primary"]["onPremPrefixes"] == ["192.168.0.0/16"]


def test_set_errors_are_config_errors(tmp_path: Path) -> None:
    for item, message in (
        (
            "dr:peerStack=x",
            "'dr' is a stack, not a config namespace; to set a key on one stack: --stack-set dr peerStack=x",
        ),
        ("topology", "config value must be in the form [key]=[value]"),
    ):
        code, _, stderr = _run(["--set", item, "--out", str(tmp_path / "p"), *QUICK])
        assert code == plan.EXIT_CONFIG and message in stderr, stderr
    # In the merged config layout.spokes has two items: index 9 is past the one an array may grow by.
    code, _, stderr = _run(["--override", "layout.spokes[9].name=x", "--out", str(tmp_path / "p"), *QUICK])
    assert code == plan.EXIT_CONFIG and "layout.spokes[9]: array index out of range" in stderr, stderr
    code, _, stderr = _run(["--stack-set", "staging", "drill.enabled=false", "--out", str(tmp_path / "p"), *QUICK])
    assert code == plan.EXIT_CONFIG and "--stack-set staging: no stack of that name in this plan (dr, prod)" in stderr


# --- exit codes ---------------------------------------------------------------------------------------


def test_a_crash_exits_three_with_one_line_and_the_traceback_in_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 means a mandatory policy failed; a crash must not look like one."""
    out = tmp_path / "plan"

    def broken(_topo: object) -> str:
        raise RuntimeError("layout engine exploded")

    monkeypatch.setattr(diagram, "to_dot", broken)
    code, stdout, stderr = _run(["--out", str(out), *QUICK])
    assert code == plan.EXIT_CRASH
    assert stdout == ""
    lines = [line for line in stderr.splitlines() if line]
    assert lines == [f"error: RuntimeError: layout engine exploded (details in {out / plan.CRASH_FILE})"]
    details = (out / plan.CRASH_FILE).read_text()
    assert "Traceback (most recent call last)" in details and "layout engine exploded" in details
    assert [p.name for p in out.iterdir()] == [plan.CRASH_FILE]


def test_a_program_failure_exits_three(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(settings: object, *, preview: bool, peer_outputs: object, **_: object) -> SimResult:
        return SimResult(stack="prod", preview=preview, error="boom: the provider said no\nsecond line")

    monkeypatch.setattr(plan, "simulate", failing)
    code, _, stderr = _run(["--out", str(tmp_path / "plan"), *QUICK])
    assert code == plan.EXIT_CRASH
    assert "the program failed: boom: the provider said no (details in" in stderr
    assert "second line" in (tmp_path / "plan" / plan.CRASH_FILE).read_text()


def test_a_policy_pack_that_cannot_run_exits_three_after_writing_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erdr import policy_client

    class Broken:
        def __init__(self, **_: object) -> None:
            raise RuntimeError("pack did not start")

    monkeypatch.setattr(policy_client, "PolicyPackClient", Broken)
    out = tmp_path / "plan"
    code, stdout, stderr = _run(
        ["--stack", "prod", "--compare-phase", "none", "--no-images", "--jobs", "1", "--out", str(out), "-q"]
    )
    assert code == plan.EXIT_CRASH
    assert "prod: [" not in stdout and "policy pack error: pack did not start" in stdout
    assert "the policy pack could not run for: prod" in stderr
    assert (out / "prod.json").is_file() and "pack did not start" in (out / plan.CRASH_FILE).read_text()


# --- the summary: names, columns, advisories ----------------------------------------------------------------


def test_summary_separates_the_first_up_from_the_phase_change_and_prints_each_advisory_once(tmp_path: Path) -> None:
    """A new stack in phase failover: the first `up` creates everything, whatever the phase change
    does; the zone-redundancy advisory holds in both phases and is printed once, with the Azure
    name of the gateway and the logical name beside it."""
    out = tmp_path / "plan"
    code, stdout, stderr = _run(
        ["--stack", "prod", "--set", "gateway.sku=Standard", "--no-images", "--jobs", "1", "--out", str(out), "-q"]
    )
    assert code == plan.EXIT_OK, stdout + stderr
    row = next(line for line in stdout.splitlines() if line.startswith("prod "))
    assert row.split()[:5] == ["prod", "source", "standby", "17", "pass"]
    findings = [line for line in stdout.splitlines() if "expressroute-gateway-zone-redundant" in line]
    assert len(findings) == 1, stdout
    assert findings[0].startswith(
        "prod: [advisory] expressroute-gateway-zone-redundant on ergw-hub-eastasia (Pulumi name hub-gateway), "
        "in standby and failover: "
    )


def test_the_runbook_uses_azure_names_only(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    code, _, _ = _run(["--out", str(out), *QUICK])
    assert code == plan.EXIT_OK
    text = (out / "dr-runbook.md").read_text()
    for logical in ("hub-secondary-connection", "hub-primary-connection", "asr-source-fabric", "hub-gateway"):
        assert logical not in text
    assert "hub-southeastasia-to-secondary: 30m" in text and "asr-a2a-eastasia" in text


# --- parallel runs --------------------------------------------------------------------------------------


def _strip_times(path: Path) -> str:
    text = path.read_text()
    if path.name.endswith(".state.json"):
        data = json.loads(text)
        data["deployment"]["manifest"]["time"] = ""
        return json.dumps(data)
    return text


def test_worker_processes_write_the_same_plan_as_one_process(tmp_path: Path) -> None:
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    args = ["--stacks-dir", str(EXAMPLES / "single-circuit-same-ip"), "--no-images", "--no-policy", "-q"]
    assert _run([*args, "--jobs", "1", "--out", str(serial)])[0] == plan.EXIT_OK
    assert _run([*args, "--jobs", "2", "--out", str(parallel)])[0] == plan.EXIT_OK
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in parallel.iterdir())
    for name in names:
        assert _strip_times(serial / name) == _strip_times(parallel / name), name


# --- the failover command without the CLI -------------------------------------------------------------------


def test_failover_without_the_pulumi_cli_says_so_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no `pulumi` on it
    assert shutil.which("pulumi", path=env["PATH"]) is None
    proc = subprocess.run(
        [sys.executable, "-m", "erdr.failover", "failover", "--log", str(tmp_path / "f.jsonl")],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith("error: the Pulumi CLI is not installed (no `pulumi` on PATH)")
    assert len(proc.stdout.strip().splitlines()) == 1


def test_failover_help_has_no_sentence_cut_off() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "erdr.failover", "--help"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    line = next(line for line in proc.stdout.splitlines() if "--source-unreachable " in line)
    assert line.rstrip().endswith(
        "failback: the failover was run with this flag, so prod is refreshed and its stale connection removed first"
    )


def test_worker_processes_only_for_a_large_layout() -> None:
    from erdr.bench.stacks import scaled_layout
    from erdr.plan import stack_config
    from erdr.stackfiles import load_stack

    small = stack_config(load_stack("dr"))
    big_settings = load_stack("dr", overrides={"layout": scaled_layout(load_stack("dr").config["layout"], 30)})
    big = stack_config(big_settings)
    assert plan.auto_jobs([small]) == 1
    assert plan.auto_jobs([small, big]) == plan.default_jobs()


def test_set_on_a_project_key_is_the_clis_whole_value_replace_and_warns(tmp_path: Path) -> None:
    """`--set circuits.primary.bandwidthMbps=2000` writes what `pulumi config set --path` writes to
    each stack file: a `circuits` without IDs, which replaces Pulumi.yaml's; the plan warns, then
    refuses the config as the program would. `--override` edits the merged value instead."""
    out = tmp_path / "p"
    code, _, stderr = _run(["--set", "circuits.primary.bandwidthMbps=2000", "--out", str(out), *QUICK])
    assert code == plan.EXIT_CONFIG
    assert "warning: stack 'prod': --set 'circuits.primary.bandwidthMbps=2000' (Pulumi.prod.yaml)" in stderr
    assert "replaces Pulumi.yaml's whole value and circuits (its secondary) no longer apply" in stderr
    assert "config expressroute-dr:circuits.primary.id = null" in stderr
    code, _, stderr = _run(
        ["--override", "circuits.primary.bandwidthMbps=2000", "--out", str(out), "--stack", "prod", *QUICK]
    )
    assert code == plan.EXIT_OK, stderr
    assert "warning" not in stderr
