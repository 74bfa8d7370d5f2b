"""The real estate's wiring: one provider per subscription, the source modes, the target's
firewall, and (external mode) the read-only check of the declared production network.

- VNets placed in another subscription (``layout.*.placement.<side>.subscriptionId``) are written
  through an explicit azure-native provider for that subscription; everything else keeps the
  default provider, so a stack without placement registers exactly what it did before.
- ``source.mode: adopted`` imports the production resources (``source.imports``); the components
  leave what they do not model as the estate has it (components/network.py ``Placed``).
- ``source.mode: external`` registers nothing on prod; the dr stack reads each declared source VNet
  through ``network.get_virtual_network`` at preview and fails with the differences when
  production has drifted from the declaration, before any resource changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
from pulumi_azure_native import network, resources

from components.firewall import FirewallArgs, TargetFirewall
from components.network import Hub, unmodelled_inputs
from model import identity
from model.config import Phase, Role, StackConfig
from model.config.estate import FirewallProvisioning, SourceMode
from model.identity import Logical
from model.spec import NetworkSpec, VnetSpec, firewall_present, network_for
from policies.shared import azure_facts
from policies.shared.names import AZURE_SERVICE_SUBNETS


def manages_network(cfg: StackConfig) -> bool:
    """Whether this stack registers its region's network (not so for prod in external mode)."""
    return not (cfg.role is Role.SOURCE and cfg.source.mode is SourceMode.EXTERNAL)


def providers(cfg: StackConfig) -> dict[str, pulumi.ProviderResource]:
    """One explicit provider per subscription named in a placement this stack writes to or reads."""
    roles = [cfg.role]
    if cfg.role is Role.TARGET and cfg.source.mode is SourceMode.EXTERNAL:
        roles.append(Role.SOURCE)  # the read-only lookups of the declared production network
    subscriptions = sorted({v.subscription_id for r in roles for v in network_for(cfg, r).vnets if v.subscription_id})
    return {s: azure_native.Provider(f"azure-native-{s}", subscription_id=s) for s in subscriptions}


def network_resource_group(cfg: StackConfig, net: NetworkSpec, tags: Mapping[str, str]) -> resources.ResourceGroup:
    """The stack's own resource group; imported when it already exists (adopted production keeps
    its tags, like every adopted resource; adopted target VNets live in it)."""
    adopted = net.imports.get(Logical.RESOURCE_GROUP)
    existing = adopted or (net.name(Logical.RESOURCE_GROUP).id if cfg.role is Role.TARGET and cfg.adopt else None)
    return resources.ResourceGroup(
        Logical.RESOURCE_GROUP,
        resource_group_name=net.resource_group,
        location=net.region,
        tags=None if adopted else dict(tags),
        opts=pulumi.ResourceOptions(
            protect=cfg.protect,
            import_=existing,
            ignore_changes=unmodelled_inputs(resources.ResourceGroup, {"resource_group_name": 1, "location": 1})
            if adopted
            else None,
        ),
    )


def _group(net: NetworkSpec, vnet: VnetSpec) -> str:
    return vnet.resource_group or net.resource_group


def source_vnet_ids(cfg: StackConfig, provs: Mapping[str, pulumi.ProviderResource]) -> dict[str, pulumi.Input[str]]:
    """Source VNet key -> ARM ID, for the dr stack's Site Recovery network mappings.

    The resolved estate's (placement and subscriptions included), so dr never needs prod to
    exist; in external mode read from Azure instead, after the declaration was checked against it.
    """
    source = network_for(cfg, Role.SOURCE)
    if cfg.source.mode is SourceMode.EXTERNAL:
        return dict(checked_source_ids(source, provs))
    return {v.key: identity.side(cfg, Role.SOURCE).vnet(v.key).vnet.id for v in source.vnets}


def drift(vnet: VnetSpec, group: str, live: Mapping[str, Any]) -> list[str]:
    """How the live VNet differs from its declaration (empty when it matches)."""
    where = f"{group}/{vnet.azure_name}"
    out: list[str] = []
    space = sorted(((live.get("address_space") or {}).get("address_prefixes")) or [])
    if space != sorted(vnet.address_space):
        out.append(f"{where}: address space declared {sorted(vnet.address_space)}, in Azure {space}")
    live_subnets = {
        str(s.get("name", "")).lower(): (str(s.get("name", "")), s.get("address_prefix"))
        for s in live.get("subnets") or []
    }
    declared = {s.name.lower(): s for s in vnet.subnets}
    for key, sub in declared.items():
        if key not in live_subnets:
            out.append(f"{where}: subnet {sub.name} ({sub.prefix}) declared, not in Azure")
        elif live_subnets[key][1] != sub.prefix:
            out.append(f"{where}: subnet {sub.name} declared {sub.prefix}, in Azure {live_subnets[key][1]}")
    # erdr.discover writes them into the layout; a hand-written layout may leave them out on purpose.
    service = {s.lower() for s in AZURE_SERVICE_SUBNETS}
    for key, (name, prefix) in sorted(live_subnets.items()):
        if key not in declared and key not in service:
            out.append(f"{where}: subnet {name} ({prefix}) in Azure, not declared (the replica would lack it)")
    return out


def checked_source_ids(
    source: NetworkSpec, provs: Mapping[str, pulumi.ProviderResource]
) -> dict[str, pulumi.Output[str]]:
    """Read every declared source VNet (read-only invokes, also at preview); fail the run with the
    differences when production has drifted. Returns the VNets' live IDs."""
    lookups: dict[str, pulumi.Output[Any]] = {}
    for v in source.vnets:
        provider = provs.get(v.subscription_id) if v.subscription_id else None
        found = network.get_virtual_network_output(
            resource_group_name=_group(source, v),
            virtual_network_name=v.azure_name,
            opts=pulumi.InvokeOutputOptions(provider=provider),
        )
        lookups[v.key] = found.apply(
            lambda r: {
                "id": r.id,
                "address_space": {
                    "address_prefixes": list((r.address_space.address_prefixes if r.address_space else None) or [])
                },
                "subnets": [{"name": s.name, "address_prefix": s.address_prefix} for s in r.subnets or []],
            }
        )
    stack = pulumi.get_stack()

    def verdict(found: dict[str, Any]) -> dict[str, str]:
        problems = [line for v in source.vnets for line in drift(v, _group(source, v), found[v.key])]
        if problems:
            raise pulumi.RunError(
                f"stack '{stack}': the production network has drifted from layout (source.mode external):\n  "
                + "\n  ".join(problems)
                + "\nUpdate layout in Pulumi.yaml (python -m erdr.discover writes it from Azure) or fix production."
            )
        return {key: str(value["id"]) for key, value in found.items()}

    checked = pulumi.Output.all(**lookups).apply(verdict)
    return {v.key: checked.apply(lambda ids, key=v.key: ids[key]) for v in source.vnets}


def target_firewall(
    cfg: StackConfig, net: NetworkSpec, hub: Hub, provs: Mapping[str, pulumi.ProviderResource]
) -> TargetFirewall | None:
    """The target hub's Azure Firewall (layout.hub.nva.kind azureFirewall), in the hub's placement."""
    nva = net.nva
    if cfg.role is not Role.TARGET or nva is None or not nva.firewall:
        return None
    at_failover = nva.provisioning is FirewallProvisioning.AT_FAILOVER
    zones = ["1", "2", "3"] if azure_facts.region_has_zones(net.region) else []
    ids = identity.side(cfg, Role.TARGET).firewall
    assert ids is not None, "the estate names a target firewall wherever layout.hub.nva is azureFirewall"
    return TargetFirewall(
        Logical.firewall(net.hub.key),
        FirewallArgs(
            firewall_name=ids.firewall.name,
            policy_name=ids.policy.name,
            public_ip_name=ids.public_ip.name,
            location=net.region,
            resource_group_name=hub.placement.group(Logical.vnet(net.hub.key)),
            subnet_id=hub.subnets[nva.subnet].id,
            sku_tier=nva.firewall_sku,
            zones=zones,
            # Never the source's policy: a parent policy must be in the child's region (Azure
            # Firewall Manager, policy overview: learn.microsoft.com/azure/firewall-manager/policy-overview).
            base_policy_id=nva.target_base_policy_id,
            create_firewall=firewall_present(nva, cfg.phase),
            permanent=not at_failover,
            provider=provs.get(net.hub.subscription_id) if net.hub.subscription_id else None,
            tags=cfg.resource_tags(cfg.role),
            protect=cfg.protect,
            depends_on=list(hub.subnets.values()),
        ),
    )


def firewall_phases(cfg: StackConfig) -> list[Phase]:
    """The phases in which the target firewall exists (for docs and the runbook)."""
    nva = network_for(cfg, Role.TARGET).nva
    return [p for p in Phase if firewall_present(nva, p)]
