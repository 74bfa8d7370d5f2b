"""The resolved estate: the subscription, resource group, Azure name and ARM ID of every resource
the two stacks manage or refer to, decided once.

From the config (``subscriptions``, ``resourceGroupNames``, ``layout.*.placement``,
``source.imports`` of adopted production, ``adopt`` on the target, ``naming``, ``recoveryPlan``) and
the naming conventions of :mod:`model.naming`, :func:`resolve` gives both sides: the program names
what it registers from it, and the runbook, the diagrams, the failover command, the recovery plan's
role scopes and Automation variables, discover and the readiness check read the same identities
instead of rebuilding ``/subscriptions/...`` strings from partial inputs.

Each resource is keyed by the logical (Pulumi) name the stack registers it under, so an adopted
resource (``source.imports`` is keyed the same way) takes its identity from the import, and a test
can hold the estate to what the program registers. :func:`check` turns a derived name Azure would
refuse (too long, bad characters) or two resources resolving to one ID into config errors naming the
key that decided the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from model import naming
from model.config import ConfigError, Issue, Phase, Role, StackConfig, SubnetLayout
from model.config import load as config_load
from model.config.estate import Placement, SourceMode
from model.config.rules.placement import nva_routed
from model.links import links
from policies.shared import azure_facts
from policies.shared.names import GATEWAY_SUBNET
from policies.shared.service_subnets import RouteRule, service_subnet

# --- one resource ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceId:
    """One Azure resource: where it lives and what it is called.

    ``type`` is the full ARM type (``Microsoft.Network/virtualNetworks/subnets``); a child resource
    (subnet, peering, Site Recovery object) carries its ``parent``, whose ID its own extends.
    ``key`` is the config key path that decided the name (for error messages; not part of equality).
    """

    type: str
    name: str
    subscription: str
    resource_group: str
    parent: ResourceId | None = None
    key: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        group = f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
        if self.type == naming.RESOURCE_GROUPS:
            return group
        if self.parent is not None:
            return f"{self.parent.id}/{self.type.rsplit('/', 1)[1]}/{self.name}"
        return f"{group}/providers/{self.type}/{self.name}"

    @property
    def group_id(self) -> str:
        """The ARM ID of the resource group the resource lives in."""
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    def child(self, segment: str, name: str, key: str = "") -> ResourceId:
        """A child resource: ``segment`` is its type's last part (``subnets``)."""
        return ResourceId(f"{self.type}/{segment}", name, self.subscription, self.resource_group, self, key or self.key)

    @classmethod
    def parse(cls, arm_id: str, key: str = "") -> ResourceId:
        """An ARM ID (a resource group's, or a resource's with any depth of children)."""
        parts = [p for p in arm_id.strip().split("/") if p]
        lowered = [p.lower() for p in parts]
        if len(parts) < 4 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups":
            raise ValueError(f"not an ARM resource ID: {arm_id!r}")
        subscription, group = parts[1], parts[3]
        if len(parts) == 4:
            return cls(naming.RESOURCE_GROUPS, group, subscription, group, key=key)
        if lowered[4] != "providers" or len(parts) < 8 or len(parts) % 2:
            raise ValueError(f"not an ARM resource ID: {arm_id!r}")
        namespace = parts[5]
        pairs = [(parts[i], parts[i + 1]) for i in range(6, len(parts), 2)]
        found: ResourceId | None = None
        type_ = namespace
        for segment, name in pairs:
            type_ = f"{type_}/{segment}"
            found = cls(type_, name, subscription, group, found, key)
        assert found is not None
        return found

    def same(self, other: str | ResourceId) -> bool:
        """Whether ``other`` names this resource (ARM compares IDs without regard to case)."""
        text = other.id if isinstance(other, ResourceId) else other
        return self.id.lower() == text.strip().rstrip("/").lower()


def subscription_scope(subscription: str) -> str:
    """A subscription's ARM scope (where custom roles are defined)."""
    return f"/subscriptions/{subscription}"


# --- logical names: the Pulumi names the stacks register ---------------------------------------------


class Logical:
    """The Pulumi resource names the program registers (URNs: stable forever). The estate keys
    every resource by them, and so does ``source.imports``."""

    RESOURCE_GROUP = "network-rg"

    @staticmethod
    def vnet(key: str) -> str:
        return f"{key}-vnet"

    @staticmethod
    def subnet(key: str, subnet: str) -> str:
        return f"{key}-{subnet}"

    @staticmethod
    def spoke_routes(key: str) -> str:
        return f"{key}-routes"

    @staticmethod
    def gateway_routes(hub: str) -> str:
        return f"{hub}-gateway-routes"

    @staticmethod
    def workload_routes(hub: str) -> str:
        return f"{hub}-workload-routes"

    @staticmethod
    def service_routes(key: str, subnet: str) -> str:
        """The route table an Azure service subnet asks for (AzureFirewallManagementSubnet:
        0.0.0.0/0 -> Internet; policies/shared/service_subnets.py)."""
        return f"{key}-{subnet}-routes"

    @staticmethod
    def subnet_nsg(key: str, subnet: str) -> str:
        """The NSG the dr stack creates for a subnet (layout ``nsg.rules``)."""
        return f"{key}-{subnet}-nsg"

    @staticmethod
    def gateway(hub: str) -> str:
        return f"{hub}-gateway"

    @staticmethod
    def gateway_ip(hub: str) -> str:
        return f"{hub}-gateway-ip"

    @staticmethod
    def connection(hub: str, circuit: str) -> str:
        return f"{hub}-{circuit}-connection"

    @staticmethod
    def peering(local: str, remote: str) -> str:
        return f"{local}-to-{remote}"

    @staticmethod
    def firewall(hub: str) -> str:
        """The target firewall component; its children add -policy, -ip and -firewall."""
        return f"{hub}-firewall"

    @staticmethod
    def drill(key: str) -> str:
        """The drill copy of a VNet (the DrillNetwork component's child prefix)."""
        return f"drill-{key}"


# --- one side -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VnetIds:
    key: str  # the layout name
    vnet: ResourceId
    subnets: dict[str, ResourceId]
    # The table of the VNet's workload subnets (a spoke's, or the hub's extra subnets'), if any.
    route_table: ResourceId | None = None
    # The placement names a subscription (the program writes it through an explicit provider).
    placed_subscription: str | None = None
    # subnet name -> the route table its Azure service asks for (policies/shared/service_subnets.py).
    service_route_tables: dict[str, ResourceId] = field(default_factory=dict[str, ResourceId])
    # subnet name -> the NSG this side's stack creates for it (target, layout nsg.rules).
    nsgs: dict[str, ResourceId] = field(default_factory=dict[str, ResourceId])

    def subnet(self, name: str) -> ResourceId:
        return self.subnets[name]


@dataclass(frozen=True)
class FirewallIds:
    firewall: ResourceId
    policy: ResourceId
    public_ip: ResourceId


@dataclass(frozen=True)
class Side:
    """Everything one stack's network is made of, in that stack's region."""

    role: Role
    region: str
    subscription: str  # the stack's own subscription (subscriptions.<role>)
    resource_group: ResourceId  # the stack's network resource group
    hub: VnetIds
    spokes: tuple[VnetIds, ...]
    gateway: ResourceId
    gateway_routes: ResourceId
    gateway_ip: ResourceId | None
    # circuit ("primary" | "secondary") -> the hub's connection to it, for every circuit the hub
    # holds in some phase.
    connections: dict[str, ResourceId]
    # spoke key -> (hub-to-spoke peering, spoke-to-hub peering)
    peerings: dict[str, tuple[ResourceId, ResourceId]]
    firewall: FirewallIds | None = None

    @property
    def vnets(self) -> tuple[VnetIds, ...]:
        return (self.hub, *self.spokes)

    def vnet(self, key: str) -> VnetIds:
        for v in self.vnets:
            if v.key == key:
                return v
        raise KeyError(key)

    def connection(self, circuit: str) -> ResourceId:
        return self.connections[circuit]

    def by_logical(self) -> dict[str, ResourceId]:
        """Logical (Pulumi) name -> identity, for every resource this side's stack registers."""
        hub = self.hub.key
        out: dict[str, ResourceId] = {Logical.RESOURCE_GROUP: self.resource_group}
        for v in self.vnets:
            out[Logical.vnet(v.key)] = v.vnet
            out |= {Logical.subnet(v.key, name): sub for name, sub in v.subnets.items()}
            if v.route_table is not None:
                out[Logical.workload_routes(hub) if v is self.hub else Logical.spoke_routes(v.key)] = v.route_table
            out |= {Logical.service_routes(v.key, name): t for name, t in v.service_route_tables.items()}
            out |= {Logical.subnet_nsg(v.key, name): n for name, n in v.nsgs.items()}
        out[Logical.gateway_routes(hub)] = self.gateway_routes
        out[Logical.gateway(hub)] = self.gateway
        if self.gateway_ip is not None:
            out[Logical.gateway_ip(hub)] = self.gateway_ip
        out |= {Logical.connection(hub, c): conn for c, conn in self.connections.items()}
        for spoke, (to_spoke, to_hub) in self.peerings.items():
            out[Logical.peering(hub, spoke)] = to_spoke
            out[Logical.peering(spoke, hub)] = to_hub
        if self.firewall is not None:
            base = Logical.firewall(hub)
            out[f"{base}-policy"] = self.firewall.policy
            out[f"{base}-ip"] = self.firewall.public_ip
            out[f"{base}-firewall"] = self.firewall.firewall
        return out


@dataclass(frozen=True)
class SiteRecoveryIds:
    vault: ResourceId
    fabrics: dict[str, ResourceId]  # role value -> fabric
    containers: dict[str, ResourceId]
    policy: ResourceId
    container_mappings: dict[str, ResourceId]  # "source-to-target" | "target-to-source"
    network_mappings: dict[str, ResourceId]  # "<vnet key>-source-to-target" | ...-target-to-source
    # role value -> the cache storage account in that role's region: A2A replication from that
    # region stages its changes there (enabling replication, and re-protect after a failover).
    cache_storage: dict[str, ResourceId] = field(default_factory=dict[str, ResourceId])


@dataclass(frozen=True)
class RecoveryPlanIds:
    plan: ResourceId
    automation_account: ResourceId
    content_storage: ResourceId


@dataclass(frozen=True)
class Estate:
    """Both sides, the drill network, Site Recovery and the circuits."""

    source: Side
    target: Side
    circuits: dict[str, ResourceId]  # "primary" | "secondary" -> circuit
    drill: dict[str, VnetIds] = field(default_factory=dict[str, VnetIds])
    site_recovery: SiteRecoveryIds | None = None
    recovery_plan: RecoveryPlanIds | None = None

    def side(self, role: Role) -> Side:
        return self.source if role is Role.SOURCE else self.target

    def subscriptions(self) -> dict[Role, str]:
        return {Role.SOURCE: self.source.subscription, Role.TARGET: self.target.subscription}

    def drill_by_logical(self) -> dict[str, ResourceId]:
        return drill_by_logical(self.drill)

    def resources(self) -> Iterator[tuple[str, ResourceId]]:
        """(where, identity) of every resource, both sides: what :func:`check` validates."""
        for side in (self.source, self.target):
            for logical, rid in side.by_logical().items():
                yield f"{side.role.value} {logical}", rid
        for logical, rid in self.drill_by_logical().items():
            yield f"target {logical}", rid
        if self.site_recovery is not None:
            sr = self.site_recovery
            yield "target vault", sr.vault
            for role, rid in sr.fabrics.items():
                yield f"target {role} fabric", rid
            for role, rid in sr.containers.items():
                yield f"target {role} container", rid
            yield "target replication policy", sr.policy
            for name, rid in sr.container_mappings.items():
                yield f"target container mapping {name}", rid
            for name, rid in sr.network_mappings.items():
                yield f"target network mapping {name}", rid
            for role, rid in sr.cache_storage.items():
                yield f"target {role} cache storage", rid
        if self.recovery_plan is not None:
            rp = self.recovery_plan
            yield "target recovery plan", rp.plan
            yield "target automation account", rp.automation_account
            yield "target runbook content storage", rp.content_storage


def drill_by_logical(vnets: Mapping[str, VnetIds]) -> dict[str, ResourceId]:
    """Logical name -> identity of the drill network's VNets and subnets."""
    out: dict[str, ResourceId] = {}
    for v in vnets.values():
        base = Logical.drill(v.key)
        out[Logical.vnet(base)] = v.vnet
        out |= {Logical.subnet(base, name): sub for name, sub in v.subnets.items()}
    return out


# --- resolution -------------------------------------------------------------------------------------


class Unresolved(Exception):
    """The config cannot place every resource yet (a subscription is missing); config validation
    reports it (model/config/rules/placement.py) before anything asks."""


def stack_subscription(cfg: StackConfig, role: Role) -> str:
    found = cfg.subscriptions.of(role.value)
    if found is None:
        raise Unresolved(f"subscriptions.{role.value} is not set")
    return found


def _adopted(cfg: StackConfig, role: Role) -> Mapping[str, str]:
    """Logical name -> ARM ID of adopted production resources (source.imports), on the source side."""
    if role is Role.SOURCE and cfg.source.mode is SourceMode.ADOPTED:
        return cfg.source.imports
    return {}


def target_naming(cfg: StackConfig) -> naming.TargetNaming:
    codes = cfg.naming.region_codes
    return naming.TargetNaming(
        cfg.regions.source,
        cfg.regions.target,
        codes.source if codes else None,
        codes.target if codes else None,
    )


def _placements(cfg: StackConfig) -> list[tuple[str, str, Placement]]:
    """(VNet key, config path of its layout entry, its Placement) in layout order."""
    layout = cfg.layout
    out: list[tuple[str, str, Placement]] = [(layout.hub.name, "layout.hub", layout.hub.placement)]
    out += [(s.name, f"layout.spokes[{i}]", s.placement) for i, s in enumerate(layout.spokes)]
    return out


def _vnet_name(cfg: StackConfig, role: Role, key: str, path: str) -> tuple[str, str]:
    """(Azure name of VNet ``key`` on ``role``'s side, the config key that decides it)."""
    placements = {k: p for k, _, p in _placements(cfg)}
    placement = placements[key]
    adopted = _adopted(cfg, role).get(Logical.vnet(key))
    if adopted:
        return adopted.rstrip("/").rsplit("/", 1)[-1], f"source.imports.{Logical.vnet(key)}"
    if role is Role.TARGET and key in cfg.adopt:
        return cfg.adopt[key].id.rstrip("/").rsplit("/", 1)[-1], f"adopt.{key}.id"
    loc = placement.of(role.value)
    if loc.name:
        return loc.name, f"{path}.placement.{role.value}.name"
    if role is Role.TARGET:
        # The estate's own names carry over: the source's placed or adopted name, its region
        # tokens swapped (naming.regionCodes); a default name has its own target default.
        source_placed = placement.of(Role.SOURCE.value).name
        source_adopted = cfg.source.imports.get(Logical.vnet(key)) if cfg.source.mode is SourceMode.ADOPTED else None
        source_name = source_placed or (source_adopted.rstrip("/").rsplit("/", 1)[-1] if source_adopted else None)
        if source_name:
            swapped = target_naming(cfg).swapped(source_name)
            if swapped:
                where = "naming.regionCodes" if cfg.naming.region_codes else f"{path}.placement.source.name"
                return swapped, where
    return naming.default_vnet_name(key, cfg.regions.of(role)), f"{path}.name"


def _from_import(arm_id: str | None, key: str) -> ResourceId | None:
    return ResourceId.parse(arm_id, key) if arm_id else None


def _stack_group(cfg: StackConfig, role: Role) -> ResourceId:
    adopted = _adopted(cfg, role).get(Logical.RESOURCE_GROUP)
    if adopted:
        return ResourceId.parse(adopted, f"source.imports.{Logical.RESOURCE_GROUP}")
    name = cfg.resource_group_name(role)
    return ResourceId(
        naming.RESOURCE_GROUPS, name, stack_subscription(cfg, role), name, key=f"resourceGroupNames.{role.value}"
    )


def _vnet_ids(
    cfg: StackConfig,
    role: Role,
    key: str,
    path: str,
    placement: Placement,
    subnet_names: list[str],
    route_table: str | None,
    created_nsgs: list[str] | None = None,
) -> VnetIds:
    """One VNet on ``role``'s side: adopted, else where its placement puts it (the stack's
    subscription and group by default), named by :func:`_vnet_name`."""
    adopted = _adopted(cfg, role)
    loc = placement.of(role.value)
    name, name_key = _vnet_name(cfg, role, key, path)
    vnet = _from_import(adopted.get(Logical.vnet(key)), f"source.imports.{Logical.vnet(key)}")
    if vnet is None and role is Role.TARGET and key in cfg.adopt:
        vnet = ResourceId.parse(cfg.adopt[key].id, f"adopt.{key}.id")
    if vnet is None:
        group = loc.resource_group or _stack_group(cfg, role).name
        vnet = ResourceId(
            naming.VIRTUAL_NETWORKS, name, loc.subscription_id or stack_subscription(cfg, role), group, key=name_key
        )
    # A subnet's name is the layout's (unique in its VNet); where it lands is the VNet's doing.
    subnets = {s: vnet.child("subnets", s, vnet.key) for s in subnet_names}
    table = None
    if route_table is not None:
        table = _from_import(adopted.get(route_table), f"source.imports.{route_table}") or ResourceId(
            naming.ROUTE_TABLES,
            naming.route_table_name(vnet.name),
            vnet.subscription,
            vnet.resource_group,
            key=vnet.key,
        )
    service_tables: dict[str, ResourceId] = {}
    for s in subnet_names:
        rule = service_subnet(s)
        if rule is None or rule.route is not RouteRule.INTERNET_DEFAULT:
            continue
        logical = Logical.service_routes(key, s)
        service_tables[s] = _from_import(adopted.get(logical), f"source.imports.{logical}") or ResourceId(
            naming.ROUTE_TABLES,
            naming.service_route_table_name(vnet.name, s),
            vnet.subscription,
            vnet.resource_group,
            key=vnet.key,
        )
    nsgs = {
        s: ResourceId(
            naming.NSGS, naming.subnet_nsg_name(vnet.name, s), vnet.subscription, vnet.resource_group, key=vnet.key
        )
        for s in created_nsgs or []
    }
    return VnetIds(key, vnet, subnets, table, loc.subscription_id, service_tables, nsgs)


def created_nsgs(role: Role, subnets: Iterable[SubnetLayout]) -> list[str]:
    """The subnets whose NSG ``role``'s stack creates: on the target, those given the source's rules
    and no existing target NSG."""
    if role is not Role.TARGET:
        return []
    return [s.name for s in subnets if s.nsg is not None and s.nsg.target is None and s.nsg.rules is not None]


def _hub(cfg: StackConfig, role: Role) -> VnetIds:
    hub = cfg.layout.hub
    subnets = [GATEWAY_SUBNET, hub.nva_subnet.name, *(s.name for s in hub.extra_subnets)]
    table = Logical.workload_routes(hub.name) if any(nva_routed(s) for s in hub.extra_subnets) else None
    nsgs = created_nsgs(role, [hub.nva_subnet, *hub.extra_subnets])
    return _vnet_ids(cfg, role, hub.name, "layout.hub", hub.placement, subnets, table, nsgs)


def _at_hub(cfg: StackConfig, role: Role, hub: VnetIds, logical: str, type_: str, name: str) -> ResourceId:
    """A hub-level resource (gateway, its route table and IP, connections, firewall): adopted, else
    in the hub VNet's subscription and group."""
    adopted = _adopted(cfg, role).get(logical)
    return _from_import(adopted, f"source.imports.{logical}") or ResourceId(
        type_, name, hub.vnet.subscription, hub.vnet.resource_group, key=hub.vnet.key
    )


def hub_gateway(cfg: StackConfig, role: Role) -> ResourceId:
    """The ExpressRoute gateway of ``role``'s hub."""
    hub = _hub(cfg, role)
    return _at_hub(cfg, role, hub, Logical.gateway(hub.key), naming.GATEWAYS, naming.gateway_name(hub.vnet.name))


def connections(cfg: StackConfig, role: Role) -> dict[str, ResourceId]:
    """circuit -> ``role``'s hub connection to it, for every circuit the hub holds in some phase."""
    hub = _hub(cfg, role)
    held = sorted({link.circuit for phase in Phase for link in links(cfg.design, role, phase)})
    return {
        c: _at_hub(
            cfg, role, hub, Logical.connection(hub.key, c), naming.CONNECTIONS, naming.connection_name(hub.vnet.name, c)
        )
        for c in held
    }


def _side(cfg: StackConfig, role: Role) -> Side:
    layout = cfg.layout
    hub = _hub(cfg, role)
    spokes = tuple(
        _vnet_ids(
            cfg,
            role,
            s.name,
            f"layout.spokes[{i}]",
            s.placement,
            [n.name for n in s.subnets],
            Logical.spoke_routes(s.name) if any(nva_routed(n) for n in s.subnets) else None,
            created_nsgs(role, s.subnets),
        )
        for i, s in enumerate(layout.spokes)
    )

    def at_hub(logical: str, type_: str, name: str) -> ResourceId:
        return _at_hub(cfg, role, hub, logical, type_, name)

    gateway_routes = at_hub(
        Logical.gateway_routes(hub.key), naming.ROUTE_TABLES, naming.gateway_route_table_name(hub.vnet.name)
    )
    gateway_ip = None
    # gateway.* is stack config: only the stack's own side knows whether its gateway has a public IP.
    if role is cfg.role and azure_facts.gateway_needs_public_ip(cfg.gateway_sku, cfg.gateway.public_ip):
        gateway_ip = at_hub(Logical.gateway_ip(hub.key), naming.PUBLIC_IPS, naming.gateway_ip_name(hub.vnet.name))
    adopted = _adopted(cfg, role)
    peerings: dict[str, tuple[ResourceId, ResourceId]] = {}
    for spoke in spokes:
        to_spoke_logical = Logical.peering(hub.key, spoke.key)
        to_hub_logical = Logical.peering(spoke.key, hub.key)
        to_spoke = _from_import(adopted.get(to_spoke_logical), f"source.imports.{to_spoke_logical}") or hub.vnet.child(
            "virtualNetworkPeerings", naming.peering_name(hub.vnet.name, spoke.vnet.name), spoke.vnet.key
        )
        to_hub = _from_import(adopted.get(to_hub_logical), f"source.imports.{to_hub_logical}") or spoke.vnet.child(
            "virtualNetworkPeerings", naming.peering_name(spoke.vnet.name, hub.vnet.name), spoke.vnet.key
        )
        peerings[spoke.key] = (to_spoke, to_hub)
    firewall = None
    if role is Role.TARGET and layout.hub.nva.firewall:
        firewall = FirewallIds(
            at_hub(Logical.firewall(hub.key) + "-firewall", naming.FIREWALLS, naming.firewall_name(hub.vnet.name)),
            at_hub(
                Logical.firewall(hub.key) + "-policy",
                naming.FIREWALL_POLICIES,
                naming.firewall_policy_name(hub.vnet.name),
            ),
            at_hub(Logical.firewall(hub.key) + "-ip", naming.PUBLIC_IPS, naming.firewall_ip_name(hub.vnet.name)),
        )
    return Side(
        role,
        cfg.regions.of(role),
        stack_subscription(cfg, role),
        _stack_group(cfg, role),
        hub,
        spokes,
        hub_gateway(cfg, role),
        gateway_routes,
        gateway_ip,
        connections(cfg, role),
        peerings,
        firewall,
    )


def drill(cfg: StackConfig) -> dict[str, VnetIds]:
    """The drill copies live in the dr stack's own group and subscription, named after the layout."""
    subscription = stack_subscription(cfg, Role.TARGET)
    group = cfg.resource_group_name(Role.TARGET)
    region = cfg.regions.target
    layout = cfg.layout
    entries = [
        (layout.hub.name, "layout.hub", [layout.hub.nva_subnet.name, *(s.name for s in layout.hub.extra_subnets)]),
        *((s.name, f"layout.spokes[{i}]", [n.name for n in s.subnets]) for i, s in enumerate(layout.spokes)),
    ]
    out: dict[str, VnetIds] = {}
    for key, path, subnets in entries:
        name = naming.drill_vnet_name(naming.default_vnet_name(key, region))
        vnet = ResourceId(naming.VIRTUAL_NETWORKS, name, subscription, group, key=f"{path}.name")
        out[key] = VnetIds(key, vnet, {s: vnet.child("subnets", s) for s in subnets})
    return out


def _site_recovery(cfg: StackConfig, source: Side, target: Side) -> SiteRecoveryIds | None:
    """In the dr stack's group: the vault, both fabrics and containers, the policy, the mappings."""
    if not cfg.site_recovery.enabled:
        return None
    sub, group = target.subscription, cfg.resource_group_name(Role.TARGET)
    vault = ResourceId(naming.VAULTS, naming.vault_name(cfg.regions.target), sub, group, key="regions.target")
    regions = {Role.SOURCE.value: cfg.regions.source, Role.TARGET.value: cfg.regions.target}
    fabrics = {role: vault.child("replicationFabrics", naming.fabric_name(region)) for role, region in regions.items()}
    containers = {
        role: fabrics[role].child("replicationProtectionContainers", naming.container_name(region))
        for role, region in regions.items()
    }
    pairs = (("source", "target"), ("target", "source"))
    container_mappings = {
        naming.container_mapping_name(a, b): containers[a].child(
            "replicationProtectionContainerMappings", naming.container_mapping_name(a, b)
        )
        for a, b in pairs
    }
    network_mappings: dict[str, ResourceId] = {}
    for a, b in pairs:
        networks = fabrics[a].child("replicationNetworks", naming.AZURE_NETWORK)
        for v in source.vnets:
            name = naming.network_mapping_name(v.key, a, b)
            network_mappings[name] = networks.child("replicationNetworkMappings", name)
    cache = {
        role: ResourceId(
            naming.STORAGE_ACCOUNTS,
            naming.cache_storage_account_name(sub, group, region),
            sub,
            group,
            key="resourceGroupNames.target",
        )
        for role, region in regions.items()
    }
    return SiteRecoveryIds(
        vault,
        fabrics,
        containers,
        vault.child("replicationPolicies", naming.REPLICATION_POLICY_NAME),
        container_mappings,
        network_mappings,
        cache,
    )


def _recovery_plan(cfg: StackConfig, sr: SiteRecoveryIds | None) -> RecoveryPlanIds | None:
    rp = cfg.recovery_plan
    if rp is None or not rp.items or sr is None:
        return None
    sub, group = sr.vault.subscription, sr.vault.resource_group
    plan_name = rp.name or naming.recovery_plan_name(cfg.regions.source, cfg.regions.target)
    account = rp.automation_account_name or naming.automation_account_name(cfg.regions.target)
    return RecoveryPlanIds(
        sr.vault.child("replicationRecoveryPlans", plan_name, "recoveryPlan.name"),
        ResourceId(naming.AUTOMATION_ACCOUNTS, account, sub, group, key="recoveryPlan.automationAccountName"),
        ResourceId(
            naming.STORAGE_ACCOUNTS,
            naming.content_storage_account_name(sub, group),
            sub,
            group,
            key="resourceGroupNames.target",
        ),
    )


def _circuits(cfg: StackConfig) -> dict[str, ResourceId]:
    out = {"primary": ResourceId.parse(cfg.circuits.primary.id, "circuits.primary.id")}
    if cfg.circuits.secondary is not None:
        out["secondary"] = ResourceId.parse(cfg.circuits.secondary.id, "circuits.secondary.id")
    return out


def resolve(cfg: StackConfig) -> Estate:
    """Both sides' identities (raises :class:`Unresolved` while a subscription is missing)."""
    source, target = _side(cfg, Role.SOURCE), _side(cfg, Role.TARGET)
    sr = _site_recovery(cfg, source, target)
    return Estate(source, target, _circuits(cfg), drill(cfg) if cfg.drill.enabled else {}, sr, _recovery_plan(cfg, sr))


def side(cfg: StackConfig, role: Role) -> Side:
    """One side's identities (what a stack registers needs only its own side)."""
    return _side(cfg, role)


def _kind(type_: str) -> str:
    return type_.rsplit("/", 1)[-1]


_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def value_at(cfg: StackConfig, path: str) -> object:
    """The config value at a key path (``layout.spokes[0].name``), camelCase as users write it."""
    node: Any = cfg.model_dump(by_alias=True, mode="json")
    for name, index in _PATH.findall(path):
        try:
            node = node[int(index)] if index else node[name]
        except (KeyError, IndexError, TypeError):
            return None
    return node


NAME_RULES_PAGE = "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"


def issues(cfg: StackConfig, estate: Estate) -> list[Issue]:
    """Names Azure would refuse, and resources that resolve to one ID: one line per config key,
    naming the key that decided the names, its value and the derived names."""
    refused: dict[str, list[str]] = {}
    clashes: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for where, rid in estate.resources():
        key = rid.key or "layout"
        problem = naming.name_problem(rid.type, rid.name)
        if problem is not None:
            refused.setdefault(key, []).append(f"{_kind(rid.type)} {rid.name!r} ({where.split()[0]}) {problem}")
        lowered = rid.id.lower()
        if lowered in seen and seen[lowered] != where:
            clashes.setdefault(key, []).append(f"{where} and {seen[lowered]} are one Azure resource ({rid.id})")
        seen.setdefault(lowered, where)
    out = [
        Issue(
            key,
            value_at(cfg, key),
            f"resolve to one Azure resource: {found[0]}"
            + (f", and {len(found) - 1} more" if len(found) > 1 else "")
            + "; give one of them another name or placement",
        )
        for key, found in clashes.items()
    ]
    for key, found in refused.items():
        shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        out.insert(
            0,
            Issue(
                key,
                value_at(cfg, key),
                f"derives names Azure refuses: {shown} ({NAME_RULES_PAGE}); choose a shorter name, or set the "
                "VNet's name in its placement",
            ),
        )
    return out


def placement_issues(cfg: StackConfig, estate: Estate) -> list[Issue]:
    """Adopted resources that lie elsewhere than the config says the stack lives: an imported group
    or VNet in another subscription than ``subscriptions`` (or its placement) names."""
    out: list[Issue] = []
    for side in (estate.source, estate.target):
        group = side.resource_group
        if group.subscription.lower() != side.subscription.lower():
            out.append(
                Issue(
                    group.key,
                    value_at(cfg, group.key),
                    f"is in subscription {group.subscription}, but subscriptions.{side.role.value} is "
                    f"{side.subscription}: set subscriptions.{side.role.value} to the subscription the "
                    f"{side.role.value} stack really deploys to",
                )
            )
        placements = {k: p for k, _, p in _placements(cfg)}
        for v in side.vnets:
            if not v.vnet.key.startswith(("source.imports.", "adopt.")):
                continue
            loc = placements[v.key].of(side.role.value)
            expected = loc.subscription_id or side.subscription
            if v.vnet.subscription.lower() != expected.lower():
                where = "its placement" if loc.subscription_id else f"subscriptions.{side.role.value}"
                out.append(
                    Issue(
                        v.vnet.key,
                        value_at(cfg, v.vnet.key),
                        f"is in subscription {v.vnet.subscription}, but {where} says {expected}: set "
                        f"the VNet's placement.{side.role.value}.subscriptionId to where it is",
                    )
                )
    return out


def check(stack: str, cfg: StackConfig) -> Estate:
    """The estate, or :class:`ConfigError` naming every key whose derived name Azure would refuse."""
    estate = resolve(cfg)
    found = [*placement_issues(cfg, estate), *issues(cfg, estate)]
    if found:
        raise ConfigError(stack, found)
    return estate


def load(
    stack: str,
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    foreign: Mapping[str, Any] | None = None,
) -> StackConfig:
    """:func:`model.config.load`, then the estate's names checked against Azure's rules: what the
    program, the offline plan and the failover command read a stack's config with."""
    cfg = config_load(stack, raw, secret_keys, foreign)
    check(stack, cfg)
    return cfg


__all__ = [
    "Estate",
    "FirewallIds",
    "Logical",
    "RecoveryPlanIds",
    "ResourceId",
    "Side",
    "SiteRecoveryIds",
    "Unresolved",
    "VnetIds",
    "check",
    "connections",
    "drill",
    "drill_by_logical",
    "hub_gateway",
    "issues",
    "load",
    "resolve",
    "side",
    "stack_subscription",
    "subscription_scope",
    "target_naming",
]
