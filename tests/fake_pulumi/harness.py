"""Sets up the fake ``pulumi`` (tests/fake_pulumi/cli.py) for a test: a launcher first on PATH, a
DIY ``file://`` backend with the two stacks deployed, a copy of the project's settings with the
stack files of an example, and the record of every CLI call."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from erdr.stackfiles import PROJECT_DIR

PROJECT = "expressroute-dr"


@dataclass
class FakePulumi:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def home(self) -> Path:
        return self.root / "cli"

    @property
    def backend(self) -> Path:
        return self.root / "backend"

    @property
    def project(self) -> Path:
        return self.root / "project"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a process driving the fake CLI needs (PATH first of all)."""
        return {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_PULUMI_DIR": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            **extra,
        }

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args],
            cwd=self.project,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def calls(self) -> list[dict[str, Any]]:
        path = self.home / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def checkpoint(self, stack: str) -> dict[str, Any]:
        return json.loads((self.backend / ".pulumi" / "stacks" / PROJECT / f"{stack}.json").read_text())

    def deployment(self, stack: str) -> dict[str, Any]:
        return self.checkpoint(stack)["checkpoint"]["latest"]

    def outputs(self, stack: str) -> dict[str, Any]:
        return self.deployment(stack)["resources"][0]["outputs"]

    def locks(self, stack: str) -> list[Path]:
        folder = self.backend / ".pulumi" / "locks" / "organization" / PROJECT / stack
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def write_lock(self, stack: str, pid: int, hostname: str) -> Path:
        folder = self.backend / ".pulumi" / "locks" / "organization" / PROJECT / stack
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "0b9c9e1e-0000-4000-8000-000000000000.json"
        path.write_text(
            json.dumps({"pid": pid, "username": "colleague", "hostname": hostname, "timestamp": "2026-01-01T00:00:00Z"})
        )
        return path


def fake_pulumi(root: Path, example: str = "single-circuit-same-ip") -> FakePulumi:
    """The fake CLI under ``root``, both stacks of ``examples/<example>`` deployed in standby."""
    fake = FakePulumi(root)
    fake.bin.mkdir(parents=True)
    launcher = fake.bin / "pulumi"
    launcher.write_text(
        f'#!/bin/sh\nPYTHONPATH="{PROJECT_DIR}" exec "{sys.executable}" -m tests.fake_pulumi.cli "$@"\n'
    )
    launcher.chmod(0o755)
    fake.project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", fake.project / "Pulumi.yaml")
    for stack in ("prod", "dr"):
        shutil.copy(PROJECT_DIR / "examples" / example / f"Pulumi.{stack}.yaml", fake.project / f"Pulumi.{stack}.yaml")
    stacks = fake.backend / ".pulumi" / "stacks" / PROJECT
    stacks.mkdir(parents=True)
    for stack in ("prod", "dr"):
        root_resource = {
            "urn": f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}",
            "type": "pulumi:pulumi:Stack",
            "custom": False,
            "outputs": {"connectionRoutingWeights": {}, "circuitConnections": []},
        }
        data = {
            "version": 3,
            "checkpoint": {
                "stack": f"organization/{PROJECT}/{stack}",
                "latest": {"manifest": {"version": "v3.272.0"}, "resources": [root_resource]},
            },
        }
        (stacks / f"{stack}.json").write_text(json.dumps(data))
    for stack in ("prod", "dr"):  # deploy: prod first, it holds the circuit in standby
        done = fake.run("up", "--yes", "--skip-preview", "--stack", stack, FAKE_PULUMI_OP_SECONDS="0")
        assert done.returncode == 0, done.stderr
    (fake.home / "calls.jsonl").unlink()
    return fake


def pending_stack(fake: FakePulumi) -> str | None:
    """The stack with an Azure operation in flight (a pending operation in its state), if any."""
    for stack in ("prod", "dr"):
        try:
            if fake.deployment(stack).get("pending_operations"):
                return stack
        except (OSError, ValueError):  # the CLI is rewriting the file
            continue
    return None


def wait_until(
    what: str, ready: Callable[[], bool], process: subprocess.Popen[str], timeout: float = 60, interval: float = 0.02
) -> None:
    """Poll ``ready`` while ``process`` (started in its own session) runs; AssertionError with its
    output if it exits first, and a SIGKILL to its group if ``timeout`` passes."""
    end = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the command exited ({process.returncode}) before {what}:\n{out}\n{err or ''}")
        if time.monotonic() > end:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(interval)
