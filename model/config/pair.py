"""Rules between the two stacks of one estate: what the source and the target stack must agree on.

Each stack derives the other side from its own config: the target maps the source VNets for Site
Recovery from the shared layout and resource groups, the Automation runbook switches both hubs'
connections from the target's config, and the offline plan draws and sequences both regions.
Two stack files that disagree on any of that describe two different estates; the one place for
target-only keys (``targetAddressPlan``, ``preConnectTarget``) is the target's stack file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from model.config.errors import Issue, show
from model.config.models import Role, StackConfig

# Keys both stacks read (camelCase, as in the stack files).
SHARED_KEYS = (
    "topology",
    "addressing",
    "regions",
    "layout",
    "circuits",
    "routingWeights",
    "crossConnect",
    "resourceGroupNames",
    "source",  # how production is managed (managed, adopted, external) and what is imported
)
_MAX_PATHS = 3  # differences listed per key; the rest are counted


@dataclass(frozen=True)
class StackSide:
    """One stack of the pair: its name, the file it was read from (as the user knows it), its config."""

    stack: str
    file: str
    cfg: StackConfig


def _dump(cfg: StackConfig, key: str) -> Any:
    return cfg.model_dump(by_alias=True, mode="json", include={_field(key)})[key]


def _field(alias: str) -> str:
    for name, info in StackConfig.model_fields.items():
        if (info.alias or name) == alias:
            return name
    raise KeyError(alias)


def differences(a: Any, b: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, a's value, b's value) for every leaf where ``a`` and ``b`` differ, in key order."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                yield from differences(a.get(key), b.get(key), f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                yield from differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield path, a, b


def _disagree(blamed: StackSide, other: StackSide, key: str, advice: str) -> list[Issue]:
    found = list(differences(_dump(blamed.cfg, key), _dump(other.cfg, key), key))
    issues = [
        Issue(
            path,
            mine,
            f"{blamed.file} and {other.file} (stack '{other.stack}': {show(theirs)}) disagree; {advice}",
        )
        for path, mine, theirs in found[:_MAX_PATHS]
    ]
    if len(found) > _MAX_PATHS:
        rest = ", ".join(p for p, _, _ in found[_MAX_PATHS:])
        issues.append(Issue(key, "...", f"{len(found) - _MAX_PATHS} more differences with {other.file}: {rest}"))
    return issues


def pair_issues(first: StackSide, second: StackSide) -> list[tuple[str, Issue]]:
    """Every disagreement between the two stacks, each as (stack to fix, issue)."""
    if first.cfg.role is second.cfg.role:
        issue = Issue(
            "role",
            second.cfg.role.value,
            f"{second.file} and {first.file} (stack '{first.stack}') both have role "
            f"{first.cfg.role.value!r}; one stack must be the source, the other the target",
        )
        return [(second.stack, issue)]
    source, target = (first, second) if first.cfg.role is Role.SOURCE else (second, first)
    out: list[tuple[str, Issue]] = []
    for key in SHARED_KEYS:
        advice = f"both stacks must agree on {key} (declare it once in Pulumi.yaml, or the same in both files)"
        out += [(target.stack, i) for i in _disagree(target, source, key, advice)]
    plan = source.cfg.target_address_plan
    if plan and plan != target.cfg.target_address_plan:
        advice = f"targetAddressPlan belongs in {target.file} only: remove it from {source.file}"
        out += [(source.stack, i) for i in _disagree(source, target, "targetAddressPlan", advice)]
    declared = source.cfg.pre_connect_target
    if declared is not None and declared != target.cfg.target_pre_connected:
        out.append(
            (
                source.stack,
                Issue(
                    "preConnectTarget",
                    declared,
                    f"{target.file} (stack '{target.stack}') connects the target "
                    f"{'before' if target.cfg.target_pre_connected else 'only at'} failover; "
                    f"preConnectTarget belongs in {target.file} only: remove it from {source.file}",
                ),
            )
        )
    for side, other in ((source, target), (target, source)):
        peer = side.cfg.peer_stack
        if peer and peer.rsplit("/", 1)[-1] != other.stack:
            out.append(
                (
                    side.stack,
                    Issue(
                        "peerStack",
                        peer,
                        f"{side.file} names stack {peer.rsplit('/', 1)[-1]!r}, but the other stack of this pair is "
                        f"'{other.stack}' ({other.file}); name it <org>/<project>/{other.stack}",
                    ),
                )
            )
    return out
