"""The pack's rules, in one list; policies/__main__.py turns them into the PolicyPack."""

from __future__ import annotations

from .framework import Rule
from .rules.addressing import SUBNET_OVERLAP, VNET_OVERLAP
from .rules.circuits import AUTHORIZATION_KEY_RULE, PREMIUM_RULE, SAME_LOCATION_RULE, STORAGE_ENDPOINT_RULE
from .rules.firewall import FIREWALL_BASE_POLICY_RULE
from .rules.gateways import GATEWAY_SUBNET_RULE, LINK_LIMITS_RULE, ZONE_REDUNDANT_RULE
from .rules.peerings import DRILL_RULE, PEERING_RULE
from .rules.routing import UDR_NEXT_HOP_RULE
from .rules.service_subnets import SERVICE_SUBNET_RULE
from .rules.symmetry import SYMMETRY_RULE
from .shared.names import NAMESPACE

PACK_NAME = NAMESPACE

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
    UDR_NEXT_HOP_RULE,
    SYMMETRY_RULE,
    FIREWALL_BASE_POLICY_RULE,
    SERVICE_SUBNET_RULE,
)

BY_NAME = {rule.name: rule for rule in RULES}
