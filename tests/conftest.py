"""Shared fixtures: run the real program under Pulumi's mock runtime, once per distinct input."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from erdr.simulate import SimResult, simulate
from erdr.stackfiles import load_stack

_CACHE: dict[str, SimResult] = {}

Run = Callable[..., SimResult]


def run_stack(
    stack: str,
    *,
    preview: bool = False,
    overrides: Mapping[str, Any] | None = None,
    peer_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> SimResult:
    """Simulate ``stack`` with dotted-key overrides; identical calls share one run."""
    key = json.dumps([stack, preview, overrides or {}, peer_outputs or {}], sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE[key] = simulate(
            load_stack(stack, overrides=dict(overrides or {})), preview=preview, peer_outputs=peer_outputs
        )
    return _CACHE[key]


@pytest.fixture
def run() -> Run:
    return run_stack


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)
