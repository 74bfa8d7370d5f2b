"""A subnet is more than a prefix: its NSG (the source's on prod; on dr an existing target NSG or
one created with the source's rules), delegations, private endpoint / private link network
policies, defaultOutboundAccess and route-table intent reach the registered subnets of both stacks."""

from __future__ import annotations

from typing import Any

from erdr.simulate import SimResult
from tests.helpers import NO_PEER_CONNECTIONS, run_stack

NSG = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/{}"
RULE = {
    "name": "allow-https-from-onprem",
    "priority": 200,
    "direction": "Inbound",
    "access": "Allow",
    "protocol": "Tcp",
    "sourceAddressPrefixes": ["192.168.0.0/16"],
    "destinationAddressPrefixes": ["10.1.0.0/25"],
    "destinationPortRanges": ["443"],
}
SPOKE: dict[str, Any] = {
    "layout.spokes[0].subnets": [
        {
            "name": "web",
            "prefix": "10.1.0.0/25",
            "nsg": {"source": NSG.format("nsg-web"), "rules": [RULE]},
            "delegations": ["Microsoft.Web/serverFarms"],
            "defaultOutboundAccess": False,
        },
        {
            "name": "pe",
            "prefix": "10.1.0.128/26",
            "routeTable": "none",
            "privateEndpointNetworkPolicies": "Disabled",
            "nsg": {"source": NSG.format("nsg-pe"), "target": NSG.format("nsg-pe-sea")},
        },
    ],
}


def run(stack: str) -> SimResult:
    result = run_stack(stack, overrides=SPOKE, peer_outputs=NO_PEER_CONNECTIONS)
    assert result.error is None, result.error
    return result


def test_source_keeps_its_nsgs_and_properties() -> None:
    result = run("prod")
    web, pe = result.by_name("vnet1-web").plain_inputs, result.by_name("vnet1-pe").plain_inputs
    assert web["networkSecurityGroup"] == {"id": NSG.format("nsg-web")}
    assert pe["networkSecurityGroup"] == {"id": NSG.format("nsg-pe")}
    assert web["delegations"] == [{"name": "Microsoft.Web.serverFarms", "serviceName": "Microsoft.Web/serverFarms"}]
    assert web["defaultOutboundAccess"] is False
    assert pe["privateEndpointNetworkPolicies"] == "Disabled"
    assert not result.of_type("azure-native:network:NetworkSecurityGroup")


def test_target_gets_an_nsg_with_the_source_rules_or_the_given_one() -> None:
    result = run("dr")
    (nsg,) = result.of_type("azure-native:network:NetworkSecurityGroup")
    rules = nsg.plain_inputs["securityRules"]
    assert [(r["name"], r["destinationPortRanges"], r["sourceAddressPrefixes"]) for r in rules] == [
        ("allow-https-from-onprem", ["443"], ["192.168.0.0/16"])
    ]
    web = result.by_name("vnet1-web")
    assert nsg.urn in web.property_dependencies["networkSecurityGroup"]
    assert result.by_name("vnet1-pe").plain_inputs["networkSecurityGroup"] == {"id": NSG.format("nsg-pe-sea")}
    assert web.plain_inputs["delegations"][0]["serviceName"] == "Microsoft.Web/serverFarms"


def test_private_endpoint_subnet_without_a_table_bypasses_the_nva_both_ways() -> None:
    for stack in ("prod", "dr"):
        result = run(stack)
        pe = result.by_name("vnet1-pe")
        assert not pe.property_dependencies.get("routeTable") and pe.plain_inputs.get("routeTable") is None
        assert "Microsoft.Storage" not in [e["service"] for e in pe.plain_inputs.get("serviceEndpoints") or []]
        routes = {
            r["addressPrefix"]: r["nextHopType"] for r in result.by_name("hub-gateway-routes").plain_inputs["routes"]
        }
        assert routes["10.1.0.128/26"] == "VnetLocal" and routes["10.1.0.0/24"] == "VirtualAppliance"


def test_copied_rules_follow_a_translated_plan() -> None:
    """With translated addressing the target NSG's rules name the target prefixes; on-premises
    prefixes and service tags stay as they are."""
    from erdr.simulate import simulate
    from erdr.stackfiles import PROJECT_DIR, load_stack

    example = PROJECT_DIR / "examples" / "two-locations-new-ip"
    settings = load_stack("dr", stack_file=example / "Pulumi.dr.yaml", overrides=SPOKE)
    result = simulate(settings, peer_outputs=NO_PEER_CONNECTIONS)
    assert result.error is None, result.error
    (nsg,) = result.of_type("azure-native:network:NetworkSecurityGroup")
    (rule,) = nsg.plain_inputs["securityRules"]
    assert rule["destinationAddressPrefixes"] == ["10.21.0.0/25"]  # vnet1 10.1.0.0/24 -> 10.21.0.0/24
    assert rule["sourceAddressPrefixes"] == ["192.168.0.0/16"]
    assert result.by_name("vnet1-web").plain_inputs["addressPrefix"] == "10.21.0.0/25"
