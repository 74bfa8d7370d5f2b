"""Stack outputs: what the peer stack, the operators and the runbooks read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import resources

from components.firewall import TargetFirewall
from components.network import DrillNetwork, Hub, Spoke
from components.recovery_plan import RecoveryPlan
from components.site_recovery import SiteRecovery
from model.config import StackConfig
from model.config.estate import NvaKind, SourceMode
from model.phases import connection_plan
from model.spec import NetworkSpec


def per_vnet(net: NetworkSpec, hub: Hub, spokes: Sequence[Spoke], attr: str) -> dict[str, pulumi.Output[Any]]:
    """{VNet key: the component's ``attr`` output} for the hub and every spoke, in layout order."""
    owners: list[Hub | Spoke] = [hub, *spokes]
    return {v.key: getattr(c, attr) for v, c in zip(net.vnets, owners, strict=True)}


def stack_outputs(
    cfg: StackConfig,
    net: NetworkSpec,
    rg: resources.ResourceGroup,
    hub: Hub,
    spokes: Sequence[Spoke],
    drill: DrillNetwork | None,
    recovery: SiteRecovery | None,
    recovery_plan: RecoveryPlan | None = None,
    firewall: TargetFirewall | None = None,
) -> dict[str, object]:
    plan = connection_plan(cfg, cfg.role, cfg.phase)
    circuits = {"primary": cfg.circuits.primary.id}
    if cfg.circuits.secondary is not None:
        circuits["secondary"] = cfg.circuits.secondary.id
    out: dict[str, object] = {
        "role": cfg.role.value,
        "topology": cfg.topology.value,
        "addressing": cfg.addressing.value,
        "phase": cfg.phase.value,
        "region": net.region,
        "resourceGroupName": rg.name,
        "vnetIds": pulumi.Output.all(**per_vnet(net, hub, spokes, "vnet_id")),
        "vnetNames": {v.key: v.azure_name for v in net.vnets},
        "vnetPrefixes": {v.key: list(v.address_space) for v in net.vnets},
        "subnetIds": pulumi.Output.all(**per_vnet(net, hub, spokes, "subnet_ids")),
        "nvaAddress": net.nva_address,
        "gatewayId": hub.gateway_id,
        "gatewaySku": cfg.gateway_sku,
        "connectionIds": hub.connection_ids,
        "connectionRoutingWeights": {c.name: c.routing_weight for c in plan},
        "circuitIds": circuits,
        # Read by the peer stack's single-circuit gate: which circuits this stack holds now.
        "circuitConnections": [c.circuit_id for c in plan],
    }
    out.update(estate_outputs(cfg, net))
    if firewall is not None:
        out["firewallPolicyId"] = firewall.policy_id
        if firewall.firewall_id is not None:
            out["firewallId"] = firewall.firewall_id
            out["firewallPrivateIp"] = firewall.private_ip
    if drill is not None:
        out["drillVnetIds"] = drill.vnet_ids
        out["drillAddressSpaces"] = drill.address_spaces
    if recovery is not None:
        out["recoveryVaultId"] = recovery.vault_id
        out["recoveryVaultName"] = recovery.vault_name
        out["replicationPolicyId"] = recovery.policy_id
        out["replicationFabrics"] = recovery.fabric_names
        out["siteRecoveryCacheStorageIds"] = recovery.cache_storage_ids
    if recovery_plan is not None:
        out["recoveryPlanName"] = recovery_plan.recovery_plan_name
        out["recoveryPlanId"] = recovery_plan.recovery_plan_id
        out["automationAccountName"] = recovery_plan.automation_account_name
        out["networkRunbookId"] = recovery_plan.runbook_id
    return out


def estate_outputs(cfg: StackConfig, net: NetworkSpec) -> dict[str, object]:
    """What only a real estate adds (nothing for a stack that sets none of its keys, so the
    outputs of such a stack stay as they were): placement, the source mode, the NVA."""
    out: dict[str, object] = {}
    placed = {
        v.key: {"subscriptionId": v.subscription_id, "resourceGroup": v.resource_group or net.resource_group}
        for v in net.vnets
        if v.subscription_id or v.resource_group
    }
    if placed:
        out["vnetPlacement"] = placed
    if cfg.source.mode is not SourceMode.MANAGED:
        out["sourceMode"] = cfg.source.mode.value
    nva = net.nva
    if nva is not None and (nva.kind is not NvaKind.APPLIANCE or nva.replicated_item):
        out["nva"] = {
            "kind": nva.kind.value,
            "subnet": nva.subnet,
            "address": nva.address,
            **({"replicatedItem": nva.replicated_item} if nva.replicated_item else {}),
            **({"provisioning": nva.provisioning.value} if nva.firewall else {}),
        }
    return out


def external_source_outputs(cfg: StackConfig, net: NetworkSpec) -> dict[str, object]:
    """prod in external mode registers nothing: its outputs restate the declaration, so operators
    and the peer stack read the same keys as from a managed prod (IDs: the declared placement)."""
    circuits = {"primary": cfg.circuits.primary.id}
    if cfg.circuits.secondary is not None:
        circuits["secondary"] = cfg.circuits.secondary.id
    plan = connection_plan(cfg, cfg.role, cfg.phase)
    return {
        "role": cfg.role.value,
        "topology": cfg.topology.value,
        "addressing": cfg.addressing.value,
        "phase": cfg.phase.value,
        "region": net.region,
        "resourceGroupName": net.resource_group,
        "vnetNames": {v.key: v.azure_name for v in net.vnets},
        "vnetPrefixes": {v.key: list(v.address_space) for v in net.vnets},
        "nvaAddress": net.nva_address,
        "gatewaySku": cfg.gateway_sku,
        "connectionRoutingWeights": {c.name: c.routing_weight for c in plan},
        "circuitIds": circuits,
        # What production is declared to hold in this phase: its own tooling makes it so.
        "circuitConnections": [c.circuit_id for c in plan],
        **estate_outputs(cfg, net),
    }
