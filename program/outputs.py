"""Stack outputs: what the peer stack, the operators and the runbooks read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import resources

from components.network import DrillNetwork, Hub, Spoke
from components.recovery_plan import RecoveryPlan
from components.site_recovery import SiteRecovery
from model.config import StackConfig
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
    if drill is not None:
        out["drillVnetIds"] = drill.vnet_ids
        out["drillAddressSpaces"] = drill.address_spaces
    if recovery is not None:
        out["recoveryVaultId"] = recovery.vault_id
        out["recoveryVaultName"] = recovery.vault_name
        out["replicationPolicyId"] = recovery.policy_id
        out["replicationFabrics"] = recovery.fabric_names
    if recovery_plan is not None:
        out["recoveryPlanName"] = recovery_plan.recovery_plan_name
        out["recoveryPlanId"] = recovery_plan.recovery_plan_id
        out["automationAccountName"] = recovery_plan.automation_account_name
        out["networkRunbookId"] = recovery_plan.runbook_id
    return out
