"""The ARM reads of a readiness check, run in parallel: at most ``per_subscription`` requests in
flight per subscription (ARM throttles per subscription and principal), azure-core retrying a
``429`` after its ``Retry-After``, and one deadline for the lot (a read still running then is
reported, never waited for).
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from erdr.arm import Clients, describe_error

_ACTION = re.compile(r"perform action '([^']+)'")


@dataclass(frozen=True)
class Read:
    key: str  # what the checks look it up by (an ARM ID, lower-case, or ID + "#what")
    subscription: str
    fetch: Callable[[Clients], Any]


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    missing: bool = False  # 404: the resource is not there
    error: str | None = None  # anything else, one line
    forbidden_action: str | None = None  # 403: the action the identity may not perform

    @property
    def ok(self) -> bool:
        return not self.missing and self.error is None


def role_for(action: str) -> str:
    """The built-in role that grants a refused read (Azure built-in roles,
    learn.microsoft.com/azure/role-based-access-control/built-in-roles)."""
    lowered = action.lower()
    if lowered.endswith(("/getlearnedroutes/action", "/routestables/action", "/routetables/action")):
        return f"Network Contributor, or a custom role with {action} (Reader has no actions)"
    if lowered.startswith("microsoft.recoveryservices/"):
        return "Site Recovery Reader"
    return "Reader"


def _outcome(exc: Exception) -> Outcome:
    if isinstance(exc, HttpResponseError) and exc.status_code == 404:
        return Outcome(missing=True)
    if isinstance(exc, HttpResponseError) and exc.status_code == 403:
        found = _ACTION.search(str(getattr(getattr(exc, "error", None), "message", "") or exc))
        return Outcome(error=describe_error(exc), forbidden_action=found[1] if found else "Microsoft.Network/read")
    if isinstance(exc, HttpResponseError | ClientAuthenticationError):
        return Outcome(error=describe_error(exc))
    return Outcome(error=f"{type(exc).__name__}: {exc}")


class Reader:
    def __init__(self, clients: Clients, per_subscription: int = 8, workers: int = 32) -> None:
        self.clients = clients
        self.per_subscription = per_subscription
        self.workers = workers
        self._gates: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _gate(self, subscription: str) -> threading.BoundedSemaphore:
        with self._lock:
            if subscription not in self._gates:
                self._gates[subscription] = threading.BoundedSemaphore(self.per_subscription)
            return self._gates[subscription]

    def _run(self, read: Read) -> Outcome:
        with self._gate(read.subscription.lower()):
            try:
                return Outcome(value=read.fetch(self.clients))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a reported outcome
                return _outcome(exc)

    def run(self, reads: Iterable[Read], deadline: float) -> dict[str, Outcome]:
        """Every read's outcome; those not finished ``deadline`` seconds from now say so. The workers
        are daemon threads: a read still hanging at the deadline neither delays the answer nor keeps
        the process alive after it (a ThreadPoolExecutor's threads are joined at exit)."""
        todo = list({r.key: r for r in reads}.values())
        out: dict[str, Outcome] = {}
        work: queue.SimpleQueue[Read] = queue.SimpleQueue()
        for r in todo:
            work.put(r)
        done = threading.Condition()

        def worker() -> None:
            while True:
                try:
                    read = work.get_nowait()
                except queue.Empty:
                    return
                result = self._run(read)
                with done:
                    out[read.key] = result
                    done.notify_all()

        for i in range(min(self.workers, len(todo))):
            threading.Thread(target=worker, name=f"erdr-check-{i}", daemon=True).start()
        end = time.monotonic() + deadline
        with done:
            while len(out) < len(todo):
                left = end - time.monotonic()
                if left <= 0:
                    break
                done.wait(left)
            final = dict(out)
        for r in todo:
            if r.key not in final:
                final[r.key] = Outcome(error=f"not answered within the {deadline:g} s deadline (--deadline)")
        return final
