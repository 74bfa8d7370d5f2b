"""The config model: enums and pydantic models, camelCase keys, unknown keys refused."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from model.config.estate import FirewallProvisioning, NamingConfig, NvaLayout, Placement, SourceConfig, Subscriptions
from model.config.types import (
    Cidr,
    CircuitId,
    IpAddress,
    Name,
    NsgId,
    ProtectedItemId,
    Region,
    RoleDefinitionId,
    SubnetId,
    VnetId,
)
from policies.shared import azure_facts
from policies.shared.addrspace import Network, parse_prefix
from policies.shared.names import NAMESPACE

# This stack's own connections' keys, then (dr, recovery plan) the keys of prod's connections.
SECRET_KEYS = (
    "primaryAuthorizationKey",
    "secondaryAuthorizationKey",
    "sourcePrimaryAuthorizationKey",
    "sourceSecondaryAuthorizationKey",
)


class Role(StrEnum):
    SOURCE = "source"
    TARGET = "target"


class Topology(StrEnum):
    TWO_CIRCUITS_TWO_LOCATIONS = "two-circuits-two-locations"
    TWO_CIRCUITS_ONE_LOCATION = "two-circuits-one-location"
    SINGLE_CIRCUIT = "single-circuit"


class Addressing(StrEnum):
    SAME = "same"
    TRANSLATED = "translated"


class Phase(StrEnum):
    STANDBY = "standby"
    FAILOVER = "failover"
    FAILBACK = "failback"


def exclusive_circuit(topology: Topology, addressing: Addressing) -> bool:
    """One circuit and the same address space on both sides: the two hubs may never be on the
    circuit together, so the source connection goes before the target connection comes."""
    return topology is Topology.SINGLE_CIRCUIT and addressing is Addressing.SAME


def target_pre_connected(pre_connect_target: bool | None, topology: Topology, addressing: Addressing) -> bool:
    """Whether the target hub is connected in standby: ``preConnectTarget``, by default yes except
    with one circuit and the same IPs (the two hubs may never share it)."""
    if pre_connect_target is not None:
        return pre_connect_target
    return not exclusive_circuit(topology, addressing)


@dataclass(frozen=True)
class Design:
    """How the two hubs meet the circuits: everything the phase rules depend on."""

    topology: Topology
    addressing: Addressing
    pre_connect_target: bool | None = None  # None: the default for the topology
    cross_connect: bool = False
    # The target hub's Azure Firewall is created by the failover update (layout.hub.nva
    # provisioning atFailover): that update then alters routing, before traffic may move.
    target_firewall_at_failover: bool = False

    @classmethod
    def of(cls, cfg: StackConfig) -> Design:
        return cfg.design

    @property
    def exclusive(self) -> bool:
        return exclusive_circuit(self.topology, self.addressing)

    @property
    def two_circuits(self) -> bool:
        return self.topology is not Topology.SINGLE_CIRCUIT

    @property
    def target_pre_connected(self) -> bool:
        return target_pre_connected(self.pre_connect_target, self.topology, self.addressing)


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class SecurityRule(Model):
    """One rule of a network security group (Microsoft.Network securityRules), as in the source."""

    name: Name
    priority: int = Field(ge=100, le=4096)
    direction: Literal["Inbound", "Outbound"]
    access: Literal["Allow", "Deny"]
    protocol: Literal["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"]
    source_address_prefixes: list[str] = Field(min_length=1, description="CIDRs, service tags or '*'.")
    source_port_ranges: list[str] = Field(default_factory=lambda: ["*"])
    destination_address_prefixes: list[str] = Field(min_length=1, description="CIDRs, service tags or '*'.")
    destination_port_ranges: list[str] = Field(default_factory=lambda: ["*"])
    description: str | None = None


class SubnetNsg(Model):
    """The subnet's network security group on each side. The source keeps ``source``; the target
    gets ``target`` (an NSG that exists in the target region), else an NSG the dr stack creates
    with ``rules`` (the source's, which erdr.discover copies). A source NSG with neither is a
    config error: failed-over VMs would run unfiltered."""

    source: NsgId | None = None
    target: NsgId | None = None
    rules: list[SecurityRule] | None = None


class SubnetLayout(Model):
    name: Name
    prefix: Cidr
    service_endpoints: list[str] = Field(
        default_factory=list[str],
        description="Extra service endpoints; Microsoft.Storage is added where 0.0.0.0/0 -> NVA.",
    )
    route_table: Literal["nva", "none"] | None = Field(
        default=None,
        description="'nva': 0.0.0.0/0 -> the NVA (the default for workload subnets); 'none': no route "
        "table (a private-endpoint subnet). Azure's service subnets follow their service's rule.",
    )
    nsg: SubnetNsg | None = None
    delegations: list[str] = Field(
        default_factory=list[str], description="Services the subnet is delegated to, e.g. Microsoft.Web/serverFarms."
    )
    private_endpoint_network_policies: (
        Literal["Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"] | None
    ) = None
    private_link_service_network_policies: Literal["Disabled", "Enabled"] | None = None
    default_outbound_access: bool | None = None


class HubLayout(Model):
    name: Name = "hub"
    address_space: list[Cidr] = Field(min_length=1)
    nva_subnet: SubnetLayout
    nva_address: IpAddress
    gateway_subnet_prefix: Cidr
    extra_subnets: list[SubnetLayout] = Field(default_factory=list[SubnetLayout])
    # The real estate (model/config/estate.py): what the next hop is, where the hub lives.
    nva: NvaLayout = NvaLayout()
    placement: Placement = Placement()


class SpokeLayout(Model):
    name: Name
    address_space: list[Cidr] = Field(min_length=1)
    subnets: list[SubnetLayout] = Field(min_length=1)
    placement: Placement = Placement()


class Layout(Model):
    """The source network, declared once (project-level config) for both stacks."""

    hub: HubLayout
    spokes: list[SpokeLayout] = Field(min_length=1)

    def address_spaces(self) -> list[tuple[str, list[str]]]:
        """(VNet name, address space) of the hub, then each spoke: the layout order."""
        return [(self.hub.name, self.hub.address_space), *((s.name, s.address_space) for s in self.spokes)]

    def prefixes(self) -> list[tuple[str, Network]]:
        """(VNet name, prefix) for every prefix of every VNet, in layout order."""
        return [(name, parse_prefix(p)) for name, space in self.address_spaces() for p in space]


class Regions(Model):
    source: Region
    target: Region

    def of(self, role: Role) -> str:
        return self.source if role is Role.SOURCE else self.target


class Circuit(Model):
    id: CircuitId
    peering_location: str = Field(min_length=1)
    sku_tier: Literal["Standard", "Premium", "Local"] = "Standard"
    sku_family: Literal["MeteredData", "UnlimitedData"] = "MeteredData"
    bandwidth_mbps: int = Field(default=1000, ge=50, le=100_000)
    on_prem_prefixes: list[Cidr] = Field(
        default_factory=list[Cidr],
        description="On-premises prefixes advertised over this circuit; must not overlap Azure.",
    )


class Circuits(Model):
    primary: Circuit
    secondary: Circuit | None = None


class GatewayConfig(Model):
    sku: str | None = Field(
        default=None,
        description="ExpressRoute gateway SKU; default ErGw1AZ where the region has zones.",
    )
    public_ip: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="auto/never: no public IP of the program's, Azure assigns and manages the gateway's "
        "(network API 2024-05-01); always: a Standard, static IP (docs/safety.md, section 5).",
    )


class RoutingWeights(Model):
    preferred: int = Field(default=100, ge=0, le=32000)
    standby: int = Field(default=0, ge=0, le=32000)


class ResourceGroupNames(Model):
    source: Name | None = None
    target: Name | None = None


class DrillConfig(Model):
    enabled: bool = True
    address_space: Cidr = Field(
        default="172.16.0.0/16",
        description="Block the isolated drill VNets are carved from, one per source VNet.",
    )


class SiteRecoveryConfig(Model):
    enabled: bool = True
    recovery_point_history_minutes: int = Field(default=1440, ge=0, le=21600)
    app_consistent_frequency_minutes: int = Field(default=240, ge=0, le=720)
    crash_consistent_frequency_minutes: int = Field(default=5, ge=5, le=5)
    multi_vm_sync: bool = False
    # What erdr.check holds the live estate to (readiness, not deployment: no resource reads them).
    max_rpo_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="erdr.check: a replicated item whose last recovery point is older fails readiness.",
    )
    max_days_since_test_failover: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="erdr.check: a replicated item without a successful test failover for longer fails readiness.",
    )


class BootGroup(Model):
    items: list[ProtectedItemId] = Field(
        min_length=1, description="Replicated items (replicationProtectedItems ARM IDs) booted together."
    )


class RoleDefinitionIds(Model):
    """Custom roles an administrator created beforehand, with exactly the actions
    docs/recovery-plan.md lists for each: the dr stack assigns these instead of creating its own, so
    its identity needs no roleDefinitions/write for them."""

    connections: RoleDefinitionId | None = Field(default=None, description="'network switch connections'.")
    weights: RoleDefinitionId | None = Field(default=None, description="'network switch weights'.")
    gateway_join: RoleDefinitionId | None = Field(default=None, description="'network switch gateway join'.")
    circuit_join: RoleDefinitionId | None = Field(default=None, description="'network switch circuit join'.")
    job: RoleDefinitionId | None = Field(default=None, description="'network switch job'.")
    child_runbook: RoleDefinitionId | None = Field(default=None, description="'network switch child runbook'.")
    drill: RoleDefinitionId | None = Field(default=None, description="'drill isolation'.")


class RecoveryPlanConfig(Model):
    """Site Recovery recovery plan with the network switch as its first step (components/recovery_plan.py)."""

    name: Name | None = Field(default=None, description="Recovery plan name; default erdr-<source>-to-<target>.")
    boot_groups: list[BootGroup] = Field(
        default_factory=list[BootGroup],
        description="Boot groups in boot order; without replicated items no plan is registered.",
    )
    automation_account_name: Name | None = Field(
        default=None, description="Automation account running the runbook; default aa-erdr-<target region>."
    )
    retry_attempts: int = Field(default=5, ge=1, le=20, description="ARM calls per request before giving up.")
    retry_delay_seconds: int = Field(default=10, ge=1, le=300, description="Pause between retries and polls.")
    role_definition_ids: RoleDefinitionIds = Field(
        default_factory=RoleDefinitionIds,
        description="Pre-created custom roles to assign instead of creating them (docs/operations.md 2.1).",
    )

    @property
    def items(self) -> list[str]:
        return [item for group in self.boot_groups for item in group.items]


class AdoptedVnet(Model):
    id: VnetId
    subnets: dict[str, SubnetId] = Field(
        default_factory=dict[str, SubnetId],
        description="Subnet name -> resource ID, for subnets Site Recovery already created.",
    )


class StackConfig(Model):
    """Everything under the ``expressroute-dr`` namespace, after project and stack merge."""

    role: Role
    topology: Topology
    addressing: Addressing = Addressing.SAME
    phase: Phase = Phase.STANDBY
    regions: Regions
    layout: Layout
    circuits: Circuits
    target_address_plan: dict[str, list[Cidr]] = Field(default_factory=dict[str, list[Cidr]])
    gateway: GatewayConfig = GatewayConfig()
    routing_weights: RoutingWeights = RoutingWeights()
    pre_connect_target: bool | None = None
    cross_connect: bool = False
    peer_stack: str | None = Field(
        default=None,
        description="The other stack (org/project/stack) read by StackReference; gates the "
        "single-circuit same-IP connection on the peer having dropped its own.",
    )
    source_region_unreachable: bool = False
    resource_group_names: ResourceGroupNames = ResourceGroupNames()
    drill: DrillConfig = DrillConfig()
    site_recovery: SiteRecoveryConfig = SiteRecoveryConfig()
    protect: bool = True
    tags: dict[str, str] = Field(default_factory=dict[str, str])
    adopt: dict[str, AdoptedVnet] = Field(default_factory=dict[str, AdoptedVnet])
    recovery_plan: RecoveryPlanConfig | None = None
    source: SourceConfig = SourceConfig()
    subscriptions: Subscriptions = Subscriptions()
    naming: NamingConfig = NamingConfig()

    @property
    def region(self) -> str:
        return self.regions.of(self.role)

    @property
    def exclusive_circuit(self) -> bool:
        return self.design.exclusive

    @property
    def two_circuits(self) -> bool:
        return self.design.two_circuits

    @property
    def target_pre_connected(self) -> bool:
        return self.design.target_pre_connected

    @property
    def design(self) -> Design:
        """How the two hubs meet the circuits: what the phase rules (model/phases.py) depend on."""
        nva = self.layout.hub.nva
        at_failover = nva.firewall and nva.provisioning is FirewallProvisioning.AT_FAILOVER
        return Design(self.topology, self.addressing, self.pre_connect_target, self.cross_connect, at_failover)

    @property
    def gateway_sku(self) -> str:
        if self.gateway.sku:
            return self.gateway.sku
        return "ErGw1AZ" if azure_facts.region_has_zones(self.region) else "Standard"

    @property
    def adopted_resource_group_id(self) -> str | None:
        """The target resource group's ID when adopted VNets already live in it (so it exists too)."""
        if self.role is not Role.TARGET or not self.adopt:
            return None
        subscription = next(iter(self.adopt.values())).id.split("/")[2]
        return f"/subscriptions/{subscription}/resourceGroups/{self.resource_group_name(Role.TARGET)}"

    def resource_tags(self, role: Role) -> dict[str, str]:
        """The tags ``role``'s stack puts on every resource."""
        return {"project": NAMESPACE, "role": role.value, **self.tags}

    def resource_group_name(self, role: Role) -> str:
        explicit = self.resource_group_names.source if role is Role.SOURCE else self.resource_group_names.target
        return explicit or f"rg-{NAMESPACE}-{self.regions.of(role)}"
