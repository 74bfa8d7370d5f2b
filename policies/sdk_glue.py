"""Decode an AnalyzeStack request once for every stack policy, not once per policy; give every
policy an advisory channel besides its own level.

pulumi-policy 1.21's servicer turns every resource of the request into a ``PolicyResource``
(protobuf -> dict -> deserialized -> unknown-checking proxy, then parents and dependencies)
separately for each stack policy: on 6,000 resources that is ~0.7 s per policy, over 6 s for
this pack before any rule runs. :func:`share_stack_decoding` installs a subclass whose
AnalyzeStack decodes once and hands every stack policy the same read-only resource list (so
rules can also share one :class:`estate.Estate`). Everything else (levels, per-policy config,
"can't run" and not-applicable handling, the diagnostics it sends) follows the SDK's own code.
Must run before ``PolicyPack(...)`` is constructed. Pinned to pulumi-policy 1.21.x: the test
suite drives the real pack over gRPC, so an SDK change that breaks this fails there.
"""

from __future__ import annotations

import asyncio
import gc
from inspect import isawaitable
from typing import Any

import pulumi_policy.policy as sdk
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from .values import SECRET_SIG, SECRET_SIG_KEY, mark_secrets

_BASE: Any = getattr(sdk, "_PolicyAnalyzerServicer")  # noqa: B009 - private in the SDK
_NOT_APPLICABLE: Any = getattr(sdk, "_NotApplicableError")  # noqa: B009


def _value(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "string_value":
        return v.string_value
    if kind == "struct_value":
        return _special(struct_to_python(v.struct_value))
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    if kind == "bool_value":
        return v.bool_value
    if kind == "number_value":
        return v.number_value
    return None


def _special(d: dict[str, Any]) -> Any:
    sig = d.get(SECRET_SIG_KEY)
    if sig is None:
        return d
    if sig == SECRET_SIG:
        return mark_secrets(d)  # SecretStr, as keep_secret_marks does; other secrets unwrap
    return deserialize_properties({"v": d})["v"]  # assets and archives: the SDK's own way


def struct_to_python(struct: struct_pb2.Struct) -> dict[str, Any]:
    """What ``deserialize_properties(MessageToDict(struct))`` gives, secret marks kept, ~3x faster."""
    return {k: _value(v) for k, v in struct.fields.items()}


def decode_stack(servicer: Any, request: Any) -> list[PolicyResource]:
    """The request's resources as PolicyResources with parents and dependencies linked."""
    resources: list[PolicyResource] = []
    links: list[tuple[PolicyResource, str, list[str], dict[str, list[str]]]] = []
    for r in request.resources:
        props = unknown_checking_proxy(struct_to_python(r.properties))
        resource = PolicyResource(
            r.type,
            props,
            r.urn,
            r.name,
            servicer._get_resource_options(r),
            servicer._get_provider_resource(r),
            None,
            [],
            {},
        )
        resources.append(resource)
        links.append(
            (resource, r.parent, list(r.dependencies), {k: list(v.urns) for k, v in r.propertyDependencies.items()})
        )
    by_urn = {res.urn: res for res in resources}
    for resource, parent, deps, prop_deps in links:
        if parent in by_urn:
            resource.parent = by_urn[parent]
        resource.dependencies = [by_urn[d] for d in deps if d in by_urn]
        resource.property_dependencies = {k: [by_urn[d] for d in v if d in by_urn] for k, v in prop_deps.items()}
    return resources


class SharedDecodingServicer(_BASE):
    """The SDK's servicer, with AnalyzeStack decoding the request once, and every violation
    reporter carrying an ``advise`` companion that reports at the advisory level (what a rule
    could not decide in a preview: policies/framework.py)."""

    def _create_report_violation(
        self,
        response: Any,
        policy_name: str,
        policy_description: str,
        enforcement_level: EnforcementLevel,
        severity: Any = None,
    ) -> Any:
        report = super()._create_report_violation(
            response, policy_name, policy_description, enforcement_level, severity
        )
        report.advise = super()._create_report_violation(
            response, policy_name, policy_description, EnforcementLevel.ADVISORY, severity
        )
        return report

    def AnalyzeStack(self, request: Any, context: Any) -> Any:
        # The decoded request is one large graph of short-lived objects without cycles; letting
        # the cyclic collector rescan it on every generation-2 pass makes the time superlinear.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._analyze_stack(request, context)
        finally:
            if enabled:
                gc.enable()

    def _analyze_stack(self, request: Any, _context: Any) -> Any:
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        name = self._PolicyAnalyzerServicer__policy_pack_name
        version = self._PolicyAnalyzerServicer__policy_pack_version
        tags = self._PolicyAnalyzerServicer__stack_tags
        resources: list[PolicyResource] | None = None
        for policy in self._PolicyAnalyzerServicer__policies:
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
                continue
            if level == EnforcementLevel.REMEDIATE:
                level = EnforcementLevel.MANDATORY  # stack policies cannot remediate
            if resources is None:
                resources = decode_stack(self, request)
            report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
            args = StackValidationArgs(resources, self._get_policy_config(policy.name), tags)
            try:
                result = policy.validate(args, report)
                if isawaitable(result):
                    loop = asyncio.new_event_loop()
                    loop.run_until_complete(result)
                    loop.close()
            except UnknownValueError as e:
                response.diagnostics.append(
                    proto.AnalyzeDiagnostic(
                        policyName=policy.name,
                        policyPackName=name,
                        policyPackVersion=version,
                        message=f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' "
                        f"during preview: {e.message}",
                        urn="",
                        description=policy.description,
                        enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                    )
                )
            except _NOT_APPLICABLE as e:
                response.not_applicable.append(
                    proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or "")
                )
        return response


def share_stack_decoding() -> None:
    """Make PolicyPack use :class:`SharedDecodingServicer`. Idempotent."""
    setattr(sdk, "_PolicyAnalyzerServicer", SharedDecodingServicer)  # noqa: B010


# --- secrets: keep the mark the SDK drops ------------------------------------------------


def _contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SECRET_SIG_KEY) == SECRET_SIG or any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def keep_secret_marks() -> None:
    """Make the SDK keep :class:`SecretStr` marks when it deserializes resource properties.

    pulumi-policy 1.21 calls ``deserialize_properties(json)`` (a module global of
    ``pulumi_policy.policy``) for every Analyze/AnalyzeStack resource and drops the secret
    wrapper. Wrapping that one function marks secret strings first; nothing else changes.
    Idempotent.
    """
    import pulumi_policy.policy as sdk

    original = getattr(sdk, "deserialize_properties")  # noqa: B009 - not re-exported by the SDK
    if getattr(original, "keeps_secret_marks", False):
        return

    def deserialize(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
        if _contains_secret(props):
            props = mark_secrets(props)
        return original(props, proxy_secrets)

    deserialize.keeps_secret_marks = True  # type: ignore[attr-defined]
    setattr(sdk, "deserialize_properties", deserialize)  # noqa: B010
