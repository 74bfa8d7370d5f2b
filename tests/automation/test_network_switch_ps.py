"""The recovery plan's action: automation/network_switch.ps1 (PowerShell 7.4) and its contract
with the Python child job (automation/network_switch.py).

PowerShell does not run here, so the script is parsed with tree-sitter-powershell (a syntax
error fails `make test`) and its contract is read from the syntax tree: the one parameter Site
Recovery fills, the JSON depth that keeps VmMap whole, the base64 hand-over (a Python runbook gets
positional arguments split at spaces), the settings it reads from the variable the dr stack
registers, a timeout and retries on every web call, the marker it shares with the Python runbook,
and a throw on every way the child can end without that marker. The context samples Microsoft
documents (tests/fixtures/recovery-plan-context/, sources named inside) go through the same
hand-over into the Python runbook, whose success and failure lines are checked against the fake
ARM endpoint.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell

from automation import network_switch as rb
from components.recovery_plan import ACTION_RUNBOOK, CHILD_VARIABLE, VARIABLE_PREFIX
from tests.automation.test_network_switch import (
    EXCLUSIVE,
    TOKEN,
    FakeArm,
    _rg_prefix,
    context,
    example_config,
    reader,
    seed,
    serve,
    variables_of,
)
from tests.helpers import RECOVERY_PLAN, run_stack

SCRIPT = ACTION_RUNBOOK.file
SAMPLES = sorted((Path(__file__).parent.parent / "fixtures" / "recovery-plan-context").glob("*.json"))


@cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def parse(source: bytes) -> tree_sitter.Tree:
    return _parser().parse(source)


def nodes(node: tree_sitter.Node, kind: str) -> Iterator[tree_sitter.Node]:
    if node.type == kind:
        yield node
    for child in node.children:
        yield from nodes(child, kind)


def text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode()


def syntax_errors(tree: tree_sitter.Tree) -> list[str]:
    found: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {text(node)[:60]!r}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


@pytest.fixture(scope="module")
def tree() -> tree_sitter.Tree:
    return parse(SCRIPT.read_bytes())


@pytest.fixture
def arm() -> Iterator[FakeArm]:
    with serve(FakeArm()) as fake:
        yield fake


# --- syntax ------------------------------------------------------------------------------------


def test_runbook_parses_as_powershell(tree: tree_sitter.Tree) -> None:
    assert syntax_errors(tree) == []


def test_the_syntax_check_can_fail() -> None:
    broken = SCRIPT.read_bytes().replace(b"while (-not ($terminal -contains $status)) {", b"while (-not (", 1)
    assert syntax_errors(parse(broken))


# --- what Site Recovery hands over ---------------------------------------------------------------


def test_one_object_parameter_named_recovery_plan_context(tree: tree_sitter.Tree) -> None:
    """Site Recovery fills [Object]$RecoveryPlanContext (the documented PowerShell parameter)."""
    (block,) = [c for c in tree.root_node.children if c.type == "param_block"]
    params = list(nodes(block, "script_parameter"))
    assert len(params) == 1
    (variable,) = [c for c in params[0].children if c.type == "variable"]
    assert text(variable) == "$RecoveryPlanContext"
    types = [text(t).lower() for t in nodes(params[0], "type_literal")]
    assert types == ["[object]"]
    assert "mandatory = $true" not in text(params[0]).lower().replace("=$", "= $")


def test_errors_stop_the_runbook(tree: tree_sitter.Tree) -> None:
    statements = [text(s) for s in nodes(tree.root_node, "assignment_expression")]
    assert "$ErrorActionPreference = 'Stop'" in statements


def _json_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_json_depth(v) for v in value), default=0)
    return 0


def test_context_json_keeps_the_documented_nesting(tree: tree_sitter.Tree) -> None:
    """ConvertTo-Json stops at depth 2 by default, which would turn VmMap's entries into type names."""
    deepest = max(_json_depth(json.loads(s.read_text())["context"]) for s in SAMPLES)
    assert deepest >= 3
    calls = [text(c) for c in nodes(tree.root_node, "command") if text(c).startswith("ConvertTo-Json")]
    assert calls
    for call in calls:
        depth = re.search(r"-Depth\s+(\d+)", call)
        assert depth and int(depth.group(1)) > deepest, call


def test_child_job_gets_the_context_as_one_space_free_argument(tree: tree_sitter.Tree) -> None:
    """Python runbooks take positional string arguments without spaces: base64 of the JSON."""
    entries = {
        text(e).split("=", 1)[0].strip(): text(e).split("=", 1)[1].strip() for e in nodes(tree.root_node, "hash_entry")
    }
    assert entries["RecoveryPlanContext"] == "$contextArgument"
    assigned = [
        text(a) for a in nodes(tree.root_node, "assignment_expression") if text(a).startswith("$contextArgument")
    ]
    assert assigned == ["$contextArgument = ConvertTo-ContextArgument -Context $RecoveryPlanContext"]
    (function,) = [f for f in nodes(tree.root_node, "function_statement") if "ConvertTo-ContextArgument" in text(f)]
    body = text(function)
    assert "return [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json))" in body
    assert "$json = $Context | ConvertTo-Json -Depth 10 -Compress" in body


def _web_calls(tree: tree_sitter.Tree) -> list[str]:
    return [
        text(c) for c in nodes(tree.root_node, "command") if text(c).split(" ", 1)[0] in ("Invoke-RestMethod", "irm")
    ]


def test_every_web_call_has_a_timeout_and_retries(tree: tree_sitter.Tree) -> None:
    """Invoke-RestMethod waits forever by default (-TimeoutSec 0) and retries nothing; a 429 is
    retried after its Retry-After when -MaximumRetryCount is set (PowerShell 7.4 reference)."""
    calls = _web_calls(tree)
    assert len(calls) == 2  # the identity endpoint and Invoke-Arm
    script = SCRIPT.read_text()
    (splat,) = [text(a) for a in nodes(tree.root_node, "assignment_expression") if text(a).startswith("$call = @{")]
    for call in calls:
        options = splat if call.strip().endswith("@call") else call
        assert re.search(r"TimeoutSec\s*(=\s*)?\$script:CallSeconds", options), call
        assert re.search(r"MaximumRetryCount\s*(=\s*)?\$script:CallRetries", options), call
        assert re.search(r"RetryIntervalSec\s*(=\s*)?\d+", options), call
    assert "Invoke-WebRequest" not in script


@pytest.mark.parametrize(
    "edit", [(b"-TimeoutSec $script:CallSeconds", b""), (b"TimeoutSec        = $script:CallSeconds", b"")]
)
def test_the_timeout_check_can_fail(edit: tuple[bytes, bytes]) -> None:
    source = SCRIPT.read_bytes()
    assert edit[0] in source
    broken = parse(source.replace(*edit, 1))
    with pytest.raises(AssertionError):
        test_every_web_call_has_a_timeout_and_retries(broken)


# --- the settings it reads and the marker it shares ----------------------------------------------


def test_reads_only_settings_the_dr_stack_registers(tree: tree_sitter.Tree) -> None:
    variable = f"{VARIABLE_PREFIX}{CHILD_VARIABLE}"
    assert f"Get-AutomationVariable -Name '{variable}'" in SCRIPT.read_text()
    read = {
        text(m).split(".", 1)[1] for m in nodes(tree.root_node, "member_access") if text(m).startswith("$settings.")
    }
    result = run_stack("dr", overrides={"recoveryPlan": RECOVERY_PLAN})
    assert result.error is None, result.error
    (registered,) = [
        r for r in result.of_type("azure-native:automation:Variable") if r.plain_inputs["variableName"] == variable
    ]
    assert read == set(json.loads(registered.plain_inputs["value"]))


def test_success_marker_is_the_python_runbooks(tree: tree_sitter.Tree) -> None:
    (assignment,) = [a for a in nodes(tree.root_node, "assignment_expression") if text(a).startswith("$SuccessMarker")]
    assert text(assignment).split("=", 1)[1].strip() == f"'{rb.SUCCESS_MARKER}'"


def _throws(node: tree_sitter.Node) -> bool:
    return any(text(f).startswith("throw") for f in nodes(node, "flow_control_statement"))


def test_throws_unless_the_child_completed_with_the_marker(tree: tree_sitter.Tree) -> None:
    """A throw fails the action, and Site Recovery stops the plan before any VM boots."""
    guarded = {text(c) for i in nodes(tree.root_node, "if_statement") if _throws(i) for c in i.children[2:3]}
    conditions = " ".join(guarded)
    assert "$status -ne 'Completed'" in conditions
    assert "$output.Contains($SuccessMarker)" in conditions
    assert "(Get-Date) -gt $deadline" in conditions
    # Nothing swallows a throw, except one unanswered status poll inside the deadline-bound loop,
    # whose catch only writes the failure and asks again.
    (loop,) = list(nodes(tree.root_node, "while_statement"))
    tries = list(nodes(tree.root_node, "try_statement"))
    assert len(tries) == 1 and text(tries[0]) in text(loop)
    assert text(tries[0]).count("Invoke-Arm") == 1 and "$status = (Invoke-Arm -Method 'Get' -Path $jobPath)" in text(
        tries[0]
    )
    (catch,) = list(nodes(tries[0], "catch_clause"))
    assert [text(c).split(" ", 1)[0] for c in nodes(catch, "command")] == ["Write-Output"]
    assert "trap" not in SCRIPT.read_text().lower()


# --- the documented contexts through the hand-over into the Python runbook -------------------------


def _variants() -> list[tuple[str, dict[str, Any], str]]:
    """Each documented sample, and its FailoverType/FailoverDirection over the documented values."""
    cases: list[tuple[str, dict[str, Any], str]] = []
    for sample in SAMPLES:
        doc = json.loads(sample.read_text())
        assert doc["source"].startswith("MicrosoftDocs/azure-docs")
        base = doc["context"]
        cases.append((sample.stem, base, rb.DRILL))
        for ftype, direction, operation in (
            ("Planned", "PrimaryToSecondary", rb.FAILOVER),
            ("Unplanned", "PrimaryToSecondary", rb.FAILOVER),
            ("Planned", "SecondaryToPrimary", rb.FAILBACK),
            ("Unplanned", "SecondaryToPrimary", rb.FAILBACK),
        ):
            cases.append(
                (
                    f"{sample.stem}-{ftype}-{direction}",
                    {**base, "FailoverType": ftype, "FailoverDirection": direction},
                    operation,
                )
            )
    return cases


@pytest.mark.parametrize(("name", "sample", "operation"), _variants(), ids=[c[0] for c in _variants()])
@pytest.mark.parametrize("form", ["base64", "name=base64", "-name base64", "json"])
def test_documented_context_reaches_the_python_runbook(
    name: str, sample: dict[str, Any], operation: str, form: str
) -> None:
    as_json = json.dumps(sample, separators=(",", ":"))  # ConvertTo-Json -Compress
    encoded = base64.b64encode(as_json.encode()).decode()  # [Convert]::ToBase64String(UTF8 bytes)
    assert encoded == rb.encode_context(sample) and " " not in encoded
    argv = {
        "base64": [encoded],
        "name=base64": [f"RecoveryPlanContext={encoded}"],
        "-name base64": ["-RecoveryPlanContext", encoded],
        "json": [as_json],
    }[form]
    received = rb.context_from_argv(argv)
    assert received == sample, "nothing of the context is lost on the way"
    ctx = rb.parse_context(received)
    assert (ctx.operation, ctx.plan) == (operation, sample["RecoveryPlanName"])


# --- success and failure lines the PowerShell parent reads ------------------------------------------


def _entrypoint(arm: FakeArm, *, refuse_target: bool) -> tuple[int, list[str]]:
    """The Python job's exit status and log lines for a planned failover of one circuit, same IPs."""
    cfg = example_config(EXCLUSIVE)
    variables = variables_of(cfg)
    seed(arm, variables, "standby")
    if refuse_target:
        arm.refusing[_rg_prefix(cfg, cfg.role)] = 403
    log: list[str] = []
    options: dict[str, Any] = {"variable": reader(variables), "token": lambda: TOKEN, "base_url": arm.url}
    code = rb.entrypoint([context("Planned")], log.append, sleep=lambda _: None, **options)
    return code, log


def test_success_prints_the_marker(arm: FakeArm) -> None:
    code, log = _entrypoint(arm, refuse_target=False)
    assert code == 0
    assert log[-1].startswith(rb.SUCCESS_MARKER)


def test_failed_switch_prints_no_marker(arm: FakeArm) -> None:
    code, log = _entrypoint(arm, refuse_target=True)
    assert code == 1
    assert not any(rb.SUCCESS_MARKER in line for line in log)
    assert log[-2].startswith("network switch FAILED: ")
    assert log[-1] == "changed in Azure: nothing"


def test_missing_context_prints_no_marker() -> None:
    log: list[str] = []
    assert rb.entrypoint(["{}"], log.append, variable=reader({})) == 1
    assert log == [
        "network switch FAILED: no RecoveryPlanContext among the runbook's arguments",
        "changed in Azure: nothing",
    ]


def test_a_context_split_at_spaces_is_refused_not_misread() -> None:
    """What the documented limit would do to a JSON argument with a space in a value: no part
    parses, so the job fails (and the parent with it) instead of running on half a context."""
    sample = {"RecoveryPlanName": "hr web", "FailoverType": "Planned", "FailoverDirection": "PrimaryToSecondary"}
    split = json.dumps(sample, separators=(",", ":")).split(" ")
    with pytest.raises(rb.SwitchError, match="no RecoveryPlanContext"):
        rb.context_from_argv(split)
    assert rb.context_from_argv([rb.encode_context(sample)]) == sample
