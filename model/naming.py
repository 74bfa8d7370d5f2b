"""Azure names: the rules Azure enforces per resource type, this program's naming conventions,
and the rule that names the target region's copy of a source resource.

Everything that turns config into an Azure name lives here (and :mod:`model.identity` places
each name in its subscription and resource group); no module outside ``model/`` builds one
(tests/model/test_identity.py holds the code to that).

Azure's rules are Microsoft's "Naming rules and restrictions for Azure resources"
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules),
sections Microsoft.Network, Microsoft.Automation, Microsoft.RecoveryServices, Microsoft.Storage and
Microsoft.Resources. A derived name that breaks one is a config error before anything is built:
Azure would refuse it half-way through ``pulumi up``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# --- Azure's rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameRule:
    """What Azure accepts as the name of one resource type."""

    min_length: int
    max_length: int
    pattern: re.Pattern[str]
    characters: str  # the page's wording, for the error message

    def problem(self, name: str) -> str | None:
        """Why Azure would refuse ``name``, or None."""
        if not self.min_length <= len(name) <= self.max_length:
            return f"is {len(name)} characters; Azure allows {self.min_length}-{self.max_length}"
        if not self.pattern.fullmatch(name):
            return f"breaks Azure's rule: {self.characters}"
        return None


# "Alphanumerics, underscores, periods, and hyphens. Start with alphanumeric. End alphanumeric or
# underscore." (every Microsoft.Network entity below).
_NETWORK = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_NETWORK_TEXT = (
    "alphanumerics, underscores, periods and hyphens; start with alphanumeric, end alphanumeric or underscore"
)


def _network(min_length: int, max_length: int) -> NameRule:
    return NameRule(min_length, max_length, _NETWORK, _NETWORK_TEXT)


RESOURCE_GROUPS = "Microsoft.Resources/resourceGroups"
VIRTUAL_NETWORKS = "Microsoft.Network/virtualNetworks"
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
PEERINGS = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
ROUTE_TABLES = "Microsoft.Network/routeTables"
ROUTES = "Microsoft.Network/routeTables/routes"
GATEWAYS = "Microsoft.Network/virtualNetworkGateways"
CONNECTIONS = "Microsoft.Network/connections"
PUBLIC_IPS = "Microsoft.Network/publicIPAddresses"
FIREWALLS = "Microsoft.Network/azureFirewalls"
FIREWALL_POLICIES = "Microsoft.Network/firewallPolicies"
NSGS = "Microsoft.Network/networkSecurityGroups"
CIRCUITS = "Microsoft.Network/expressRouteCircuits"
VAULTS = "Microsoft.RecoveryServices/vaults"
FABRICS = "Microsoft.RecoveryServices/vaults/replicationFabrics"
CONTAINERS = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers"
CONTAINER_MAPPINGS = (
    "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationProtectionContainers/"
    "replicationProtectionContainerMappings"
)
SITE_RECOVERY_NETWORKS = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks"
NETWORK_MAPPINGS = "Microsoft.RecoveryServices/vaults/replicationFabrics/replicationNetworks/replicationNetworkMappings"
REPLICATION_POLICIES = "Microsoft.RecoveryServices/vaults/replicationPolicies"
RECOVERY_PLANS = "Microsoft.RecoveryServices/vaults/replicationRecoveryPlans"
AUTOMATION_ACCOUNTS = "Microsoft.Automation/automationAccounts"
STORAGE_ACCOUNTS = "Microsoft.Storage/storageAccounts"

RULES: dict[str, NameRule] = {
    RESOURCE_GROUPS: NameRule(
        1,
        90,
        # "Alphanumerics, underscores, parentheses, hyphens, periods, and unicode characters
        # ... Can't end with period."
        re.compile(r"[\w().-]*[\w()-]"),
        "alphanumerics, underscores, parentheses, hyphens and periods; can't end with a period",
    ),
    VIRTUAL_NETWORKS: _network(2, 64),
    SUBNETS: _network(1, 80),
    PEERINGS: _network(1, 80),
    ROUTE_TABLES: _network(1, 80),
    ROUTES: _network(1, 80),
    GATEWAYS: _network(1, 80),
    CONNECTIONS: _network(1, 80),
    PUBLIC_IPS: _network(1, 80),
    FIREWALLS: _network(1, 80),
    FIREWALL_POLICIES: _network(1, 80),
    NSGS: _network(1, 80),
    CIRCUITS: _network(1, 80),
    VAULTS: NameRule(2, 50, re.compile(r"[A-Za-z][A-Za-z0-9-]*"), "alphanumerics and hyphens; start with a letter"),
    AUTOMATION_ACCOUNTS: NameRule(
        6,
        50,
        re.compile(r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?"),
        "alphanumerics and hyphens; start with a letter, end with alphanumeric",
    ),
    STORAGE_ACCOUNTS: NameRule(3, 24, re.compile(r"[a-z0-9]+"), "lowercase letters and numbers"),
}


def name_problem(resource_type: str, name: str) -> str | None:
    """Why Azure would refuse ``name`` for ``resource_type`` (None when it accepts it, or when
    Microsoft's page states no rule for the type)."""
    rule = RULES.get(resource_type)
    return rule.problem(name) if rule is not None else None


# --- this program's conventions --------------------------------------------------------------------

# Prefixes of the names this program gives (Cloud Adoption Framework abbreviations). Only this
# module writes them; the identity test looks for them anywhere else.
ROUTE_TABLE_PREFIX = "rt-"
NSG_PREFIX = "nsg-"
GATEWAY_PREFIX = "ergw-"
GATEWAY_IP_PREFIX = "pip-ergw-"
FIREWALL_PREFIX = "afw-"
FIREWALL_POLICY_PREFIX = "afwp-"
FIREWALL_IP_PREFIX = "pip-afw-"
VAULT_PREFIX = "rsv-"
AUTOMATION_PREFIX = "aa-erdr-"
STORAGE_PREFIX = "sterdr"
CACHE_STORAGE_PREFIX = "stasrcache"
FABRIC_PREFIX = "asr-a2a-"
CONTAINER_PREFIX = "asr-a2a-container-"
CONVENTION_PREFIXES = (
    ROUTE_TABLE_PREFIX,
    GATEWAY_PREFIX,
    GATEWAY_IP_PREFIX,
    FIREWALL_PREFIX,
    FIREWALL_POLICY_PREFIX,
    FIREWALL_IP_PREFIX,
    VAULT_PREFIX,
    AUTOMATION_PREFIX,
    STORAGE_PREFIX,
    CACHE_STORAGE_PREFIX,
    FABRIC_PREFIX,
    CONTAINER_PREFIX,
)
DRILL_SUFFIX = "-drill"
# The replication policy keeps one name whatever its settings: a name derived from the retention
# would make a retention change a replacement, and a replaced policy forces new container
# mappings (whose DELETE is a purge) while the old policy still protects the VMs.
REPLICATION_POLICY_NAME = "erdr-a2a-policy"
# The only network name Site Recovery accepts for Azure-to-Azure network mappings.
AZURE_NETWORK = "azureNetwork"
SITE_RECOVERY_COMPONENT = "asr"  # the Site Recovery component's Pulumi name, part of the vault's name


def default_vnet_name(key: str, region: str) -> str:
    """A VNet's Azure name when nothing places or adopts one: ``<layout name>-<region>``."""
    return f"{key}-{region}"


# The 0.0.0.0/0 -> Internet route of a service subnet's own table (AzureFirewallManagementSubnet).
INTERNET_ROUTE = "default-to-internet"


def route_name(prefix: str) -> str:
    """A UDR's name: ``default-to-nva`` for 0.0.0.0/0, ``to-<prefix>`` (``/`` and ``:`` replaced,
    which a name may not hold) for the GatewaySubnet's routes to each spoke prefix."""
    if prefix == "0.0.0.0/0":
        return "default-to-nva"
    return "to-" + prefix.replace("/", "_").replace(":", "-")


def route_table_name(vnet: str) -> str:
    """The route table of a VNet's workload subnets (0.0.0.0/0 -> the NVA)."""
    return f"{ROUTE_TABLE_PREFIX}{vnet}"


def service_route_table_name(vnet: str, subnet: str) -> str:
    """The route table an Azure service subnet asks for (AzureFirewallManagementSubnet's
    0.0.0.0/0 -> Internet)."""
    return f"{ROUTE_TABLE_PREFIX}{vnet}-{subnet.lower()}"


def delegation_name(service: str) -> str:
    """A subnet delegation's name: the service, '/' (which a name may not hold) as '.'."""
    return service.replace("/", ".")


def subnet_nsg_name(vnet: str, subnet: str) -> str:
    """The network security group the dr stack creates for a subnet, with the source NSG's rules."""
    return f"{NSG_PREFIX}{vnet}-{subnet}"


def gateway_route_table_name(hub_vnet: str) -> str:
    return f"{ROUTE_TABLE_PREFIX}{hub_vnet}-gateway"


def gateway_name(hub_vnet: str) -> str:
    """The ExpressRoute gateway of the hub VNet named ``hub_vnet``."""
    return f"{GATEWAY_PREFIX}{hub_vnet}"


def gateway_ip_name(hub_vnet: str) -> str:
    return f"{GATEWAY_IP_PREFIX}{hub_vnet}"


def connection_name(hub_vnet: str, circuit: str) -> str:
    """The hub gateway's connection to ``circuit`` ("primary" | "secondary")."""
    return f"{hub_vnet}-to-{circuit}"


def peering_name(local_vnet: str, remote_vnet: str) -> str:
    return f"{local_vnet}-to-{remote_vnet}"


def firewall_name(hub_vnet: str) -> str:
    return f"{FIREWALL_PREFIX}{hub_vnet}"


def firewall_policy_name(hub_vnet: str) -> str:
    return f"{FIREWALL_POLICY_PREFIX}{hub_vnet}"


def firewall_ip_name(hub_vnet: str) -> str:
    return f"{FIREWALL_IP_PREFIX}{hub_vnet}"


def drill_vnet_name(target_vnet: str) -> str:
    return f"{target_vnet}{DRILL_SUFFIX}"


def vault_name(target_region: str) -> str:
    return f"{VAULT_PREFIX}{SITE_RECOVERY_COMPONENT}-{target_region}"


def fabric_name(region: str) -> str:
    return f"{FABRIC_PREFIX}{region}"


def container_name(region: str) -> str:
    return f"{CONTAINER_PREFIX}{region}"


def container_mapping_name(source_role: str, target_role: str) -> str:
    return f"{source_role}-to-{target_role}"


def network_mapping_name(vnet_key: str, source_role: str, target_role: str) -> str:
    return f"{vnet_key}-{source_role}-to-{target_role}"


def recovery_plan_name(source_region: str, target_region: str) -> str:
    return f"erdr-{source_region}-to-{target_region}"


def automation_account_name(target_region: str) -> str:
    return f"{AUTOMATION_PREFIX}{target_region}"


def content_storage_account_name(subscription: str, resource_group: str) -> str:
    """The storage account that serves the runbooks' content: globally unique, so seeded with the
    subscription and group (3-24 lowercase letters and digits)."""
    return STORAGE_PREFIX + hashlib.sha256(f"{subscription}/{resource_group}".encode()).hexdigest()[:18]


def cache_storage_account_name(subscription: str, resource_group: str, region: str) -> str:
    """A Site Recovery cache storage account in ``region`` (A2A replication and re-protect stage
    changes there): globally unique, so seeded with the subscription, group and region."""
    seed = f"{subscription}/{resource_group}/{region}"
    return CACHE_STORAGE_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:14]


def default_resource_group_name(namespace: str, region: str) -> str:
    return f"rg-{namespace}-{region}"


# --- the target's copy of a source name -----------------------------------------------------------

_TOKEN_SPLIT = re.compile(r"([-_.])")


@dataclass(frozen=True)
class TargetNaming:
    """How the estate names the target region's copy of a source resource.

    Tokens of the source name (split at ``-``, ``_`` and ``.``) equal to the source region's
    ARM name become the target region's; with region codes (``naming.regionCodes``), tokens equal
    to the source code become the target code, so ``vnet-sap-gwc-001`` becomes ``vnet-sap-sdc-001``.
    Matching ignores case. :mod:`model.identity` applies it to names the estate placed or adopted
    (a default name ``<layout name>-<region>`` has its own target default), discover to groups.
    """

    source_region: str
    target_region: str
    source_code: str | None = None
    target_code: str | None = None

    def swaps(self) -> dict[str, str]:
        out = {self.source_region.lower(): self.target_region}
        if self.source_code and self.target_code:
            out[self.source_code.lower()] = self.target_code
        return out

    def swapped(self, source_name: str) -> str | None:
        """The name with every region token swapped, or None when it has none."""
        swaps = self.swaps()
        parts = _TOKEN_SPLIT.split(source_name)
        changed = False
        for i, part in enumerate(parts):
            new = swaps.get(part.lower())
            if new is not None:
                parts[i] = new
                changed = True
        return "".join(parts) if changed else None

    def target_name(self, source_name: str) -> str:
        """The swapped name, or (no region token in it) ``<source name>-<target region>``."""
        return self.swapped(source_name) or f"{source_name}-{self.target_region}"
