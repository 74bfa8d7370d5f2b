"""Rules of the real estate: the hub's appliance, where VNets live, and the source modes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from model.config.errors import Issue
from model.config.estate import (
    AZURE_FIREWALL_SUBNET_MAX_PREFIXLEN,
    FirewallProvisioning,
    SourceMode,
)
from model.config.models import Role, StackConfig, SubnetLayout
from policies.shared import azure_facts
from policies.shared.addrspace import parse_prefix
from policies.shared.names import AZURE_FIREWALL_SUBNET, GATEWAY_SUBNET, NAMESPACE
from policies.shared.service_subnets import RouteRule, routed_through_nva, service_subnet


def subscription_issues(cfg: StackConfig, foreign: Mapping[str, object] | None = None) -> Iterator[Issue]:
    """Each stack's subscription is stated once, in project config (both stacks read both: the dr
    stack names prod's resources, and every runbook command names its subscription); the stack's
    azure-native provider, where its subscription is set, must deploy to it."""
    for role in Role:
        if cfg.subscriptions.of(role.value) is None:
            yield Issue(
                f"subscriptions.{role.value}",
                None,
                f"not set: the subscription the {role.value} stack deploys to (and holds every VNet whose "
                "placement names no other); set subscriptions.source and subscriptions.target in "
                "Pulumi.yaml's project config, both stacks read both (README, stack config reference)",
            )
    declared = cfg.subscriptions.of(cfg.role.value)
    provider = (foreign or {}).get("azure-native:subscriptionId")
    if declared and isinstance(provider, str) and provider.lower() != declared.lower():
        yield Issue(
            "subscriptionId",
            provider,
            f"the azure-native provider would deploy to another subscription than {NAMESPACE}:subscriptions."
            f"{cfg.role.value} ({declared!r}); make them equal",
            "azure-native",
        )


def nva_issues(cfg: StackConfig) -> Iterator[Issue]:
    hub = cfg.layout.hub
    nva = hub.nva
    if nva.firewall:
        if hub.nva_subnet.name != AZURE_FIREWALL_SUBNET:
            yield Issue(
                "layout.hub.nvaSubnet.name",
                hub.nva_subnet.name,
                f"an Azure Firewall lives in a subnet named exactly {AZURE_FIREWALL_SUBNET!r}; rename it",
            )
        net = parse_prefix(hub.nva_subnet.prefix)
        if net.version == 4 and net.prefixlen > AZURE_FIREWALL_SUBNET_MAX_PREFIXLEN:
            yield Issue(
                "layout.hub.nvaSubnet.prefix",
                hub.nva_subnet.prefix,
                f"{AZURE_FIREWALL_SUBNET} must be /{AZURE_FIREWALL_SUBNET_MAX_PREFIXLEN} or larger",
            )
        if nva.replicated_item:
            yield Issue(
                "layout.hub.nva.replicatedItem",
                nva.replicated_item,
                "Site Recovery cannot replicate Azure Firewall: the target hub gets its own firewall; remove the item",
            )
        if (
            nva.provisioning is FirewallProvisioning.AT_FAILOVER
            and cfg.recovery_plan is not None
            and cfg.recovery_plan.items
        ):
            yield Issue(
                "layout.hub.nva.provisioning",
                nva.provisioning.value,
                "the recovery plan would boot VMs behind a firewall that only `pulumi up` in phase failover "
                "creates; use preProvisioned with a recovery plan",
            )
        if (
            nva.target_base_policy_id
            and nva.base_policy_id
            and nva.target_base_policy_id.lower() == nva.base_policy_id.lower()
        ):
            yield Issue(
                "layout.hub.nva.targetBasePolicyId",
                nva.target_base_policy_id,
                "is the source region's policy (basePolicyId); a parent policy must be in the same region as "
                "the child (learn.microsoft.com/azure/firewall-manager/policy-overview): give a policy in the "
                "target region with the same rules",
            )
        return
    if nva.provisioning is not FirewallProvisioning.PRE_PROVISIONED or nva.base_policy_id or nva.target_base_policy_id:
        key = (
            "provisioning"
            if nva.provisioning is not FirewallProvisioning.PRE_PROVISIONED
            else "basePolicyId"
            if nva.base_policy_id
            else "targetBasePolicyId"
        )
        value = {"provisioning": nva.provisioning.value, "basePolicyId": nva.base_policy_id}.get(
            key, nva.target_base_policy_id
        )
        yield Issue(f"layout.hub.nva.{key}", value, "only used with layout.hub.nva.kind 'azureFirewall'")
    if nva.replicated_item and cfg.recovery_plan is not None:
        for g, group in enumerate(cfg.recovery_plan.boot_groups):
            for i, item in enumerate(group.items):
                if item.lower() == nva.replicated_item.lower():
                    yield Issue(
                        f"recoveryPlan.bootGroups[{g}].items[{i}]",
                        item,
                        "is the NVA (layout.hub.nva.replicatedItem), which boots alone in the first group; remove it here",
                    )


@dataclass(frozen=True)
class VnetLocation:
    path: str  # key path of the VNet's placement on this side
    subscription: str | None  # None: the subscription the stack deploys to
    resource_group: str
    explicit_group: bool


def vnet_locations(cfg: StackConfig, role: Role) -> dict[str, VnetLocation]:
    """VNet name -> where it lives on ``role``'s side."""
    default = cfg.resource_group_name(role)
    entries = [(cfg.layout.hub.name, "layout.hub", cfg.layout.hub.placement)]
    entries += [(s.name, f"layout.spokes[{i}]", s.placement) for i, s in enumerate(cfg.layout.spokes)]
    out: dict[str, VnetLocation] = {}
    for name, path, placement in entries:
        loc = placement.of(role.value)
        out[name] = VnetLocation(
            f"{path}.placement.{role.value}",
            loc.subscription_id,
            loc.resource_group or default,
            loc.resource_group is not None,
        )
    return out


def nva_routed(subnet: SubnetLayout) -> bool:
    """Whether a layout subnet gets the 0.0.0.0/0 -> NVA table: a workload subnet whose
    ``routeTable`` is not 'none'."""
    return routed_through_nva(subnet.name) and subnet.route_table != "none"


def _own_table(subnet: str) -> bool:
    """Whether the subnet's Azure service asks for a route table of its own."""
    rule = service_subnet(subnet)
    return rule is not None and rule.route is RouteRule.INTERNET_DEFAULT


def source_resource_names(cfg: StackConfig) -> frozenset[str]:
    """The names the prod stack gives the production network's resources (``__main__.py`` and
    components/network.py; tests/program/test_estate.py holds the two to the same list)."""
    hub = cfg.layout.hub
    names = {"network-rg", f"{hub.name}-vnet", f"{hub.name}-gateway", f"{hub.name}-gateway-routes"}
    names |= {f"{hub.name}-{s}" for s in (GATEWAY_SUBNET, hub.nva_subnet.name, *(x.name for x in hub.extra_subnets))}
    if any(nva_routed(x) for x in hub.extra_subnets):
        names.add(f"{hub.name}-workload-routes")
    names |= {f"{hub.name}-{x.name}-routes" for x in hub.extra_subnets if _own_table(x.name)}
    if azure_facts.gateway_needs_public_ip(cfg.gateway_sku, cfg.gateway.public_ip):
        names.add(f"{hub.name}-gateway-ip")
    names.add(f"{hub.name}-primary-connection")
    if cfg.cross_connect:
        names.add(f"{hub.name}-secondary-connection")
    for spoke in cfg.layout.spokes:
        names |= {f"{spoke.name}-vnet", f"{hub.name}-to-{spoke.name}", f"{spoke.name}-to-{hub.name}"}
        if any(nva_routed(s) for s in spoke.subnets):
            names.add(f"{spoke.name}-routes")
        names |= {f"{spoke.name}-{s.name}" for s in spoke.subnets}
        names |= {f"{spoke.name}-{s.name}-routes" for s in spoke.subnets if _own_table(s.name)}
    return frozenset(names)


def source_mode_issues(cfg: StackConfig) -> Iterator[Issue]:
    """Adopted mode imports every production resource the prod stack declares, one for one."""
    source = cfg.source
    resource_names = source_resource_names(cfg)
    if source.mode is not SourceMode.ADOPTED:
        if source.imports or source.route_names:
            key = "source.imports" if source.imports else "source.routeNames"
            yield Issue(key, sorted(source.imports or source.route_names), "only used with source.mode 'adopted'")
        return
    unknown = sorted(set(source.imports) - resource_names)
    for name in unknown:
        yield Issue(
            f"source.imports.{name}",
            source.imports[name],
            "the prod stack registers no resource of that name; run `python -m erdr.discover` again",
        )
    for name in sorted(set(source.route_names) - resource_names):
        yield Issue(
            f"source.routeNames.{name}", source.route_names[name], "the prod stack has no route table of that name"
        )
    if cfg.role is Role.SOURCE:
        missing = sorted(resource_names - set(source.imports))
        if missing:
            shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            yield Issue(
                "source.imports",
                sorted(source.imports),
                f"adopted mode imports every production resource, but these have no ID: {shown}; "
                "run `python -m erdr.discover` to write them, or use source.mode 'managed'",
            )
    group_id = source.imports.get("network-rg")
    if (
        group_id is not None
        and group_id.rstrip("/").split("/")[-1].lower() != cfg.resource_group_name(Role.SOURCE).lower()
    ):
        yield Issue(
            "source.imports.network-rg",
            group_id,
            f"is not the prod stack's resource group {cfg.resource_group_name(Role.SOURCE)!r}: "
            f"set resourceGroupNames.source to {group_id.rstrip('/').split('/')[-1]!r}",
        )
    for vnet, loc in vnet_locations(cfg, Role.SOURCE).items():
        arm_id = source.imports.get(f"{vnet}-vnet")
        if arm_id is None:
            continue
        parts = arm_id.split("/")
        wrong_group = parts[4].lower() != loc.resource_group.lower()
        if wrong_group or (loc.subscription and parts[2].lower() != loc.subscription.lower()):
            yield Issue(
                f"source.imports.{vnet}-vnet",
                arm_id,
                f"lies outside the VNet's placement ({loc.path}: subscription {loc.subscription or 'of the stack'}, "
                f"resource group {loc.resource_group!r}); set the placement to where the VNet is",
            )
