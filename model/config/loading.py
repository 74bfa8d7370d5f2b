"""Stack config -> :class:`StackConfig`, or :class:`ConfigError` with every problem found.

Structural rules (types, enums, unknown keys, CIDR syntax) live in the pydantic models; rules
that span fields live in :mod:`model.config.rules`. Pydantic's errors are translated here into
the same one-line form, with the key path as ``pulumi config set --path`` spells it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from model.config.errors import ConfigError, HiddenValue, Issue
from model.config.models import SECRET_KEYS, StackConfig
from model.config.namespaces import namespace_issues
from model.config.rules import semantic_issues
from model.config.rules.keys import key_issues
from policies.shared.names import NAMESPACE


def _loc_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(raw: Mapping[str, Any], loc: tuple[int | str, ...]) -> object:
    node: Any = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at ``loc`` (for spelling hints), if there is one."""
    node: Any = StackConfig
    for part in (*loc, None):
        while get_origin(node) in (Union, types.UnionType, Annotated):
            args = [a for a in get_args(node) if a is not type(None)]
            node = args[0] if args else None
        if part is None:
            break
        if isinstance(node, type) and issubclass(node, BaseModel) and isinstance(part, str):
            fields = {(f.alias or n): f for n, f in node.model_fields.items()}
            node = fields[part].annotation if part in fields else None
        elif get_origin(node) in (list, dict):
            node = get_args(node)[-1]
        else:
            return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    model = _model_at(loc)
    return [f.alias or n for n, f in model.model_fields.items()] if model else []


def _pydantic_issues(raw: Mapping[str, Any], exc: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic adds the validator's name to unions and annotated types; keep the user's path.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc[:-1]), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown key ({hint}check the spelling against README.md's config reference)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        value: object = err.get("input") if err["type"] != "missing" else None
        if err["type"] != "missing":
            value = _lookup(raw, loc) if _lookup(raw, loc) is not None else value
        if loc and loc[-1] in SECRET_KEYS:
            value = HiddenValue()
        issues.append(Issue(_loc_path(loc), value, msg))
    return issues


def _normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands object-valued config to programs as JSON text; decode it once here."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(json.JSONDecodeError, RecursionError):  # too deep: stays text
                value = json.loads(value)
        out[key] = value
    return out


def load(
    stack: str,
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    foreign: Mapping[str, Any] | None = None,
) -> StackConfig:
    """Validate the merged config of one stack; raise :class:`ConfigError` on any problem.

    ``raw`` maps keys without the namespace to values; ``secret_keys`` names the keys that
    Pulumi holds as secrets (``pulumi config set --secret``); ``foreign`` holds the stack's keys
    of other namespaces (``namespace:name``, secret ones in ``secret_keys`` under that full key),
    refused unless the namespace is one a stack may use.
    """
    unknown = namespace_issues(foreign or {}, secret_keys)
    data = _normalise(raw)
    plain_secrets = [
        Issue(
            key,
            HiddenValue(),
            f"authorization keys must be secrets: run `pulumi config set --secret {NAMESPACE}:{key} <key>`",
        )
        for key in SECRET_KEYS
        if key in data and key not in secret_keys
    ]
    if plain_secrets or unknown:
        raise ConfigError(stack, unknown + plain_secrets)
    # Read by the program as Pulumi secrets, never held in the model; the rules see them only here.
    keys = {key: str(data.pop(key)) for key in SECRET_KEYS if key in data}
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(stack, _pydantic_issues(data, exc)) from None
    issues = [*semantic_issues(cfg, foreign), *key_issues(cfg, keys)]
    if issues:
        raise ConfigError(stack, issues)
    return cfg


def json_schema() -> dict[str, Any]:
    schema = StackConfig.model_json_schema(by_alias=True)
    schema["title"] = f"{NAMESPACE} stack config (keys under the '{NAMESPACE}:' namespace)"
    return schema
