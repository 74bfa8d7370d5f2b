"""The failover command itself (``python -m erdr.failover``, a subprocess) under the faults of
issue #22, through its stand-ins: the recording fake ``pulumi`` first on PATH
(tests/fake_pulumi/), a faulty fake ARM on 127.0.0.1 (tests/fake_arm/faulty.py) and real signals
to the command's process group, as a terminal's Ctrl-C sends them. tests/fault_timings.py drives
the same command to measure these faults; these tests assert their outcome.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr.stackfiles import PROJECT_DIR
from tests.fake_arm.faulty import TOKEN, FaultyArm, serve
from tests.fake_pulumi.harness import FakePulumi, fake_pulumi, pending_stack, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT as on a terminal")


@pytest.fixture
def arm() -> Iterator[FaultyArm]:
    """An ARM that says every connection is gone (ARM's own 404 ResourceNotFound)."""
    with serve(FaultyArm(default="gone")) as server:
        yield server


@pytest.fixture
def fake(tmp_path: Path) -> FakePulumi:
    return fake_pulumi(tmp_path / "fake")


def _argv(fake: FakePulumi, log: Path, arm_url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "erdr.failover",
        "failover",
        "--yes",
        "--project-dir",
        str(fake.project),
        "--log",
        str(log),
        "--arm-endpoint",
        arm_url,
        *extra,
    ]


def _start(fake: FakePulumi, log: Path, arm_url: str, *extra: str, **env: str) -> subprocess.Popen[str]:
    """The command as an operator starts it: its own process group (the terminal's foreground
    group), the stand-in pulumi first on PATH."""
    return subprocess.Popen(
        _argv(fake, log, arm_url, *extra),
        cwd=PROJECT_DIR,
        env=fake.env(PYTHONPATH=str(PROJECT_DIR), ERDR_ARM_TOKEN=TOKEN, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"the command did not stop within {timeout:g} s:\n{out[-3000:]}\n{err[-3000:]}") from None


def _journal(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def _command(call: dict[str, Any]) -> str:
    """The CLI command of a recorded call (``up``, ``preview``, ``cancel``, ...)."""
    return next((a for a in call["argv"] if not a.startswith("-")), "")


def _calls(fake: FakePulumi, command: str, stack: str | None = None) -> list[dict[str, Any]]:
    return [c for c in fake.calls() if _command(c) == command and (stack is None or stack in c["argv"])]


def _first_up(journal: list[dict[str, Any]], stack: str) -> int:
    """The number of the plan's first step that updates ``stack``."""
    plan = next(e for e in journal if e["event"] == "plan")
    return next(s["step"] for s in plan["steps"] if s["action"] == "up" and s["stack"] == stack)


# --- 1. Ctrl-C during `pulumi up` ------------------------------------------------------------------


def test_ctrl_c_during_up_is_handed_to_the_cli_once_and_waited_for(
    tmp_path: Path, fake: FakePulumi, arm: FaultyArm
) -> None:
    """The first Ctrl-C reaches the CLI exactly once (its graceful cancel); the command waits for it
    to save the state and release its lock, exits 130 without a traceback, and the journal and the
    state file say which step was interrupted and where to resume."""
    log = tmp_path / "run" / "failover.jsonl"
    process = _start(fake, log, arm.url, FAKE_PULUMI_OP_SECONDS="120", FAKE_PULUMI_CANCEL_SECONDS="1")
    wait_until("an Azure operation in flight", lambda: pending_stack(fake) is not None, process)
    stack = pending_stack(fake)
    assert stack is not None
    time.sleep(0.3)  # inside the operation, as a person's Ctrl-C would be
    os.killpg(process.pid, signal.SIGINT)
    out, err = _finish(process, 60)

    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err, out + err
    up = _calls(fake, "up", stack)
    assert len(up) == 1, up
    cli = up[0]
    assert len(cli["signals"]) == 1, cli  # exactly one SIGINT: the graceful cancel
    assert not cli.get("terminated") and not cli.get("died"), cli  # it exited by itself, no broken pipe
    assert cli["exit"] == 255 and cli["cancelled_after"], cli  # "update canceled" after the op in flight
    assert cli["end"] - cli["signals"][0][0] >= 0.9, cli  # the command waited for the CLI's own stop
    # The CLI finished its operation and cleaned up: nothing left behind.
    assert not fake.deployment(stack).get("pending_operations") and not fake.locks(stack)

    journal = _journal(log)
    number = _first_up(journal, stack)
    interrupted = [e for e in journal if e["event"] == "interrupted"]
    assert len(interrupted) == 1, journal
    entry = interrupted[0]
    assert entry["stack"] == stack and entry["step"] == number and entry["resume_from"] == number, entry
    assert entry["signals"] == 1 and entry["graceful"] is True and entry["cli_exit_code"] == 255, entry
    assert entry["during"].startswith("pulumi up") and not entry["step_completed"], entry
    state = json.loads((log.parent / "failover.state.json").read_text())
    assert state["status"] == "interrupted" and state["failed_step"] == number, state
    assert state["completed"] == number - 1, state
    assert f"INTERRUPTED at step {number}/" in out and "--resume" in out, out


def test_resume_after_a_forced_stop_lists_what_was_left_and_how_to_clear_it(
    tmp_path: Path, fake: FakePulumi, arm: FaultyArm
) -> None:
    """A second Ctrl-C terminates the CLI mid-operation, which leaves a pending operation in the
    state. ``--resume`` then refuses to update that stack, lists the pending operation and a lock of
    an update still running, with the commands that clear them, and never says `pulumi cancel`
    while that update runs (on a DIY backend it deletes every lock, the running update's too)."""
    log = tmp_path / "run" / "failover.jsonl"
    process = _start(fake, log, arm.url, FAKE_PULUMI_OP_SECONDS="120", FAKE_PULUMI_CANCEL_SECONDS="60")
    wait_until("an Azure operation in flight", lambda: pending_stack(fake) is not None, process)
    stack = pending_stack(fake)
    assert stack is not None
    os.killpg(process.pid, signal.SIGINT)  # the CLI waits 60 s for its operation in flight ...
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)  # ... too long: terminate it
    out, err = _finish(process, 60)
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err, out + err
    cli = _calls(fake, "up")[-1]
    assert len(cli["signals"]) == 2 and cli.get("terminated"), cli
    pending = fake.deployment(stack)["pending_operations"]
    assert len(pending) == 1, pending
    urn = pending[0]["resource"]["urn"]

    # Someone's update runs on the stack meanwhile: its lock, held by a live process on this host.
    colleague = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        fake.write_lock(stack, colleague.pid, socket.gethostname())
        calls_before = len(fake.calls())
        code, text = _resume(fake, log, arm.url)
    finally:
        colleague.kill()
        colleague.wait()
    assert code == 2, text
    assert "Traceback" not in text, text
    assert f"pending {pending[0]['type']} of {urn}" in text, text
    assert f"pulumi refresh --stack {stack} --yes" in text, text
    assert "held by colleague@" in text and f"kill -0 {colleague.pid}" in text, text
    assert "pulumi cancel --stack" not in text, text  # the colleague's update runs: never cancel it
    later = fake.calls()[calls_before:]
    assert not [c for c in later if _command(c) in ("up", "preview", "cancel", "refresh")], later
    assert fake.deployment(stack)["pending_operations"] == pending and fake.locks(stack)

    # Once the colleague's process is gone its lock is stale, and only then is `pulumi cancel` the fix.
    code, text = _resume(fake, log, arm.url)
    assert code == 2 and "stale lock" in text and f"pulumi cancel --stack {stack} --yes" in text, text
    assert f"pending {pending[0]['type']} of {urn}" in text, text


def _resume(fake: FakePulumi, log: Path, arm_url: str) -> tuple[int, str]:
    done = subprocess.run(
        _argv(fake, log, arm_url, "--resume"),
        cwd=PROJECT_DIR,
        env=fake.env(PYTHONPATH=str(PROJECT_DIR), ERDR_ARM_TOKEN=TOKEN, FAKE_PULUMI_OP_SECONDS="0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


# --- 2. an ARM that never answers ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_an_arm_that_never_answers_stops_the_failover_fail_closed_within_the_deadline(
    tmp_path: Path, fake: FakePulumi, mode: str
) -> None:
    """Single circuit, same IPs: before dr connects, the command reads prod's connection from ARM.
    An ARM that accepts the request and never answers (``hang``), or trickles a byte a second so
    no socket read times out (``drip``), stops the step at the check's deadline: exit 1, dr not
    updated, nothing connected; the journal and the state say which step failed and why."""
    deadline = 2.0
    log = tmp_path / "run" / "failover.jsonl"
    with serve(FaultyArm(default=mode, drip_seconds=0.2)) as arm:
        process = _start(fake, log, arm.url, "--azure-check-deadline", f"{deadline:g}", FAKE_PULUMI_OP_SECONDS="0.05")
        wait_until("the connection check's request", lambda: bool(arm.requests), process)
        first = arm.requests[0].at
        out, err = _finish(process, deadline + 30)
        gave_up = time.monotonic() - first
        asked = [r.path for r in arm.requests]

    text = out + err
    assert process.returncode == 1, text
    assert "Traceback" not in text, text
    assert "cannot confirm in Azure that" in text and f"{deadline:g} s deadline" in text, text
    assert gave_up < deadline + 5, f"gave up {gave_up:.1f} s after the first request (deadline {deadline:g} s)"
    assert asked and all(p.lower().endswith("/connections/hub-eastasia-to-primary") for p in asked), asked
    # Fail closed: dr was neither previewed nor updated, and holds no connection.
    assert not _calls(fake, "up", "dr") and not _calls(fake, "preview", "dr"), fake.calls()
    assert fake.outputs("dr")["circuitConnections"] == [] and not fake.deployment("dr").get("pending_operations")
    journal = _journal(log)
    failed = [e for e in journal if e["event"] == "step-failed"]
    assert len(failed) == 1 and failed[0]["step"] == _first_up(journal, "dr"), journal
    assert not [e for e in journal if e["event"] == "azure-check" and e.get("state") == "absent"], journal
    state = json.loads((log.parent / "failover.state.json").read_text())
    assert state["status"] == "failed" and state["failed_step"] == failed[0]["step"], state


# --- 3. two operators -----------------------------------------------------------------------------


def test_a_second_operator_is_refused_naming_the_holder_and_never_told_to_cancel(
    tmp_path: Path, fake: FakePulumi, arm: FaultyArm
) -> None:
    """While one operator's failover runs (mid ``pulumi up``, holding the stack pair's lock), a
    second one, from another working directory (its own log), is refused before it runs any Pulumi
    command: exit 2, naming the first run as the holder, and never told to `pulumi cancel` (which
    would delete the first one's lock and let two updates write the state). The first run is not
    disturbed and stops cleanly on its own Ctrl-C."""
    first_log = tmp_path / "alice" / "failover.jsonl"
    first = _start(fake, first_log, arm.url, FAKE_PULUMI_OP_SECONDS="120", FAKE_PULUMI_CANCEL_SECONDS="0.2")
    try:
        wait_until("the first run's update", lambda: pending_stack(fake) is not None, first)
        second_home = tmp_path / "bob-cli"  # the second operator's CLI calls are recorded apart
        second = subprocess.run(
            _argv(fake, tmp_path / "bob" / "failover.jsonl", arm.url),
            cwd=PROJECT_DIR,
            env=fake.env(PYTHONPATH=str(PROJECT_DIR), ERDR_ARM_TOKEN=TOKEN, FAKE_PULUMI_DIR=str(second_home)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert first.poll() is None, "the first run stopped while the second was refused"
    finally:
        os.killpg(first.pid, signal.SIGINT)
        out, err = _finish(first, 60)

    text = second.stdout + second.stderr
    assert second.returncode == 2, text
    assert "Traceback" not in text, text
    assert "nothing was started" in text and "the stack pair is locked by" in text, text
    assert f"(pid {first.pid}) for erdr.failover failover" in text, text  # the holder, by its process
    assert "pulumi cancel" not in text, text
    second_calls = second_home / "calls.jsonl"
    assert not second_calls.exists(), second_calls.read_text()  # no Pulumi command at all
    assert not (tmp_path / "bob" / "failover.jsonl").exists()  # and nothing journaled as started
    # The first run went on undisturbed: its update was cancelled only by its own operator's Ctrl-C.
    assert first.returncode == 130, out + err
    assert not _calls(fake, "cancel"), fake.calls()
    up = _calls(fake, "up")
    assert len(up) == 1 and len(up[0]["signals"]) == 1 and not up[0].get("terminated"), up


# --- 4. secrets under a misspelt or nested key -------------------------------------------------------

SECRET = "s3cr3t-AuthKey-7f4e9b21"


def _secure(value: str) -> dict[str, str]:
    """A ``{secure: ...}`` stack-file value as the stand-in CLI encrypts it (base64)."""
    return {"secure": "v1:" + base64.b64encode(value.encode()).decode()}


@pytest.mark.parametrize(
    "where",
    ["secondaryAuthorisationKey", "circuits.secondary.authorizationKey"],
)
def test_a_secret_under_a_misspelt_or_nested_key_is_never_printed_or_journaled(
    tmp_path: Path, fake: FakePulumi, arm: FaultyArm, where: str
) -> None:
    """A secret set with --secret under a key the program does not know as a secret (a typo, or
    nested inside the circuits object) stops the step with the key named and the value withheld;
    the value appears nowhere: not on stdout or stderr, not in the journal, not in the state file."""
    path = fake.project / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    config = doc["config"]
    if where == "secondaryAuthorisationKey":
        config[f"expressroute-dr:{where}"] = _secure(SECRET)
    else:
        config["expressroute-dr:circuits"]["secondary"] = {"authorizationKey": _secure(SECRET)}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    log = tmp_path / "run" / "failover.jsonl"
    process = _start(fake, log, arm.url, FAKE_PULUMI_OP_SECONDS="0.05")
    out, err = _finish(process, 60)

    text = out + err
    assert process.returncode in (1, 2), text
    assert "Traceback" not in text, text
    files = {"stdout": out, "stderr": err}
    for written in sorted(log.parent.rglob("*")):
        if written.is_file():
            files[str(written)] = written.read_text(errors="replace")
    assert str(log) in files and str(log.parent / "failover.state.json") in files, sorted(files)
    leaked = [name for name, content in files.items() if SECRET in content]
    assert not leaked, f"the secret appears in {leaked}"
    key = "expressroute-dr:" + where.partition(".")[0]
    assert key in text and "holds a secret" in text and "Its value is not shown" in text, text
    assert not _calls(fake, "up"), fake.calls()  # nothing was changed


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "a positive number"),
        ("-1", "a positive number"),
        ("nan", "a positive number"),
        ("inf", "a positive number"),
        ("soon", "a number"),
    ],
)
def test_the_check_deadline_must_be_a_positive_number_of_seconds(
    value: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from erdr import failover

    with pytest.raises(SystemExit) as exc:
        failover._parser().parse_args(["failover", "--azure-check-deadline", value])  # pyright: ignore[reportPrivateUsage]
    assert exc.value.code == 2
    assert f"--azure-check-deadline: expected {why} of seconds, got {value!r}" in capsys.readouterr().err
