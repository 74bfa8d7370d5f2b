"""Names defined once for the program, the tooling and the pack: this project's config
namespace, the names Azure fixes, and the azure-native type tokens the code reads or registers."""

from __future__ import annotations

from typing import Final

# The config namespace (Pulumi project name) and the policy pack's name.
NAMESPACE: Final = "expressroute-dr"

# The tag on the drill VNets, which the drill rule recognises in previews too (names of VNets
# being created are not known until they exist).
DRILL_TAG: Final = ("purpose", "drill")

# How the pack's advisory note on what a preview could not decide begins (policies/framework.py);
# the tooling tells such notes from findings by it.
UNDECIDED_NOTE: Final = "Not decided in this preview"

# Names Azure fixes.
GATEWAY_SUBNET: Final = "GatewaySubnet"
DEFAULT_ROUTE: Final = "0.0.0.0/0"
STORAGE_ENDPOINT: Final = "Microsoft.Storage"
AZURE_FIREWALL_SUBNET: Final = "AzureFirewallSubnet"
# Subnets Azure reserves for its own services (Bastion, Route Server, the firewall's management
# NIC): never a workload subnet, never routed through the NVA. erdr.discover leaves them out of the
# layout; listed there, they get their service's rules (policies/shared/service_subnets.py).
AZURE_SERVICE_SUBNETS: Final = frozenset({"AzureBastionSubnet", "RouteServerSubnet", "AzureFirewallManagementSubnet"})

# azure-native type tokens.
RESOURCE_GROUP: Final = "azure-native:resources:ResourceGroup"
GENERIC_RESOURCE: Final = "azure-native:resources:Resource"
VNET: Final = "azure-native:network:VirtualNetwork"
SUBNET: Final = "azure-native:network:Subnet"
PEERING: Final = "azure-native:network:VirtualNetworkPeering"
ROUTE_TABLE: Final = "azure-native:network:RouteTable"
NSG: Final = "azure-native:network:NetworkSecurityGroup"
ROUTE: Final = "azure-native:network:Route"
PUBLIC_IP: Final = "azure-native:network:PublicIPAddress"
GATEWAY: Final = "azure-native:network:VirtualNetworkGateway"
CONNECTION: Final = "azure-native:network:VirtualNetworkGatewayConnection"
CIRCUIT: Final = "azure-native:network:ExpressRouteCircuit"
FIREWALL: Final = "azure-native:network:AzureFirewall"
FIREWALL_POLICY: Final = "azure-native:network:FirewallPolicy"
PROVIDER: Final = "pulumi:providers:azure-native"
CIRCUIT_AUTHORIZATION: Final = "azure-native:network:ExpressRouteCircuitAuthorization"
VAULT: Final = "azure-native:recoveryservices:Vault"
FABRIC: Final = "azure-native:recoveryservices:ReplicationFabric"
REPLICATION_POLICY: Final = "azure-native:recoveryservices:ReplicationPolicy"
CONTAINER_MAPPING: Final = "azure-native:recoveryservices:ReplicationProtectionContainerMapping"
NETWORK_MAPPING: Final = "azure-native:recoveryservices:ReplicationNetworkMapping"
RECOVERY_PLAN: Final = "azure-native:recoveryservices:ReplicationRecoveryPlan"
AUTOMATION_ACCOUNT: Final = "azure-native:automation:AutomationAccount"
RUNBOOK: Final = "azure-native:automation:Runbook"
AUTOMATION_VARIABLE: Final = "azure-native:automation:Variable"
RUNTIME_ENVIRONMENT: Final = "azure-native:automation:RuntimeEnvironment"
STORAGE_ACCOUNT: Final = "azure-native:storage:StorageAccount"
BLOB_CONTAINER: Final = "azure-native:storage:BlobContainer"
BLOB: Final = "azure-native:storage:Blob"
ROLE_DEFINITION: Final = "azure-native:authorization:RoleDefinition"
ROLE_ASSIGNMENT: Final = "azure-native:authorization:RoleAssignment"
STACK_REFERENCE: Final = "pulumi:pulumi:StackReference"
