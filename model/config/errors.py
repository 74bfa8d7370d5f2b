"""How config problems are reported: one line per problem, naming stack, key path and value."""

from __future__ import annotations

import json
from dataclasses import dataclass

from policies.shared.names import NAMESPACE


class ConfigError(Exception):
    """Invalid stack config; ``str()`` is one line per problem, each naming stack, key, value."""

    def __init__(self, stack: str, issues: list[Issue]) -> None:
        self.stack = stack
        self.issues = issues
        super().__init__("\n".join(issue.line(stack) for issue in issues))


@dataclass(frozen=True)
class Issue:
    path: str
    value: object
    message: str
    namespace: str = NAMESPACE  # another one only for a key outside this project's namespace

    def line(self, stack: str) -> str:
        shown = show(self.value)
        return f"stack '{stack}': config {self.namespace}:{self.path} = {shown}: {self.message}"


def show(value: object) -> str:
    if isinstance(value, HiddenValue):
        return "<hidden>"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class HiddenValue:
    """Stands in for a value that must not be printed (a plain-text authorization key)."""
