"""What every rule shares: its metadata, its config, how it reports, and the guard around it.

A rule is a plain function ``check(ctx, subject)``; ``subject`` is an :class:`estate.Estate`
for stack rules and one resource for resource rules. :func:`to_policy` wraps it in the SDK's
policy class. The wrapper

- builds the estate from the stack's resources, with the policy's own config;
- collects what a rule cannot decide because a value is unknown (:meth:`Context.undecided`), so
  a rule never raises ``UnknownValueError`` (which the SDK would turn into a "can't run" note for
  the whole policy), and says so in one advisory note per policy: unknown values exist only in
  a preview, and the stack policies run again on ``pulumi up`` with every value known. The
  SDK's own answer to an unknown in preview is an advisory diagnostic too (pulumi-policy
  ``policy.py``, ``UnknownValueError`` in ``Analyze``/``AnalyzeStack``). ``onUnknown: report``
  fails the preview instead, ``ignore`` says nothing;
- turns an unexpected exception into a violation naming the rule, instead of failing the
  whole analysis.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .estate import Estate
from .shared.names import UNDECIDED_NOTE

OnUnknown = Literal["advise", "report", "ignore"]

ON_UNKNOWN_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": ["advise", "report", "ignore"],
    "description": "What to do when a value the rule needs is not known until the update runs "
    "(preview): 'advise' (default) says what could not be checked in one advisory note and leaves "
    "the decision to `pulumi up`, where every value is known; 'report' reports each at the "
    "policy's level (a mandatory policy then fails the preview); 'ignore' says nothing.",
}

CIRCUITS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Facts about ExpressRoute circuits this stack links to but does not declare. "
    "ExpressRouteCircuit resources in the stack and the stack's own expressroute-dr:circuits "
    "config are read as well.",
    "items": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The circuit's ARM resource ID."},
            "name": {"type": "string"},
            "peeringLocation": {"type": "string", "description": "e.g. 'Hong Kong'."},
            "skuTier": {"type": "string", "enum": ["Standard", "Premium", "Local"]},
            "bandwidthMbps": {"type": "number"},
            "onPremPrefixes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Prefixes on-premises advertises over this circuit.",
            },
        },
        "required": ["id"],
    },
}

EXTERNAL_NETWORKS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Networks of other stacks linked to circuits this stack uses: each entry is "
    "one gateway VNet and everything routed behind it.",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "circuitIds": {"type": "array", "items": {"type": "string"}},
            "addressPrefixes": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["circuitIds", "addressPrefixes"],
    },
}


_LAST: list[tuple[Any, int, Estate]] = []
_LAST_LOCK = threading.Lock()


def shared_estate(resources: Any) -> Estate:
    """One Estate per resource list: every stack policy of one AnalyzeStack request gets the
    same list (see servicer.py), so the facts are read once, not once per policy."""
    with _LAST_LOCK:
        if _LAST and _LAST[0][0] is resources and _LAST[0][1] == len(resources):
            return _LAST[0][2]
        estate = Estate(resources)
        _LAST[:] = [(resources, len(resources), estate)]  # holding the list keeps its id unique
        return estate


class Context:
    """What a rule reports through."""

    def __init__(
        self,
        rule: Rule,
        config: Mapping[str, Any],
        report: ReportViolation,
        advise: ReportViolation | None = None,
    ) -> None:
        self.rule = rule
        self.config = config
        self._report = report
        self._advise = advise or report
        self.count = 0
        self.pending: list[tuple[str | None, str, str]] = []

    def option(self, name: str) -> Any:
        value = self.config.get(name)
        return self.rule.defaults.get(name) if value is None else value

    def violation(self, message: str, urn: str | None = None) -> None:
        self.count += 1
        self._report(message, urn or None)

    def undecided(self, urn: str | None, what: str, unknown: str) -> None:
        """``what`` could not be checked because ``unknown`` is not known yet (preview)."""
        mode = self.option("onUnknown")
        if mode == "ignore":
            return
        if mode == "report":
            self.violation(
                f"Cannot check {what}: {unknown} is not known until the update runs. Make it known at "
                "preview (a literal or a value from config), or re-run the check on `pulumi up`; set "
                f"onUnknown to 'advise' or 'ignore' in this policy's pack config ({self.rule.name}) to accept it.",
                urn,
            )
            return
        self.pending.append((urn, what, unknown))

    def flush(self) -> None:
        """Say, once, what waits for `pulumi up` (the pending undecided checks)."""
        if not self.pending:
            return
        self.pending.sort(key=lambda item: (item[1], item[2]))  # stable whatever the request's order
        shown = [f"{what} (waits for {unknown})" for _, what, unknown in self.pending[:5]]
        more = len(self.pending) - len(shown)
        urns = {urn for urn, _, _ in self.pending}
        self._advise(
            f"{UNDECIDED_NOTE} ({len(self.pending)}): {'; '.join(shown)}"
            f"{f'; and {more} more' if more else ''}. These values are known once the resources exist; "
            "`pulumi up` checks them again on the deployed stack. Set onUnknown to 'report' in this "
            f"policy's pack config ({self.rule.name}) to fail the preview instead.",
            urns.pop() if len(urns) == 1 else None,
        )
        self.pending.clear()


@dataclass(frozen=True)
class Rule:
    name: str
    display_name: str
    description: str
    severity: Severity
    level: EnforcementLevel
    remediation: str
    check: Callable[[Context, Any], None]
    kind: Literal["stack", "resource"] = "stack"
    options: Mapping[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    defaults: Mapping[str, Any] = field(default_factory=dict[str, Any])
    resource_types: tuple[str, ...] = ()

    def schema(self) -> PolicyConfigSchema:
        return PolicyConfigSchema(properties={"onUnknown": ON_UNKNOWN_SCHEMA, **self.options})

    def run_stack(
        self,
        resources: Any,
        config: Mapping[str, Any],
        report: ReportViolation,
        advise: ReportViolation | None = None,
    ) -> int:
        ctx = Context(self, {**self.defaults, **config}, report, advise)

        def body() -> None:
            estate = shared_estate(resources)
            estate.config = ctx.config
            self.check(ctx, estate)

        self._guard(ctx, body)
        ctx.flush()
        return ctx.count

    def run_resource(
        self,
        resource: Any,
        config: Mapping[str, Any],
        report: ReportViolation,
        advise: ReportViolation | None = None,
    ) -> int:
        ctx = Context(self, {**self.defaults, **config}, report, advise)
        if self.resource_types and resource.resource_type not in self.resource_types:
            return 0
        self._guard(ctx, lambda: self.check(ctx, resource))
        ctx.flush()
        return ctx.count

    def _guard(self, ctx: Context, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception as exc:  # noqa: BLE001 - a rule must report, never take the analysis down
            where = traceback.extract_tb(exc.__traceback__)[-1]
            ctx.violation(
                f"Rule {self.name} failed ({type(exc).__name__}: {exc} at {where.filename.rsplit('/', 1)[-1]}:"
                f"{where.lineno}) and could not check this stack. This is a bug in the policy pack; "
                "report it with the resource definitions involved."
            )


def to_policy(rule: Rule) -> Policy:
    """The SDK policy object for ``rule`` (the pack's __main__ lists these)."""
    common: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": rule.level,
        "config_schema": rule.schema(),
        "display_name": rule.display_name,
        "severity": rule.severity,
        "remediation_steps": rule.remediation,
        "tags": ["expressroute-dr", "azure-native", "networking"],
    }
    if rule.kind == "stack":

        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            rule.run_stack(args.resources, args.get_config(), report, getattr(report, "advise", None))

        return StackValidationPolicy(validate=validate_stack, **common)

    def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> None:
        rule.run_resource(args, args.get_config(), report, getattr(report, "advise", None))

    return ResourceValidationPolicy(validate=validate_resource, **common)
