"""A recording stand-in for the ``pulumi`` CLI, put first on PATH by the tests (tests/fake_pulumi/
harness.py), so the failover command's real Automation API path (``PulumiAutomation``) runs
against it.

It speaks the commands and output formats the Automation API of pulumi 3.272.0 relies on
(``version``, ``stack select``, ``config`` and ``config get``/``set`` with ``--json``,
``stack output``, ``stack export``, ``stack history``, ``stack ls``, ``whoami``, ``preview`` with its
engine events over gRPC (``--event-log tcp://``), ``up --plan``, ``refresh``), keeps stacks in a
DIY ``file://`` backend laid out as the real one (``.pulumi/stacks/<project>/<stack>.json``, lock
files in ``.pulumi/locks/organization/<project>/<stack>/``), and plays the parts of an update a
test needs: each Azure operation takes ``FAKE_PULUMI_OP_SECONDS`` and is a pending operation in
the state meanwhile; the stack is locked during ``up``.

Signals as the real CLI handles them (``pkg/backend/cancellation_scope.go``): the first SIGINT
lets the operation in flight finish, starts no other, saves the state, releases the lock and
exits with "update canceled"; a second SIGINT terminates at once (the operation stays pending). With
``FAKE_PULUMI_CANCEL_SECONDS``, the operation in flight ends exactly that long after the first SIGINT.
Writing progress to a closed stdout kills it on the spot, lock and pending operation left behind,
as SIGPIPE kills a Go program writing to a broken stdout.

The "program" is the project's own model: the stack's config read from the working directory's
stack files (erdr.stackfiles), its connections from model.phases.connection_plan, the
single-circuit gate as program/ enforces it. Every invocation is appended to
``$FAKE_PULUMI_DIR/calls.jsonl``: arguments, pid, times, signals received, exit code.
"""

from __future__ import annotations

# A test run starts this ~200 times, most often for `config get`, `stack select` and `whoami`: what only
# some commands use (yaml, base64, socket, uuid) is imported where it is used (~15 ms a call).
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

PROJECT = "expressroute-dr"
VERSION = "3.272.0"
CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
SUB = "00000000-0000-0000-0000-000000000000"
PENDING = {"create": "creating", "delete": "deleting", "update": "updating"}  # apitype OperationType

HOME = Path(os.environ["FAKE_PULUMI_DIR"])
BACKEND = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
CWD = Path.cwd()

_record: dict[str, Any] = {"argv": sys.argv[1:], "pid": os.getpid(), "start": time.time(), "signals": []}


def _save_record(code: int) -> None:
    _record["end"] = time.time()
    _record["exit"] = code
    with (HOME / "calls.jsonl").open("a") as fh:
        fh.write(json.dumps(_record) + "\n")


def finish(code: int = 0) -> NoReturn:
    _save_record(code)
    sys.stdout.flush()
    sys.exit(code)


def fail(message: str, code: int = 255) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    finish(code)


def say(line: str) -> None:
    """Progress on stdout; a closed pipe kills the process at once, as SIGPIPE does the Go CLI."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError, OSError):
        _record["died"] = "broken pipe"
        _save_record(-13)
        os._exit(141)


# --- arguments ------------------------------------------------------------------------------------


def flag(args: list[str], name: str) -> str | None:
    if name in args:
        i = args.index(name)
        return args[i + 1] if i + 1 < len(args) else ""
    return None


def stack_name() -> str:
    name = flag(ARGS, "--stack")
    if not name:
        fail("no stack selected")
    return name.rsplit("/", 1)[-1]


# --- the backend ----------------------------------------------------------------------------------


def checkpoint_path(stack: str) -> Path:
    return BACKEND / ".pulumi" / "stacks" / PROJECT / f"{stack}.json"


def lock_dir(stack: str) -> Path:
    return BACKEND / ".pulumi" / "locks" / "organization" / PROJECT / stack


def load_checkpoint(stack: str) -> dict[str, Any]:
    path = checkpoint_path(stack)
    if not path.is_file():
        fail(f"no stack named '{stack}' found")
    return json.loads(path.read_text())


def save_checkpoint(stack: str, data: dict[str, Any]) -> None:
    path = checkpoint_path(stack)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def deployment(data: dict[str, Any]) -> dict[str, Any]:
    return data["checkpoint"]["latest"]


def outputs_of(data: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment(data)["resources"][0].get("outputs") or {})


def take_lock(stack: str) -> Path:
    folder = lock_dir(stack)
    held = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if held:
        lines = [
            f"the stack is currently locked by {len(held)} lock(s). Either wait for the other process(es) to end "
            "or delete the lock file with `pulumi cancel`."
        ]
        for lock in held:
            info = json.loads(lock.read_text())
            lines.append(f"  {lock}: created by {info['username']}@{info['hostname']} (pid {info['pid']})")
        fail("\n".join(lines))
    import socket
    import uuid

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    info = {
        "pid": os.getpid(),
        "username": "operator",
        "hostname": socket.gethostname(),
        "timestamp": datetime.now(UTC).isoformat(),
    }
    path.write_text(json.dumps(info))
    return path


# --- config, as the CLI merges Pulumi.yaml and Pulumi.<stack>.yaml ----------------------------------


def _plain(value: Any) -> Any:
    """A stack file value with every {secure: ...} decrypted (the fake's "cipher" is base64)."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        import base64

        return base64.b64decode(str(value["secure"]).removeprefix("v1:")).decode()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _secure(value: Any) -> bool:
    if isinstance(value, dict) and set(value) == {"secure"}:
        return True
    if isinstance(value, dict):
        return any(_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_secure(v) for v in value)
    return False


def stack_file(stack: str) -> Path:
    return CWD / f"Pulumi.{stack}.yaml"


def merged_config(stack: str) -> dict[str, Any]:
    """Fully qualified key -> raw value (secrets still {secure: ...})."""
    import yaml

    project = yaml.safe_load((CWD / "Pulumi.yaml").read_text()) or {}
    out: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(decl, dict) and "value" in decl:
            out[full] = decl["value"]
        elif isinstance(decl, dict) and "default" in decl:
            out[full] = decl["default"]
        elif not isinstance(decl, dict):
            out[full] = decl
    doc = yaml.safe_load(stack_file(stack).read_text()) if stack_file(stack).is_file() else {}
    out.update((doc or {}).get("config") or {})
    return out


def config_entry(value: Any, show_secrets: bool) -> dict[str, Any]:
    """One entry of `pulumi config --json` (pkg/cmd/pulumi/config/config.go, configValueJSON)."""
    secret = _secure(value)
    plain = _plain(value)
    text = plain if isinstance(plain, str) else json.dumps(plain)
    entry: dict[str, Any] = {"secret": secret}
    if not secret or show_secrets:
        entry["value"] = text
        if isinstance(plain, (dict, list)):
            entry["objectValue"] = plain
    return entry


def cmd_config() -> None:
    stack = stack_name()
    if len(ARGS) > 1 and ARGS[1] == "get":
        key = ARGS[2]
        merged = merged_config(stack)
        if key not in merged:
            fail(f"configuration key '{key}' not found for stack '{stack}'")
        say(json.dumps(config_entry(merged[key], show_secrets=True)))  # `config get` decrypts
        finish()
    if len(ARGS) > 1 and ARGS[1] == "set":
        import base64

        import yaml

        key = ARGS[2]
        value = ARGS[ARGS.index("--") + 1]
        path = stack_file(stack)
        doc = (yaml.safe_load(path.read_text()) if path.is_file() else None) or {}
        config = doc.setdefault("config", {})
        if "--secret" in ARGS:
            config[key] = {"secure": "v1:" + base64.b64encode(value.encode()).decode()}
        else:
            config[key] = value
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        finish()
    show = "--show-secrets" in ARGS
    say(json.dumps({k: config_entry(v, show) for k, v in sorted(merged_config(stack).items())}))
    finish()


# --- the program: what the stack's config declares ------------------------------------------------


def program_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs after an update, from its config (the project's model), or fail as the
    program would (a config error, the single-circuit gate)."""
    from erdr.stackfiles import load_stack, stack_config
    from model import identity
    from model.config import ConfigError
    from model.phases import connection_plan

    try:
        cfg = stack_config(load_stack(stack, project_dir=CWD, stack_file=stack_file(stack)))
    except ConfigError as exc:
        fail(f"running program: {exc}")
    plan = connection_plan(cfg, cfg.role, cfg.phase)
    peer = "dr" if stack == "prod" else "prod"
    held = outputs_of(load_checkpoint(peer)).get("circuitConnections") if checkpoint_path(peer).is_file() else None
    for spec in plan:
        if spec.exclusive and not cfg.source_region_unreachable and (held is None or spec.circuit_id in held):
            fail(f"stack '{stack}': connection {spec.name} must wait until peer stack '{peer}' lets go of the circuit")
    group = cfg.resource_group_name(cfg.role)
    # The IDs the program exports (program/outputs.py): the resolved estate's (model/identity.py),
    # which the failover command cross-checks before its Azure check.
    held = {c.circuit for c in plan}
    conns = identity.connections(cfg, cfg.role)
    return {
        "role": cfg.role.value,
        "phase": cfg.phase.value,
        "circuitConnections": [c.circuit_id for c in plan],
        "connectionRoutingWeights": {c.name: c.routing_weight for c in plan},
        "resourceGroupName": group,
        "gatewayId": identity.hub_gateway(cfg, cfg.role).id,
        "connectionIds": {rid.name: rid.id for circuit, rid in conns.items() if circuit in held},
    }


def changes(stack: str, before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    """(op, connection name) for every connection the update creates, deletes or updates."""
    old = before.get("connectionRoutingWeights") or {}
    new = after.get("connectionRoutingWeights") or {}
    ops = [("create", n) for n in sorted(new.keys() - old.keys())]
    ops += [("delete", n) for n in sorted(old.keys() - new.keys())]
    ops += [("update", n) for n in sorted(new.keys() & old.keys()) if new[n] != old[n]]
    return ops


def urn(stack: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{PROJECT}:network:Hub${CONNECTION}::{name}"


def conn_resource(stack: str, name: str, group: str, with_id: bool = True) -> dict[str, Any]:
    return {
        "urn": urn(stack, name),
        "type": CONNECTION,
        "id": f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Network/connections/{name}"
        if with_id
        else "",
        "custom": True,
        "inputs": {"virtualNetworkGatewayConnectionName": name, "resourceGroupName": group},
    }


# --- preview: engine events over gRPC, a saved plan -------------------------------------------------


def send_events(target: str, events: list[dict[str, Any]]) -> None:
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    address = target.removeprefix("tcp://")
    with grpc.insecure_channel(address) as channel:
        stub = events_pb2_grpc.EventsStub(channel)
        requests = (
            events_pb2.EventRequest(event=json.dumps({"sequence": i, "timestamp": int(time.time()), **e}))
            for i, e in enumerate(events)
        )
        stub.StreamEvents(requests, timeout=30)


def cmd_preview() -> None:
    stack = stack_name()
    data = load_checkpoint(stack)
    before = outputs_of(data)
    after = program_outputs(stack)
    group = after["resourceGroupName"]
    ops = changes(stack, before, after)
    events: list[dict[str, Any]] = []
    for op, name in ops:
        state = {"type": CONNECTION, "urn": urn(stack, name), "inputs": {"virtualNetworkGatewayConnectionName": name}}
        events.append(
            {
                "resourcePreEvent": {
                    "metadata": {
                        "op": op,
                        "urn": urn(stack, name),
                        "type": CONNECTION,
                        "provider": "",
                        "old": state if op != "create" else None,
                        "new": state if op != "delete" else None,
                    }
                }
            }
        )
    summary: dict[str, int] = {"same": 7}
    for op, _ in ops:
        summary[op] = summary.get(op, 0) + 1
    events.append({"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": summary}})
    plan = flag(ARGS, "--save-plan")
    if plan:
        Path(plan).write_text(json.dumps({"stack": stack, "ops": ops, "group": group}))
    log = flag(ARGS, "--event-log")
    if log:
        send_events(log, events)
    say(f"Previewing update ({stack}):")
    for op, name in ops:
        say(f"  {op} {name}")
    finish()


# --- up: operations that take time, a lock, Ctrl-C ------------------------------------------------


def sigints() -> int:
    return len(_record["signals"])


_first_sigint: list[float] = []  # time.monotonic() of the first SIGINT


def _on_sigint(signum: int, frame: object) -> None:
    _record["signals"].append([time.time(), sigints() + 1])
    if sigints() == 1:
        _first_sigint.append(time.monotonic())
        say("^C received; cancelling. If you would like to terminate immediately, press ^C again.")
        say("Note that terminating immediately may lead to orphaned resources and other inconsistencies.")
    else:
        say("^C received; terminating")
        _record["terminated"] = True
        lock = _record.get("lock")
        if lock:
            Path(lock).unlink(missing_ok=True)
        _save_record(255)
        os._exit(255)


def cmd_up() -> None:
    signal.signal(signal.SIGINT, _on_sigint)
    stack = stack_name()
    plan_file = flag(ARGS, "--plan")
    data = load_checkpoint(stack)
    before = outputs_of(data)
    after = program_outputs(stack)
    ops = changes(stack, before, after)
    if plan_file is not None:
        planned = json.loads(Path(plan_file).read_text())
        if [tuple(o) for o in planned["ops"]] != ops:
            fail("the update plan does not match the program's changes (plan constraint violated)")
    lock = take_lock(stack)
    _record["lock"] = str(lock)
    group = after["resourceGroupName"]
    seconds = float(os.environ.get("FAKE_PULUMI_OP_SECONDS", "0.2"))
    # Set: the operation in flight at the first SIGINT ends exactly this long after it (the CLI's
    # own time to a graceful stop, for erdr's measurements); unset: at its scheduled end.
    cancel = os.environ.get("FAKE_PULUMI_CANCEL_SECONDS")
    say(f"Updating ({stack}):")
    latest = deployment(data)
    done_ops: list[tuple[str, str]] = []
    for op, name in ops:
        if sigints():
            break
        latest["pending_operations"] = [
            {"resource": conn_resource(stack, name, group, with_id=op != "create"), "type": PENDING[op]}
        ]
        save_checkpoint(stack, data)
        _record.setdefault("ops", []).append([op, name, time.time()])
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # the Azure call: cannot be cut short by a graceful cancel
            if cancel is not None and _first_sigint:
                end = _first_sigint[0] + float(cancel)
            say(f"   {op} {name} ...")
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        resources = [r for r in latest["resources"] if r.get("urn") != urn(stack, name)]
        if op != "delete":
            resources.append(conn_resource(stack, name, group))
        latest["resources"] = resources
        latest["pending_operations"] = []
        done_ops.append((op, name))
        save_checkpoint(stack, data)
    if sigints():
        lock.unlink(missing_ok=True)
        _record["cancelled_after"] = done_ops
        sys.stderr.write("error: update canceled\n")
        finish(255)
    latest["resources"][0]["outputs"] = after
    save_checkpoint(stack, data)
    lock.unlink(missing_ok=True)
    _record["ops_done"] = done_ops
    say("Update complete.")
    finish()


def cmd_refresh() -> None:
    """Reads Azure (here: nothing changes) and drops pending operations as the engine does: all but
    creates, which need --clear-pending-creates or --import-pending-creates."""
    stack = stack_name()
    lock = take_lock(stack)
    say(f"Refreshing ({stack}):")
    data = load_checkpoint(stack)
    latest = deployment(data)
    keep_creates = "--clear-pending-creates" not in ARGS
    latest["pending_operations"] = [
        op for op in latest.get("pending_operations") or [] if keep_creates and op["type"] == "creating"
    ]
    save_checkpoint(stack, data)
    lock.unlink(missing_ok=True)
    finish()


def cmd_cancel() -> None:
    """The DIY backend's `pulumi cancel`: deletes every lock file of the stack
    (pkg/backend/diy/backend.go, CancelCurrentUpdate)."""
    for lock in sorted(lock_dir(stack_name()).glob("*.json")):
        lock.unlink()
    finish()


# --- read-only commands ---------------------------------------------------------------------------


def cmd_stack() -> None:
    sub = ARGS[1] if len(ARGS) > 1 else ""
    if sub == "select":
        load_checkpoint(stack_name())
        finish()
    if sub == "output":
        stack = stack_name()
        data = load_checkpoint(stack)
        outputs = outputs_of(data)
        secret = set(data.get("fakeSecretOutputs") or [])
        if "--show-secrets" not in ARGS:
            outputs = {k: "[secret]" if k in secret else v for k, v in outputs.items()}
        say(json.dumps(outputs))
        finish()
    if sub == "export":
        data = load_checkpoint(stack_name())
        say(json.dumps({"version": 3, "deployment": deployment(data)}))
        finish()
    if sub == "history":
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = {
            "kind": "update",
            "startTime": now,
            "message": "",
            "environment": {},
            "config": {},
            "result": "succeeded",
            "endTime": now,
            "version": 1,
            "resourceChanges": {"same": 7},
        }
        say(json.dumps([entry]))
        finish()
    if sub == "ls":
        stacks = sorted(p.stem for p in (BACKEND / ".pulumi" / "stacks" / PROJECT).glob("*.json"))
        say(json.dumps([{"name": s, "current": False} for s in stacks]))
        finish()
    fail(f"fake pulumi: unsupported `stack {sub}`")


def main() -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    if not ARGS:
        fail("fake pulumi: no command")
    command = ARGS[0]
    if command == "version":
        say(f"v{VERSION}")
        finish()
    if command == "whoami":
        say(json.dumps({"user": "operator", "organizations": [], "url": f"file://{BACKEND}"}))
        finish()
    handlers = {
        "config": cmd_config,
        "stack": cmd_stack,
        "preview": cmd_preview,
        "up": cmd_up,
        "refresh": cmd_refresh,
        "cancel": cmd_cancel,
    }
    if command not in handlers:
        fail(f"fake pulumi: unsupported command {' '.join(ARGS)}")
    handlers[command]()


ARGS = [a for a in sys.argv[1:] if a != "--non-interactive"]

if __name__ == "__main__":
    main()
