"""The deploy's phase guard: a deployment never changes a stack's phase.

    python -m erdr.phase_guard --stacks prod=NAME,dr=NAME [--stacks-dir DIR] [--timeout SECONDS]

Phases change only through ``python -m erdr.failover``. CI runs this right before each ``pulumi
up``, holding the stack pair's lock (:mod:`erdr.lock`), for both stacks (a failover may have moved
either; with the source region unreachable it moves dr alone). For each it reads the deployed outputs with
``pulumi stack output --json --stack NAME`` (every output as one JSON object, ``{}`` before the
first update, exit status non-zero on any failure; pulumi/pulumi
``pkg/cmd/pulumi/stack/stack_output.go``) and compares ``phase`` with the committed stack file's
(as the program reads it: ``phase`` defaults to ``standby``).

It lets the deploy go on only when the two match, or when the stack has no ``phase`` output yet
(no update has exported one: the first deployment). Anything else stops it: another phase (a
failover happened since this commit), a CLI that fails (no such stack, backend or secrets
provider unreachable, not logged in), no answer within the timeout, or output that is not a JSON
object. Reading ``phase`` out of the full output object, instead of asking the CLI for the one
property, is what tells "no such output yet" apart from every failure without parsing error text.

The committed phase is read from ``Pulumi.<short name>.yaml`` in ``--stacks-dir`` (default: the
current directory), ``acme/prod`` reading ``Pulumi.prod.yaml``.

Exit codes: 0 go on; 1 stop (the message says why and what to do); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from erdr.lock import LockError, parse_stacks
from erdr.stackfiles import StackFileError, load_stack, stack_config
from model.config import ConfigError

DEFAULT_TIMEOUT = 300.0


class GuardStop(Exception):
    """The deploy must not go on; the message says why."""


def committed_phase(stack: str, stack_file: Path | None) -> str:
    """The phase the commit gives ``stack`` (``acme/prod`` reads Pulumi.prod.yaml)."""
    short = stack.rsplit("/", 1)[-1]
    try:
        return stack_config(load_stack(short, stack_file=stack_file)).phase.value
    except (OSError, StackFileError, ConfigError) as exc:
        raise GuardStop(f"stack {stack}: cannot read the committed phase: {exc}") from None


def deployed_phase(stack: str, pulumi: str = "pulumi", timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """The stack's deployed ``phase`` output; None only when the stack has no such output yet."""
    cmd = [pulumi, "stack", "output", "--json", "--stack", stack]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GuardStop(f"stack {stack}: `{' '.join(cmd)}` gave no answer within {timeout:g} s") from None
    except OSError as exc:
        raise GuardStop(f"stack {stack}: cannot run `{' '.join(cmd)}`: {exc}") from None
    if done.returncode != 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:]) or f"exit status {done.returncode}"
        raise GuardStop(f"stack {stack}: cannot read the deployed outputs ({tail})")
    try:
        outputs = json.loads(done.stdout)
    except ValueError:
        raise GuardStop(f"stack {stack}: `{' '.join(cmd)}` printed no JSON: {done.stdout[:200]!r}") from None
    if not isinstance(outputs, dict):
        raise GuardStop(f"stack {stack}: expected the outputs as a JSON object, got {type(outputs).__name__}")
    if "phase" not in outputs:
        return None
    phase = outputs["phase"]
    if not isinstance(phase, str):
        raise GuardStop(f"stack {stack}: the deployed phase output is {phase!r}, not a phase name")
    return phase


def check(stack: str, stack_file: Path | None, pulumi: str = "pulumi", timeout: float = DEFAULT_TIMEOUT) -> str:
    """What to tell the log when the deploy may go on; raises GuardStop otherwise."""
    wanted = committed_phase(stack, stack_file)
    deployed = deployed_phase(stack, pulumi, timeout)
    if deployed is None:
        return f"stack {stack}: no phase output yet (first deployment); this commit's phase is '{wanted}'"
    if deployed != wanted:
        raise GuardStop(
            f"stack {stack} runs phase '{deployed}' but this commit says '{wanted}'. Phases change only through "
            "python -m erdr.failover (docs/operations.md): commit the Pulumi.<stack>.yaml it changed, then deploy."
        )
    return f"stack {stack}: deployed phase '{deployed}' matches this commit"


def main(argv: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    p = argparse.ArgumentParser(
        prog="python -m erdr.phase_guard", description="Stop a deploy that would change a phase."
    )
    p.add_argument("--stacks", required=True, help="prod=NAME,dr=NAME, the names pulumi takes (acme/prod)")
    p.add_argument("--stacks-dir", type=Path, default=Path(), help="where Pulumi.<stack>.yaml are (default .)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the CLI")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        stacks = parse_stacks(args.stacks)
    except LockError as exc:
        say(f"error: {exc}")
        return 2
    pulumi = shutil.which("pulumi") or "pulumi"
    stops: list[str] = []
    for stack in stacks:
        try:
            say(check(stack, args.stacks_dir / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml", pulumi, args.timeout))
        except GuardStop as exc:
            stops.append(str(exc))
    for stop in stops:
        if os.environ.get("GITHUB_ACTIONS") == "true":
            say(f"::error title=phase guard::{stop}")
        say(f"error: {stop}")
    return 1 if stops else 0


if __name__ == "__main__":
    sys.exit(main())
