"""Drop azure-native's API-version type aliases before the SDK turns each one into URN work.

Every azure-native v3 resource class adds one ``Alias(type_="azure-native:<module>/v<date>:<Name>")``
per API version Azure ever published for it (60 on ``network:VirtualNetwork``), so a stack that
once registered the resource from an explicitly versioned SDK (``pulumi package add azure-native
network 2023-02-01``) can move to the default one without a replacement. The Python SDK turns
every alias into a chain of Outputs in ``Resource.__init__`` and waits for all of them before the
program ends; with a few hundred resources that was over 80 % of a run (docs/benchmarks.md).

This program registers every resource under its default type (``azure-native:network:VirtualNetwork``)
and never from a versioned SDK, so no state it produced holds a versioned type: the aliases can
never match and the engine never needs them. URNs, inputs and options are untouched. Aliases of
any other shape (a rename, a new parent, anything set in ``opts``) are kept. Should a resource
ever be moved *from* a versioned type into this program, give it that one alias explicitly.
"""

from __future__ import annotations

import functools

import pulumi

_PREFIX = "azure-native:"


@functools.cache
def _is_versioned_variant(alias_type: str, resource_type: str) -> bool:
    """``azure-native:network/v20230201[preview]:VirtualNetwork`` for ``azure-native:network:VirtualNetwork``."""
    parts = alias_type.split(":")
    if len(parts) != 3 or parts[0] != "azure-native" or "/" not in parts[1]:
        return False
    module, version = parts[1].split("/", 1)
    date = version.removesuffix("preview")
    return len(date) == 9 and date[0] == "v" and date[1:].isdigit() and resource_type == f"{_PREFIX}{module}:{parts[2]}"


def is_api_version_alias(alias: object, resource_type: str) -> bool:
    """An alias that only renames the type to a versioned variant of ``resource_type`` itself."""
    return (
        type(alias) is pulumi.Alias
        and isinstance(alias.type_, str)
        and alias.name is ...
        and alias.parent is ...
        and alias.stack is ...
        and alias.project is ...
        and _is_versioned_variant(alias.type_, resource_type)
    )


def drop_api_version_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Stack transformation: the resource as written, minus its API-version type aliases."""
    aliases = args.opts.aliases
    if not aliases or not args.type_.startswith(_PREFIX):
        return None
    kept = [a for a in aliases if not is_api_version_alias(a, args.type_)]
    if len(kept) == len(aliases):
        return None
    opts = pulumi.ResourceOptions.merge(args.opts, None)
    opts.aliases = kept
    return pulumi.ResourceTransformationResult(args.props, opts)
