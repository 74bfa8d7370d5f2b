"""Rules of the translated address plan (``addressing: translated``)."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Addressing, Role, StackConfig
from model.config.rules.layout import layout_vnets
from policies.shared.addrspace import Network, find_overlaps, parse_prefix


def plan_issues(cfg: StackConfig) -> Iterator[Issue]:
    vnets = layout_vnets(cfg.layout)
    if cfg.addressing is Addressing.SAME:
        if cfg.target_address_plan:
            yield Issue("targetAddressPlan", cfg.target_address_plan, "only used with addressing 'translated'")
        return
    plan = cfg.target_address_plan
    if cfg.role is Role.SOURCE and not plan:
        return  # only the target stack builds from the plan
    known = {v.name for v in vnets}
    for name in plan:
        if name not in known:
            yield Issue(
                f"targetAddressPlan.{name}",
                plan[name],
                f"no VNet of that name in the layout ({', '.join(sorted(known))})",
            )
    entries: list[tuple[tuple[str, str], Network]] = []
    for vnet in vnets:
        path = f"targetAddressPlan.{vnet.name}"
        if vnet.name not in plan:
            yield Issue(path, None, f"addressing is 'translated' but VNet {vnet.name!r} has no target prefixes")
            continue
        targets = plan[vnet.name]
        if len(targets) != len(vnet.prefixes):
            yield Issue(
                path,
                targets,
                f"needs exactly {len(vnet.prefixes)} prefix(es), one per source prefix "
                f"({', '.join(str(n) for _, n in vnet.prefixes)})",
            )
            continue
        for i, (text, (_, src)) in enumerate(zip(targets, vnet.prefixes, strict=True)):
            tgt = parse_prefix(text)
            if tgt.prefixlen != src.prefixlen or tgt.version != src.version:
                yield Issue(f"{path}[{i}]", text, f"must have the same length as the source prefix {src}")
            entries.append(((f"target {vnet.name}", f"{path}[{i}]"), tgt))
    for vnet in vnets:
        for path, net in vnet.prefixes:
            entries.append(((f"source {vnet.name}", path), net))
    for ov in find_overlaps(entries):
        (a_owner, a_path), (b_owner, b_path) = ov.outer_key, ov.inner_key
        if a_owner.startswith("source") and b_owner.startswith("source"):
            continue  # reported by layout_issues
        target_path, other_owner, other_path, net = (
            (b_path, a_owner, a_path, ov.inner) if b_owner.startswith("target") else (a_path, b_owner, b_path, ov.outer)
        )
        yield Issue(
            target_path, str(net), f"target prefix overlaps {other_owner} at {other_path}; choose an unused range"
        )
