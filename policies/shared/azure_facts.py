"""Reference data about Azure regions, ExpressRoute peering locations and ExpressRoute limits.

Every table below is preceded by a comment naming the Microsoft document it was taken from and
the date it was read. Where a value is *inferred* rather than stated by the document, the entry
says so and is listed in an ``INFERRED_*`` set, so policies can treat it with less confidence.

This module is pure data plus a few lookup helpers; it has no third-party dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Region:
    """An Azure region as used in an ARM ``location``."""

    name: str
    """ARM programmatic name, e.g. ``"eastasia"``."""
    display_name: str
    """Display name, e.g. ``"East Asia"``."""
    geopolitical_region: str
    """ExpressRoute geopolitical region, spelled as in the ExpressRoute locations doc."""
    availability_zones: bool
    """True when the region supports availability zones."""


# ---------------------------------------------------------------------------------------------
# Geopolitical region names.
#
# Source: "ExpressRoute peering locations and connectivity partners", section "Azure regions to
# ExpressRoute locations within a geopolitical region"
# https://learn.microsoft.com/azure/expressroute/expressroute-locations-providers
# (article ms.date 2026-04-28; the table lives in the include
# includes/expressroute-azure-regions-geopolitical-region.md). Read 2026-11-24.
#
# These are the doc's own spellings. NOTE: the doc calls the East Asia / Southeast Asia row
# "Asia" (not "Asia Pacific") and the Korea row "South Korea" (not "Korea"). "Asia Pacific" is
# the *Geography* column of the "Azure regions list" doc / the `az account list-locations`
# regionalDisplayName, which is a different grouping. See GEOPOLITICAL_REGION_ALIASES.
# ---------------------------------------------------------------------------------------------
AUSTRALIA_GOVERNMENT: Final = "Australia Government"
EUROPE: Final = "Europe"
NORTH_AMERICA: Final = "North America"
ASIA: Final = "Asia"
INDIA: Final = "India"
ISRAEL: Final = "Israel"
JAPAN: Final = "Japan"
OCEANIA: Final = "Oceania"
SOUTH_KOREA: Final = "South Korea"
UAE: Final = "UAE"
SOUTH_AFRICA: Final = "South Africa"
SOUTH_AMERICA: Final = "South America"
QATAR: Final = "Qatar"

# National clouds (same doc, table "Azure regions and geopolitical boundaries for national
# clouds"). ExpressRoute for one cloud can't connect to regions in another cloud.
US_GOVERNMENT_CLOUD: Final = "US Government cloud"
CHINA_EAST: Final = "China East"
CHINA_NORTH: Final = "China North"

PUBLIC_GEOPOLITICAL_REGIONS: Final[frozenset[str]] = frozenset(
    {
        AUSTRALIA_GOVERNMENT,
        EUROPE,
        NORTH_AMERICA,
        ASIA,
        INDIA,
        ISRAEL,
        JAPAN,
        OCEANIA,
        SOUTH_KOREA,
        UAE,
        SOUTH_AFRICA,
        SOUTH_AMERICA,
        QATAR,
    }
)

# Informal names people use for the doc's geopolitical regions (NOT from the ExpressRoute doc).
# Keys are normalised with _norm(); use normalize_geopolitical_region() to apply them.
GEOPOLITICAL_REGION_ALIASES: Final[dict[str, str]] = {
    "asiapacific": ASIA,
    "korea": SOUTH_KOREA,
}


# ---------------------------------------------------------------------------------------------
# REGIONS
#
# geopolitical_region: "ExpressRoute peering locations and connectivity partners", section
#   "Azure regions to ExpressRoute locations within a geopolitical region"
#   https://learn.microsoft.com/azure/expressroute/expressroute-locations-providers
#   (ms.date 2026-04-28). Read 2026-11-24.
# availability_zones, display_name and ARM name: "Azure regions list" (the page the old
#   "Azure regions with availability zone support" URL now points to)
#   https://learn.microsoft.com/azure/reliability/regions-list
#   (ms.date 2025-09-23, column "Availability zone support", "Programmatic name"). Read 2026-11-24.
#
# The ExpressRoute geopolitical table has not been updated for several newer regions. Those
# regions appear only in the same doc's per-location table, in the "Local Azure regions" column
# of a peering location that *is* listed in the geopolitical table; their geopolitical region is
# inferred from that and they are listed in INFERRED_REGIONS.
#
# Not covered at all (absent from every ExpressRoute table, so no geopolitical region is
# documented): austriaeast, belgiumcentral, chilecentral, denmarkeast (coming soon),
# taiwannorth (Local region of Taipei, but not in the regions list, so AZ support unknown).
# geopolitical_region_of_location() returns None for these.
# ---------------------------------------------------------------------------------------------
REGIONS: Final[dict[str, Region]] = {
    # Australia Government
    "australiacentral": Region("australiacentral", "Australia Central", AUSTRALIA_GOVERNMENT, False),
    "australiacentral2": Region("australiacentral2", "Australia Central 2", AUSTRALIA_GOVERNMENT, False),
    # Europe
    "francecentral": Region("francecentral", "France Central", EUROPE, True),
    "francesouth": Region("francesouth", "France South", EUROPE, False),
    "germanynorth": Region("germanynorth", "Germany North", EUROPE, False),
    "germanywestcentral": Region("germanywestcentral", "Germany West Central", EUROPE, True),
    "italynorth": Region("italynorth", "Italy North", EUROPE, True),
    "northeurope": Region("northeurope", "North Europe", EUROPE, True),
    "norwayeast": Region("norwayeast", "Norway East", EUROPE, True),
    "norwaywest": Region("norwaywest", "Norway West", EUROPE, False),
    "polandcentral": Region("polandcentral", "Poland Central", EUROPE, True),
    "swedencentral": Region("swedencentral", "Sweden Central", EUROPE, True),
    "switzerlandnorth": Region("switzerlandnorth", "Switzerland North", EUROPE, True),
    "switzerlandwest": Region("switzerlandwest", "Switzerland West", EUROPE, False),
    "ukwest": Region("ukwest", "UK West", EUROPE, False),
    "uksouth": Region("uksouth", "UK South", EUROPE, True),
    "westeurope": Region("westeurope", "West Europe", EUROPE, True),
    "spaincentral": Region("spaincentral", "Spain Central", EUROPE, True),  # inferred (Madrid)
    # North America
    "eastus": Region("eastus", "East US", NORTH_AMERICA, True),
    "westus": Region("westus", "West US", NORTH_AMERICA, False),
    "eastus2": Region("eastus2", "East US 2", NORTH_AMERICA, True),
    "westus2": Region("westus2", "West US 2", NORTH_AMERICA, True),
    "westus3": Region("westus3", "West US 3", NORTH_AMERICA, True),
    "centralus": Region("centralus", "Central US", NORTH_AMERICA, True),
    "southcentralus": Region("southcentralus", "South Central US", NORTH_AMERICA, True),
    "northcentralus": Region("northcentralus", "North Central US", NORTH_AMERICA, False),
    "westcentralus": Region("westcentralus", "West Central US", NORTH_AMERICA, False),
    "canadacentral": Region("canadacentral", "Canada Central", NORTH_AMERICA, True),
    "canadaeast": Region("canadaeast", "Canada East", NORTH_AMERICA, False),
    "mexicocentral": Region(  # inferred (Local region of Queretaro (Mexico))
        "mexicocentral", "Mexico Central", NORTH_AMERICA, True
    ),
    # Asia
    "eastasia": Region("eastasia", "East Asia", ASIA, True),
    "southeastasia": Region("southeastasia", "Southeast Asia", ASIA, True),
    "malaysiawest": Region("malaysiawest", "Malaysia West", ASIA, True),  # inferred (Kuala Lumpur)
    "indonesiacentral": Region("indonesiacentral", "Indonesia Central", ASIA, True),  # inferred
    # India
    "westindia": Region("westindia", "West India", INDIA, False),
    "centralindia": Region("centralindia", "Central India", INDIA, True),
    "southindia": Region("southindia", "South India", INDIA, False),
    # Israel
    "israelcentral": Region("israelcentral", "Israel Central", ISRAEL, True),
    # Japan
    "japanwest": Region("japanwest", "Japan West", JAPAN, True),
    "japaneast": Region("japaneast", "Japan East", JAPAN, True),
    # Oceania
    "australiaeast": Region("australiaeast", "Australia East", OCEANIA, True),
    "australiasoutheast": Region("australiasoutheast", "Australia Southeast", OCEANIA, False),
    "newzealandnorth": Region(  # inferred (Local region of Auckland)
        "newzealandnorth", "New Zealand North", OCEANIA, True
    ),
    # South Korea
    "koreacentral": Region("koreacentral", "Korea Central", SOUTH_KOREA, True),
    "koreasouth": Region("koreasouth", "Korea South", SOUTH_KOREA, False),
    # UAE
    "uaecentral": Region("uaecentral", "UAE Central", UAE, False),
    "uaenorth": Region("uaenorth", "UAE North", UAE, True),
    # South Africa
    "southafricawest": Region("southafricawest", "South Africa West", SOUTH_AFRICA, False),
    "southafricanorth": Region("southafricanorth", "South Africa North", SOUTH_AFRICA, True),
    # South America
    "brazilsouth": Region("brazilsouth", "Brazil South", SOUTH_AMERICA, True),
    "brazilsoutheast": Region(  # inferred (Local region of Rio de Janeiro)
        "brazilsoutheast", "Brazil Southeast", SOUTH_AMERICA, False
    ),
    # Qatar
    "qatarcentral": Region("qatarcentral", "Qatar Central", QATAR, True),
}

# Regions whose geopolitical_region is inferred from the "Local Azure regions" column rather
# than stated in the geopolitical-region table (see the REGIONS comment).
INFERRED_REGIONS: Final[frozenset[str]] = frozenset(
    {
        "spaincentral",
        "mexicocentral",
        "malaysiawest",
        "indonesiacentral",
        "newzealandnorth",
        "brazilsoutheast",
    }
)

# National-cloud regions -> geopolitical region. Same ExpressRoute doc, table "Azure regions and
# geopolitical boundaries for national clouds". Read 2026-11-24. Kept out of REGIONS because
# availability-zone data for them comes from other (national-cloud) docs not consulted here.
NATIONAL_CLOUD_REGION_GEOPOLITICS: Final[dict[str, str]] = {
    "usgovarizona": US_GOVERNMENT_CLOUD,
    "usgoviowa": US_GOVERNMENT_CLOUD,
    "usgovtexas": US_GOVERNMENT_CLOUD,
    "usgovvirginia": US_GOVERNMENT_CLOUD,
    "usdodcentral": US_GOVERNMENT_CLOUD,
    "usdodeast": US_GOVERNMENT_CLOUD,
    "chinaeast": CHINA_EAST,
    "chinaeast2": CHINA_EAST,
    "chinanorth": CHINA_NORTH,
    "chinanorth2": CHINA_NORTH,
    "chinanorth3": CHINA_NORTH,
}


# ---------------------------------------------------------------------------------------------
# PEERING_LOCATIONS: ExpressRoute peering location (circuit ``peeringLocation``) -> geopolitical
# region, global commercial Azure only.
#
# Source: "ExpressRoute peering locations and connectivity partners"
# https://learn.microsoft.com/azure/expressroute/expressroute-locations-providers
# (ms.date 2026-04-28), column "ExpressRoute locations" of the table "Azure regions to
# ExpressRoute locations within a geopolitical region". Read 2026-11-24.
# Spellings follow the per-location "Global commercial Azure" table of the same doc (e.g. that
# table writes "Queretaro (Mexico)" where the geopolitical table writes "Queretaro(Mexico)"; the
# lookup helper ignores whitespace, so both match).
#
# Dallas2, Phoenix2 and Taipei2 are in the published (rendered) geopolitical table but not in
# the older include source; they are also in the per-location table, so they are documented.
#
# Entries marked "inferred" are peering locations that appear in the per-location table but not
# in the geopolitical table; their region is inferred from their "Local Azure regions" column
# or, where that is blank, from the city. They are listed in INFERRED_PEERING_LOCATIONS.
# ---------------------------------------------------------------------------------------------
PEERING_LOCATIONS: Final[dict[str, str]] = {
    # Australia Government
    "Canberra": AUSTRALIA_GOVERNMENT,
    "Canberra2": AUSTRALIA_GOVERNMENT,
    # Europe
    "Amsterdam": EUROPE,
    "Amsterdam2": EUROPE,
    "Berlin": EUROPE,
    "Copenhagen": EUROPE,
    "Dublin": EUROPE,
    "Dublin2": EUROPE,
    "Frankfurt": EUROPE,
    "Frankfurt2": EUROPE,
    "Geneva": EUROPE,
    "London": EUROPE,
    "London2": EUROPE,
    "Madrid": EUROPE,
    "Madrid2": EUROPE,
    "Marseille": EUROPE,
    "Milan": EUROPE,
    "Milan2": EUROPE,
    "Munich": EUROPE,
    "Newport(Wales)": EUROPE,
    "Oslo": EUROPE,
    "Paris": EUROPE,
    "Paris2": EUROPE,
    "Stavanger": EUROPE,
    "Stockholm": EUROPE,
    "Warsaw": EUROPE,
    "Zurich": EUROPE,
    "Zurich2": EUROPE,
    "Brussels": EUROPE,  # inferred (city; no Local Azure region)
    "Brussels2": EUROPE,  # inferred (city; no Local Azure region)
    "Stockholm2": EUROPE,  # inferred (Local region Sweden Central)
    "Vienna": EUROPE,  # inferred (city; no Local Azure region)
    "Vienna2": EUROPE,  # inferred (city; no Local Azure region)
    # North America
    "Atlanta": NORTH_AMERICA,
    "Chicago": NORTH_AMERICA,
    "Chicago2": NORTH_AMERICA,
    "Dallas": NORTH_AMERICA,
    "Dallas2": NORTH_AMERICA,
    "Denver": NORTH_AMERICA,
    "Las Vegas": NORTH_AMERICA,
    "Los Angeles": NORTH_AMERICA,
    "Los Angeles2": NORTH_AMERICA,
    "Miami": NORTH_AMERICA,
    "Minneapolis": NORTH_AMERICA,
    "Montreal": NORTH_AMERICA,
    "New York": NORTH_AMERICA,
    "Phoenix": NORTH_AMERICA,
    "Phoenix2": NORTH_AMERICA,
    "Quebec City": NORTH_AMERICA,
    "Queretaro (Mexico)": NORTH_AMERICA,
    "Quincy": NORTH_AMERICA,
    "San Antonio": NORTH_AMERICA,
    "Seattle": NORTH_AMERICA,
    "Silicon Valley": NORTH_AMERICA,
    "Silicon Valley2": NORTH_AMERICA,
    "Toronto": NORTH_AMERICA,
    "Toronto2": NORTH_AMERICA,
    "Vancouver": NORTH_AMERICA,
    "Washington DC": NORTH_AMERICA,
    "Washington DC2": NORTH_AMERICA,
    "Atlanta2": NORTH_AMERICA,  # inferred (city; no Local Azure region)
    "Portland": NORTH_AMERICA,  # inferred (Local region West US 2)
    # Asia
    "Bangkok": ASIA,
    "Hong Kong": ASIA,
    "Hong Kong2": ASIA,
    "Jakarta": ASIA,
    "Kuala Lumpur": ASIA,
    "Singapore": ASIA,
    "Singapore2": ASIA,
    "Taipei": ASIA,
    "Taipei2": ASIA,
    "Jakarta2": ASIA,  # inferred (Local region Indonesia Central, same as Jakarta)
    "Kuala Lumpur2": ASIA,  # inferred (Local region Malaysia West, same as Kuala Lumpur)
    # India
    "Chennai": INDIA,
    "Chennai2": INDIA,
    "Mumbai": INDIA,
    "Mumbai2": INDIA,
    "Pune": INDIA,
    # Israel
    "Tel Aviv": ISRAEL,
    "Tel Aviv2": ISRAEL,
    # Japan
    "Osaka": JAPAN,
    "Tokyo": JAPAN,
    "Tokyo2": JAPAN,
    "Tokyo3": JAPAN,
    # Oceania
    "Auckland": OCEANIA,
    "Melbourne": OCEANIA,
    "Perth": OCEANIA,
    "Sydney": OCEANIA,
    "Sydney2": OCEANIA,
    "Melbourne2": OCEANIA,  # inferred (Local region Australia Southeast)
    # South Korea
    "Busan": SOUTH_KOREA,
    "Seoul": SOUTH_KOREA,
    "Seoul2": SOUTH_KOREA,
    # UAE
    "Abu Dhabi": UAE,
    "Dubai": UAE,
    "Dubai2": UAE,
    # South Africa
    "Cape Town": SOUTH_AFRICA,
    "Johannesburg": SOUTH_AFRICA,
    # South America
    "Campinas": SOUTH_AMERICA,
    "Rio de Janeiro": SOUTH_AMERICA,
    "Sao Paulo": SOUTH_AMERICA,
    "Sao Paulo2": SOUTH_AMERICA,
    "Santiago": SOUTH_AMERICA,
    # Qatar
    "Doha": QATAR,
    "Doha2": QATAR,
}

INFERRED_PEERING_LOCATIONS: Final[frozenset[str]] = frozenset(
    {
        "Brussels",
        "Brussels2",
        "Stockholm2",
        "Vienna",
        "Vienna2",
        "Atlanta2",
        "Portland",
        "Jakarta2",
        "Kuala Lumpur2",
        "Melbourne2",
    }
)

# National-cloud peering locations (same doc, "US Government cloud" and "China" tables and the
# national-cloud geopolitical table). Several US Gov names (Atlanta, Chicago, ...) are also
# public-cloud names, so these are kept separate from PEERING_LOCATIONS.
US_GOVERNMENT_PEERING_LOCATIONS: Final[frozenset[str]] = frozenset(
    {
        "Atlanta",
        "Chicago",
        "Dallas",
        "New York",
        "Phoenix",
        "San Antonio",
        "Seattle",
        "Silicon Valley",
        "Washington DC",
    }
)
CHINA_PEERING_LOCATIONS: Final[dict[str, str]] = {
    "Beijing": CHINA_NORTH,
    "Beijing2": CHINA_NORTH,
    "Shanghai": CHINA_EAST,
    "Shanghai2": CHINA_EAST,
}


# ---------------------------------------------------------------------------------------------
# Virtual network links per circuit.
#
# Source: "Azure subscription and service limits, quotas, and constraints", section
# "ExpressRoute limits", table "Virtual networks links allowed for each ExpressRoute circuit
# limit" https://learn.microsoft.com/azure/azure-resource-manager/management/
# azure-subscription-service-limits#expressroute-limits (include includes/expressroute-limits.md,
# ms.date 2023-10-09; the same table is in the ExpressRoute FAQ). Read 2026-11-24.
#
# Local / Standard SKU: 10 at every circuit size. Premium SKU by circuit size below; the 40 and
# 100 Gbps rows are marked "100-Gbps ExpressRoute Direct Only" in the doc.
# Global Reach connections count against this limit (doc note).
# ---------------------------------------------------------------------------------------------
VNET_LINKS_STANDARD: Final = 10
VNET_LINKS_PREMIUM_BY_BANDWIDTH: Final[tuple[tuple[int, int], ...]] = (
    (50, 20),
    (100, 25),
    (200, 25),
    (500, 40),
    (1_000, 50),
    (2_000, 60),
    (5_000, 75),
    (10_000, 100),
    (40_000, 100),  # ExpressRoute Direct only
    (100_000, 100),  # ExpressRoute Direct only
)

# Same limits page: "Maximum number of circuits in the same peering location linked to the same
# virtual network" = 4 (repeated as a note in "About ExpressRoute virtual network gateways").
MAX_CIRCUITS_SAME_PEERING_LOCATION_PER_VNET: Final = 4

# "About ExpressRoute virtual network gateways" (URL below): a virtual network with an
# ExpressRoute gateway can have virtual network peering with up to 500 other virtual networks.
MAX_VNET_PEERINGS_WITH_ER_GATEWAY: Final = 500


# ---------------------------------------------------------------------------------------------
# Gateway SKUs and circuit connections per gateway.
#
# Source: "About ExpressRoute virtual network gateways"
# https://learn.microsoft.com/azure/expressroute/expressroute-about-virtual-network-gateways
# (ms.date 2026-09-05), sections "Gateway SKUs" and "Feature support by gateway SKU" (column
# "Maximum circuit connections"). Read 2026-11-24. The limits page above gives the same
# 4 / 8 / 16 for "circuits in different peering locations linked to the same virtual network".
#
# The doc lists the SKUs as: ErGwScale, Standard, HighPerformance, UltraPerformance, ErGw1Az,
# ErGw2Az, ErGw3Az. Names here use the ARM / pulumi-azure-native enum spelling ("ErGw1AZ");
# the helpers compare case-insensitively. ErGwScale is no longer marked "(Preview)" in that doc.
#
# ErGwScale's circuit limit depends on its minimum scale units: 4 (min 1 scale unit),
# 8 (min 2 scale units), 16 (min 10 scale units); CIRCUITS_PER_GATEWAY gives its maximum.
# ---------------------------------------------------------------------------------------------
# GatewaySubnet: /27 or larger for an ExpressRoute gateway ("About ExpressRoute virtual network
# gateways", Gateway subnet: "we recommend that you create a gateway subnet of /27 or larger").
GATEWAY_SUBNET_MAX_PREFIXLEN: Final = 27

CIRCUITS_PER_GATEWAY: Final[dict[str, int]] = {
    "Standard": 4,
    "ErGw1AZ": 4,
    "HighPerformance": 8,
    "ErGw2AZ": 8,
    "UltraPerformance": 16,
    "ErGw3AZ": 16,
    "ErGwScale": 16,
}
ERGWSCALE_CIRCUITS_BY_MIN_SCALE_UNITS: Final[tuple[tuple[int, int], ...]] = (
    (1, 4),
    (2, 8),
    (10, 16),
)
ERGWSCALE_MIN_SCALE_UNITS: Final = 1
ERGWSCALE_MAX_SCALE_UNITS: Final = 40

# Same doc, "Zone-redundant gateway SKUs" (ErGw1AZ/ErGw2AZ/ErGw3AZ) and ErGwScale, which
# "supports both zonal and zonal-redundant deployments". The doc also says that with the
# auto-assigned public IP "the gateway is always zone redundant" (for these AZ SKUs).
ZONE_REDUNDANT_GATEWAY_SKUS: Final[frozenset[str]] = frozenset({"ErGw1AZ", "ErGw2AZ", "ErGw3AZ", "ErGwScale"})
ALL_GATEWAY_SKUS: Final[frozenset[str]] = frozenset(
    {"Standard", "HighPerformance", "UltraPerformance"} | ZONE_REDUNDANT_GATEWAY_SKUS
)


# ---------------------------------------------------------------------------------------------
# Gateway public IP.
#
# Source: "About ExpressRoute virtual network gateways", section "Auto-assigned public IP"
# https://learn.microsoft.com/azure/expressroute/expressroute-about-virtual-network-gateways
# #auto-assigned-public-ip (ms.date 2026-09-05). Read 2026-11-24. The doc says:
#   - "The auto-assigned public IP feature simplifies ExpressRoute gateway deployment by
#     allowing Microsoft to manage the required public IP address on your behalf. For PowerShell
#     and Command-Line Interface (CLI), you're no longer required to create or maintain a
#     separate public IP resource for your gateway."
#   - Microsoft provisions the IP in a backend subscription, encapsulated in the gateway
#     resource; the portal no longer shows a Public IP field. "Previously it was possible to
#     create the public IP resource as a zonal resource ... New behavior is that the gateway is
#     always zone redundant."
#   - "Auto-assigned public IP isn't available for Virtual WAN (vWAN)" (vWAN uses the separate
#     expressRouteGateways resource type, which never took a customer public IP anyway).
# The doc names no SKU exclusions, so no ExpressRoute virtual network gateway SKU requires a
# customer-created public IP: the set is empty. (Mid-2025 versions of the same doc called this
# "Hosted-On-Behalf-Of (HOBO) Public IP" and marked it preview; an Azure Update titled
# "Generally Available: ExpressRoute - Auto-assigned Public IP for ExpressRoute Gateways",
# https://azure.microsoft.com/updates?id=498361, announced GA; not read directly.)
#
# If a customer public IP is nevertheless supplied (older templates), it must be Standard SKU:
# "ExpressRoute Virtual Network Gateways no longer support the Basic Public IP SKU. Associate a
# Standard IP", and "By default, all Standard SKU public IP addresses are assigned statically"
# - "Configure a virtual network gateway for ExpressRoute using the Azure portal"
# learn.microsoft.com/azure/expressroute/expressroute-howto-add-gateway-portal-resource-manager
# (ms.date 2024-12-05). Read 2026-11-24.
#
# Which API versions assign the IP (issue #14, #24). Microsoft's statement names PowerShell and
# the CLI, not an API version; Microsoft's own clients show which versions take a gateway
# ipConfiguration without publicIPAddress:
#   - 2024-05-01, the version azure-native v3 sends for VirtualNetworkGateway (its SDK docstring,
#     "Uses Azure REST API version 2024-05-01"): Azure Verified Modules' Bicep module
#     avm/res/network/virtual-network-gateway (github.com/Azure/bicep-registry-modules, commit
#     77b2677c7a, PR #6029, 2025-10-02, "Fixed ExpressRoute gateway deployments by setting
#     publicIPAddress to null when gatewayType is ExpressRoute, as Azure now manages these IPs
#     automatically") deploys `Microsoft.Network/virtualNetworkGateways@2024-05-01` with
#     `publicIPAddress: isExpressRoute ? null : {...}` and no public IP resource; its e2e test
#     tests/e2e/expressRoute deploys an ErGw1AZ gateway that way.
#   - 2024-07-01: `az network vnet-gateway create` (aaz `_create.py` "version") builds an
#     ipConfiguration with only the subnet when no --public-ip-address is given
#     (github.com/Azure/azure-cli PR #32161, merged 2025-09-24); Azure Verified Modules' Terraform
#     module Azure/terraform-azurerm-avm-ptn-vnetgateway (commit 172e80f, 2025-07-01, main.tf)
#     sends `Microsoft.Network/virtualNetworkGateways@2024-07-01` with public_ip_address_id null
#     when hosted_on_behalf_of_public_ip_enabled.
# The spec makes publicIPAddress optional in VirtualNetworkGatewayIPConfigurationPropertiesFormat
# (azure-mgmt-network 28.1.0, generated from 2024-05-01: no validation entry for it), and
# azure-native's VirtualNetworkGatewayIPConfigurationArgs.public_ip_address is Optional, so
# azure-native sends the body without it. No adminState, autoScaleConfiguration or resiliencyModel
# is needed for the managed IP (the AVM Bicep module sends adminState/resiliencyModel defaults of
# its own; the CLI and the Terraform module send neither); the program sends none of them.
# A customer IP is now the risky path: since August 2025 an ExpressRoute gateway created with one
# does not return it (hashicorp/terraform-provider-azurerm PR #31084, merged 2025-11-12, at
# 2024-05-01), so the IP resource is left unused and billed, and IaC modules report creation
# failures with one associated (PaloAltoNetworks/terraform-azurerm-swfw-modules PR #204,
# 2026-04-30). Decision: `auto` sends no public IP on these versions; `always` keeps a Standard,
# static IP for those who need one (a gateway deployed with one: changing an existing gateway's IP
# configuration is refused, Azure/terraform-azurerm-avm-ptn-vnetgateway
# examples/default-with-hobo-ip); docs/safety.md shows the request body.
# ---------------------------------------------------------------------------------------------
GATEWAY_SKUS_REQUIRING_PUBLIC_IP: Final[frozenset[str]] = frozenset()
# The network API versions shown above to create an ExpressRoute gateway without a public IP.
NETWORK_API_VERSIONS_ASSIGNING_GATEWAY_IP: Final[frozenset[str]] = frozenset({"2024-05-01", "2024-07-01"})
# The network API version azure-native v3 uses (its SDK: "Uses Azure REST API version 2024-05-01").
NETWORK_API_VERSION: Final = "2024-05-01"
GATEWAY_PUBLIC_IP_SKU_IF_SUPPLIED: Final = "Standard"
GATEWAY_PUBLIC_IP_ALLOCATION_IF_SUPPLIED: Final = "Static"


# ---------------------------------------------------------------------------------------------
# Provisioning durations, in minutes.
#
# GATEWAY_CREATE_MINUTES: "Creating virtual network gateway can take up to 45 minutes to
#   complete." - "Configure a virtual network gateway for ExpressRoute using the Azure portal"
# learn.microsoft.com/azure/expressroute/expressroute-howto-add-gateway-portal-resource-manager
#   (ms.date 2024-12-05). Read 2026-11-24.
# ERGWSCALE_SCALE_MINUTES: "Scale operations might take up to 30 minutes to complete." - "About
#   ExpressRoute virtual network gateways" (2023-11-16 revision; the section has since moved to
#   the "ExpressRoute scalable gateway" article, not re-checked). Read 2026-11-24.
# CONNECTION_CREATE_MINUTES: NOT DOCUMENTED. Neither "Connect a virtual network to an
#   ExpressRoute circuit"
#   (https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-arm)
#   nor the portal/CLI variants state a duration for creating the gateway-to-circuit connection,
#   nor for updating or deleting one. 10 is a planning estimate (long enough that the connection's
#   place in a chain shows), used for create, update and delete alike; never a documented figure.
# VNET / VNET_PEERING / ROUTE_TABLE: no Microsoft doc found that states typical creation times
#   for virtual networks, virtual network peerings or route tables; 1 is a placeholder.
# FIREWALL_CREATE_MINUTES: NOT DOCUMENTED. The Azure Firewall tutorials ("Deploy and configure
#   Azure Firewall and policy using the Azure portal", learn.microsoft.com/azure/firewall/
#   tutorial-firewall-deploy-portal-policy) say only that deployment takes "a few minutes";
#   10 is a placeholder that the network RTO of `layout.hub.nva.provisioning: atFailover` adds.
# ---------------------------------------------------------------------------------------------
GATEWAY_CREATE_MINUTES: Final = 45
ERGWSCALE_SCALE_MINUTES: Final = 30
CONNECTION_CREATE_MINUTES: Final = 10
VNET_CREATE_MINUTES: Final = 1
VNET_PEERING_CREATE_MINUTES: Final = 1
ROUTE_TABLE_CREATE_MINUTES: Final = 1
FIREWALL_CREATE_MINUTES: Final = 10


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _norm(value: str) -> str:
    """Case-fold and drop whitespace, hyphens and underscores ("Hong Kong 2" -> "hongkong2")."""
    return "".join(ch for ch in value.casefold() if not ch.isspace() and ch not in "-_")


_REGION_INDEX: Final[dict[str, Region]] = {_norm(k): v for k, v in REGIONS.items()}
_NATIONAL_REGION_INDEX: Final[dict[str, str]] = {_norm(k): v for k, v in NATIONAL_CLOUD_REGION_GEOPOLITICS.items()}
_PEERING_INDEX: Final[dict[str, str]] = {_norm(k): v for k, v in PEERING_LOCATIONS.items()}
_SKU_INDEX: Final[dict[str, str]] = {_norm(sku): sku for sku in ALL_GATEWAY_SKUS}


def canonical_gateway_sku(sku: str) -> str | None:
    """Return the canonical ExpressRoute gateway SKU name (e.g. "ErGw1Az" -> "ErGw1AZ")."""
    return _SKU_INDEX.get(_norm(sku))


def normalize_geopolitical_region(name: str) -> str | None:
    """Map a geopolitical region name or known alias ("Asia Pacific") to the doc's spelling."""
    key = _norm(name)
    for region in PUBLIC_GEOPOLITICAL_REGIONS | {US_GOVERNMENT_CLOUD, CHINA_EAST, CHINA_NORTH}:
        if _norm(region) == key:
            return region
    return GEOPOLITICAL_REGION_ALIASES.get(key)


def geopolitical_region_of_location(location: str) -> str | None:
    """ExpressRoute geopolitical region of an ARM location ("eastasia" or "East Asia").

    Public regions come from REGIONS; national-cloud regions (e.g. "usgovvirginia") return
    their national-cloud geopolitical region. Unknown locations return None.
    """
    key = _norm(location)
    region = _REGION_INDEX.get(key)
    if region is not None:
        return region.geopolitical_region
    return _NATIONAL_REGION_INDEX.get(key)


def geopolitical_region_of_peering_location(name: str) -> str | None:
    """Geopolitical region of a public-cloud ExpressRoute peering location, or None.

    Case-insensitive and tolerant of spacing: "hong kong 2", "HongKong2" and "Hong Kong2" all
    match.
    """
    return _PEERING_INDEX.get(_norm(name))


def max_vnet_links(sku_tier: str, bandwidth_mbps: int) -> int:
    """Maximum virtual network links for a circuit of this SKU tier and bandwidth.

    ``sku_tier`` is the circuit ``sku.tier`` ("Standard", "Premium" or "Local"). Bandwidths
    between table rows use the next larger row; bandwidths above 100 Gbps use the last row.
    Raises ValueError for an unknown tier or a non-positive bandwidth.
    """
    if bandwidth_mbps <= 0:
        raise ValueError(f"bandwidth_mbps must be positive, got {bandwidth_mbps}")
    tier = _norm(sku_tier)
    if tier in ("standard", "local"):
        return VNET_LINKS_STANDARD
    if tier == "premium":
        for upper_bound_mbps, links in VNET_LINKS_PREMIUM_BY_BANDWIDTH:
            if bandwidth_mbps <= upper_bound_mbps:
                return links
        return VNET_LINKS_PREMIUM_BY_BANDWIDTH[-1][1]
    raise ValueError(f"unknown ExpressRoute circuit SKU tier: {sku_tier!r}")


def max_circuits_per_gateway(sku: str) -> int | None:
    """Maximum ExpressRoute circuit connections for a gateway SKU (case-insensitive), or None.

    For ErGwScale this is the maximum (16, needing at least 10 minimum scale units); see
    max_circuits_for_ergwscale() for the scale-unit-dependent value.
    """
    canonical = canonical_gateway_sku(sku)
    if canonical is None:
        return None
    return CIRCUITS_PER_GATEWAY[canonical]


def max_circuits_for_ergwscale(min_scale_units: int) -> int:
    """Maximum circuit connections for an ErGwScale gateway with this minimum scale unit count."""
    if not ERGWSCALE_MIN_SCALE_UNITS <= min_scale_units <= ERGWSCALE_MAX_SCALE_UNITS:
        raise ValueError(
            f"ErGwScale scale units must be {ERGWSCALE_MIN_SCALE_UNITS}-"
            f"{ERGWSCALE_MAX_SCALE_UNITS}, got {min_scale_units}"
        )
    result = 0
    for threshold, circuits in ERGWSCALE_CIRCUITS_BY_MIN_SCALE_UNITS:
        if min_scale_units >= threshold:
            result = circuits
    return result


def region_has_zones(location: str) -> bool:
    """True if the public Azure region supports availability zones; False if not or unknown."""
    region = _REGION_INDEX.get(_norm(location))
    return region is not None and region.availability_zones


def gateway_needs_public_ip(sku: str, mode: str = "auto", api_version: str = NETWORK_API_VERSION) -> bool:
    """Whether the program should create a public IP for an ExpressRoute gateway.

    ``mode`` is the stack's ``gateway.publicIp`` setting: ``always`` / ``never`` decide outright;
    ``auto`` creates one unless ``api_version`` is known to assign it
    (:data:`NETWORK_API_VERSIONS_ASSIGNING_GATEWAY_IP`) and the SKU does not require one.
    """
    if mode == "always":
        return True
    if mode == "never":
        return False
    if api_version not in NETWORK_API_VERSIONS_ASSIGNING_GATEWAY_IP:
        return True
    return canonical_gateway_sku(sku) in GATEWAY_SKUS_REQUIRING_PUBLIC_IP
