"""The real estate: where each VNet lives, who manages the production network, what the hub's
appliance is.

Kept apart from ``models.py`` because these keys describe an estate that already exists (built
by Azure Landing Zones, Terraform, Bicep or by hand) rather than the network this program designs:

- :class:`Placement`: the subscription and resource group of a VNet on each side (landing-zone
  spokes live in subscriptions apart from the connectivity subscription that holds the hub);
- :class:`SourceConfig`: ``managed`` (the prod stack builds production), ``adopted`` (it imports
  what exists and manages it from then on) or ``external`` (it manages none of it; the dr stack
  checks the declaration against Azure at preview);
- :class:`NvaLayout`: the hub's next hop in the target region: an appliance VM that Site Recovery
  replicates, or an Azure Firewall that this program provisions in the target hub.

``python -m erdr.discover`` writes all three from the live network.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from model.config.types import ArmId, FirewallPolicyId, Name, ProtectedItemId, SubscriptionId


class _Model(BaseModel):
    # The same settings as models.Model (which imports this module, so it cannot be shared).
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Location(_Model):
    """Where one VNet (and everything inside it: subnets, route tables, peerings from it, the hub's
    gateway and connections) lives on one side. Unset keys take the stack's defaults."""

    subscription_id: SubscriptionId | None = Field(
        default=None, description="Subscription; default: the subscription the stack deploys to."
    )
    resource_group: Name | None = Field(
        default=None, description="Resource group (must exist unless it is the stack's own resourceGroupNames group)."
    )
    name: Name | None = Field(
        default=None, description="The VNet's Azure name on this side; default <layout name>-<region>."
    )


class Placement(_Model):
    source: Location = Location()
    target: Location = Location()

    def of(self, role: str) -> Location:
        return self.source if role == "source" else self.target


class Subscriptions(_Model):
    """The subscription each stack deploys to: its resource group, Site Recovery, the drill network,
    and every VNet whose placement names no other. Project config, so each stack knows the other's
    (the dr stack's network mappings, role scopes and runbook name prod's resources)."""

    source: SubscriptionId | None = Field(default=None, description="The prod stack's subscription.")
    target: SubscriptionId | None = Field(default=None, description="The dr stack's subscription.")

    def of(self, role: str) -> str | None:
        return self.source if role == "source" else self.target


RegionCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,16}$")]


class RegionCodes(_Model):
    source: RegionCode = Field(description="The token that names the source region in the estate's names, e.g. gwc.")
    target: RegionCode = Field(description="The token that replaces it in the target's names, e.g. sdc.")


class NamingConfig(_Model):
    """How the target's copies of placed or adopted source names are named (model/naming.py)."""

    region_codes: RegionCodes | None = Field(
        default=None,
        description="Swap this region code (a token between '-', '_' or '.') in source names for the "
        "target's; the source region's ARM name is always swapped.",
    )


class NvaKind(StrEnum):
    APPLIANCE = "appliance"
    AZURE_FIREWALL = "azureFirewall"


class FirewallProvisioning(StrEnum):
    PRE_PROVISIONED = "preProvisioned"
    AT_FAILOVER = "atFailover"


# Azure Firewall's subnet (AZURE_FIREWALL_SUBNET): exact name, /26 or larger ("Azure Firewall FAQ",
# https://learn.microsoft.com/azure/firewall/firewall-faq: "Azure Firewall doesn't need a subnet
# bigger than /26"; the IP configuration's subnet "must be named 'AzureFirewallSubnet'",
# azure-rest-api-specs network azureFirewall.json, AzureFirewallIPConfigurationPropertiesFormat).
AZURE_FIREWALL_SUBNET_MAX_PREFIXLEN = 26


class NvaLayout(_Model):
    """What the hub's next hop is, so the target region has one (the NVA is the next hop of every
    UDR; without it in the target, failed-over VMs reach nothing)."""

    kind: NvaKind = Field(
        default=NvaKind.APPLIANCE,
        description="appliance: a VM that Site Recovery replicates; azureFirewall: Azure Firewall in the "
        "target hub (Site Recovery cannot replicate Azure Firewall).",
    )
    replicated_item: ProtectedItemId | None = Field(
        default=None,
        description="appliance: the NVA VM's replicated item; it boots alone in the recovery plan's first group.",
    )
    firewall_sku: Literal["Standard", "Premium"] = Field(default="Standard", description="azureFirewall: SKU tier.")
    provisioning: FirewallProvisioning = Field(
        default=FirewallProvisioning.PRE_PROVISIONED,
        description="azureFirewall: preProvisioned (in standby) or atFailover (created by the failover update; "
        "its minutes count in the RTO).",
    )
    base_policy_id: FirewallPolicyId | None = Field(
        default=None, description="azureFirewall: the production (source region) firewall policy."
    )
    target_base_policy_id: FirewallPolicyId | None = Field(
        default=None,
        description="azureFirewall: a firewall policy in the target region (a copy of basePolicyId's rules) "
        "that the target policy inherits from. A parent policy must be in the child's region (Azure "
        "Firewall Manager, policy overview), so the source's own policy can never be the target's base.",
    )

    @property
    def firewall(self) -> bool:
        return self.kind is NvaKind.AZURE_FIREWALL


class SourceMode(StrEnum):
    MANAGED = "managed"
    ADOPTED = "adopted"
    EXTERNAL = "external"


class SourceConfig(_Model):
    """Who manages the production (source) network."""

    mode: SourceMode = Field(
        default=SourceMode.MANAGED,
        description="managed: the prod stack builds it; adopted: it imports the existing resources; "
        "external: nothing on prod, the dr stack checks the declared layout against Azure at preview.",
    )
    imports: dict[str, ArmId] = Field(
        default_factory=dict[str, ArmId],
        description="adopted: the prod stack's resource name -> ARM ID of the existing resource (erdr.discover).",
    )
    route_names: dict[str, dict[str, str]] = Field(
        default_factory=dict[str, dict[str, str]],
        description="adopted: route table resource name -> {address prefix: existing route name}.",
    )
