"""Shared fixtures; the helpers they use live in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests import session_cache
from tests.helpers import Run, run_stack

# The tests that take longest, in seconds measured on 2 shared cores (issue #24), by node ID prefix
# or by a fixture they use. `make unit` runs `--dist worksteal`: each worker starts on its share in
# collection order and takes over the tail of another's when it runs dry, so these start first
# and no worker is left alone with a long one at the end. The figures only order; nothing asserts
# them.
SLOW_FIXTURES = {"clone": 8.0, "default_plan": 30.0}  # clone: the pack's venv from the wheelhouse
SLOW_TESTS = {
    "tests/tooling/test_docs.py::test_documented_command_runs_in_a_fresh_clone[python -m erdr.bench": 80.0,
    "tests/tooling/test_docs.py::test_documented_command_runs_in_a_fresh_clone": 10.0,
    "tests/tooling/test_plan_examples.py::test_a_hundred_spokes_draw_in_a_grid": 12.0,
    "tests/tooling/test_plan_cli.py::test_worker_processes_write_the_same_plan_as_one_process": 10.0,
}


def expected_seconds(item: pytest.Item) -> float:
    by_id = [s for prefix, s in SLOW_TESTS.items() if item.nodeid.startswith(prefix)]
    by_fixture = [s for name, s in SLOW_FIXTURES.items() if name in getattr(item, "fixturenames", ())]
    return max([*by_id, *by_fixture], default=0.0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest first, longest before shorter; the rest keep their order (a stable sort).

    Every xdist worker collects the same list and sorts it the same way, as xdist requires."""
    items.sort(key=lambda item: -expected_seconds(item))


@pytest.fixture(scope="session", autouse=True)
def _shared_by_the_workers(tmp_path_factory: pytest.TempPathFactory) -> None:
    session_cache.configure(tmp_path_factory)


@pytest.fixture
def run() -> Run:
    return run_stack


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)
