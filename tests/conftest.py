"""Shared fixtures; the helpers they use live in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import Run, run_stack


@pytest.fixture
def run() -> Run:
    return run_stack


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)
