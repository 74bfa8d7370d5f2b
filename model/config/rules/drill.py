"""Rules of the isolated drill network and the recovery plan."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Role, StackConfig
from model.config.rules.layout import layout_vnets
from model.config.types import PROTECTED_ITEM_ID
from policies.shared.addrspace import PrefixError, carve, find_overlaps, parse_prefix


def drill_issues(cfg: StackConfig) -> Iterator[Issue]:
    if not cfg.drill.enabled or cfg.role is not Role.TARGET:
        return  # the drill network lives in the target stack only
    base = parse_prefix(cfg.drill.address_space)
    try:
        carve(cfg.layout.prefixes(), base)
    except PrefixError as exc:
        yield Issue("drill.addressSpace", cfg.drill.address_space, str(exc))
        return
    used = [((v.name, path), net) for v in layout_vnets(cfg.layout) for path, net in v.prefixes]
    for name, prefixes in cfg.target_address_plan.items():
        used += [((name, f"targetAddressPlan.{name}[{i}]"), parse_prefix(p)) for i, p in enumerate(prefixes)]
    overlapped: list[str] = []
    for ov in find_overlaps([*used, (("drill", "drill.addressSpace"), base)]):
        keys = {ov.outer_key[0], ov.inner_key[0]}
        if "drill" in keys:
            other = ov.inner_key if ov.outer_key[0] == "drill" else ov.outer_key
            overlapped.append(other[1])
    if overlapped:  # one problem, one line, however many prefixes it covers
        yield Issue(
            "drill.addressSpace",
            cfg.drill.address_space,
            f"drill network overlaps {', '.join(overlapped)}; a drill must use different addresses",
        )


def recovery_plan_issues(cfg: StackConfig) -> Iterator[Issue]:
    plan = cfg.recovery_plan
    if plan is None or not plan.items:
        return
    if cfg.role is not Role.TARGET:
        yield Issue(
            "recoveryPlan", plan.items, "the recovery plan lives in the target stack's vault; set it on dr only"
        )
    if not cfg.site_recovery.enabled:
        yield Issue("recoveryPlan", plan.items, "needs siteRecovery.enabled: the plan is registered in its vault")
    seen: dict[str, str] = {}
    vaults: dict[str, str] = {}
    for g, group in enumerate(plan.boot_groups):
        for i, item in enumerate(group.items):
            path = f"recoveryPlan.bootGroups[{g}].items[{i}]"
            if item.lower() in seen:
                yield Issue(path, item, f"listed twice (also at {seen[item.lower()]}); a VM boots in one group")
            seen[item.lower()] = path
            match = PROTECTED_ITEM_ID.match(item)
            vault = match.group("vault").lower() if match else ""
            if vaults and vault not in vaults:
                first = next(iter(vaults.values()))
                yield Issue(path, item, f"belongs to vault {vault!r}, not to the vault of {first}; one plan, one vault")
            vaults.setdefault(vault, path)
