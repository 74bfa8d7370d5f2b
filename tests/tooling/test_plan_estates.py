"""Estates unlike the examples plan cleanly too: another region pair and peering locations, a hub
with two prefixes and an extra subnet, spokes with several subnets, a translated plan in the dr
file only, on-premises prefixes, cross-connections with other routing weights; a target not pre-connected with a
recovery plan and no drill network; one circuit with the same IPs, a gateway without zones, no
protection. Each with the policy pack, the runbook and the pictures' DOT."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr import plan

EUROPE: dict[str, Any] = {
    "regions": {"source": "westeurope", "target": "northeurope"},
    "layout": {
        "hub": {
            "name": "core",
            "addressSpace": ["10.50.0.0/24", "10.50.1.0/24"],
            "nvaSubnet": {"name": "firewall", "prefix": "10.50.0.0/25"},
            "nvaAddress": "10.50.0.10",
            "gatewaySubnetPrefix": "10.50.1.0/27",
            "extraSubnets": [{"name": "mgmt", "prefix": "10.50.1.64/26"}],
        },
        "spokes": [
            {
                "name": "app",
                "addressSpace": ["10.51.0.0/23"],
                "subnets": [{"name": "web", "prefix": "10.51.0.0/24"}, {"name": "api", "prefix": "10.51.1.0/24"}],
            },
            {"name": "data", "addressSpace": ["10.52.0.0/24"], "subnets": [{"name": "sql", "prefix": "10.52.0.0/24"}]},
        ],
    },
    "circuits": {
        "primary": {
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-ams",
            "peeringLocation": "Amsterdam",
            "bandwidthMbps": 2000,
            "onPremPrefixes": ["192.168.0.0/16"],
        },
        "secondary": {
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-dub",
            "peeringLocation": "Dublin",
            "bandwidthMbps": 1000,
            "onPremPrefixes": ["192.168.0.0/16"],
        },
    },
    "topology": "two-circuits-two-locations",
    "addressing": "translated",
    "crossConnect": True,
    "routingWeights": {"preferred": 200, "standby": 10},
}
EUROPE_TARGET = {
    "targetAddressPlan": {
        "core": ["10.60.0.0/24", "10.60.1.0/24"],
        "app": ["10.61.0.0/23"],
        "data": ["10.62.0.0/24"],
    }
}
ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/{}"
)
SINGLE = {
    "topology": "single-circuit",
    "circuits": {
        "primary": {
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-hk",
            "peeringLocation": "Hong Kong",
        }
    },
    "gateway": {"sku": "Standard"},
    "protect": False,
    "tags": {"owner": "netops"},
}

ESTATES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (both stacks, prod only, dr only)
    "europe-translated": (EUROPE, {}, EUROPE_TARGET),
    "not-pre-connected-recovery-plan": (
        {},
        {},
        {
            "preConnectTarget": False,
            "drill": {"enabled": False},
            "recoveryPlan": {"bootGroups": [{"items": [ITEM.format("db")]}, {"items": [ITEM.format("app")]}]},
        },
    ),
    "single-circuit-same-ip": (
        SINGLE,
        {"peerStack": "acme/expressroute-dr/dr"},
        {"peerStack": "acme/expressroute-dr/prod"},
    ),
}


def _write(folder: Path, stack: str, role: str, values: dict[str, Any]) -> None:
    base = {"role": role, "topology": "two-circuits-two-locations", "phase": "standby", **values}
    doc = {"config": {f"expressroute-dr:{k}": v for k, v in base.items()}}
    (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize("estate", sorted(ESTATES))
def test_estate_plans_cleanly(tmp_path: Path, estate: str) -> None:
    both, prod, dr = ESTATES[estate]
    _write(tmp_path, "prod", "source", {**both, **prod})
    _write(tmp_path, "dr", "target", {**both, **dr})
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(
        ["--stacks-dir", str(tmp_path), "--out", str(tmp_path / "plan"), "--no-images", "--jobs", "1", "-q"],
        stdout=out,
        stderr=err,
    )
    assert code == plan.EXIT_OK, out.getvalue() + err.getvalue()
    written = {p.name for p in (tmp_path / "plan").iterdir()}
    assert {"prod.json", "dr.json", "prod.dot", "dr-failover.dot", "dr-runbook.md"} <= written
    assert "mandatory" not in out.getvalue()
    if estate == "europe-translated":
        prod_picture = (tmp_path / "plan" / "prod.dot").read_text()
        assert "core-northeurope  10.60.0.0/24, 10.60.1.0/24" in prod_picture
        assert "North Europe" in (tmp_path / "plan" / "dr-runbook.md").read_text()


NSG_ID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sec/providers/Microsoft.Network/networkSecurityGroups/{}"
DNS_RULE = {
    "name": "allow-dns",
    "priority": 200,
    "direction": "Inbound",
    "access": "Allow",
    "protocol": "Udp",
    "sourceAddressPrefixes": ["192.168.0.0/16"],
    "destinationAddressPrefixes": ["10.50.1.128/28"],
    "destinationPortRanges": ["53"],
}
# Issue #21's estate: hub workload subnets (a DNS resolver's inbound endpoint, delegated), the
# firewall's management and Bastion subnets, NSGs, a delegated App Service subnet and a
# private-endpoint subnet without a route table.
ORDINARY: dict[str, Any] = {
    **EUROPE,
    "addressing": "same",
    "crossConnect": False,
    "layout": {
        "hub": {
            **EUROPE["layout"]["hub"],
            "addressSpace": ["10.50.0.0/24", "10.50.1.0/24", "10.50.2.0/23"],
            "extraSubnets": [
                {
                    "name": "snet-dns-in",
                    "prefix": "10.50.1.128/28",
                    "delegations": ["Microsoft.Network/dnsResolvers"],
                    "nsg": {"source": NSG_ID.format("nsg-dns"), "rules": [DNS_RULE]},
                },
                {"name": "AzureFirewallManagementSubnet", "prefix": "10.50.2.0/26"},
                {"name": "AzureBastionSubnet", "prefix": "10.50.2.64/26"},
            ],
        },
        "spokes": [
            {
                "name": "app",
                "addressSpace": ["10.51.0.0/23"],
                "subnets": [
                    {
                        "name": "web",
                        "prefix": "10.51.0.0/24",
                        "delegations": ["Microsoft.Web/serverFarms"],
                        "nsg": {"source": NSG_ID.format("nsg-web"), "target": NSG_ID.format("nsg-web-neu")},
                    },
                    {"name": "pe", "prefix": "10.51.1.0/26", "routeTable": "none"},
                ],
            },
        ],
    },
}


@pytest.mark.parametrize("mode", ["managed", "external"])
def test_ordinary_estate_plans_cleanly_also_with_production_external(tmp_path: Path, mode: str) -> None:
    """Exit 0, no mandatory finding (the symmetric-paths rule included), also with production
    left alone (`source.mode: external`), planned offline from the declared production network."""
    values = {k: v for k, v in ORDINARY.items() if k not in ("routingWeights",)}
    _write(tmp_path, "prod", "source", {**values, "source": {"mode": mode}})
    _write(tmp_path, "dr", "target", {**values, "source": {"mode": mode}})
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(
        ["--stacks-dir", str(tmp_path), "--out", str(tmp_path / "plan"), "--no-images", "--jobs", "1", "-q"],
        stdout=out,
        stderr=err,
    )
    assert code == plan.EXIT_OK, out.getvalue() + err.getvalue()
    assert "mandatory" not in out.getvalue()
    dr = (tmp_path / "plan" / "dr.json").read_text()
    assert "Microsoft.Network/dnsResolvers" in dr and "nsg-web-neu" in dr and "allow-dns" in dr
