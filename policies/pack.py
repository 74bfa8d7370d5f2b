"""The pack's rules, in one list; policies/__main__.py turns them into the PolicyPack."""

from __future__ import annotations

try:
    from .addressing import SUBNET_OVERLAP, VNET_OVERLAP
    from .circuits import AUTHORIZATION_KEY_RULE, PREMIUM_RULE, SAME_LOCATION_RULE, STORAGE_ENDPOINT_RULE
    from .framework import Rule
    from .gateways import GATEWAY_SUBNET_RULE, LINK_LIMITS_RULE, ZONE_REDUNDANT_RULE
    from .peerings import DRILL_RULE, PEERING_RULE
except ImportError:  # run by `python -m pulumi.policy` from the pack directory
    from addressing import SUBNET_OVERLAP, VNET_OVERLAP  # type: ignore[no-redef]
    from circuits import (  # type: ignore[no-redef]
        AUTHORIZATION_KEY_RULE,
        PREMIUM_RULE,
        SAME_LOCATION_RULE,
        STORAGE_ENDPOINT_RULE,
    )
    from framework import Rule  # type: ignore[no-redef]
    from gateways import GATEWAY_SUBNET_RULE, LINK_LIMITS_RULE, ZONE_REDUNDANT_RULE  # type: ignore[no-redef]
    from peerings import DRILL_RULE, PEERING_RULE  # type: ignore[no-redef]

PACK_NAME = "expressroute-dr"

RULES: tuple[Rule, ...] = (
    VNET_OVERLAP,
    SUBNET_OVERLAP,
    GATEWAY_SUBNET_RULE,
    PEERING_RULE,
    PREMIUM_RULE,
    SAME_LOCATION_RULE,
    STORAGE_ENDPOINT_RULE,
    DRILL_RULE,
    ZONE_REDUNDANT_RULE,
    AUTHORIZATION_KEY_RULE,
    LINK_LIMITS_RULE,
)

BY_NAME = {rule.name: rule for rule in RULES}
