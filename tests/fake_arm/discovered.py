"""Run ``python -m erdr.discover`` (in process) against the fake ARM estate, once per variant."""

from __future__ import annotations

import functools
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from erdr import discover
from erdr.stackfiles import StackSettings, load_stack
from tests import session_cache
from tests.fake_arm.estate import HUB_ID, SECONDARY_CIRCUIT_ID, Estate, build
from tests.fake_arm.server import TOKEN, FakeArm, serve


@dataclass(frozen=True)
class Run:
    code: int
    document: dict[str, Any]
    stderr: str
    stacks_dir: Path
    estate: Estate
    requests: tuple[tuple[str, int], ...]

    def settings(self, stack: str, **overrides: Any) -> StackSettings:
        return load_stack(stack, stack_file=self.stacks_dir / f"Pulumi.{stack}.yaml", overrides=overrides)

    @property
    def live(self) -> dict[str, dict[str, Any]]:
        """The estate as the mock runtime's read-only lookups see it."""
        return dict(self.estate.resources)


def run_discover(
    nva: str = "firewall",
    forbidden: tuple[str, ...] = (),
    mode: str = "adopted",
    secondary: bool = True,
    throttle: bool = True,
    extra_args: tuple[str, ...] = (),
    gateway_nsg: bool = False,
    service_subnets: bool = False,
    pe_without_table: bool = False,
) -> Run:
    estate = build(
        nva=nva,
        forbidden=forbidden,
        gateway_nsg=gateway_nsg,
        service_subnets=service_subnets,
        pe_without_table=pe_without_table,
    )
    arm = FakeArm(estate, throttle_once={HUB_ID.lower()} if throttle else set())
    out_dir = Path(tempfile.mkdtemp(prefix=f"erdr-discover-{nva}-"))
    args = ["--hub-id", HUB_ID, "--target-region", "southeastasia", "--mode", mode, "--stacks-dir", str(out_dir)]
    if secondary:
        args += ["--secondary-circuit", SECONDARY_CIRCUIT_ID]
    with serve(arm):
        stdout, stderr = io.StringIO(), io.StringIO()
        code = discover.main([*args, "--arm-endpoint", arm.url, *extra_args], stdout, stderr, {"ERDR_ARM_TOKEN": TOKEN})
    document = yaml.safe_load(stdout.getvalue()) if stdout.getvalue() else {}
    return Run(code, document or {}, stderr.getvalue(), out_dir, estate, tuple(arm.requests))


@functools.cache
def discovered(nva: str = "firewall", forbidden: tuple[str, ...] = (), mode: str = "adopted") -> Run:
    """One discover run per variant, shared by the tests that read it, whichever xdist worker
    runs them (tests/session_cache.py; its stack files stay in their own temporary directory)."""
    key = json.dumps([nva, list(forbidden), mode])
    return session_cache.once_per("discovered", key, lambda: run_discover(nva, forbidden, mode))
