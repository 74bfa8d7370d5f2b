"""Config keys, paths and values as the Pulumi CLI reads them, so ``--set`` means what
``pulumi config set --path`` means.

Each function follows one piece of the CLI's source (github.com/pulumi/pulumi):

- :func:`parse_key`: ``config.ParseKey`` (sdk/go/common/resource/config/key.go): ``ns:name``, or
  the old ``ns:config:name`` form;
- :func:`parse_config_key`: ``parseConfigKey`` (pkg/cmd/pulumi/config/io.go): with ``--path`` the
  namespace belongs to the first path segment only, and a key without one is the project's;
- :func:`parse_property_path`: ``resource.ParsePropertyPathStrict``
  (sdk/go/common/resource/properties_path.go): ``a.b[0]``, ``a["dotted.key"]``;
- :func:`split_pair`: ``parseKeyValuePair`` (pkg/cmd/pulumi/config/io.go, ``config set-all``):
  ``key=value`` split at the first ``=``, or after a quoted key;
- :func:`coerce`: ``coerce`` (sdk/go/common/resource/config/object.go): below the top level,
  ``true``/``false`` are booleans and base-10 integers without a leading zero are numbers;
- :func:`set_path` / :func:`remove_path`: ``object.Set`` / ``object.Delete`` (same file): a missing
  container is created from the next accessor, an array grows by one at most, a scalar at the
  first level is replaced, a type clash deeper down is an error.

Where a value lands follows the CLI too:

- :func:`config_set` / :func:`config_rm`: ``pulumi config set --path`` and ``pulumi config rm
  --path`` (pkg/cmd/pulumi/config/config.go, ``configSetCmd.Run``: ``ps.Config.Set(key, v, path)``
  then ``SaveProjectStack``) read and write the *stack file's* config only; Pulumi.yaml is never
  consulted or changed;
- :func:`merge_project`: ``mergeConfig`` (pkg/workspace/config.go): a project value (``value`` or
  ``default``) applies only to a key the stack does not set; a stack value replaces the project
  value whole. So ``pulumi config set --path circuits.primary.bandwidthMbps 2000`` on a stack
  without ``circuits`` writes ``circuits: {primary: {bandwidthMbps: 2000}}`` to the stack file, and
  Pulumi.yaml's ``circuits`` (ids, locations, the secondary) no longer reach that stack:
  :func:`config_set` says so in a warning.

Two additions of this tool, neither ``config set``'s: a value starting with ``{`` or ``[`` is read
as JSON (or YAML flow), as ``pulumi config set-all --json`` stores an object value; and ``null``
removes the key as ``pulumi config rm --path`` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import yaml

from erdr import safe_yaml

Path = tuple[str | int, ...]


class ConfigKeyError(ValueError):
    """A key, path or value the CLI would refuse too; the message says why."""


@dataclass(frozen=True)
class ConfigKey:
    """``namespace`` and the property path below it (``path[0]`` is the config key's name)."""

    namespace: str
    path: Path

    def __str__(self) -> str:
        return f"{self.namespace}:{format_path(self.path)}"


def parse_key(text: str) -> tuple[str, str]:
    """``ns:name`` or ``ns:config:name`` -> (namespace, name), as ``config.ParseKey``."""
    parts = text.split(":")
    if len(parts) == 2:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return parts[0], parts[2]
    raise ConfigKeyError(
        f"could not parse {text} as a configuration key (configuration keys should be of the form `<namespace>:<name>`)"
    )


def parse_property_path(text: str) -> Path:
    """``resource.ParsePropertyPathStrict``."""
    elements: list[str | int] = []
    if text.startswith("."):
        raise ConfigKeyError("expected property path to start with a name or index")
    rest = text
    while rest:
        head = rest[0]
        if head == ".":
            rest = rest[1:]
            if not rest:
                raise ConfigKeyError("expected property path to end with a name or index")
            if rest[0] == "[":
                raise ConfigKeyError("expected property name after '.'")
        elif head == "[":
            if len(rest) > 1 and rest[1] == '"':
                key: list[str] = []
                i = 2
                while True:
                    if i >= len(rest):
                        raise ConfigKeyError("missing closing quote in property name")
                    if rest[i] == '"':
                        i += 1
                        break
                    if rest[i] == "\\" and i + 1 < len(rest) and rest[i + 1] == '"':
                        key.append('"')
                        i += 2
                    else:
                        key.append(rest[i])
                        i += 1
                if i >= len(rest) or rest[i] != "]":
                    raise ConfigKeyError("missing closing bracket in property access")
                elements.append("".join(key))
                rest = rest[i + 1 :]
            else:
                end = rest.find("]")
                if end == -1:
                    raise ConfigKeyError("missing closing bracket in array index")
                segment = rest[1:end]
                if segment == "*":
                    raise ConfigKeyError("a wildcard [*] selects values; it cannot be set")
                try:
                    elements.append(int(segment, 10))
                except ValueError:
                    raise ConfigKeyError(f"invalid array index: {segment!r}") from None
                rest = rest[end + 1 :]
        else:
            end = len(rest)
            for i, ch in enumerate(rest):
                if ch in ".[":
                    end = i
                    break
            elements.append(rest[:end])
            rest = rest[end:]
    if not elements:
        raise ConfigKeyError("empty config key path")
    if not isinstance(elements[0], str):
        raise ConfigKeyError("first path segment of config key must be a string")
    if elements[0] == "":
        raise ConfigKeyError("config key is empty")
    return tuple(elements)


def _plain(name: str) -> bool:
    return all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name)


def format_path(path: Path) -> str:
    """The path as ``PropertyPath.String`` spells it: ``a.b[0]``, ``a["x-y"]`` (a name with anything
    but ASCII letters, digits and ``_`` is quoted)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and _plain(part):
            out += ("." if out else "") + part
        else:
            out += '["' + part.replace('"', '\\"') + '"]'
    return out


def parse_config_key(text: str, project: str) -> ConfigKey:
    """A ``--path`` key: ``[ns:]path``; without a namespace it is the project's (``parseConfigKey``)."""
    text = text.strip()
    cut = next((i for i, ch in enumerate(text) if ch in "[."), -1)
    top, below = (text[:cut], text[cut:]) if cut > 0 else (text, "")
    namespace, name = parse_key(top) if ":" in top else (project, top)
    return ConfigKey(namespace, parse_property_path(name + below))


def split_pair(pair: str) -> tuple[str, str]:
    """``key=value`` -> (key, value); a key in quotes may hold ``=`` (``parseKeyValuePair``)."""
    if pair[:1] in ('"', "'"):
        quote = pair[0]
        key, sep, value = pair[1:].partition(quote + "=")
    else:
        key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise ConfigKeyError("config value must be in the form [key]=[value]")
    return key, value


def coerce(text: str) -> Any:
    """``object.go`` ``coerce``: booleans and base-10 integers; anything else stays a string."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) > 1 and text[0] == "0":
        return text
    digits = text[1:] if text[:1] in ("+", "-") else text
    if digits.isascii() and digits.isdigit():
        number = int(text, 10)
        if -(2**63) <= number < 2**64:  # Go's ParseInt / ParseUint ranges
            return number
    return text


def parse_value(text: str, *, top_level: bool) -> Any:
    """A ``--set`` value: ``null`` unsets; ``{...}``/``[...]`` is JSON (or YAML flow); else as the CLI:
    a string at the top level, below it :func:`coerce`'s booleans and integers."""
    stripped = text.strip()
    if stripped == "null":
        return None
    if stripped[:1] in ("{", "["):
        try:
            return safe_yaml.loads(stripped, "the value")
        except safe_yaml.YamlLimitError as exc:
            raise ConfigKeyError(f"the value is refused: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigKeyError(f"the value starts like JSON but is not valid JSON or YAML ({exc})") from None
    return text if top_level else coerce(text)


def _container(accessor: str | int) -> Any:
    return [None] * (accessor + 1) if isinstance(accessor, int) else {}


def _decode(value: Any) -> Any:
    """Pulumi hands object config to programs as JSON text; a path below one reads into it."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):  # nested too deep to be config: left as text
            return value
    return value


def set_path(config: dict[str, Any], path: Path, value: Any) -> None:
    """``object.Set``: set ``value`` at ``path``, creating the containers on the way."""
    key = path[0]
    assert isinstance(key, str)
    if len(path) == 1:
        config[key] = value
        return
    root = _decode(config.get(key))
    if not isinstance(root, (dict, list)):
        root = _container(path[1])  # the first level is replaced, as the CLI's COMPAT rule does
    config[key] = root
    node: Any = root
    for depth in range(1, len(path)):
        accessor = path[depth]
        where = format_path(path[: depth + 1])
        last = depth == len(path) - 1
        if isinstance(node, list):
            if not isinstance(accessor, int):
                raise ConfigKeyError(f"{where}: key for an array must be an int")
            if accessor < 0 or accessor > len(node):
                raise ConfigKeyError(f"{where}: array index out of range (the array has {len(node)} items)")
            if accessor == len(node):
                node.append(None)
        elif isinstance(accessor, int):
            raise ConfigKeyError(f"{where}: key for a map must be a string")
        slot = cast(Any, node)  # a list indexed by an int or a dict by a str, as checked above
        if last:
            if isinstance(node, dict) and not node and accessor == "secure" and isinstance(value, str):
                # A stack file stores a secret as {secure: <ciphertext>}: the CLI keeps that shape for it.
                raise ConfigKeyError('maps with the single key "secure" are reserved')
            slot[accessor] = value
            return
        child = _decode(slot[accessor] if isinstance(node, list) else slot.get(accessor))
        if child is None:
            child = _container(path[depth + 1])
        elif not isinstance(child, (dict, list)):
            kind = "an array" if isinstance(path[depth + 1], int) else "a map"
            raise ConfigKeyError(f"{where}: expected {kind}, found {json.dumps(child)}")
        slot[accessor] = child
        node = child


def remove_path(config: dict[str, Any], path: Path) -> None:
    """``object.Delete`` (``pulumi config rm --path``): remove the value at ``path`` if it is there."""
    node: Any = config
    for depth, accessor in enumerate(path):
        present = (isinstance(node, list) and isinstance(accessor, int) and 0 <= accessor < len(node)) or (
            isinstance(node, dict) and isinstance(accessor, str) and accessor in node
        )
        if not present:
            return
        slot = cast(Any, node)
        if depth == len(path) - 1:
            del slot[accessor]
            return
        slot[accessor] = _decode(slot[accessor])
        node = slot[accessor]


def merge_project(stack: Mapping[str, Any], project: Mapping[str, Any]) -> dict[str, Any]:
    """``mergeConfig``: the stack's keys as they are, and a project value for each key the stack
    does not set (never merged into a stack value)."""
    return {**dict(project), **dict(stack)}


def _wiped(path: Path, project_value: Any) -> str:
    shown = format_path(path[:1])
    if isinstance(project_value, dict):
        lost = ", ".join(sorted(str(k) for k in project_value if not (len(path) > 1 and k == path[1])))
        return f"{shown} (its {lost})" if lost else shown
    return shown


def config_set(stack: dict[str, Any], project: Mapping[str, Any], path: Path, value: Any, *, where: str) -> str | None:
    """``pulumi config set --path`` on the stack file's config ``stack`` (keys without the project's
    namespace). Returns a warning when the write replaces a project value the stack did not set
    before: the CLI writes the same, and the stack then no longer sees the rest of that value.
    ``where`` names the stack file in the warning."""
    key = path[0]
    assert isinstance(key, str)
    fresh = key not in stack
    set_path(stack, path, value)
    if fresh and key in project and len(path) > 1:
        return (
            f"{where}: {format_path(path)} is written to the stack file as `pulumi config set --path` "
            f"writes it, so {format_path(path[:1])} there replaces Pulumi.yaml's whole value and "
            f"{_wiped(path, _decode(project[key]))} no longer apply to this stack; to change one field "
            "of a project value edit Pulumi.yaml, or plan it with --override"
        )
    return None


def config_rm(stack: dict[str, Any], project: Mapping[str, Any], path: Path, *, where: str) -> str | None:
    """``pulumi config rm --path`` on the stack file's config. Returns a warning when the key is
    not in the stack file but in Pulumi.yaml: the CLI removes nothing then, and the project value
    stays."""
    key = path[0]
    assert isinstance(key, str)
    if key not in stack and key in project:
        remove_path(stack, path)
        return (
            f"{where}: {format_path(path)} is not in the stack file, so `pulumi config rm --path` removes "
            f"nothing and Pulumi.yaml's {format_path(path[:1])} still applies; to plan without it use --override"
        )
    remove_path(stack, path)
    return None
