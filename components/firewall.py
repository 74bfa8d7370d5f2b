"""Azure Firewall in the target hub: the next hop the target's UDRs point at.

Site Recovery replicates VMs, not Azure Firewall (a platform service), so a hub whose "NVA" is
Azure Firewall has none in the target region unless it is built there. This component builds
the firewall policy and the firewall's public IP ahead of time, and the firewall itself either
ahead of time too (``preProvisioned``) or in the failover update (``atFailover``: cheaper in
standby, its creation minutes count in the network RTO; docs/estates.md).

The firewall sits in the hub's ``AzureFirewallSubnet`` (the hub component creates the subnet);
its private IP is the UDR next hop (azure-rest-api-specs network azureFirewall.json:
``privateIPAddress``, "The Firewall Internal Load Balancer IP to be used as the next hop in User
Defined Routes").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network

FIREWALL_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="60m", delete="60m")


@dataclass(kw_only=True)
class FirewallArgs:
    firewall_name: str
    policy_name: str
    public_ip_name: str
    location: str
    resource_group_name: pulumi.Input[str]
    subnet_id: pulumi.Input[str]  # the hub's AzureFirewallSubnet
    sku_tier: str  # Standard | Premium
    zones: Sequence[str] = ()
    base_policy_id: str | None = None
    create_firewall: bool = True  # False: policy and IP only (atFailover, outside phase failover)
    permanent: bool = True  # present in every phase, so it can be protected
    provider: pulumi.ProviderResource | None = None
    tags: Mapping[str, str] = field(default_factory=dict[str, str])
    protect: bool = True
    depends_on: Sequence[pulumi.Resource] = ()


class TargetFirewall(pulumi.ComponentResource):
    """Firewall policy, public IP and (per provisioning and phase) the Azure Firewall."""

    policy_id: pulumi.Output[str]
    firewall_id: pulumi.Output[str] | None
    private_ip: pulumi.Output[str] | None

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:network:TargetFirewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.policy = network.FirewallPolicy(
            f"{name}-policy",
            firewall_policy_name=args.policy_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"tier": args.sku_tier},
            # The production policy's rules, inherited (Firewall Manager "policy hierarchy").
            base_policy={"id": args.base_policy_id} if args.base_policy_id else None,
            threat_intel_mode="Alert",
            tags=dict(args.tags),
            opts=child,
        )
        self.public_ip = network.PublicIPAddress(
            f"{name}-ip",
            public_ip_address_name=args.public_ip_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=list(args.zones) or None,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)),
        )
        self.firewall: network.AzureFirewall | None = None
        self.firewall_id = None
        self.private_ip = None
        if args.create_firewall:
            self.firewall = network.AzureFirewall(
                f"{name}-firewall",
                azure_firewall_name=args.firewall_name,
                resource_group_name=args.resource_group_name,
                location=args.location,
                sku={"name": "AZFW_VNet", "tier": args.sku_tier},
                firewall_policy={"id": self.policy.id},
                ip_configurations=[
                    {
                        "name": "ipconfig",
                        "subnet": {"id": args.subnet_id},
                        "public_ip_address": {"id": self.public_ip.id},
                    }
                ],
                zones=list(args.zones) or None,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        custom_timeouts=FIREWALL_TIMEOUTS,
                        depends_on=list(args.depends_on),
                        # A firewall a phase removes cannot be protected, or the phase change would be refused.
                        protect=args.protect and args.permanent,
                    ),
                ),
            )
            self.firewall_id = self.firewall.id
            configs = self.firewall.ip_configurations
            self.private_ip = configs.apply(lambda c: (c[0].private_ip_address or "") if c else "")
        self.policy_id = self.policy.id
        self.register_outputs(
            {"policy_id": self.policy_id, "firewall_id": self.firewall_id, "private_ip": self.private_ip}
        )
