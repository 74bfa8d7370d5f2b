"""The value types of the config: CIDR prefixes, addresses, Azure names, ARM IDs, regions.

Each is an ``Annotated[str, AfterValidator(...)]`` whose validator raises ``ValueError`` with a
message a person can act on; pydantic turns it into an :class:`~model.config.errors.Issue`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator

from policies.shared import azure_facts
from policies.shared.addrspace import PrefixError, parse_address, parse_prefix

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")


def _cidr(value: str) -> str:
    try:
        return str(parse_prefix(value))
    except PrefixError as exc:
        raise ValueError(str(exc)) from None


def _ip(value: str) -> str:
    try:
        return str(parse_address(value))
    except PrefixError as exc:
        raise ValueError(str(exc)) from None


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            "not a valid Azure resource name (1-64 letters, digits, '-', '_', '.'; starts with a letter or digit)"
        )
    return value


@dataclass(frozen=True)
class ArmIdPattern:
    """An ARM resource ID shape, written as the error message shows it: ``<guid>`` is a
    subscription GUID, any other ``<part>`` one path segment (a named group of the regex)."""

    what: str  # "an ExpressRoute circuit resource ID"
    template: str  # "/subscriptions/<guid>/resourceGroups/<rg>/providers/..."

    @cached_property
    def regex(self) -> re.Pattern[str]:
        def part(match: re.Match[str]) -> str:
            name = match.group(1)
            body = "[0-9a-fA-F-]{36}" if name == "guid" else "[^/]+"
            return f"(?P<{name}>{body})"

        pattern = re.sub(r"<([a-z]+)>", part, re.escape(self.template))
        return re.compile(f"^{pattern}$", re.IGNORECASE)

    def match(self, value: str) -> re.Match[str] | None:
        return self.regex.match(value)

    def validator(self, value: str) -> str:
        if not self.match(value):
            raise ValueError(f"not {self.what} ({self.template})")
        return value


_RG = "/subscriptions/<guid>/resourceGroups/<rg>/providers/"
CIRCUIT_ID = ArmIdPattern("an ExpressRoute circuit resource ID", _RG + "Microsoft.Network/expressRouteCircuits/<name>")
VNET_ID = ArmIdPattern("a virtual network resource ID", _RG + "Microsoft.Network/virtualNetworks/<name>")
SUBNET_ID = ArmIdPattern("a subnet resource ID", _RG + "Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>")
NSG_ID = ArmIdPattern("a network security group resource ID", _RG + "Microsoft.Network/networkSecurityGroups/<name>")
FIREWALL_POLICY_ID = ArmIdPattern(
    "an Azure Firewall policy resource ID", _RG + "Microsoft.Network/firewallPolicies/<name>"
)
PROTECTED_ITEM_ID = ArmIdPattern(
    "a Site Recovery replicated item ID",
    _RG + "Microsoft.RecoveryServices/vaults/<vault>/replicationFabrics/<fabric>/"
    "replicationProtectionContainers/<container>/replicationProtectedItems/<item>",
)

# A role definition made at a subscription (what `az role definition create` returns as its id).
ROLE_DEFINITION_ID = ArmIdPattern(
    "a role definition ID", "/subscriptions/<guid>/providers/Microsoft.Authorization/roleDefinitions/<role>"
)


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ARM_ID = re.compile(r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+(/providers/[^/]+(/[^/]+/[^/]+)+)?$", re.I)


def _subscription(value: str) -> str:
    if not _GUID.match(value):
        raise ValueError("not a subscription ID (a GUID such as 00000000-0000-0000-0000-000000000000)")
    return value.lower()


def _role_definition_id(value: str) -> str:
    found = ROLE_DEFINITION_ID.match(value)
    if not found or not _GUID.match(found.group("role")):
        raise ValueError(f"not {ROLE_DEFINITION_ID.what} ({ROLE_DEFINITION_ID.template}, <role> a GUID)")
    return value


def _arm_id(value: str) -> str:
    if not _ARM_ID.match(value):
        raise ValueError("not an ARM resource ID (/subscriptions/<guid>/resourceGroups/<rg>[/providers/...])")
    return value


def _region(value: str) -> str:
    if value not in azure_facts.REGIONS:
        close = [r for r in azure_facts.REGIONS if r.replace(" ", "") == value.lower().replace(" ", "")]
        hint = f"; did you mean {close[0]!r}?" if close else "; use the ARM name, e.g. 'eastasia'"
        raise ValueError(f"unknown Azure region{hint}")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
IpAddress = Annotated[str, AfterValidator(_ip)]
Name = Annotated[str, AfterValidator(_name)]
CircuitId = Annotated[str, AfterValidator(CIRCUIT_ID.validator)]
VnetId = Annotated[str, AfterValidator(VNET_ID.validator)]
SubnetId = Annotated[str, AfterValidator(SUBNET_ID.validator)]
NsgId = Annotated[str, AfterValidator(NSG_ID.validator)]
ProtectedItemId = Annotated[str, AfterValidator(PROTECTED_ITEM_ID.validator)]
FirewallPolicyId = Annotated[str, AfterValidator(FIREWALL_POLICY_ID.validator)]
RoleDefinitionId = Annotated[str, AfterValidator(_role_definition_id)]
SubscriptionId = Annotated[str, AfterValidator(_subscription)]
ArmId = Annotated[str, AfterValidator(_arm_id)]
Region = Annotated[str, AfterValidator(_region)]
