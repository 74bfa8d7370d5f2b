"""Work a test run does once, whichever pytest-xdist worker asks first.

A module- or session-scoped fixture (or a ``functools.cache``) runs once per worker process, so
`make unit`'s workers each redo it: rendering every runbook, indexing the Azure SDK's operations,
the default `make plan`. ``once(name, compute)`` runs ``compute`` in the first worker that asks,
under an exclusive lock in the run's shared temporary directory, and gives the others its pickled
result. This is pytest-xdist's own recipe ("Making session-scoped fixtures execute only once",
https://pytest-xdist.readthedocs.io/en/stable/how-to.html#making-session-scoped-fixtures-execute-only-once),
with ``fcntl.flock`` for its FileLock. The directory is the run's own (pytest's base temporary
directory), so nothing carries over from one run to the next; without xdist, or outside pytest,
``compute`` simply runs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")
_ROOT: list[Path] = []  # the run's shared directory, once configure() has run in this process


def configure(factory: pytest.TempPathFactory) -> None:
    """Called once per worker (tests/conftest.py): the directory the workers of this run share."""
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    root.mkdir(exist_ok=True)
    _ROOT[:] = [root]


def folder(name: str) -> Path:
    """A directory for ``name``'s files, shared by the workers of this run."""
    if not _ROOT:
        raise RuntimeError("tests.session_cache is not configured: run under pytest (tests/conftest.py)")
    path = _ROOT[0] / name
    path.mkdir(exist_ok=True)
    return path


def once(name: str, compute: Callable[[], T]) -> T:
    """``compute()``'s result, computed by one worker of this run. A failure is not kept: the next
    worker that asks computes again (and fails the same way, in its own test)."""
    if not _ROOT:
        return compute()
    data = _ROOT[0] / f"{name}.pickle"
    with (_ROOT[0] / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if data.is_file():
            value: T = pickle.loads(data.read_bytes())
            return value
        value = compute()
        partial = data.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(data)
        return value


def once_per(kind: str, key: str, compute: Callable[[], T]) -> T:
    """:func:`once` for a ``kind`` of work keyed by any string (a JSON dump of the call's
    arguments, say): each distinct ``key`` is computed once per run."""
    return once(f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}", compute)
