"""Reading resource properties that may hold unknown values, without ever raising.

The SDK hands rules their properties wrapped in ``unknown_checking_proxy``: reading a value that
is unknown during preview raises ``UnknownValueError``, which the SDK turns into an advisory
"can't run policy" note, i.e. the rule silently stops protecting anything. Rules here read
through :func:`get` instead, which returns :data:`UNKNOWN` for such values, so each rule can
decide for itself (resolve the reference another way, or report that it can't decide).

The same functions accept plain dicts and lists holding the engine's unknown sentinels, so the
benchmark and pure tests can feed data without the proxy.

Secrets: the SDK unwraps secret values before rules see them. :func:`sdk_glue.keep_secret_marks` makes
it keep a mark on secret strings (:class:`SecretStr`) so the authorization-key rule can tell a
secret from plain text; everything else sees an ordinary ``str``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import proxy as _proxy
from pulumi_policy.proxy import UnknownValueError as _SdkUnknown

# The SDK's proxies hand out their wrapped container for the key "__target"; reading through it
# skips a list copy per access, and unknowns are checked here anyway.
_PROXY_TYPES: Final = (getattr(_proxy, "_DictProxy"), getattr(_proxy, "_ListProxy"))  # noqa: B009

# The engine's sentinels for values not known until apply (pulumi_policy.proxy spells them the
# same; repeated here so this module stays importable without the SDK).
UNKNOWN_SENTINELS: Final[frozenset[str]] = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
SECRET_SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"


class _Unknown:
    """A value that is not known until the update runs (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; compare with `is UNKNOWN` first")


UNKNOWN: Final = _Unknown()


def is_unknown(value: object) -> bool:
    return (
        value is UNKNOWN
        or value is SECRET_UNKNOWN
        or (isinstance(value, str) and not isinstance(value, SecretStr) and value in UNKNOWN_SENTINELS)
    )


def _step_raw(node: Any, key: str | int) -> Any:
    if type(node) in _PROXY_TYPES:
        node = node["__target"]
    try:
        return node[key]
    except _SdkUnknown:
        return UNKNOWN
    except (KeyError, IndexError, TypeError):
        return None


def _step(node: Any, key: str | int) -> Any:
    value = _step_raw(node, key)
    return UNKNOWN if is_unknown(value) else value


def get(node: Any, *path: str | int) -> Any:
    """The value at ``path``; None when absent, :data:`UNKNOWN` when it (or a parent) is unknown."""
    for key in path:
        if node is None:
            return None
        if node is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if isinstance(node, str | bytes) or not isinstance(node, Sequence):
                return None
        elif not isinstance(node, Mapping):
            return None
        node = _step(node, key)
    return UNKNOWN if is_unknown(node) else node


def items(node: Any, *path: str | int) -> list[Any] | Any:
    """The list at ``path`` with unknown elements as :data:`UNKNOWN`; [] when absent;
    :data:`UNKNOWN` when the list itself is unknown."""
    value = get(node, *path)
    if value is UNKNOWN:
        return UNKNOWN
    if value is None or isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return []
    return [_step(value, i) for i in range(len(value))]


def text(node: Any, *path: str | int) -> str | Any | None:
    """A string value, None when absent or not a string, :data:`UNKNOWN` when unknown."""
    value = get(node, *path)
    if value is UNKNOWN or isinstance(value, str):
        return value
    return None


def flag(node: Any, *path: str | int) -> bool | Any | None:
    value = get(node, *path)
    if value is UNKNOWN or isinstance(value, bool):
        return value
    return None


def number(node: Any, *path: str | int) -> float | Any | None:
    value = get(node, *path)
    if value is UNKNOWN:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def keys(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        yield from node


# --- secrets --------------------------------------------------------------------------------


class SecretStr(str):
    """A string the engine sent as a secret; behaves as ``str`` everywhere else."""

    __slots__ = ()


class _SecretUnknown:
    """A secret whose value is not known yet: secret, and unknown."""

    def __repr__(self) -> str:
        return "<secret unknown>"


SECRET_UNKNOWN: Final = _SecretUnknown()


def is_secret(value: object) -> bool:
    return isinstance(value, SecretStr) or value is SECRET_UNKNOWN


def secrecy(node: Any, key: str) -> str:
    """How the engine sent ``node[key]``: "absent", "secret", "plain" or "unknown"."""
    value = _step_raw(node, key) if isinstance(node, Mapping) else None
    if value is None:
        return "absent"
    if is_secret(value):
        return "secret"
    if is_unknown(value):
        return "unknown"
    return "plain"


def mark_secrets(value: Any) -> Any:
    """Replace every secret-wrapped string in engine-shaped JSON with a :class:`SecretStr`
    (:data:`SECRET_UNKNOWN` while its value is unknown).

    Other secret values keep their wrapper, which the SDK unwraps as before.
    """
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            inner = value.get("value")
            if isinstance(inner, str):
                return SECRET_UNKNOWN if inner in UNKNOWN_SENTINELS else SecretStr(inner)
            return value
        return {k: mark_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mark_secrets(v) for v in value]
    return value
