"""What the offline plan writes as JSON: a preview digest, a stack export, a phase comparison.

The shapes follow the Pulumi CLI's where they overlap, so tools that read one can read the other:

- :func:`preview_digest` is shaped like ``pulumi preview --json`` (``ShowPreviewDigest`` in
  pulumi/pulumi ``pkg/backend/display/json.go``, ``PreviewDigest`` in ``pkg/display/json.go``):
  ``config``, ``steps[]`` with ``op``, ``urn``, ``provider``, ``newState`` (an
  ``apitype.ResourceV3``: ``type``, ``inputs`` in camelCase as the engine received them,
  ``parent``, ``dependencies``...), ``diagnostics``, ``changeSummary``, empty fields omitted as the
  CLI's ``omitempty`` tags omit them. As in the CLI, the default provider's step is not shown (an
  internal step: ``isInternalStep`` in ``pkg/engine/update.go``), ``same`` steps are shown only on
  request (``--show-sames``; ``shouldShow`` in ``pkg/backend/display/display.go``) but counted,
  and a ``read`` is shown but counted only when it read something that changed
  (``shouldRecordReadStep``). Secret values read ``[secret]`` and unknown values the engine's
  unknown sentinel, as the CLI prints them.
  *Additions* the CLI's digest does not carry (it skips policy events): ``outputs`` (the stack
  outputs), ``policyPacks`` and ``policyViolations`` (the pack's findings, shaped like the CLI's
  policy events); the comparison adds ``fromPhase``, ``toPhase`` and ``outputChanges``.
- :func:`stack_export` is shaped like ``pulumi stack export`` (an ``apitype.UntypedDeployment``
  holding a ``DeploymentV3``), so ``pulumi stack import`` can load it into a local backend.
- :func:`compare` is a preview digest of moving a deployed stack from one phase to another:
  ``create``/``update``/``delete``/``read`` (and, on request, ``same``) steps with ``oldState``,
  ``newState``, ``diffReasons`` and ``detailedDiff``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from erdr.engine_view import (
    AZURE_NATIVE,
    AZURE_NATIVE_VERSION,
    STACK_TYPE,
    stack_urn,
)
from erdr.engine_view import UNKNOWN as UNKNOWN_ID  # the ID of a provider a preview has not created
from erdr.engine_view import default_provider_id as provider_id
from erdr.engine_view import default_provider_urn as provider_urn
from erdr.simulate import (
    SECRET_SIG,
    SECRET_VALUE_SIG,
    Registration,
    SimResult,
    is_secret,
    physical_name,
    unwrap_secrets,
)
from erdr.stackfiles import StackSettings
from policies.shared.names import UNDECIDED_NOTE

SECRET_TEXT = "[secret]"  # how `pulumi preview --json` shows a secret value
# The engine's version written into the export's manifest: the SDK this program runs with.
ENGINE_VERSION = "v" + metadata.version("pulumi")


def project_of(urn: str) -> str:
    return urn.split("::")[1]


def _numbers(value: Any) -> Any:
    """Struct numbers arrive as doubles; the engine prints integral ones without a fraction.
    Map keys come out sorted, as Go's encoder writes them (and so the files diff cleanly)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def blind_secrets(value: Any) -> Any:
    """Secrets as the CLI's JSON shows them: the string ``[secret]``, never the value."""
    if is_secret(value):
        return SECRET_TEXT
    if isinstance(value, dict):
        return {k: blind_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blind_secrets(v) for v in value]
    return value


def _export_secrets(value: Any) -> Any:
    """Secrets in a stack export keep the secret signature; the plan never holds the value, and
    cannot encrypt for a secrets provider it does not have, so it writes ``[secret]`` as the
    plaintext (the form `pulumi stack export --show-secrets` uses and `stack import` accepts)."""
    if is_secret(value):
        return {SECRET_SIG: SECRET_VALUE_SIG, "plaintext": json.dumps(SECRET_TEXT)}
    if isinstance(value, dict):
        return {k: _export_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_export_secrets(v) for v in value]
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def timeout_seconds(text: str) -> float:
    """A Go duration string as sent in customTimeouts ("90m", "1h30m") in seconds."""
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * scale[u] for n, u in parts)


def ordered(resources: Sequence[Registration]) -> list[Registration]:
    """Parents and dependencies before dependents; ties by URN, so the files are reproducible
    (the SDK registers independent resources in whatever order their inputs resolve)."""
    by_urn = {r.urn: r for r in resources}
    before = {r.urn: {d for d in [r.parent, *r.dependencies] if d in by_urn} for r in resources}
    done: set[str] = set()
    out: list[Registration] = []
    while len(out) < len(resources):
        ready = sorted(u for u, deps in before.items() if u not in done and deps <= done)
        if not ready:
            cycle = sorted(u for u in before if u not in done)
            raise ValueError(f"dependency cycle among {cycle}")
        for urn in ready:
            done.add(urn)
            out.append(by_urn[urn])
    return out


def _is_provider_managed(r: Registration) -> bool:
    """Managed by the default azure-native provider (not one the program declares itself)."""
    return r.custom and r.type.startswith(AZURE_NATIVE + ":") and not r.provider


def _explicit_provider(r: Registration, provider_ref_id: str) -> str:
    """A provider the program declared (one per subscription): its URN and, once known, its ID."""
    urn, _, rid = r.provider.rpartition("::")
    return f"{urn}::{rid if rid and provider_ref_id != UNKNOWN_ID else UNKNOWN_ID}"


def _state(
    r: Registration, stack: str, project: str, *, secrets: str, with_outputs: bool, provider_ref_id: str
) -> dict[str, Any]:
    mask = blind_secrets if secrets == "blind" else _export_secrets
    state: dict[str, Any] = {"urn": r.urn, "custom": r.custom, "type": r.type}
    if r.custom and r.id:
        state["id"] = r.id
    if r.custom:
        state["inputs"] = _numbers(mask(r.inputs))
        if with_outputs:
            outputs = dict(r.inputs)
            name = physical_name(r.type, r.plain_inputs)
            if name is not None:
                outputs["name"] = name
            if r.id:
                outputs["id"] = r.id
            state["outputs"] = _numbers(mask(outputs))
    state["parent"] = r.parent
    if r.read:
        state["external"] = True
    if r.protect:
        state["protect"] = True
    if r.dependencies:
        state["dependencies"] = sorted(set(r.dependencies))
    if r.provider:
        state["provider"] = _explicit_provider(r, provider_ref_id)
    elif _is_provider_managed(r):
        state["provider"] = f"{provider_urn(stack, project)}::{provider_ref_id}"
    if r.property_dependencies:
        state["propertyDependencies"] = {k: sorted(set(v)) for k, v in sorted(r.property_dependencies.items()) if v}
    if r.custom_timeouts:
        state["customTimeouts"] = {k: timeout_seconds(v) for k, v in r.custom_timeouts.items()}
    if r.import_id:
        state["importID"] = r.import_id
    return state


def engine_config(settings: StackSettings) -> dict[str, str]:
    """The config block of a preview digest: namespaced keys, objects as JSON, secrets blinded."""
    secret = set(settings.engine_secret_keys())
    return {k: (SECRET_TEXT if k in secret else v) for k, v in sorted(settings.engine_config().items())}


@dataclass
class Diagnostic:
    severity: str  # "info" | "warning" | "error"
    message: str
    urn: str = ""

    def as_json(self) -> dict[str, str]:
        out = {"severity": self.severity, "message": self.message}
        if self.urn:
            out["urn"] = self.urn
        return out


@dataclass
class PolicyViolation:
    """One finding of the policy pack, as the CLI's policy events carry it."""

    policy_pack: str
    policy_pack_version: str
    policy: str
    enforcement_level: str  # "advisory" | "mandatory" | "remediate" | "disabled"
    message: str
    urn: str = ""
    description: str = ""
    severity: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level == "mandatory"

    @property
    def undecided(self) -> bool:
        """The pack's note on what a preview could not decide (`pulumi up` decides it)."""
        return self.enforcement_level == "advisory" and UNDECIDED_NOTE in self.message

    def as_json(self) -> dict[str, str]:
        out = {
            "policyPackName": self.policy_pack,
            "policyPackVersion": self.policy_pack_version,
            "policyName": self.policy,
            "enforcementLevel": self.enforcement_level,
            "message": self.message,
        }
        if self.urn:
            out["resourceUrn"] = self.urn
        if self.description:
            out["description"] = self.description
        if self.severity:
            out["severity"] = self.severity
        return out


@dataclass
class PolicyReport:
    """The policy pack's verdict on one simulated stack (empty when the pack was not run)."""

    packs: dict[str, str] = field(default_factory=dict[str, str])  # name -> version
    violations: list[PolicyViolation] = field(default_factory=list[PolicyViolation])
    ran: bool = False
    error: str | None = None

    @property
    def mandatory(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def undecided(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.undecided]


def _root_step(stack: str, project: str, op: str) -> dict[str, Any]:
    """The root stack's step; its outputs are not known when the step is announced."""
    return {
        "op": op,
        "urn": stack_urn(stack, project),
        "newState": {"urn": stack_urn(stack, project), "custom": False, "type": STACK_TYPE},
        "detailedDiff": None,
    }


def _omit_empty(digest: dict[str, Any]) -> dict[str, Any]:
    """The CLI's ``omitempty``: no empty ``config``, ``diagnostics``, ``duration`` or
    ``changeSummary``, no false ``maybeCorrupt``."""
    return {k: v for k, v in digest.items() if k not in _OMIT_EMPTY or v}


_OMIT_EMPTY = frozenset({"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"})


def _provider_state(stack: str, project: str, *, preview: bool) -> dict[str, Any]:
    state: dict[str, Any] = {
        "urn": provider_urn(stack, project),
        "custom": True,
        "type": f"pulumi:providers:{AZURE_NATIVE}",
        "inputs": {"version": AZURE_NATIVE_VERSION},
    }
    if not preview:
        state["id"] = provider_id(stack)
        state["outputs"] = {"version": AZURE_NATIVE_VERSION}
    return state


def preview_digest(
    settings: StackSettings,
    result: SimResult,
    *,
    policy: PolicyReport | None = None,
    duration_ns: int = 0,
    diagnostics: Iterable[Diagnostic] = (),
) -> dict[str, Any]:
    """``pulumi preview --json`` of a stack that does not exist yet: every resource is created."""
    project, stack = settings.project, settings.stack
    resources = ordered(result.resources)
    steps: list[dict[str, Any]] = [_root_step(stack, project, "create")]
    summary: dict[str, int] = {"create": 1}
    for r in resources:
        op = "import" if r.import_id else "read" if r.read else "create"
        step: dict[str, Any] = {"op": op, "urn": r.urn}
        if r.provider:
            step["provider"] = _explicit_provider(r, UNKNOWN_ID)
        elif _is_provider_managed(r):
            step["provider"] = f"{provider_urn(stack, project)}::{UNKNOWN_ID}"
        step["newState"] = _state(r, stack, project, secrets="blind", with_outputs=False, provider_ref_id=UNKNOWN_ID)
        step["detailedDiff"] = None
        steps.append(step)
        if not r.read:  # a first read has no old state to differ from: shown, not counted
            summary["create"] += 1
    diags = [d.as_json() for d in diagnostics]
    diags += [{"severity": level, "message": message} for level, message in result.logs if level != "debug"]
    digest: dict[str, Any] = {
        "config": engine_config(settings),
        "steps": steps,
        "diagnostics": diags,
        "duration": duration_ns,
        "changeSummary": summary,
        "outputs": _numbers(blind_secrets(result.outputs)),
    }
    if policy is not None:
        digest["policyPacks"] = dict(policy.packs)
        digest["policyViolations"] = [v.as_json() for v in policy.violations]
        if policy.error:
            digest["diagnostics"].append({"severity": "error", "message": f"policy pack: {policy.error}"})
    return _omit_empty(digest)


def stack_export(settings: StackSettings, result: SimResult, *, now: datetime | None = None) -> dict[str, Any]:
    """``pulumi stack export`` of the stack after ``pulumi up`` (IDs are the ARM IDs Azure would
    give; outputs are the inputs plus name and id, which is what the mocks answer)."""
    if result.preview:
        raise ValueError("a stack export needs an `up` simulation (preview=False), where IDs are known")
    project, stack = settings.project, settings.stack
    when = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    resources: list[dict[str, Any]] = [
        {
            "urn": stack_urn(stack, project),
            "custom": False,
            "type": STACK_TYPE,
            "outputs": _numbers(_export_secrets(result.outputs)),
        }
    ]
    ordered_resources = ordered(result.resources)
    if any(_is_provider_managed(r) for r in ordered_resources):
        resources.append(_provider_state(stack, project, preview=False))
    resources += [
        _state(r, stack, project, secrets="export", with_outputs=r.custom, provider_ref_id=provider_id(stack))
        for r in ordered_resources
    ]
    return {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": when,
                # The CLI's integrity magic: sha256 of the engine version.
                "magic": hashlib.sha256(ENGINE_VERSION.encode()).hexdigest(),
                "version": ENGINE_VERSION,
            },
            "resources": resources,
        },
    }


# --- comparing two phases -------------------------------------------------------------------


def _flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{"a.b[0].c": leaf} with the engine's property-path syntax."""
    if isinstance(value, dict) and value and not is_secret(value):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{path}[{i}]"))
        return out
    return {path: value}


def detailed_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Property path -> {"kind": add|delete|update, "inputDiff": true}, as a preview shows it."""
    before, after = _flatten(_numbers(dict(old))), _flatten(_numbers(dict(new)))
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(before.keys() | after.keys()):
        if path not in after:
            out[path] = {"kind": "delete", "inputDiff": True}
        elif path not in before:
            out[path] = {"kind": "add", "inputDiff": True}
        elif before[path] != after[path]:
            out[path] = {"kind": "update", "inputDiff": True}
    return out


@dataclass(frozen=True)
class Change:
    """One resource that differs between two phases."""

    op: str  # create | delete | update
    urn: str
    type: str
    name: str
    paths: tuple[str, ...] = ()
    before: Mapping[str, Any] = field(default_factory=dict[str, Any])
    after: Mapping[str, Any] = field(default_factory=dict[str, Any])
    protected: bool = False

    @property
    def physical(self) -> str:
        """The Azure name (e.g. the connection's name in the portal), else the Pulumi name."""
        inputs = unwrap_secrets(dict(self.after or self.before))
        return physical_name(self.type, inputs) or self.name

    def describe(self) -> str:
        if self.op != "update":
            return ""
        shown = []
        flat_before = _flatten(_numbers(blind_secrets(dict(self.before))))
        flat_after = _flatten(_numbers(blind_secrets(dict(self.after))))
        for path in self.paths:
            shown.append(f"{path}: {json.dumps(flat_before.get(path))} -> {json.dumps(flat_after.get(path))}")
        return "; ".join(shown)


@dataclass
class Comparison:
    stack: str
    before_phase: str
    after_phase: str
    changes: list[Change]
    same: list[str]
    digest: dict[str, Any]

    def of(self, op: str) -> list[Change]:
        return [c for c in self.changes if c.op == op]


def compare(
    settings_after: StackSettings,
    before: SimResult,
    after: SimResult,
    before_phase: str,
    after_phase: str,
    *,
    show_sames: bool = False,
) -> Comparison:
    """What ``pulumi preview --json`` would show on a stack deployed at ``before_phase`` once its
    phase is set to ``after_phase`` (``show_sames``: as with ``--show-sames``)."""
    if before.preview or after.preview:
        raise ValueError("compare `up` simulations: a deployed stack's old state has known IDs")
    project, stack = settings_after.project, settings_after.stack
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    pid = provider_id(stack)
    steps: list[dict[str, Any]] = [_root_step(stack, project, "same")]
    changes: list[Change] = []
    same: list[str] = []
    diagnostics: list[dict[str, str]] = []
    summary: dict[str, int] = {"same": 1}

    def state(r: Registration) -> dict[str, Any]:
        return _state(r, stack, project, secrets="blind", with_outputs=False, provider_ref_id=pid)

    for r in ordered(after.resources):
        prev = old.get(r.urn)
        step: dict[str, Any]
        counted = True
        if r.read:
            # A read (the peer StackReference) is done again by every update; the CLI counts it
            # only when what it read changed (shouldRecordReadStep).
            step = {"op": "read", "urn": r.urn, "newState": state(r), "detailedDiff": None}
            counted = prev is not None and prev.outputs != r.outputs
        elif prev is None:
            step = {"op": "create", "urn": r.urn, "newState": state(r), "detailedDiff": None}
            changes.append(Change("create", r.urn, r.type, r.name, after=r.inputs))
        else:
            diff = detailed_diff(blind_secrets(prev.inputs), blind_secrets(r.inputs))
            op = "update" if diff else "same"
            step = {"op": op, "urn": r.urn, "oldState": state(prev), "newState": state(r)}
            if diff:
                step["diffReasons"] = sorted({re.split(r"[.\[]", p, maxsplit=1)[0] for p in diff})
                step["detailedDiff"] = diff
                changes.append(Change("update", r.urn, r.type, r.name, tuple(diff), prev.inputs, r.inputs))
            else:
                step["detailedDiff"] = None
                same.append(r.urn)
        if _is_provider_managed(r):
            step["provider"] = f"{provider_urn(stack, project)}::{pid}"
        if counted:
            summary[step["op"]] = summary.get(step["op"], 0) + 1
        shown = step["op"] != "same" or show_sames or (prev is not None and prev.protect != r.protect)
        if shown:
            steps.append(step)
    # Deletes run last and in reverse dependency order, as the engine does them.
    for r in reversed(ordered([r for r in before.resources if r.urn not in new and not r.read])):
        steps.append({"op": "delete", "urn": r.urn, "oldState": state(r), "detailedDiff": None})
        changes.append(Change("delete", r.urn, r.type, r.name, before=r.inputs, protected=r.protect))
        summary["delete"] = summary.get("delete", 0) + 1
        if r.protect:
            diagnostics.append(
                {
                    "urn": r.urn,
                    "severity": "error",
                    "message": f"{r.urn} is protected: the phase change would fail to delete it "
                    "(`pulumi state unprotect` first, or keep it in every phase)",
                }
            )
    output_changes = {
        k: {"before": blind_secrets(before.outputs.get(k)), "after": blind_secrets(after.outputs.get(k))}
        for k in sorted(before.outputs.keys() | after.outputs.keys())
        if before.outputs.get(k) != after.outputs.get(k)
    }
    digest: dict[str, Any] = {
        "config": engine_config(settings_after),
        "steps": steps,
        "diagnostics": diagnostics,
        "changeSummary": summary,
        "fromPhase": before_phase,
        "toPhase": after_phase,
        "outputs": _numbers(blind_secrets(after.outputs)),
        "outputChanges": _numbers(output_changes),
    }
    return Comparison(stack, before_phase, after_phase, changes, same, _omit_empty(digest))
