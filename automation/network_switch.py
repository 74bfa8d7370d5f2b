"""Site Recovery recovery-plan step: the ExpressRoute network switch for this project's topology.

Runs in Azure Automation as the child job of the recovery plan's action: Site Recovery starts the
PowerShell runbook automation/network_switch.ps1 before the first boot group, and that runbook
starts this one (runbook type Python, the Automation account's Python 3.10 runtime environment,
standard library only) with the recovery plan context as one positional argument, base64 of its
JSON (Python runbooks take positional string arguments without spaces), and waits for it. It
reads:

- the recovery plan context Site Recovery passes (FailoverType, FailoverDirection, ...), and
- the Automation variables the Pulumi program sets (``erdr-*``): which connections each region's
  hub holds in each phase, the order in which the hubs change, the gateway IDs, regions, resource
  tags, routing weights, drill VNets, retries and deadlines, and the one variable the operator
  sets: ``erdr-source-outage-declared``.

Nothing about the network is hard-coded here. The order of operations is model/phases.py's, read
from erdr-role-order (tests/automation/ prove it), and the end state of every connection is exactly what the
Pulumi stacks declare in the new phase, so the stacks can be brought in line without drift
(docs/recovery-plan.md).

- single circuit, same IPs: remove the source connection first, then create the target connection;
- otherwise: shift routing weights (target preferred first on failover, source first on
  failback), creating or removing the connections a phase adds or drops;
- test failover: nothing in production is touched; only the drill VNets are checked, and any
  peering found on them is removed so the drill stays isolated.

Fails closed. Before it writes anything it reads every connection it will touch, in both regions.
A region that does not answer (timeouts, refused connections, 5xx after the bounded retries)
stops the step with nothing changed, with one exception: an Unplanned failover whose operator
declared the source region's outage (the Automation variable erdr-source-outage-declared set to
the source region's name) carries on with the target alone and says so. Throttling (429) is not
an outage: the runbook waits as long as Retry-After says, within its deadlines, and stops if that
does not fit. Every call has a deadline, every connection operation has one, and so has the whole
switch (erdr-timeouts); every outcome, retry and wait is written to the job output.

Every step reads before it writes, so a rerun after a partial run only does what is left. The
last line of a successful run is SUCCESS_MARKER; the PowerShell parent throws without it, so
Site Recovery stops the plan whatever exit status the Python sandbox reports.

Keep this file compatible with Python 3.10 (the Automation runtime environment it runs in).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ARM_ENDPOINT = "https://management.azure.com"
ARM_RESOURCE = "https://management.azure.com/"
NETWORK_API_VERSION = "2024-05-01"  # the version pulumi-azure-native v3 uses for connections
VARIABLE_PREFIX = "erdr-"
SOURCE, TARGET = "source", "target"
FAILOVER, FAILBACK, DRILL = "failover", "failback", "drill"
PLANNED, UNPLANNED, TEST = "planned", "unplanned", "test"
# Retried a bounded number of times, then the region counts as not answering. 429 is not among
# them: ARM is answering, it asks the caller to wait (Retry-After), so it is never an outage.
TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504})
THROTTLED_STATUS = 429
# The variable the operator sets, to the source region's name, to declare its outage.
OUTAGE_VARIABLE = "source-outage-declared"
# The PowerShell parent (network_switch.ps1, $SuccessMarker) looks for this line in the job output.
SUCCESS_MARKER = "NETWORK SWITCH SUCCEEDED"


class SwitchError(Exception):
    """The network step could not reach its end state; the recovery plan step fails with it."""


class ArmError(SwitchError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]}")


class Unreachable(SwitchError):
    """Every bounded retry failed without an answer: timeouts, refused or reset connections, 5xx."""


class Throttled(SwitchError):
    """ARM kept answering 429 and its Retry-After did not fit in the deadline: reachable, not down."""


class DeadlineExceeded(SwitchError):
    """A deadline (of a connection operation, or of the whole switch) passed."""


# --- ARM over HTTPS -------------------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    delay_seconds: float = 10.0
    poll_attempts: int = 180  # long-running operations: polls of delay_seconds (30 minutes at 10 s)


@dataclass(frozen=True)
class Timeouts:
    """Deadlines (erdr-timeouts): one HTTP call, one connection operation (read, write, poll until
    done), and the whole switch, which ends before the PowerShell parent stops waiting for it."""

    call_seconds: float = 30.0
    operation_seconds: float = 1800.0
    switch_seconds: float = 3900.0

    def variable(self) -> dict[str, float]:
        """As the erdr-timeouts variable holds it (components/recovery_plan.py sets it)."""
        return {
            "callSeconds": self.call_seconds,
            "operationSeconds": self.operation_seconds,
            "switchSeconds": self.switch_seconds,
        }


DEFAULT_TIMEOUTS = Timeouts()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """ARM's Retry-After: delta-seconds, or an HTTP date (RFC 9110 10.2.3); None if absent or bad."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class ArmClient:
    """Minimal ARM client: JSON in and out, bounded retries, 429 waits, deadlines."""

    token: Callable[[], str]
    base_url: str = ARM_ENDPOINT
    retry: Retry = field(default_factory=Retry)
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    # (absolute clock time, what it bounds), innermost last.
    _deadlines: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]], init=False)

    @property
    def timeout_seconds(self) -> float:
        return self.timeouts.call_seconds

    @contextmanager
    def deadline(self, seconds: float, what: str) -> Iterator[None]:
        """Bound everything inside by ``seconds`` (and by any enclosing deadline)."""
        self._deadlines.append((self.clock() + seconds, what))
        try:
            yield
        finally:
            self._deadlines.pop()

    def _remaining(self) -> tuple[float, str]:
        if not self._deadlines:
            return float("inf"), ""
        end, what = min(self._deadlines)
        return end - self.clock(), what

    def _wait(self, seconds: float, why: str) -> None:
        left, what = self._remaining()
        if seconds >= left:
            raise DeadlineExceeded(f"{why}; waiting {seconds:g}s more would pass the deadline of {what}")
        self.sleep(seconds)

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        sep = "&" if "?" in path else "?"
        url = f"{self.base_url}{path}{sep}api-version={NETWORK_API_VERSION}"
        data = json.dumps(body).encode() if body is not None else None
        failures = 0
        last = ""
        while True:
            left, what = self._remaining()
            if left <= 0:
                raise DeadlineExceeded(f"{method} {path}: the deadline of {what} passed (last: {last or 'none'})")
            call_seconds = min(self.timeouts.call_seconds, left)
            try:
                status, text = self._call(method, url, data, call_seconds)
                return status, _json_or_text(text or "null")
            except urllib.error.HTTPError as exc:
                text = _read_error(exc)
                if exc.code == THROTTLED_STATUS:
                    wait = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
                    wait = max(1.0, self.retry.delay_seconds if wait is None else wait)
                    why = f"{method} {path}: HTTP 429 (throttled), Retry-After {wait:g}s"
                    self.log(f"throttled: {why}; waiting as ARM asks")
                    try:
                        self._wait(wait, why)
                    except DeadlineExceeded as exc2:
                        raise Throttled(f"ARM is throttling, not down: {exc2}") from None
                    continue
                if exc.code not in TRANSIENT_STATUS:
                    return exc.code, _json_or_text(text)
                last = f"HTTP {exc.code}"
            except OSError as exc:  # URLError, refused, reset, timeouts (TimeoutError is an OSError)
                last = str(getattr(exc, "reason", exc)) or type(exc).__name__
            failures += 1
            if failures >= self.retry.attempts:
                raise Unreachable(f"{method} {path}: no answer after {failures} attempts (last: {last})")
            self.log(
                f"retry {failures}/{self.retry.attempts - 1}: {method} {path}: {last}; "
                f"again in {self.retry.delay_seconds:g}s"
            )
            self._wait(self.retry.delay_seconds, f"{method} {path}: {last}")

    def _call(self, method: str, url: str, data: bytes | None, seconds: float) -> tuple[int, str]:
        """One HTTP exchange within ``seconds`` (connect, each read, and the whole body)."""
        end = self.clock() + seconds
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token()}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=seconds) as resp:
            chunks: list[bytes] = []
            while chunk := resp.read(65536):
                chunks.append(chunk)
                if self.clock() > end:
                    raise TimeoutError(f"answer not read within {seconds:g}s")
            return resp.status, b"".join(chunks).decode()

    def get(self, path: str) -> dict[str, Any] | None:
        status, body = self.request("GET", path)
        if status == 404:
            return None
        if status >= 300:
            raise ArmError("GET", path, status, json.dumps(body))
        return body

    def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        status, answer = self.request("PUT", path, body)
        if status >= 300:
            raise ArmError("PUT", path, status, json.dumps(answer))
        return answer

    def delete(self, path: str) -> None:
        status, answer = self.request("DELETE", path)
        if status >= 300 and status != 404:
            raise ArmError("DELETE", path, status, json.dumps(answer))

    def wait_succeeded(self, path: str) -> dict[str, Any]:
        """Poll the resource itself (needs only read on it, unlike the async-operation URL)."""
        for _ in range(self.retry.poll_attempts):
            body = self.get(path)
            state = (body or {}).get("properties", {}).get("provisioningState")
            if state == "Succeeded":
                return body or {}
            if state in ("Failed", "Canceled"):
                raise SwitchError(f"{path}: provisioningState {state}")
            self._wait(self.retry.delay_seconds, f"{path}: provisioningState {state}")
        raise SwitchError(f"{path}: not Succeeded after {self.retry.poll_attempts} polls")

    def wait_gone(self, path: str) -> None:
        for _ in range(self.retry.poll_attempts):
            if self.get(path) is None:
                return
            self._wait(self.retry.delay_seconds, f"{path}: still present")
        raise SwitchError(f"{path}: still present after {self.retry.poll_attempts} polls")


def _read_error(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode(errors="replace")
    except OSError:
        return ""


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def managed_identity_token(env: Mapping[str, str] | None = None, timeout_seconds: float = 30.0) -> Callable[[], str]:
    """Token source for the Automation account's system-assigned identity (cached until expiry)."""
    env = os.environ if env is None else env
    cache: dict[str, Any] = {}

    def token() -> str:
        if cache and cache["expires"] - 300 > time.time():
            return cache["token"]
        endpoint, secret = env.get("IDENTITY_ENDPOINT"), env.get("IDENTITY_HEADER")
        if not endpoint or not secret:
            raise SwitchError("no managed identity: IDENTITY_ENDPOINT/IDENTITY_HEADER are not set")
        query = urllib.parse.urlencode({"resource": ARM_RESOURCE, "api-version": "2019-08-01"})
        req = urllib.request.Request(f"{endpoint}?{query}", headers={"X-IDENTITY-HEADER": secret, "Metadata": "true"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_seconds) as resp:
                answer = json.loads(resp.read().decode())
        except (OSError, ValueError) as exc:
            raise SwitchError(f"no token from the managed identity endpoint: {exc}") from None
        cache["token"] = answer["access_token"]
        cache["expires"] = float(answer.get("expires_on") or time.time() + 600)
        return cache["token"]

    return token


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the recovery plan context says about the run."""

    operation: str  # failover | failback | drill
    failover_type: str
    direction: str
    plan: str = ""
    kind: str = ""  # planned | unplanned | test


def parse_context(raw: Any) -> Context:
    """Read the recovery plan context (a JSON object, or the JSON text of one)."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise SwitchError(f"recovery plan context is not an object: {raw!r}")
    ftype = str(raw.get("FailoverType", ""))
    direction = str(raw.get("FailoverDirection", ""))
    kind = ftype.lower().replace("failover", "")
    if kind == TEST:
        operation = DRILL
    elif kind in (PLANNED, UNPLANNED):
        if direction == "PrimaryToSecondary":
            operation = FAILOVER
        elif direction == "SecondaryToPrimary":
            operation = FAILBACK
        else:
            raise SwitchError(f"unknown FailoverDirection {direction!r}")
    else:
        raise SwitchError(f"unknown FailoverType {ftype!r}")
    return Context(operation, ftype, direction, str(raw.get("RecoveryPlanName", "")), kind)


def encode_context(context: Mapping[str, Any]) -> str:
    """The context as the PowerShell parent hands it over: base64 of its compact JSON, one
    argument without spaces (network_switch.ps1 does the same with [Convert]::ToBase64String)."""
    return base64.b64encode(json.dumps(context, separators=(",", ":")).encode()).decode()


def _context_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(base64.b64decode(text, validate=True).decode())
    except (binascii.Error, ValueError):
        return None


def context_from_argv(argv: list[str]) -> Any:
    """Site Recovery passes the context to the PowerShell action, which passes it on as this
    runbook's only argument: base64 of the JSON (or the JSON itself), by position or as
    name=value / -name value."""
    for i, arg in enumerate(argv):
        text = arg
        if arg.lstrip("-").lower() == "recoveryplancontext" and i + 1 < len(argv):
            text = argv[i + 1]
        elif "=" in arg and arg.split("=", 1)[0].lstrip("-").lower() == "recoveryplancontext":
            text = arg.split("=", 1)[1]
        value = _context_value(text)
        if isinstance(value, dict) and "FailoverType" in value:
            return value
    raise SwitchError("no RecoveryPlanContext among the runbook's arguments")


@dataclass(frozen=True)
class Connection:
    name: str
    id: str
    circuit: str
    weight: str  # "preferred" | "standby" | "single": resolved against erdr-routing-weights


@dataclass(frozen=True)
class Settings:
    """The erdr-* Automation variables, decoded."""

    topology: str
    addressing: str
    regions: dict[str, str]
    gateway_ids: dict[str, str]
    circuit_ids: dict[str, str]
    routing_weights: dict[str, int]
    connections: dict[str, dict[str, list[Connection]]]  # role -> phase -> connections
    tags: dict[str, dict[str, str]]
    drill_vnet_ids: dict[str, str]
    # role -> circuit -> key: each connection redeems its own authorization.
    authorization_keys: dict[str, dict[str, str]]
    retry: Retry
    # operation -> roles in the order their connections change (model/phases.py role_order):
    # with one circuit and the same IPs the side giving up the circuit goes first.
    role_order: dict[str, list[str]]
    # The target's next hop (erdr-nva, model/phases.py nva_statement): what it is and the address
    # every UDR there points at. Stated in the job's log; the network switch does not build it.
    nva: dict[str, Any] = field(default_factory=dict[str, Any])
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    # What the operator wrote into erdr-source-outage-declared ("" when not set).
    outage_declaration: str = ""


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_settings(variable: Callable[[str], Any]) -> Settings:
    def get(name: str) -> Any:
        return _decoded(variable(VARIABLE_PREFIX + name))

    def optional(name: str) -> Any:
        try:
            return get(name)
        except Exception:  # noqa: BLE001 - automationassets raises a bare Exception for a missing variable
            return None

    plan = get("connections")
    connections = {
        role: {phase: [Connection(**c) for c in items] for phase, items in phases.items()}
        for role, phases in plan.items()
    }
    keys: dict[str, dict[str, str]] = {}
    for role in (SOURCE, TARGET):
        for circuit in get("circuit-ids"):
            key = optional(f"authorization-key-{role}-{circuit}")
            if key:
                keys.setdefault(role, {})[circuit] = str(key)
    retry = get("retry")
    limits = optional("timeouts") or {}
    declared = optional(OUTAGE_VARIABLE)
    return Settings(
        topology=get("topology"),
        addressing=get("addressing"),
        regions=get("regions"),
        gateway_ids=get("gateway-ids"),
        circuit_ids=get("circuit-ids"),
        routing_weights={k: int(v) for k, v in get("routing-weights").items()},
        connections=connections,
        tags=get("tags"),
        drill_vnet_ids=optional("drill-vnet-ids") or {},
        authorization_keys=keys,
        retry=Retry(int(retry["attempts"]), float(retry["delaySeconds"]), int(retry["pollAttempts"])),
        role_order={op: [str(r) for r in roles] for op, roles in get("role-order").items()},
        nva=optional("nva") or {},
        timeouts=Timeouts(
            float(limits.get("callSeconds", DEFAULT_TIMEOUTS.call_seconds)),
            float(limits.get("operationSeconds", DEFAULT_TIMEOUTS.operation_seconds)),
            float(limits.get("switchSeconds", DEFAULT_TIMEOUTS.switch_seconds)),
        ),
        outage_declaration=declared.strip() if isinstance(declared, str) else "",
    )


def automation_variables() -> Callable[[str], Any]:
    """Azure Automation's own variable reader (only present inside the Automation sandbox)."""
    import automationassets  # type: ignore[import-not-found]

    return automationassets.get_automation_variable


# --- the switch -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing the runbook did (or found already done) to one resource."""

    role: str
    action: str  # created | updated | deleted | unchanged | absent | unreachable | checked
    resource: str
    detail: str = ""


WRITES = frozenset({"created", "updated", "deleted"})


@dataclass
class Switch:
    settings: Settings
    arm: ArmClient
    log: Callable[[str], None] = print
    changes: list[Change] = field(default_factory=list[Change])

    def note(self, role: str, action: str, resource: str, detail: str = "") -> None:
        self.changes.append(Change(role, action, resource, detail))
        self.log(f"[{role}] {action}: {resource}{' (' + detail + ')' if detail else ''}")

    def run(self, ctx: Context) -> list[Change]:
        s = self.settings
        self.log(
            f"recovery plan {ctx.plan or '?'}: {ctx.failover_type} {ctx.direction} -> {ctx.operation}; "
            f"topology {s.topology}, addressing {s.addressing}; deadlines: {s.timeouts.call_seconds:g}s a call, "
            f"{s.timeouts.operation_seconds:g}s a connection, {s.timeouts.switch_seconds:g}s in all"
        )
        declared = self.outage_declared(ctx)
        if s.nva and ctx.operation == FAILOVER:
            self.log(next_hop_line(s.nva))
        with self.arm.deadline(s.timeouts.switch_seconds, "the network switch"):
            if ctx.operation == DRILL:
                self.drill()
                return self.changes
            roles = s.role_order.get(ctx.operation, [])
            if not roles:
                self.log(f"nothing to change in Azure for a {ctx.operation} of this topology; no region is read")
                return self.changes
            skipped = self.preflight(ctx.operation, roles, declared)
            for role in roles:
                if role in skipped:
                    continue
                try:
                    self.reconcile(role, ctx.operation)
                except Unreachable as exc:
                    if not (declared and role == SOURCE):
                        raise
                    self.source_down(str(exc))
        return self.changes

    def outage_declared(self, ctx: Context) -> bool:
        """Only an Unplanned failover whose operator named the source region may go on without it."""
        value = self.settings.outage_declaration
        source = self.settings.regions[SOURCE]
        variable = VARIABLE_PREFIX + OUTAGE_VARIABLE
        if not value:
            if ctx.operation == FAILOVER:
                self.log(f"source outage not declared ({variable} is empty): the source region must answer")
            return False
        if ctx.operation != FAILOVER:
            self.log(
                f"WARNING: {variable} is still set ({value!r}); a {ctx.operation} ignores it. Set it to an "
                f"empty string once {source} is back, so a later failover cannot skip a region that answers."
            )
            return False
        if ctx.kind != UNPLANNED:
            self.log(
                f"{variable} ({value!r}) ignored: a {ctx.failover_type} failover needs the source region; "
                "run an Unplanned failover if it is down"
            )
            return False
        if value.lower() != source.lower():
            self.log(f"{variable} ({value!r}) ignored: it must name the source region, {source!r}")
            return False
        self.log(
            f"SOURCE OUTAGE DECLARED for {source} ({variable}): if it does not answer, this failover "
            "carries on with the target alone"
        )
        return True

    def source_down(self, reason: str) -> None:
        source = self.settings.regions[SOURCE]
        self.note(SOURCE, "unreachable", source, reason)
        self.log(
            f"SOURCE REGION UNREACHABLE ({source}), outage declared: left its connections as they are and "
            "carried on with the target. When the region returns, bring prod to phase 'failover' "
            "first (pulumi refresh, then pulumi up) so a stale source connection is removed at once."
        )

    def preflight(self, operation: str, roles: list[str], declared: bool) -> set[str]:
        """Read every connection this run touches before writing anything: a region that does not
        answer stops the run with nothing changed (unless it is the declared-down source)."""
        skipped: set[str] = set()
        for role in roles:
            region = self.settings.regions[role]
            for conn in self._known(role).values():
                try:
                    self.arm.get(conn.id)
                except Unreachable as exc:
                    if declared and role == SOURCE:
                        self.source_down(str(exc))
                        skipped.add(role)
                        break
                    hint = (
                        " In a Planned failover the source must answer: rerun the plan when it does. If the "
                        f"region is down, run an Unplanned failover and declare the outage first: set the "
                        f"Automation variable {VARIABLE_PREFIX}{OUTAGE_VARIABLE} to '{region}' (docs/recovery-plan.md)."
                        if role == SOURCE and operation == FAILOVER
                        else ""
                    )
                    raise Unreachable(
                        f"{role} region {region} does not answer, nothing was changed: {exc}.{hint}"
                    ) from None
        return skipped

    def _known(self, role: str) -> dict[str, Connection]:
        known: dict[str, Connection] = {}
        for items in self.settings.connections[role].values():
            known.update({c.name: c for c in items})
        return known

    def reconcile(self, role: str, phase: str) -> None:
        """Make ``role``'s connections exactly the ones the stacks declare in ``phase``."""
        wanted = {c.name: c for c in self.settings.connections[role][phase]}
        known = self._known(role)
        for name in sorted(set(known) - set(wanted)):
            with self.arm.deadline(self.settings.timeouts.operation_seconds, f"removing {name}"):
                self.remove(role, known[name])
        for conn in wanted.values():
            with self.arm.deadline(self.settings.timeouts.operation_seconds, f"writing {conn.name}"):
                self.ensure(role, conn)

    def body(self, role: str, conn: Connection) -> dict[str, Any]:
        s = self.settings
        props: dict[str, Any] = {
            "connectionType": "ExpressRoute",
            "virtualNetworkGateway1": {"id": s.gateway_ids[role]},
            "peer": {"id": s.circuit_ids[conn.circuit]},
            "routingWeight": s.routing_weights[conn.weight],
        }
        key = s.authorization_keys.get(role, {}).get(conn.circuit)
        if key is not None:
            props["authorizationKey"] = key
        return {"location": s.regions[role], "tags": s.tags[role], "properties": props}

    def ensure(self, role: str, conn: Connection) -> None:
        want = self.body(role, conn)
        have = self.arm.get(conn.id)
        if have is not None and _same(have, want):
            self.note(role, "unchanged", conn.name, f"routingWeight {want['properties']['routingWeight']}")
            return
        self.arm.put(conn.id, want)
        self.arm.wait_succeeded(conn.id)
        action = "created" if have is None else "updated"
        self.note(role, action, conn.name, f"routingWeight {want['properties']['routingWeight']}")

    def remove(self, role: str, conn: Connection) -> None:
        if self.arm.get(conn.id) is None:
            self.note(role, "absent", conn.name)
            return
        self.arm.delete(conn.id)
        self.arm.wait_gone(conn.id)
        self.note(role, "deleted", conn.name)

    def drill(self) -> None:
        """Test failover: production stays untouched; the drill VNets must exist and be isolated."""
        ids = self.settings.drill_vnet_ids
        if not ids:
            raise SwitchError("test failover but no drill VNets are configured (erdr-drill-vnet-ids is empty)")
        missing = []
        for key in sorted(ids):
            vnet = self.arm.get(ids[key])
            if vnet is None:
                missing.append(key)
                continue
            peerings = vnet.get("properties", {}).get("virtualNetworkPeerings") or []
            for peering in peerings:
                with self.arm.deadline(self.settings.timeouts.operation_seconds, f"removing {peering['id']}"):
                    self.arm.delete(peering["id"])
                    self.arm.wait_gone(peering["id"])
                self.note(TARGET, "deleted", peering["id"], "peering on a drill VNet: drills stay isolated")
            self.note(TARGET, "checked", ids[key], "drill VNet isolated")
        if missing:
            raise SwitchError(
                f"drill VNet(s) {', '.join(missing)} not found: run `pulumi up` on the dr stack with drill.enabled"
            )


def next_hop_line(nva: Mapping[str, Any]) -> str:
    """What the target's next hop is and the address it must answer on (the UDRs point there)."""
    address = (nva.get("address") or {}).get(TARGET, "?")
    if nva.get("kind") == "azureFirewall":
        return f"target next hop: Azure Firewall at {address} ({nva.get('provisioning', 'preProvisioned')})"
    item = nva.get("replicatedItem")
    boots = f"; replicated item {item} boots first and must come up with {address}" if item else ""
    return f"target next hop: NVA at {address} in subnet {nva.get('subnet', '?')}{boots}"


def _same(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    props = have.get("properties", {})
    wprops = want["properties"]
    return (
        props.get("provisioningState") == "Succeeded"
        and props.get("routingWeight") == wprops["routingWeight"]
        and str(props.get("peer", {}).get("id", "")).lower() == wprops["peer"]["id"].lower()
        and str(props.get("virtualNetworkGateway1", {}).get("id", "")).lower()
        == wprops["virtualNetworkGateway1"]["id"].lower()
        and (have.get("tags") or {}) == want["tags"]
    )


def main(
    argv: list[str],
    variable: Callable[[str], Any] | None = None,
    token: Callable[[], str] | None = None,
    base_url: str = ARM_ENDPOINT,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
    changes: list[Change] | None = None,
) -> list[Change]:
    ctx = parse_context(context_from_argv(argv))
    settings = load_settings(variable or automation_variables())
    timeouts = settings.timeouts
    arm = ArmClient(
        token or managed_identity_token(timeout_seconds=timeouts.call_seconds),
        base_url,
        settings.retry,
        timeouts,
        sleep=sleep,
        log=log,
    )
    return Switch(settings, arm, log, changes if changes is not None else []).run(ctx)


def summary(changes: list[Change]) -> str:
    written = [f"{c.role} {c.action} {c.resource}" for c in changes if c.action in WRITES]
    down = [c.resource for c in changes if c.action == "unreachable"]
    text = f"changed in Azure: {'; '.join(written) if written else 'nothing'}"
    return text + (f"; not reached (declared outage): {', '.join(down)}" if down else "")


def entrypoint(argv: list[str], log: Callable[[str], None] = print, **kwargs: Any) -> int:
    """The job: 0 and SUCCESS_MARKER when the network reached its end state, 1 and the reason if
    not. Every outcome goes to the job output (Automation has no stderr for Python runbooks)."""
    changes: list[Change] = []
    try:
        main(argv, log=log, changes=changes, **kwargs)
    except SwitchError as exc:
        log(f"network switch FAILED: {exc}")
        log(summary(changes))
        return 1
    except Exception as exc:  # noqa: BLE001 - the job output is the only place an operator looks
        log(f"network switch FAILED: unexpected {type(exc).__name__}: {exc}")
        for line in traceback.format_exc().rstrip().splitlines():
            log(line)
        log(summary(changes))
        return 1
    log(summary(changes))
    log(f"{SUCCESS_MARKER}: {len(changes)} step(s)")
    return 0


def _print(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(entrypoint(sys.argv[1:], _print))
