"""Site Recovery for Azure-to-Azure replication, in the target region's vault.

Fabrics for both regions, a protection container in each, an A2A replication policy, container
mappings both ways (the reverse one is used to re-protect for failback) and a network mapping per
VNet both ways. The drill network is not mapped: Azure picks the test failover network when a
test failover starts, not in the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import recoveryservices, resources, storage

from model.identity import SiteRecoveryIds

# azure-native v3 has no type for a Site Recovery protection container
# (recoveryservices.ProtectionContainer is Azure Backup's), so it is created as a generic ARM
# resource. The API version matches the one azure-native v3 uses for ReplicationFabric.
PROTECTION_CONTAINER_API_VERSION = "2024-10-01"
# The names (the replication policy keeps one whatever its settings, so azure-native updates it in
# place; the only network name Site Recovery accepts for A2A mappings) are model/naming.py's.


@dataclass(frozen=True, kw_only=True)
class ReplicationSettings:
    """The A2A replication policy (minutes; 0 turns app-consistent snapshots off)."""

    recovery_point_history_minutes: int
    app_consistent_frequency_minutes: int
    crash_consistent_frequency_minutes: int
    multi_vm_sync: bool


@dataclass(kw_only=True)
class SiteRecoveryArgs:
    # Every name: the resolved estate's (model/identity.py).
    ids: SiteRecoveryIds
    resource_group_name: pulumi.Input[str]
    source_region: str
    target_region: str
    settings: ReplicationSettings
    # VNet key -> (source VNet ID, target VNet ID), for the network mappings both ways.
    network_pairs: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str]]]
    tags: Mapping[str, str] = field(default_factory=dict[str, str])
    protect: bool = True


def output_ids(resources: Mapping[str, pulumi.CustomResource]) -> pulumi.Output[dict[str, str]]:
    return pulumi.Output.all(**{k: r.id for k, r in resources.items()}).apply(dict)


class SiteRecovery(pulumi.ComponentResource):
    vault_id: pulumi.Output[str]
    cache_storage_ids: pulumi.Output[dict[str, str]]
    vault_name: pulumi.Output[str]
    policy_id: pulumi.Output[str]
    fabric_names: dict[str, str]
    container_names: dict[str, str]

    def __init__(self, name: str, args: SiteRecoveryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:siterecovery:SiteRecovery", name, None, opts)
        rg = args.resource_group_name
        ids = args.ids
        self.vault = recoveryservices.Vault(
            f"{name}-vault",
            vault_name=ids.vault.name,
            resource_group_name=rg,
            location=args.target_region,
            sku={"name": "RS0", "tier": "Standard"},
            properties={"public_network_access": "Enabled"},
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        regions = {"source": args.source_region, "target": args.target_region}
        self.fabric_names = {role: ids.fabrics[role].name for role in regions}
        self.container_names = {role: ids.containers[role].name for role in regions}
        fabrics: dict[str, recoveryservices.ReplicationFabric] = {}
        containers: dict[str, resources.Resource] = {}
        previous: pulumi.Resource | None = None
        for role, region in regions.items():
            # Site Recovery serialises fabric operations per vault; creating both at once fails
            # intermittently, so the target fabric waits for the source fabric.
            fabrics[role] = recoveryservices.ReplicationFabric(
                f"{name}-{role}-fabric",
                resource_name_=self.vault.name,
                resource_group_name=rg,
                fabric_name=self.fabric_names[role],
                properties={"custom_details": {"instance_type": "Azure", "location": region}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[previous] if previous else []),
            )
            previous = fabrics[role]
            # replicationProtectionContainers has GET and PUT but no DELETE (removal is
            # POST .../remove, ReplicationProtectionContainers_Delete in the 2024-10-01 spec), while
            # a generic azure-native resource deletes with HTTP DELETE: `pulumi destroy` or a
            # replacement would fail half-way. The stack forgets the container instead and
            # docs/safety.md gives the documented removal step.
            containers[role] = resources.Resource(
                f"{name}-{role}-container",
                resource_provider_namespace="Microsoft.RecoveryServices",
                parent_resource_path=pulumi.Output.concat(
                    "vaults/", self.vault.name, "/replicationFabrics/", fabrics[role].name
                ),
                resource_type="replicationProtectionContainers",
                resource_name_=self.container_names[role],
                resource_group_name=rg,
                api_version=PROTECTION_CONTAINER_API_VERSION,
                properties={"providerSpecificInput": [{"instanceType": "A2A"}]},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[fabrics[role]], retain_on_delete=True),
            )
        # A2A stages each region's changes in a cache storage account in that region: the source's
        # when replication is enabled, the target's when the VMs are re-protected after a failover
        # (Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure -LogStorageAccountId).
        # Standard general-purpose v2, LRS ("Azure to Azure disaster recovery architecture", cache storage).
        self.cache_accounts: dict[str, storage.StorageAccount] = {}
        for role, region in regions.items():
            self.cache_accounts[role] = storage.StorageAccount(
                f"{name}-{role}-cache",
                account_name=ids.cache_storage[role].name,
                resource_group_name=rg,
                location=region,
                kind="StorageV2",
                sku={"name": "Standard_LRS"},
                allow_blob_public_access=False,
                enable_https_traffic_only=True,
                minimum_tls_version="TLS1_2",
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
        s = args.settings
        self.policy = recoveryservices.ReplicationPolicy(
            f"{name}-policy",
            resource_name_=self.vault.name,
            resource_group_name=rg,
            policy_name=ids.policy.name,
            # A typed Args class: inside this polymorphic input a plain dict would reach Azure
            # with snake_case keys, which the Site Recovery API ignores.
            properties=recoveryservices.CreatePolicyInputPropertiesArgs(
                provider_specific_input=recoveryservices.A2APolicyCreationInputArgs(
                    instance_type="A2A",
                    recovery_point_history=s.recovery_point_history_minutes,
                    app_consistent_frequency_in_minutes=s.app_consistent_frequency_minutes,
                    crash_consistent_frequency_in_minutes=s.crash_consistent_frequency_minutes,
                    multi_vm_sync_status="Enable" if s.multi_vm_sync else "Disable",
                )
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.container_mappings: dict[str, recoveryservices.ReplicationProtectionContainerMapping] = {}
        self.network_mappings: dict[str, recoveryservices.ReplicationNetworkMapping] = {}
        for src, dst in (("source", "target"), ("target", "source")):
            mapping = ids.container_mappings[f"{src}-to-{dst}"]
            self.container_mappings[f"{src}-to-{dst}"] = recoveryservices.ReplicationProtectionContainerMapping(
                f"{name}-{src}-to-{dst}-container-mapping",
                resource_name_=self.vault.name,
                resource_group_name=rg,
                fabric_name=fabrics[src].name,
                protection_container_name=self.container_names[src],
                mapping_name=mapping.name,
                properties={
                    "policy_id": self.policy.id,
                    "target_protection_container_id": containers[dst].id,
                    "provider_specific_input": {"instance_type": "A2A", "agent_auto_update_status": "Disabled"},
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[containers[src]]),
            )
            for key, pair in args.network_pairs.items():
                primary, recovery = (pair[0], pair[1]) if src == "source" else (pair[1], pair[0])
                net_mapping = ids.network_mappings[f"{key}-{src}-to-{dst}"]
                assert net_mapping.parent is not None
                self.network_mappings[f"{key}-{src}-to-{dst}"] = recoveryservices.ReplicationNetworkMapping(
                    f"{name}-{key}-{src}-to-{dst}-network-mapping",
                    resource_name_=self.vault.name,
                    resource_group_name=rg,
                    fabric_name=fabrics[src].name,
                    network_name=net_mapping.parent.name,
                    network_mapping_name=net_mapping.name,
                    properties={
                        "recovery_fabric_name": fabrics[dst].name,
                        "recovery_network_id": recovery,
                        "fabric_specific_details": {
                            "instance_type": "AzureToAzure",
                            "primary_network_id": primary,
                        },
                    },
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[fabrics["source"], fabrics["target"]]),
                )
        self.vault_id = self.vault.id
        self.vault_name = self.vault.name
        self.policy_id = self.policy.id
        self.cache_storage_ids = output_ids(self.cache_accounts)
        self.register_outputs(
            {
                "vault_id": self.vault_id,
                "vault_name": self.vault_name,
                "policy_id": self.policy_id,
                "fabric_names": self.fabric_names,
                "container_names": self.container_names,
                "cache_storage_ids": self.cache_storage_ids,
            }
        )
