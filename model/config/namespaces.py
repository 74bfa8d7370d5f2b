"""Which config namespaces a stack may use: this project's, the provider's and Pulumi's own.

Pulumi passes every key of a stack to the program, whatever its namespace, and reads none of
them for it: a key under a misspelt namespace (``expressroutedr:crossConnect``) would otherwise
be ignored without a word, and the stack built with the default instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

from model.config.errors import HiddenValue, Issue
from policies.shared.names import NAMESPACE

# azure-native reads its own keys (location, subscriptionId, ...); `pulumi:` holds the engine's
# (tags, disable-default-providers).
KNOWN_NAMESPACES = (NAMESPACE, "azure-native", "pulumi")


def namespace_issues(keys: Mapping[str, object], secret_keys: Collection[str] = ()) -> list[Issue]:
    """One issue per key (``namespace:name``) whose namespace nothing here reads; the value of a
    key in ``secret_keys`` is never shown."""
    issues: list[Issue] = []
    for key, value in keys.items():
        namespace, _, name = key.partition(":")
        if namespace in KNOWN_NAMESPACES:
            continue
        close = difflib.get_close_matches(namespace, KNOWN_NAMESPACES, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}:{name}'? " if close else ""
        known = ", ".join(f"{n}:" for n in KNOWN_NAMESPACES)
        issues.append(
            Issue(
                name,
                HiddenValue() if key in secret_keys else value,
                f"unknown namespace {namespace!r} ({hint}this stack reads only {known})",
                namespace,
            )
        )
    return issues
