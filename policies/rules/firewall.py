"""Firewall policy rule: a policy's parent (``basePolicy``) is in the policy's own region.

"The parent policy must be in the same region as the child policy" (Azure Firewall Manager,
"Azure Firewall Manager policy overview", policy hierarchy:
learn.microsoft.com/azure/firewall-manager/policy-overview). Decided from what the stack holds:
a parent registered in the stack (linked by ID or property dependency) with another location, and,
on a target stack, a parent that is the source region's policy (the stack config's
``layout.hub.nva.basePolicyId``).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, canonical_id, stack_config_value
from ..framework import Context, Rule
from ..shared.names import FIREWALL_POLICY
from ..values import UNKNOWN, get, text


def _source_policy() -> str | None:
    if stack_config_value("role") != "target":
        return None
    layout = stack_config_value("layout")
    hub = layout.get("hub") if isinstance(layout, dict) else None
    nva = hub.get("nva") if isinstance(hub, dict) else None
    found = nva.get("basePolicyId") if isinstance(nva, dict) else None
    return canonical_id(found) if isinstance(found, str) else None


def check_base_policy_region(ctx: Context, estate: Estate) -> None:
    policies = estate.of(FIREWALL_POLICY)
    by_id = {canonical_id(i): r for r in policies if isinstance(i := text(r.props, "id"), str)}
    by_urn = {r.urn: r for r in policies}
    source = _source_policy()
    for r in policies:
        base = get(estate.settable(r, "basePolicy"), "id")
        if base is None:
            continue
        name = text(r.props, "firewallPolicyName") or r.name
        location = text(estate.settable(r, "location"))
        parent = by_id.get(canonical_id(base)) if isinstance(base, str) else None
        if parent is None:
            parent = next((by_urn[u] for u in estate.deps(r, "basePolicy") if u in by_urn), None)
        if isinstance(base, str) and source is not None and canonical_id(base) == source:
            ctx.violation(
                f"Firewall policy '{name}' inherits from {base}, the source region's policy "
                "(layout.hub.nva.basePolicyId): a parent policy must be in the child's region. Keep a copy "
                "of its rules in the target region and set layout.hub.nva.targetBasePolicyId to it.",
                r.urn,
            )
            continue
        if parent is None:
            if base is UNKNOWN:
                ctx.undecided(r.urn, f"the region of firewall policy '{name}''s parent", "basePolicy.id")
            continue
        theirs = text(estate.settable(parent, "location"))
        if location is UNKNOWN or theirs is UNKNOWN:
            ctx.undecided(r.urn, f"the region of firewall policy '{name}''s parent", "location")
            continue
        if isinstance(location, str) and isinstance(theirs, str) and location.lower() != theirs.lower():
            ctx.violation(
                f"Firewall policy '{name}' ({location}) inherits from a policy in {theirs}: a parent policy "
                "must be in the child's region. Give it a parent in its own region.",
                r.urn,
            )


FIREWALL_BASE_POLICY_RULE = Rule(
    name="firewall-policy-base-same-region",
    display_name="A firewall policy's parent is in its region",
    description=(
        "A firewall policy's basePolicy must be in the same region as the policy (Azure Firewall "
        "Manager policy hierarchy); the target firewall's policy never inherits from the source's."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Give the policy a parent in its own region (layout.hub.nva.targetBasePolicyId).",
    check=check_base_policy_region,
    defaults={"onUnknown": "advise"},
)
