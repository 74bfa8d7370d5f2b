"""DR readiness, measured live and read-only: ``python -m erdr.check``.

    python -m erdr.check [--stacks-dir DIR] [--json FILE|-] [--markdown FILE] [--verbose]
        [--arm-endpoint URL] [--deadline SECONDS] [--per-subscription N]

Reads both stacks' config (``Pulumi.prod.yaml`` and ``Pulumi.dr.yaml``: each side in its own
stack's phase), resolves every identity once (model/identity.py) and asks Azure Resource Manager
whether the estate is what the design says it should be right now (erdr/check/readiness.py).
Only GETs and the ``getLearnedRoutes`` action: nothing is changed.

Exit codes: 0 ready; 1 not ready (a check failed; each failure names the resource and its fix);
2 a config or access error (bad config, a 403 naming the missing role, the deadline), when nothing
failed outright.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import yaml
from azure.core.credentials import TokenCredential

from erdr.arm import TOKEN_ENV, Clients, EndpointError, credential
from erdr.check.readiness import Stacks, disagreements, estate_of, judge, reads, rto_minutes
from erdr.check.reads import Reader
from erdr.check.report import EXIT_ERROR, Report, markdown, table, to_json
from erdr.config_keys import ConfigKeyError
from erdr.stackfiles import PROJECT_DIR, StackFileError, load_stack, stack_config
from model.config import ConfigError
from model.identity import Unresolved

LRO_POLL_S = 1.0  # seconds between polls of a long-running read that gives no Retry-After


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m erdr.check", description="DR readiness, measured live, read-only.")
    p.add_argument("--stacks-dir", type=Path, help="read Pulumi.prod.yaml and Pulumi.dr.yaml from this directory")
    p.add_argument("--json", dest="json_out", help="write the JSON report here ('-' for stdout)")
    p.add_argument("--markdown", type=Path, help="write the Markdown report here")
    p.add_argument("--verbose", action="store_true", help="list passing checks in the table too")
    p.add_argument("--arm-endpoint", help=f"ARM base URL (token from {TOKEN_ENV}); default: Azure public cloud")
    p.add_argument("--deadline", type=float, default=120.0, help="seconds for all reads (default 120)")
    p.add_argument("--per-subscription", type=int, default=8, help="most reads in flight per subscription (default 8)")
    return p


def load_stacks(stacks_dir: Path | None) -> Stacks:
    configs = []
    for stack in ("prod", "dr"):
        path = (stacks_dir or PROJECT_DIR) / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            raise StackFileError(f"stack '{stack}': no stack file {path}")
        configs.append(stack_config(load_stack(stack, stack_file=path)))
    return Stacks(*configs)


def command_clients(cred: TokenCredential, arm_endpoint: str | None, deadline: float) -> Clients:
    """The clients the command reads with (tests/check_timings.py times the check with these too)."""
    # The two long-running reads (learned routes, the circuit's route table) poll every second
    # unless ARM's Retry-After says otherwise (azure-core uses the client's polling_interval
    # when an answer carries no Retry-After, or Retry-After: 0).
    # azure-core retries throttled and transient answers (429 after Retry-After) three times; a
    # read never waits longer than the deadline for one answer, so no thread outlives it by much.
    return Clients(
        cred,
        arm_endpoint,
        retry_total=3,
        connection_timeout=10,
        read_timeout=max(1, min(60, int(deadline))),
        polling_interval=LRO_POLL_S,
    )


def check(stacks: Stacks, clients: Clients, deadline: float = 120.0, per_subscription: int = 8) -> Report:
    start = time.monotonic()
    estate = estate_of(stacks)
    wanted = reads(stacks, estate)
    found = Reader(clients, per_subscription=per_subscription).run(wanted, deadline)
    findings = judge(stacks, estate, found)
    return Report(
        findings,
        {"prod": stacks.prod.phase.value, "dr": stacks.dr.phase.value},
        rto_minutes(findings),
        time.monotonic() - start,
        len(wanted),
    )


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    environ: Mapping[str, str] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        if args.deadline <= 0 or args.per_subscription < 1:
            raise EndpointError("--deadline must be positive and --per-subscription at least 1")
        stacks = load_stacks(args.stacks_dir)
        differ = disagreements(stacks)
        if differ:
            raise EndpointError(
                "Pulumi.prod.yaml and Pulumi.dr.yaml place the estate differently (set the same "
                "project-level config in both): "
                + "; ".join(differ[:5])
                + (f"; and {len(differ) - 5} more" if len(differ) > 5 else "")
            )
        clients = command_clients(credential(args.arm_endpoint, env), args.arm_endpoint, args.deadline)
        report = check(stacks, clients, args.deadline, args.per_subscription)
    except (EndpointError, StackFileError, ConfigKeyError, ConfigError, Unresolved, yaml.YAMLError) as exc:
        stderr.write(f"error: {exc}\nnothing was checked.\n")
        return EXIT_ERROR
    stdout.write(table(report, args.verbose))
    if args.json_out == "-":
        stdout.write(to_json(report))
    elif args.json_out:
        Path(args.json_out).write_text(to_json(report))
    if args.markdown:
        args.markdown.write_text(markdown(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
