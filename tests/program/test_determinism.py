"""Two runs of one config register identical resources: names, inputs, options.

Runs in one process share Python's string-hash seed, so set or dict ordering that depends on it
would look stable there; the cross-process test runs the program under two different
``PYTHONHASHSEED`` values and compares what each registered.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from erdr.simulate import SimResult, physical_name, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack, stack_config
from model import identity, naming

STACKS = ("prod", "dr")


def fingerprint(result: SimResult) -> list[dict[str, Any]]:
    """Everything the engine receives per resource, in registration-independent order."""
    return sorted(
        (
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                # The engine reads dependencies as sets; the SDK sends them in set order.
                "dependencies": sorted(r.dependencies),
                "property_dependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
                "inputs": r.inputs,
                "protect": r.protect,
                "delete_before_replace": r.delete_before_replace,
                "import_id": r.import_id,
                "custom_timeouts": r.custom_timeouts,
                "ignore_changes": r.ignore_changes,
            }
            for r in result.resources
        ),
        key=lambda r: r["urn"],
    )


@pytest.mark.parametrize("stack", STACKS)
def test_two_runs_register_identical_resources(stack: str) -> None:
    first = simulate(load_stack(stack))
    second = simulate(load_stack(stack))
    assert first.error is None and second.error is None
    assert len(first.resources) >= 15
    assert json.dumps(fingerprint(first), sort_keys=True) == json.dumps(fingerprint(second), sort_keys=True)
    assert first.outputs == second.outputs


def test_a_run_from_inside_a_running_event_loop_registers_the_same() -> None:
    """A caller that is itself asyncio code (a notebook, an async tool) gets the same run, and keeps
    its own loop: the program runs on its own loop in its own thread (erdr.simulate)."""
    plain = simulate(load_stack("prod"))

    async def caller() -> tuple[SimResult, asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        before = asyncio.get_running_loop()
        result = simulate(load_stack("prod"))
        return result, before, asyncio.get_event_loop()

    inside, before, after = asyncio.run(caller())
    assert inside.error is None, inside.error
    assert json.dumps(fingerprint(inside), sort_keys=True) == json.dumps(fingerprint(plain), sort_keys=True)
    assert after is before


# Suffixes that random or time-based naming leaves: hex runs (auto-naming), dates, epoch seconds.
_RANDOM_LOOKING = re.compile(r"[0-9a-f]{7,}|20\d\d-?\d\d-?\d\d|\d{9,}")


@pytest.mark.parametrize("stack", STACKS)
def test_names_are_derived_not_random(stack: str) -> None:
    settings = load_stack(stack)
    result = simulate(settings)
    assert result.error is None
    # Storage account names are global, so the estate seeds them with a hash of the subscription,
    # group (and region): derived, and only those, exactly as model/identity.py resolves them.
    seeded = {
        rid.name
        for _, rid in identity.resolve(stack_config(settings)).resources()
        if rid.type == naming.STORAGE_ACCOUNTS
    }
    for r in result.resources:
        assert not _RANDOM_LOOKING.search(r.name), r.name
        azure_name = physical_name(r.type, r.inputs)
        if azure_name is not None and azure_name not in seeded:
            assert not _RANDOM_LOOKING.search(azure_name), f"{r.name}: {azure_name}"
    # Every Azure resource is named explicitly, so nothing falls back to Pulumi's auto-naming.
    unnamed = [r.name for r in result.resources if r.custom and r.type.startswith("azure-native:")]
    unnamed = [n for n in unnamed if physical_name(result.by_name(n).type, result.by_name(n).inputs) is None]
    assert unnamed == []


_DUMP = """
import json, sys
from erdr.simulate import simulate
from erdr.stackfiles import load_stack
from tests.program.test_determinism import fingerprint
out = {}
for stack in sys.argv[1:]:
    result = simulate(load_stack(stack))
    assert result.error is None, result.error
    out[stack] = {"resources": fingerprint(result), "outputs": result.outputs}
print(json.dumps(out, sort_keys=True))
"""


def test_runs_in_processes_with_different_hash_seeds_agree() -> None:
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        runs.append(
            subprocess.Popen(
                [sys.executable, "-c", _DUMP, *STACKS],
                cwd=PROJECT_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    dumps = []
    for proc in runs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        dumps.append(out.strip().splitlines()[-1])
    assert json.loads(dumps[0])["dr"]["resources"], "nothing registered"
    assert dumps[0] == dumps[1]
