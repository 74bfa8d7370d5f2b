"""The real Automation boundary, with Pulumi's own result types but no CLI behind them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from erdr.failover import AutomationError, PulumiAutomation
from erdr.stackfiles import PROJECT_DIR


class StubStack:
    """Stands in for automation.Stack: same method names, canned results, records calls."""

    def __init__(self, name: str, fail: str | None = None) -> None:
        self.name = name
        self.fail = fail
        self.calls: list[tuple[str, Any]] = []
        self.config = {"expressroute-dr:topology": "single-circuit"}

    def _maybe_fail(self, op: str) -> None:
        if op == self.fail:
            raise auto.CommandError(auto.CommandResult("", "\n".join(f"line {i}" for i in range(40)), 255))

    def get_config(self, key: str) -> auto.ConfigValue:
        if key not in self.config:
            raise auto.CommandError(auto.CommandResult("", f"configuration key '{key}' not found", 255))
        return auto.ConfigValue(self.config[key])

    def set_config(self, key: str, value: auto.ConfigValue) -> None:
        self._maybe_fail("set_config")
        self.calls.append(("set_config", (key, value.value, value.secret)))

    def preview(self, on_output: Any) -> auto.PreviewResult:
        self._maybe_fail("preview")
        on_output("previewing")
        return auto.PreviewResult("", "", {auto.OpType.CREATE: 1, auto.OpType.SAME: 7})

    def up(self, on_output: Any) -> auto.UpResult:
        self._maybe_fail("up")
        on_output("updating")
        outputs = {"phase": auto.OutputValue("failover", False), "circuitConnections": auto.OutputValue([], False)}
        return auto.UpResult("", "", summary=None, outputs=outputs)  # type: ignore[arg-type]

    def refresh(self, on_output: Any) -> None:
        self._maybe_fail("refresh")
        self.calls.append(("refresh", None))


def adapter(fail: str | None = None) -> tuple[PulumiAutomation, dict[str, StubStack], list[str]]:
    stacks: dict[str, StubStack] = {}
    said: list[str] = []

    def select(name: str, work_dir: str) -> StubStack:
        assert work_dir == str(PROJECT_DIR)
        stacks.setdefault(name, StubStack(name, fail))
        return stacks[name]

    return PulumiAutomation(say=said.append, select=select), stacks, said


def test_adapter_maps_the_automation_api() -> None:
    a, stacks, said = adapter()
    assert a.get_config("prod", "expressroute-dr:topology") == "single-circuit"
    assert a.get_config("prod", "expressroute-dr:peerStack") is None
    a.set_config("prod", "expressroute-dr:phase", "failover")
    assert stacks["prod"].calls == [("set_config", ("expressroute-dr:phase", "failover", False))]
    assert a.preview("dr") == {"create": 1, "same": 7}
    assert a.up("dr") == {"phase": "failover", "circuitConnections": []}
    a.refresh("prod")
    assert said == ["previewing", "updating"]
    assert set(stacks) == {"prod", "dr"}  # each stack selected once and reused


@pytest.mark.parametrize("op", ["set_config", "preview", "up", "refresh"])
def test_adapter_turns_command_errors_into_automation_errors(op: str) -> None:
    a, _, _ = adapter(fail=op)
    calls = {
        "set_config": lambda: a.set_config("dr", "expressroute-dr:phase", "failover"),
        "preview": lambda: a.preview("dr"),
        "up": lambda: a.up("dr"),
        "refresh": lambda: a.refresh("dr"),
    }
    with pytest.raises(AutomationError) as info:
        calls[op]()
    text = str(info.value)
    assert "--stack dr failed" in text
    assert "line 39" in text and "line 10" not in text  # only the tail of the engine output


def test_command_line_help_runs_without_the_pulumi_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "erdr.failover", "--help"],
        cwd=Path(PROJECT_DIR),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for flag in ("failover,failback,drill", "--yes", "--source-unreachable", "--stacks", "--log", "--resume"):
        assert flag in proc.stdout
