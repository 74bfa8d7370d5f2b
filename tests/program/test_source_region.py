"""The `prod` stack registers the article's example network exactly (issue: source region)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from erdr.simulate import is_secret
from policies.shared import azure_facts
from tests.helpers import (
    CONNECTION,
    GATEWAY,
    PEERING,
    PIP,
    ROUTES,
    SUBNET,
    VNET,
    by_physical_name,
    deps,
    run_stack,
    short,
)

PRIMARY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute"
    "/providers/Microsoft.Network/expressRouteCircuits/er-hongkong"
)


@pytest.fixture
def prod(preview: bool):
    result = run_stack("prod", preview=preview)
    assert result.error is None
    return result


def test_resource_counts(prod):
    counts: dict[str, int] = {}
    for r in prod.resources:
        counts[r.type] = counts.get(r.type, 0) + 1
    assert counts == {
        "azure-native:resources:ResourceGroup": 1,
        "expressroute-dr:network:Hub": 1,
        "expressroute-dr:network:Spoke": 2,
        VNET: 3,
        SUBNET: 4,
        ROUTES: 3,
        GATEWAY: 1,
        CONNECTION: 1,
        PEERING: 4,
    }


def test_everything_in_east_asia(prod):
    located = [r for r in prod.resources if "location" in r.inputs]
    assert located
    assert {r.inputs["location"] for r in located} == {"eastasia"}


def test_article_prefixes(prod):
    vnets = by_physical_name(prod, VNET, "virtualNetworkName")
    assert {n: v.inputs["addressSpace"]["addressPrefixes"] for n, v in vnets.items()} == {
        "hub-eastasia": ["10.10.10.0/24"],
        "vnet1-eastasia": ["10.1.0.0/24"],
        "vnet2-eastasia": ["10.2.0.0/24"],
    }
    subnets = {s.name: s.inputs["addressPrefix"] for s in prod.of_type(SUBNET)}
    assert subnets == {
        "hub-GatewaySubnet": "10.10.10.128/25",
        "hub-nva": "10.10.10.0/25",
        "vnet1-workload": "10.1.0.0/24",
        "vnet2-workload": "10.2.0.0/24",
    }
    gw = prod.by_name("hub-GatewaySubnet").inputs
    assert gw["subnetName"] == "GatewaySubnet"
    assert gw["addressPrefix"] == "10.10.10.128/25"
    assert prod.by_name("hub-nva").inputs["addressPrefix"] == "10.10.10.0/25"


@pytest.mark.parametrize("spoke", ["vnet1", "vnet2"])
def test_peering_table_of_the_article(prod, spoke):
    to_hub = prod.by_name(f"{spoke}-to-hub").inputs
    from_hub = prod.by_name(f"hub-to-{spoke}").inputs
    flags = ("allowVirtualNetworkAccess", "allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways")
    assert [to_hub[f] for f in flags] == [True, True, False, True]
    assert [from_hub[f] for f in flags] == [True, True, True, False]


@pytest.mark.parametrize("spoke", ["vnet1", "vnet2"])
def test_peerings_point_at_each_other(prod, spoke):
    to_hub = prod.by_name(f"{spoke}-to-hub")
    from_hub = prod.by_name(f"hub-to-{spoke}")
    assert deps(to_hub) >= {f"{spoke}-vnet", "hub-vnet"}
    assert "hub-vnet" in {short(u) for u in to_hub.property_dependencies["remoteVirtualNetwork"]}
    assert f"{spoke}-vnet" in {short(u) for u in from_hub.property_dependencies["remoteVirtualNetwork"]}
    if not prod.preview:
        assert to_hub.inputs["remoteVirtualNetwork"]["id"].endswith("/virtualNetworks/hub-eastasia")
        assert from_hub.inputs["remoteVirtualNetwork"]["id"].endswith(f"/virtualNetworks/{spoke}-eastasia")


@pytest.mark.parametrize("spoke", ["vnet1", "vnet2"])
def test_spoke_to_hub_waits_for_the_gateway_and_hub_to_spoke_does_not(prod, spoke):
    assert "hub-gateway" in deps(prod.by_name(f"{spoke}-to-hub"))
    assert "hub-gateway" not in deps(prod.by_name(f"hub-to-{spoke}"))


@pytest.mark.parametrize("spoke", ["vnet1", "vnet2"])
def test_peerings_wait_for_subnets_of_both_vnets(prod, spoke):
    for name in (f"{spoke}-to-hub", f"hub-to-{spoke}"):
        assert {f"{spoke}-workload", "hub-nva", "hub-GatewaySubnet"} <= deps(prod.by_name(name))


@pytest.mark.parametrize("spoke", ["vnet1", "vnet2"])
def test_spoke_route_table_sends_everything_to_the_nva(prod, spoke):
    table = prod.by_name(f"{spoke}-routes").inputs
    assert table["disableBgpRoutePropagation"] is True
    assert table["routes"] == [
        {
            "name": "default-to-nva",
            "addressPrefix": "0.0.0.0/0",
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.10.10.10",
        }
    ]
    subnet = prod.by_name(f"{spoke}-workload")
    assert {short(u) for u in subnet.property_dependencies["routeTable"]} == {f"{spoke}-routes"}


def test_gateway_subnet_routes_spokes_through_nva_without_default_route(prod):
    table = prod.by_name("hub-gateway-routes").inputs
    assert table["disableBgpRoutePropagation"] is False
    routes = {r["addressPrefix"]: (r["nextHopType"], r["nextHopIpAddress"]) for r in table["routes"]}
    assert routes == {
        "10.1.0.0/24": ("VirtualAppliance", "10.10.10.10"),
        "10.2.0.0/24": ("VirtualAppliance", "10.10.10.10"),
    }
    assert "0.0.0.0/0" not in routes
    gw_subnet = prod.by_name("hub-GatewaySubnet")
    assert {short(u) for u in gw_subnet.property_dependencies["routeTable"]} == {"hub-gateway-routes"}
    assert "networkSecurityGroup" not in gw_subnet.inputs


def test_nva_subnet_has_no_route_table_and_no_endpoint(prod):
    nva = prod.by_name("hub-nva").inputs
    assert "routeTable" not in nva
    assert "serviceEndpoints" not in nva


def test_storage_endpoint_exactly_where_default_route_hits_the_nva(prod):
    with_endpoint = {s.name for s in prod.of_type(SUBNET) if s.inputs.get("serviceEndpoints")}
    assert with_endpoint == {"vnet1-workload", "vnet2-workload"}
    for name in with_endpoint:
        assert prod.by_name(name).inputs["serviceEndpoints"] == [{"service": "Microsoft.Storage"}]


def test_subnets_of_one_vnet_are_created_one_after_another(prod):
    assert "hub-GatewaySubnet" in deps(prod.by_name("hub-nva"))
    assert "hub-nva" not in deps(prod.by_name("hub-GatewaySubnet"))


def test_expressroute_gateway(prod):
    gw = prod.by_name("hub-gateway")
    assert gw.inputs["gatewayType"] == "ExpressRoute"
    assert gw.inputs["sku"] == {"name": "ErGw1AZ", "tier": "ErGw1AZ"}
    assert gw.inputs["virtualNetworkGatewayName"] == "ergw-hub-eastasia"
    assert gw.custom_timeouts == {"create": "90m", "update": "90m", "delete": "60m"}
    assert "hub-GatewaySubnet" in deps(gw)
    # Network API 2024-05-01 takes the gateway without a public IP and Azure assigns one
    # (policies/shared/azure_facts.py): the default creates none.
    assert not prod.of_type(PIP)
    (ip_config,) = gw.inputs["ipConfigurations"]
    assert sorted(ip_config) == ["name", "subnet"] and "hub-GatewaySubnet" in deps(gw)


def test_standard_static_public_ip_when_asked_for():
    result = run_stack("prod", overrides={"gateway": {"publicIp": "always"}})
    assert result.error is None
    (pip,) = result.of_type(PIP)
    assert pip.inputs["publicIpAddressName"] == "pip-ergw-hub-eastasia"
    assert "hub-gateway-ip" in deps(result.by_name("hub-gateway"))
    assert pip.inputs["sku"] == {"name": "Standard", "tier": "Regional"}
    assert pip.inputs["publicIPAllocationMethod"] == "Static"
    assert pip.inputs["zones"] == ["1", "2", "3"], "zone-redundant like the ErGw1AZ gateway"
    assert pip.protect
    gw = result.by_name("hub-gateway")
    assert gw.inputs["ipConfigurations"][0]["publicIPAddress"] == {"id": pip.id}


@pytest.mark.parametrize("mode", ["auto", "never"])
def test_azure_managed_public_ip_by_default_and_when_asked_for(mode: str):
    result = run_stack("prod", overrides={"gateway": {"publicIp": mode}})
    assert result.error is None
    assert not result.of_type(PIP)
    assert "publicIPAddress" not in result.by_name("hub-gateway").inputs["ipConfigurations"][0]


def test_auto_creates_an_ip_only_on_an_api_version_not_known_to_assign_one():
    assert azure_facts.NETWORK_API_VERSION in azure_facts.NETWORK_API_VERSIONS_ASSIGNING_GATEWAY_IP
    for sku in sorted(azure_facts.ALL_GATEWAY_SKUS):
        assert not azure_facts.gateway_needs_public_ip(sku), sku
        assert azure_facts.gateway_needs_public_ip(sku, "always"), sku
    # An API version without Microsoft's evidence (2024-03-01 predates the feature) keeps the IP.
    assert azure_facts.gateway_needs_public_ip("ErGw1AZ", "auto", api_version="2024-03-01")


def test_the_network_api_version_is_the_one_azure_native_sends():
    # Through the namespace package, never its submodule first: azure-native's namespaces are lazy
    # modules, and importing a defining module before the package has loaded leaves the package
    # without that class, so a later test's program could not find network.VirtualNetworkGateway.
    from pulumi_azure_native import network

    text = Path(inspect.getfile(network.VirtualNetworkGateway)).read_text()
    assert f"Uses Azure REST API version {azure_facts.NETWORK_API_VERSION}." in text


def test_the_documented_gateway_request_is_what_the_program_sends():
    """docs/safety.md shows the PUT azure-native sends for the default gateway: built from the
    registration as the provider builds it and checked against Microsoft's 2024-05-01 SDK."""
    from tests import arm_oracle as oracle

    doc = (Path(__file__).parents[2] / "docs" / "safety.md").read_text()
    section = doc.split("## 5. The ExpressRoute gateway's public IP", 1)[1]
    put = re.search(r"^PUT `([^`?]+)\?api-version=([0-9-]+)`$", section, re.M)
    block = re.search(r"^```json\n(.*?)^```", section, re.M | re.S)
    assert put and block
    (request,) = oracle.requests_for(run_stack("prod").by_name("hub-gateway"))
    assert request.problems == []
    assert put.group(2) == azure_facts.NETWORK_API_VERSION == oracle.SURFACES[GATEWAY].native_version
    path = request.api.path.replace("{subscriptionId}", "00000000-0000-0000-0000-000000000000")
    for name, value in request.path_params.items():
        path = path.replace("{" + name + "}", value)
    assert put.group(1) == path
    assert json.loads(block.group(1)) == request.body
    assert "publicIPAddress" not in json.dumps(request.body)


def test_gateway_sku_without_zones_defaults_to_standard():
    # West Central US has no availability zones (policies/shared/azure_facts.py).
    result = run_stack(
        "prod",
        overrides={
            "regions": {"source": "westcentralus", "target": "westus2"},
            "circuits.primary.skuTier": "Premium",
            "circuits.secondary.skuTier": "Premium",
        },
    )
    assert result.error is None, result.error
    assert result.by_name("hub-gateway").inputs["sku"]["name"] == "Standard"


def test_connection_to_primary_circuit(prod):
    (conn,) = prod.of_type(CONNECTION)
    i = conn.inputs
    assert i["connectionType"] == "ExpressRoute"
    assert i["peer"] == {"id": PRIMARY}
    # The gateway holds this one connection: a weight would choose nothing, so it keeps Azure's default.
    assert i["routingWeight"] == 0
    assert i["virtualNetworkGatewayConnectionName"] == "hub-eastasia-to-primary"
    assert {short(u) for u in conn.property_dependencies["virtualNetworkGateway1"]} == {"hub-gateway"}
    assert conn.custom_timeouts == {"create": "30m", "update": "30m", "delete": "30m"}
    assert conn.delete_before_replace
    assert "authorizationKey" not in i


def test_authorization_key_stays_secret():
    from erdr.simulate import simulate
    from erdr.stackfiles import load_stack

    settings = load_stack("prod")
    settings.config["primaryAuthorizationKey"] = "super-secret-auth-key"
    settings.secret_keys.add("primaryAuthorizationKey")
    result = simulate(settings)
    assert result.error is None
    (conn,) = result.of_type(CONNECTION)
    assert is_secret(conn.inputs["authorizationKey"])
    assert conn.plain_inputs["authorizationKey"] == "super-secret-auth-key"
    assert "super-secret-auth-key" not in repr(result.outputs)


def test_parents(prod):
    components = {r.urn: r for r in prod.resources if not r.custom}
    for r in prod.resources:
        if r.custom and r.type != "azure-native:resources:ResourceGroup":
            assert r.parent in components, r.name
    assert {short(components[r.parent].urn) for r in prod.of_type(PEERING)} == {"vnet1", "vnet2"}
    assert short(prod.by_name("hub-gateway").parent) == "hub"
    assert short(prod.by_name("hub-primary-connection").parent) == "hub"
    assert {c.type for c in components.values()} == {"expressroute-dr:network:Hub", "expressroute-dr:network:Spoke"}


def test_protected_by_default(prod):
    protected = {r.name for r in prod.resources if r.protect}
    assert protected == {
        "network-rg",
        "hub-vnet",
        "vnet1-vnet",
        "vnet2-vnet",
        "hub-gateway",
        "hub-primary-connection",
    }


def test_outputs(prod):
    out = prod.outputs
    assert out["role"] == "source" and out["region"] == "eastasia" and out["phase"] == "standby"
    assert out["nvaAddress"] == "10.10.10.10"
    assert out["vnetPrefixes"] == {"hub": ["10.10.10.0/24"], "vnet1": ["10.1.0.0/24"], "vnet2": ["10.2.0.0/24"]}
    assert out["circuitConnections"] == [PRIMARY]
    assert set(out["circuitIds"]) == {"primary", "secondary"}
    if not prod.preview:
        assert out["gatewayId"].endswith("/virtualNetworkGateways/ergw-hub-eastasia")
        assert set(out["subnetIds"]["hub"]) == {"GatewaySubnet", "nva"}
        assert list(out["connectionIds"]) == ["hub-eastasia-to-primary"]


def test_preview_leaves_ids_unknown_and_still_registers_everything():
    up, preview = run_stack("prod"), run_stack("prod", preview=True)
    assert sorted(r.urn for r in up.resources) == sorted(r.urn for r in preview.resources)
    assert all(r.id == "" for r in preview.resources if r.custom)
    assert up.outputs["gatewayId"].startswith("/subscriptions/")
    assert preview.outputs.get("gatewayId") != up.outputs["gatewayId"]
