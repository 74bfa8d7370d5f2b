"""How config problems are reported: one line per problem, naming stack, key path and value."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

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


SHOWN = 120  # characters of a value a message shows


def show(value: object) -> str:
    """The value as a message shows it: a string as ``repr``, anything else as JSON, cut at
    :data:`SHOWN` characters. Only that much is ever serialised: a value of millions of items,
    nested thousands of levels deep, or holding itself costs no more than a short one."""
    if isinstance(value, HiddenValue):
        return "<hidden>"
    text = repr(value[: SHOWN + 1]) if isinstance(value, str) else _json_prefix(value, SHOWN + 1)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _json_prefix(value: object, budget: int) -> str:
    """The first ``budget`` characters (or a few more) of ``json.dumps(value, default=str)``,
    produced lazily (a stack of iterators, no recursion) and stopped once the budget is spent."""
    out: list[str] = []
    used = 0
    stack: list[Iterator[object]] = [iter([value])]
    while stack and used < budget:
        try:
            item = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(item, _Text):
            piece = str(item)
        elif isinstance(item, dict):
            piece = "{"
            stack.append(_members(cast(dict[object, object], item), budget))
        elif isinstance(item, (list, tuple)):
            piece = "["
            stack.append(_elements(cast(Iterable[object], item)))
        elif isinstance(item, str):
            piece = json.dumps(item[:budget])
        elif item is None or isinstance(item, (bool, int, float)):
            piece = json.dumps(item)
        else:
            piece = json.dumps(str(item)[:budget])
        out.append(piece)
        used += len(piece)
    return "".join(out)


class _Text(str):
    """Punctuation between values in :func:`_json_prefix`."""


def _members(mapping: dict[object, object], budget: int) -> Iterator[object]:
    for i, (key, val) in enumerate(mapping.items()):
        name = (
            key
            if isinstance(key, str)
            else json.dumps(key)
            if key is None or isinstance(key, (bool, int, float))
            else str(key)
        )
        yield _Text(("" if i == 0 else ", ") + json.dumps(name[:budget]) + ": ")
        yield val
    yield _Text("}")


def _elements(items: Iterable[object]) -> Iterator[object]:
    for i, item in enumerate(items):
        if i:
            yield _Text(", ")
        yield item
    yield _Text("]")


class HiddenValue:
    """Stands in for a value that must not be printed (a plain-text authorization key)."""
