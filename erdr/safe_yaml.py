"""YAML that people hand in (stack files, ``--set`` values): PyYAML's safe loader, with limits.

PyYAML's ``safe_load`` builds whatever the text describes: a mapping that names a key twice keeps
the last value silently (the YAML spec requires keys to be unique, YAML 1.2 section 3.2.1.1, and
the Pulumi CLI's loader, Go's ``gopkg.in/yaml.v3``, refuses them: "mapping key already defined"),
aliases may expand a few hundred bytes into billions of nodes (a "billion laughs" document:
every consumer that walks the result runs out of memory or time), and its composer recurses once
per level, so a value nested a few thousand levels deep ends in ``RecursionError``.

:func:`loads` and :func:`load_file` refuse all three with a :class:`YamlLimitError` (a
``yaml.MarkedYAMLError``: the message names the place), before anything uses the document:

- a key twice in one mapping (keys merged in with ``<<`` may be overridden, as YAML 1.1 allows);
- more than :data:`MAX_DEPTH` levels of nesting;
- more than :data:`MAX_ALIASES` aliases, or a document of more than :data:`MAX_NODES` nodes once
  its aliases are expanded, or an alias inside its own anchor.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_NODES = 200_000  # a layout of 500 spokes is about 30,000


class YamlLimitError(ComposerError):
    """The document breaks one of the limits above; ``problem`` says which."""


class LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlLimitError(None, None, f"more than {MAX_ALIASES} aliases", event.start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        nests = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        self._depth += nests
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= nests

    def compose_document(self) -> Node | None:  # type: ignore[override]
        node: Node | None = super().compose_document()  # type: ignore[no-untyped-call]
        if node is not None and self._aliases:
            _expanded_size(node)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeConstructor refuses it itself
            if first is not None:
                raise YamlLimitError(
                    f"while reading a mapping (key {key!r} first at line {first.start_mark.line + 1})",
                    node.start_mark,
                    f"found duplicate key {key!r}: a key may appear once in a mapping",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: Node) -> int:
    """Nodes of the document with every alias expanded; refuses more than MAX_NODES, more than
    MAX_DEPTH levels (an alias adds the levels of what it refers to) and cycles. Shared subtrees
    are measured once, so this costs the composed size, not the expanded one."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (expanded size, height)
    open_nodes: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in open_nodes:
            raise YamlLimitError(None, None, "an alias refers to its own anchor (a cycle)", node.start_mark)
        if key not in measured:
            if depth - 1 > MAX_DEPTH:  # depth - 1 collections above this node
                raise YamlLimitError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded", node.start_mark
                )
            open_nodes.add(key)
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = list(node.value)
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            total, height = 1, int(isinstance(node, (SequenceNode, MappingNode)))  # levels of collections
            for child in children:
                size, child_height = visit(child, depth + 1)
                total, height = total + size, max(height, child_height + 1)
                if total > MAX_NODES:
                    raise YamlLimitError(
                        None, None, f"more than {MAX_NODES} values once its aliases are expanded", node.start_mark
                    )
            open_nodes.discard(key)
            measured[key] = (total, height)
        total, height = measured[key]
        if depth - 1 + height > MAX_DEPTH:
            raise YamlLimitError(
                None, None, f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded", node.start_mark
            )
        return total, height

    return visit(root, 1)[0]


def _flow_depth_check(text: str, name: str) -> None:
    """Refuses flow collections (``[``, ``{``) nested deeper than MAX_DEPTH before PyYAML reads
    them: its scanner keeps a possible simple key per flow level and walks all of them for every
    token, so ``[[[...]]]`` costs quadratic time (5,000 levels: seconds; 50,000: minutes) before
    the composer's own limit is reached. Quotes and comments are skipped."""
    depth, i, n = 0, 0, len(text)
    line_start = 0
    line = 0
    while i < n:
        ch = text[i]
        if ch == "\n":
            line, line_start = line + 1, i + 1
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                mark = yaml.Mark(name, i, line, i - line_start, text, i)
                raise YamlLimitError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "'":
            i += 1
            while i < n and not (text[i] == "'" and text[i + 1 : i + 2] != "'"):
                i += 2 if text[i] == "'" else 1
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        i += 1


def loads(text: str, name: str = "<string>") -> Any:
    """One YAML document from ``text`` (``name`` appears in error messages).

    The same text is read again and again in one process (every load of a stack reads
    ``Pulumi.yaml``, every start of the pack ``PulumiPolicy.yaml``; pure-Python composing costs
    about 10 ms a file): a text read before is answered from a small cache, as a deep copy, so a
    caller that changes its document never changes another's. A text that breaks
    a limit is not cached: it is refused again, with this call's ``name``."""
    return copy.deepcopy(_parsed(text, name))


@functools.lru_cache(maxsize=64)
def _parsed(text: str, name: str) -> Any:
    _flow_depth_check(text, name)
    loader = LimitedLoader(text)
    loader.name = name
    try:
        return loader.get_single_data()  # type: ignore[no-untyped-call]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def load_file(path: Path) -> Any:
    return loads(path.read_text(), str(path))
