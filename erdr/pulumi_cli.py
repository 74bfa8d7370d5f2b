"""How the failover command runs the Pulumi CLI: Ctrl-C handed on once, and what a stack's state
and backend say about an interrupted update.

**Ctrl-C.** The Automation API runs every command as a child process
(``pulumi/automation/_cmd.py``, ``PulumiCommand.run``: ``subprocess.Popen`` with pipes, in this
process's group). A Ctrl-C at the terminal then reaches both: Python raises ``KeyboardInterrupt``
in the thread waiting for the pipes, ``Popen.__exit__`` closes them and waits 0.25 s, and the CLI,
mid-update, dies of the broken pipe with the stack's lock held and its operations pending. The
CLI's own handling (``pkg/backend/cancellation_scope.go``) is the one to use: the first SIGINT
cancels gracefully (resource operations in flight finish, the state is saved, the lock released),
a second terminates at once. The Go Automation API does the same on cancellation: one SIGINT to the
CLI, then it waits (``sdk/go/auto/cmd.go``, ``cmd.Cancel`` -> ``interruptProcess``).

So :class:`InterruptibleCommand` starts the CLI in a session of its own (the terminal's Ctrl-C
reaches only this process) and :class:`Interrupts`, the SIGINT handler while the command runs,
passes the first Ctrl-C on to the CLI and keeps waiting; the second says that it terminates pulumi
and passes that on too. With no CLI running, Ctrl-C is an ordinary ``KeyboardInterrupt``.

**An interrupted update** leaves two things behind (the engine's warning,
``pkg/resource/deploy/deployment_executor.go``): pending operations in the state
(``pulumi stack export``: ``deployment.pending_operations``) and, if the CLI died, the backend's
lock. :func:`read_health` reads both; :func:`clearing_commands` says how to clear them. What
``pulumi cancel`` does depends on the backend, which is why it is printed only when no update can
be running: on a DIY backend (``file://``, ``azblob://``, ``s3://``, ``gs://``) it deletes every
lock file of the stack, whoever holds it (``pkg/backend/diy/backend.go``,
``CancelCurrentUpdate``), so a running update of another operator would go on writing state
beside the next one; on Pulumi Cloud it cancels the stack's active update on the service, whoever
runs it (``pkg/backend/httpstate/backend.go``, ``CancelCurrentUpdate``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pulumi.automation import CommandResult, PulumiCommand
from pulumi.automation.errors import create_command_error

Say = Callable[[str], None]

FIRST_CTRL_C = (
    "\n^C: passed to pulumi (pid {pid}) for its graceful cancel: it lets the Azure operations in "
    "flight finish, saves the state and releases the stack's lock. Waiting for it. A second ^C "
    "terminates pulumi at once: operations in flight are then left pending in the state (--resume "
    "lists them and how to clear them)."
)
SECOND_CTRL_C = (
    "\n^C again: terminating pulumi (pid {pid}) now, as pulumi does on a second ^C; operations in "
    "flight stay pending in the state. Waiting for it to exit."
)
LATER_CTRL_C = "\n^C: pulumi (pid {pid}) is terminating; waiting for it to exit (kill -KILL {pid} to stop it)."


@dataclass
class Interruption:
    """The Ctrl-C of one run: which CLI command it reached, when, and how the CLI ended."""

    command: str
    pid: int
    signals: int = 0
    first_at: float = 0.0  # time.monotonic() of the first Ctrl-C
    exit_code: int | None = None
    exited_at: float | None = None

    @property
    def seconds_to_stop(self) -> float | None:
        return None if self.exited_at is None else round(self.exited_at - self.first_at, 2)


class Interrupts:
    """The SIGINT handler of a run (install with :meth:`installed`, in the main thread)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # the handler runs in the main thread, maybe inside started()
        self._process: subprocess.Popen[str] | None = None
        self._command = ""
        self.say: Say = print
        self.interruption: Interruption | None = None

    @property
    def requested(self) -> bool:
        return self.interruption is not None

    def reset(self, say: Say) -> None:
        self.say = say
        self.interruption = None

    def installed(self) -> _Installed:
        return _Installed(self)

    def started(self, process: subprocess.Popen[str], command: str) -> None:
        with self._lock:
            self._process, self._command = process, command

    def finished(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            if self._process is process:
                self._process = None
            seen = self.interruption
            if seen is not None and seen.pid == process.pid and seen.exited_at is None:
                seen.exit_code, seen.exited_at = process.returncode, time.monotonic()

    def handle(self, signum: int, frame: object) -> None:
        del signum, frame
        with self._lock:
            process = self._process
            running = process is not None and process.poll() is None
            if not running or process is None:
                raise KeyboardInterrupt
            seen = self.interruption
            if seen is None or seen.pid != process.pid:
                seen = self.interruption = Interruption(self._command, process.pid, first_at=time.monotonic())
            seen.signals += 1
            count = seen.signals
        if count <= 2:
            self.say((FIRST_CTRL_C if count == 1 else SECOND_CTRL_C).format(pid=process.pid))
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                process.send_signal(signal.SIGINT)
        else:
            self.say(LATER_CTRL_C.format(pid=process.pid))


class _Installed:
    def __init__(self, interrupts: Interrupts) -> None:
        self._interrupts = interrupts
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._interrupts.handle)
        return self._interrupts

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


INTERRUPTS = Interrupts()


class InterruptibleCommand(PulumiCommand):
    """``PulumiCommand`` whose CLI runs in a session of its own and hears Ctrl-C only through
    :data:`INTERRUPTS`. ``run`` is the SDK's (``pulumi/automation/_cmd.py``, pulumi 3.272.0:
    ``--non-interactive``, ``PULUMI_AUTOMATION_API``, two threads reading the pipes) with
    ``start_new_session`` and the registration added."""

    def __init__(self, interrupts: Interrupts = INTERRUPTS) -> None:
        super().__init__()
        self._interrupts = interrupts

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Callable[[str], Any] | None = None,
        on_error: Callable[[str], Any] | None = None,
    ) -> CommandResult:
        sep_index = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:sep_index]:
            args.insert(0, "--non-interactive")
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        cmd = [self.command, *args]
        stdout_chunks: list[str] = []
        stderr_chunks: list[str] = []

        def consumer(stream: Any, callback: Callable[[str], Any] | None, chunks: list[str]) -> None:
            for line in iter(stream.readline, ""):
                stripped = line.rstrip()
                if callback:
                    callback(stripped)
                chunks.append(stripped)
            stream.close()

        shown = " ".join(a for a in args if a != "--non-interactive")
        process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            encoding="utf-8",
            start_new_session=True,
        )
        self._interrupts.started(process, f"pulumi {shown}")
        try:
            readers = [
                threading.Thread(target=consumer, args=(process.stdout, on_output, stdout_chunks), daemon=True),
                threading.Thread(target=consumer, args=(process.stderr, on_error, stderr_chunks), daemon=True),
            ]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
            code = process.wait()
        finally:
            self._interrupts.finished(process)
        result = CommandResult(stderr="\n".join(stderr_chunks), stdout="\n".join(stdout_chunks), code=code)
        if code != 0:
            raise create_command_error(result)
        return result


# --- what an interrupted update leaves behind ------------------------------------------------------


@dataclass(frozen=True)
class PendingOperation:
    """One entry of ``deployment.pending_operations`` (apitype ``OperationV2``)."""

    type: str  # creating | updating | deleting | reading | importing
    urn: str
    resource_type: str
    name: str  # the Azure name from the inputs, when the resource has one
    group: str  # its resource group, from the inputs


@dataclass(frozen=True)
class BackendLock:
    """A lock file of a DIY backend (``.pulumi/locks/<org>/<project>/<stack>/<id>.json``), or the
    service's "update in progress" of Pulumi Cloud."""

    backend: str  # diy | cloud
    where: str  # the lock file, or the stack on the service
    holder: str = ""  # user@host (pid N) since T
    pid: int | None = None
    host: str = ""
    alive: bool | None = None  # the holder runs (True), is gone (False), cannot be told (None)


@dataclass
class StackHealth:
    stack: str
    backend_url: str = ""
    pending: list[PendingOperation] = field(default_factory=list[PendingOperation])
    locks: list[BackendLock] = field(default_factory=list[BackendLock])
    unknown: list[str] = field(default_factory=list[str])  # what could not be checked, and how to

    @property
    def clear(self) -> bool:
        return not self.pending and not self.locks


def pending_operations(deployment: Mapping[str, Any]) -> list[PendingOperation]:
    out: list[PendingOperation] = []
    for op in deployment.get("pending_operations") or []:
        if not isinstance(op, Mapping):
            continue
        resource = op.get("resource") if isinstance(op.get("resource"), Mapping) else {}
        assert isinstance(resource, Mapping)
        inputs = resource.get("inputs") if isinstance(resource.get("inputs"), Mapping) else {}
        assert isinstance(inputs, Mapping)
        urn = str(resource.get("urn") or "")
        name = next((str(v) for k, v in inputs.items() if k.endswith("Name") and k != "resourceGroupName" and v), "")
        out.append(
            PendingOperation(
                str(op.get("type") or "unknown"),
                urn,
                str(resource.get("type") or ""),
                name,
                str(inputs.get("resourceGroupName") or ""),
            )
        )
    return out


def diy_locks(backend_url: str, stack_name: str, project: str) -> list[BackendLock] | None:
    """Lock files of a ``file://`` backend for the stack (None: not a local backend). The path is
    the DIY backend's ``stackLockDir``: ``.pulumi/locks/organization/<project>/<stack>``
    (``pkg/backend/diy/lock.go``; the legacy layout without projects: ``.pulumi/locks/<stack>``)."""
    parts = urlsplit(backend_url)
    if parts.scheme != "file":
        return None
    root = Path(unquote(parts.path or "")).expanduser() if parts.path else Path.home()
    short = stack_name.rsplit("/", 1)[-1]
    found: list[BackendLock] = []
    for folder in (
        root / ".pulumi" / "locks" / "organization" / project / short,
        root / ".pulumi" / "locks" / short,
    ):
        if not folder.is_dir():
            continue
        for lock in sorted(folder.glob("*.json")):
            try:
                data = json.loads(lock.read_text())
            except (OSError, ValueError):
                data = {}
            data = data if isinstance(data, dict) else {}
            pid = data.get("pid") if isinstance(data.get("pid"), int) else None
            host = str(data.get("hostname") or "")
            alive: bool | None = None
            if pid is not None and host == socket.gethostname():
                alive = _process_alive(pid)
            who = f"{data.get('username') or '?'}@{host or '?'} (pid {pid if pid is not None else '?'})"
            since = f" since {data['timestamp']}" if data.get("timestamp") else ""
            found.append(BackendLock("diy", str(lock), who + since, pid, host, alive))
    return found


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def clearing_commands(health: StackHealth, subscriptions: Mapping[str, str] | None = None) -> list[str]:
    """What to run (or check) before the stack can be updated again, one line each.
    ``subscriptions``: a connection's Azure name (lower-case) -> its subscription, from the
    resolved estate, so the ``az`` check names it (hubs live in other subscriptions)."""
    s = health.stack
    lines: list[str] = []
    for lock in health.locks:
        if lock.backend == "cloud":
            lines += [
                f"Pulumi Cloud shows an update in progress on {s}: see who runs it with "
                f"`pulumi stack history --stack {s} --page-size 1` or the stack's page in the console.",
                "  `pulumi cancel` would cancel that update whoever runs it: only if it is an update of yours "
                f"whose CLI is gone: pulumi cancel --stack {s} --yes",
            ]
        elif lock.alive is False:
            lines += [
                f"stale lock {lock.where}: held by {lock.holder}, a process that no longer runs on this host",
                f"  pulumi cancel --stack {s} --yes   (on this backend it deletes the stack's lock files)",
            ]
        elif lock.alive is True:
            lines += [
                f"lock {lock.where}: held by {lock.holder}, which is still running on this host: an update runs.",
                f"  wait for it: while kill -0 {lock.pid} 2>/dev/null; do sleep 10; done",
                "  (`pulumi cancel` would delete its lock too and let two updates write the state)",
            ]
        else:
            lines += [
                f"lock {lock.where}: held by {lock.holder} on another host: an update may be running there.",
                f"  ask them, or check on {lock.host or 'that host'}: ps -p {lock.pid if lock.pid is not None else '<pid>'}",
                f"  only once that process is gone: pulumi cancel --stack {s} --yes   (deletes every lock of the stack)",
            ]
    # An update that may still run goes first: the pending operations are its own, and a
    # refresh now would only be refused by its lock (or, without one, race it).
    running = any(lock.backend == "cloud" or lock.alive is not False for lock in health.locks)
    if running and health.pending:
        lines.append("once that update has ended (not before), what it left pending:")
    creates = [p for p in health.pending if p.type == "creating"]
    others = [p for p in health.pending if p.type != "creating"]
    for op in health.pending:
        lines.append(f"pending {op.type} of {op.urn} (interrupted: Azure may or may not have done it)")
    for op in creates:
        if op.resource_type == "azure-native:network:VirtualNetworkGatewayConnection" and op.name and op.group:
            sub = (subscriptions or {}).get(op.name.lower())
            where = f" --subscription {sub}" if sub else ""
            lines += [
                f"  check in Azure: az network vpn-connection show --resource-group {op.group} --name {op.name}{where} "
                "--query id -o tsv",
                f"  if it exists:   pulumi refresh --stack {s} --yes --import-pending-creates '{op.urn}' <that id>",
            ]
        else:
            lines.append(
                f"  check in Azure whether {op.name or op.urn.rsplit('::', 1)[-1]} exists; if it does, "
                f"pulumi refresh --stack {s} --yes --import-pending-creates '{op.urn}' <its ARM ID>"
            )
    if creates:
        lines.append(f"  if it does not: pulumi refresh --stack {s} --yes --clear-pending-creates")
    if others:
        lines.append(f"  then: pulumi refresh --stack {s} --yes   (reads Azure and drops the other pending operations)")
    return lines


def read_health(stack_name: str, project: str, run_cli: Callable[[list[str]], str]) -> StackHealth:
    """Pending operations (``pulumi stack export``, secrets left encrypted) and the backend's lock
    (``pulumi whoami --json`` names the backend: lock files of a ``file://`` backend, the
    service's ``updateInProgress`` of ``pulumi stack ls --json`` on Pulumi Cloud)."""
    health = StackHealth(stack_name)
    exported = json.loads(run_cli(["stack", "export", "--stack", stack_name]) or "{}")
    deployment = exported.get("deployment") if isinstance(exported, dict) else None
    health.pending = pending_operations(deployment if isinstance(deployment, dict) else {})
    who = json.loads(run_cli(["whoami", "--json"]) or "{}")
    url = str(who.get("url") or "") if isinstance(who, dict) else ""
    health.backend_url = url
    parts = urlsplit(url)
    short = stack_name.rsplit("/", 1)[-1]
    prefix = f".pulumi/locks/organization/{project}/{short}/"
    if parts.scheme == "file":
        health.locks = diy_locks(url, stack_name, project) or []
    elif parts.scheme in ("https", "http"):
        listed = json.loads(run_cli(["stack", "ls", "--json"]) or "[]")
        for entry in listed if isinstance(listed, list) else []:
            name = str(entry.get("name") or "") if isinstance(entry, dict) else ""
            # `stack ls` lists this project's stacks, by short or qualified name.
            if name.rsplit("/", 1)[-1] == short and entry.get("updateInProgress") is True:
                health.locks.append(BackendLock("cloud", f"{url} stack {stack_name}", holder="the service"))
    elif parts.scheme == "azblob":
        account = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("storage_account") or (
            os.environ.get("AZURE_STORAGE_ACCOUNT") or "<storage account>"
        )
        health.unknown.append(
            f"lock files of {stack_name} are blobs under {prefix} in container {parts.netloc}: "
            f"az storage blob list --auth-mode login --account-name {account} --container-name {parts.netloc} "
            f"--prefix {prefix} -o table   (pulumi up refuses a locked stack by itself)"
        )
    else:
        health.unknown.append(
            f"lock files of {stack_name} are under {prefix} in {url or 'the backend'}; "
            "pulumi up refuses a locked stack by itself"
        )
    return health
