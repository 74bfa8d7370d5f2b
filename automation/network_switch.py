"""Site Recovery recovery-plan step: the ExpressRoute network switch for this project's topology.

Runs in Azure Automation as the child job of the recovery plan's action: Site Recovery starts the
PowerShell runbook automation/network_switch.ps1 before the first boot group, and that runbook
starts this one (runbook type Python, the Automation account's Python 3.10 runtime environment,
standard library only) with the recovery plan context as JSON and waits for it. It reads:

- the recovery plan context Site Recovery passes (FailoverType, FailoverDirection, ...), and
- the Automation variables the Pulumi program sets (``erdr-*``): which connections each region's
  hub holds in each phase, the order in which the hubs change, the gateway IDs, regions, resource
  tags, routing weights, drill VNets.

Nothing about the network is hard-coded here. The order of operations is model/phases.py's, read
from erdr-role-order (tests/automation/ prove it), and the end state of every connection is exactly what the
Pulumi stacks declare in the new phase, so the stacks can be brought in line without drift
(docs/recovery-plan.md).

- single circuit, same IPs: remove the source connection first (the source region may be down:
  bounded retries, then a clear log line and carry on), then create the target connection;
- otherwise: shift routing weights (target preferred first on failover, source first on
  failback), creating or removing the connections a phase adds or drops;
- test failover: nothing in production is touched; only the drill VNets are checked, and any
  peering found on them is removed so the drill stays isolated.

Every step reads before it writes, so a rerun after a partial run only does what is left. The
last line of a successful run is SUCCESS_MARKER; the PowerShell parent throws without it, so
Site Recovery stops the plan whatever exit status the Python sandbox reports.

Keep this file compatible with Python 3.10 (the Automation runtime environment it runs in).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ARM_ENDPOINT = "https://management.azure.com"
ARM_RESOURCE = "https://management.azure.com/"
NETWORK_API_VERSION = "2024-05-01"  # the version pulumi-azure-native v3 uses for connections
VARIABLE_PREFIX = "erdr-"
SOURCE, TARGET = "source", "target"
FAILOVER, FAILBACK, DRILL = "failover", "failback", "drill"
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# The PowerShell parent (network_switch.ps1, $SuccessMarker) looks for this line in the job output.
SUCCESS_MARKER = "NETWORK SWITCH SUCCEEDED"


class SwitchError(Exception):
    """The network step could not reach its end state; the recovery plan step fails with it."""


class ArmError(SwitchError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]}")


class Unreachable(SwitchError):
    """Every bounded retry failed with a transient error (timeout, refused, 5xx, 429)."""


# --- ARM over HTTPS -------------------------------------------------------------------------


@dataclass
class Retry:
    attempts: int = 5
    delay_seconds: float = 10.0
    poll_attempts: int = 90  # long-running operations: 90 x delay (15 minutes at 10 s)


@dataclass
class ArmClient:
    """Minimal ARM client: JSON in and out, bounded retries on transient failures."""

    token: Callable[[], str]
    base_url: str = ARM_ENDPOINT
    retry: Retry = field(default_factory=Retry)
    timeout_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = print

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        sep = "&" if "?" in path else "?"
        url = f"{self.base_url}{path}{sep}api-version={NETWORK_API_VERSION}"
        data = json.dumps(body).encode() if body is not None else None
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            req = urllib.request.Request(url, data=data, method=method)
            req.add_header("Authorization", f"Bearer {self.token()}")
            req.add_header("Accept", "application/json")
            if data is not None:
                req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_seconds) as resp:
                    text = resp.read().decode() or "null"
                    return resp.status, json.loads(text)
            except urllib.error.HTTPError as exc:
                text = exc.read().decode(errors="replace")
                if exc.code not in TRANSIENT_STATUS:
                    return exc.code, _json_or_text(text)
                last = f"HTTP {exc.code}"
            except OSError as exc:  # URLError, refused, reset, timeouts
                last = str(getattr(exc, "reason", exc))
            if attempt < self.retry.attempts:
                self.log(
                    f"retry {attempt}/{self.retry.attempts - 1}: {method} {path}: {last}; again in {self.retry.delay_seconds:g}s"
                )
                self.sleep(self.retry.delay_seconds)
        raise Unreachable(f"{method} {path}: no answer after {self.retry.attempts} attempts (last: {last})")

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
            self.sleep(self.retry.delay_seconds)
        raise SwitchError(f"{path}: not Succeeded after {self.retry.poll_attempts} polls")

    def wait_gone(self, path: str) -> None:
        for _ in range(self.retry.poll_attempts):
            if self.get(path) is None:
                return
            self.sleep(self.retry.delay_seconds)
        raise SwitchError(f"{path}: still present after {self.retry.poll_attempts} polls")


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def managed_identity_token(env: Mapping[str, str] | None = None) -> Callable[[], str]:
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
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read().decode())
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


def parse_context(raw: Any) -> Context:
    """Read the recovery plan context (a JSON object, or the JSON text of one)."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    if not isinstance(raw, dict):
        raise SwitchError(f"recovery plan context is not an object: {raw!r}")
    ftype = str(raw.get("FailoverType", ""))
    direction = str(raw.get("FailoverDirection", ""))
    kind = ftype.lower().replace("failover", "")
    if kind == "test":
        operation = DRILL
    elif kind in ("planned", "unplanned"):
        if direction == "PrimaryToSecondary":
            operation = FAILOVER
        elif direction == "SecondaryToPrimary":
            operation = FAILBACK
        else:
            raise SwitchError(f"unknown FailoverDirection {direction!r}")
    else:
        raise SwitchError(f"unknown FailoverType {ftype!r}")
    return Context(operation, ftype, direction, str(raw.get("RecoveryPlanName", "")))


def context_from_argv(argv: list[str]) -> Any:
    """Site Recovery passes the context as the runbook's RecoveryPlanContext parameter; a Python
    runbook receives parameters as command-line arguments, by position or as name=value."""
    for i, arg in enumerate(argv):
        text = arg
        if arg.lstrip("-").lower() == "recoveryplancontext" and i + 1 < len(argv):
            text = argv[i + 1]
        elif "=" in arg and arg.split("=", 1)[0].lstrip("-").lower() == "recoveryplancontext":
            text = arg.split("=", 1)[1]
        try:
            value = json.loads(text)
        except ValueError:
            continue
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
    nva: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class Switch:
    settings: Settings
    arm: ArmClient
    log: Callable[[str], None] = print
    changes: list[Change] = field(default_factory=list)

    def note(self, role: str, action: str, resource: str, detail: str = "") -> None:
        self.changes.append(Change(role, action, resource, detail))
        self.log(f"[{role}] {action}: {resource}{' (' + detail + ')' if detail else ''}")

    def run(self, ctx: Context) -> list[Change]:
        s = self.settings
        self.log(
            f"recovery plan {ctx.plan or '?'}: {ctx.failover_type} {ctx.direction} -> {ctx.operation}; "
            f"topology {s.topology}, addressing {s.addressing}"
        )
        if s.nva and ctx.operation == FAILOVER:
            self.log(next_hop_line(s.nva))
        if ctx.operation == DRILL:
            self.drill()
            return self.changes
        for role in s.role_order.get(ctx.operation, []):
            try:
                self.reconcile(role, ctx.operation)
            except Unreachable as exc:
                if not (ctx.operation == FAILOVER and role == SOURCE):
                    raise
                self.note(SOURCE, "unreachable", s.regions[SOURCE], str(exc))
                self.log(
                    f"SOURCE REGION UNREACHABLE ({s.regions[SOURCE]}): left its connections as they are and "
                    "carried on with the target. When the region returns, bring prod to phase 'failover' "
                    "first (pulumi refresh, then pulumi up) so a stale source connection is removed at once."
                )
        return self.changes

    def reconcile(self, role: str, phase: str) -> None:
        """Make ``role``'s connections exactly the ones the stacks declare in ``phase``."""
        wanted = {c.name: c for c in self.settings.connections[role][phase]}
        known: dict[str, Connection] = {}
        for items in self.settings.connections[role].values():
            known.update({c.name: c for c in items})
        for name in sorted(set(known) - set(wanted)):
            self.remove(role, known[name])
        for conn in wanted.values():
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
) -> list[Change]:
    ctx = parse_context(context_from_argv(argv))
    settings = load_settings(variable or automation_variables())
    arm = ArmClient(token or managed_identity_token(), base_url, settings.retry, sleep=sleep, log=log)
    return Switch(settings, arm, log).run(ctx)


def entrypoint(argv: list[str], log: Callable[[str], None] = print, **kwargs: Any) -> int:
    """The job: 0 and SUCCESS_MARKER when the network reached its end state, 1 and the reason if not."""
    try:
        changes = main(argv, log=log, **kwargs)
    except SwitchError as exc:
        log(f"network switch FAILED: {exc}")
        return 1
    log(f"{SUCCESS_MARKER}: {len(changes)} step(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(entrypoint(sys.argv[1:]))
