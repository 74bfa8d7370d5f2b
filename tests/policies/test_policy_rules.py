"""Each rule on its own: a passing and a failing estate, with props in the SDK's unknown-checking
proxy. Stack rules see outputs as the engine gives AnalyzeStack: after `pulumi up` (known ARM IDs
and names, references followed by ID) and in a first preview (IDs, names and unset properties
unknown, path parameters absent, references followed by property dependencies). Resource rules
see inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from erdr.engine_view import UNKNOWN
from policies.framework import Rule
from policies.pack import BY_NAME, RULES
from tests.policies.estates import ER_HK, ER_SG, HK, SG, SUB, Estate, article_estate

CIRCUITS = {"circuits": [HK, SG]}
# The article's NVA subnet, as the pipeline's pack config declares it when no stack config is at hand.
APPLIANCES = {"applianceSubnets": ["10.10.10.0/25"]}


def run(
    rule: str,
    estate: Estate,
    config: dict[str, Any] | None = None,
    urn: str | None = None,
    notes: list[str] | None = None,
) -> list[str]:
    """Violations the rule reports (a resource rule runs on ``urn``, or on every resource); its
    advisory notes (what a preview could not decide) go to ``notes``."""
    found: list[str] = []
    report = lambda message, urn=None: found.append(message)  # noqa: E731
    advise = lambda message, urn=None: (notes if notes is not None else []).append(message)  # noqa: E731
    target: Rule = BY_NAME[rule]
    if target.kind == "stack":
        target.run_stack(estate.policy_resources(), config or {}, report, advise)
    else:
        for u in [urn] if urn else list(estate.items):
            target.run_resource(estate.resource_args(u), config or {}, report, advise)
    return found


def subnet_label(vnet: str, name: str, preview: bool) -> str:
    """How messages name a subnet: by its Azure name, or by its Pulumi name while the Azure name
    is unknown (a preview of its creation)."""
    return f"{vnet}/{vnet}-{name}" if preview else f"{vnet}/{name}"


@pytest.fixture(params=[False, True], ids=["up", "preview"])
def preview(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_every_rule_passes_the_articles_estate(preview: bool) -> None:
    estate, _ = article_estate(preview)
    notes: list[str] = []
    for rule in RULES:
        assert run(rule.name, estate, {**CIRCUITS, **APPLIANCES}, notes=notes) == [], rule.name
    if not preview:
        assert notes == []
    else:
        # Only what a first preview cannot know: the GatewaySubnet's exact spelling, whether VNets
        # named later match the drill name pattern, and (no stack config here to name them by
        # prefix) whether the spokes' routed subnets are Azure service subnets.
        assert len(notes) == 3, notes
        assert "the exact name of 'hub/hub-GatewaySubnet', where gateway 'hub-gateway' sits" in notes[0]
        assert "named like a drill VNet" in notes[1]
        assert "is an Azure service subnet" in notes[2] and "GatewaySubnet" not in notes[2]


def test_pack_metadata_is_complete() -> None:
    names = [r.name for r in RULES]
    assert len(set(names)) == len(names)
    assert any("overlap" in n for n in names)
    for r in RULES:
        assert r.description.endswith(".") and r.description[0].isupper(), r.name
        assert r.remediation and r.severity and r.level
        assert "onUnknown" in r.schema().properties


# --- address spaces ---------------------------------------------------------------------------


def test_overlap_between_peered_vnets(preview: bool) -> None:
    estate, n = article_estate(preview)
    estate.props(n["vnet2"])["addressSpace"]["addressPrefixes"] = ["10.1.0.0/16"]
    found = run("vnet-address-space-overlap", estate)
    assert len(found) == 1
    assert "'vnet2' prefix 10.1.0.0/16 contains VNet 'vnet1' prefix 10.1.0.0/24" in found[0]


def test_overlap_through_a_circuit_but_not_across_circuits(preview: bool) -> None:
    estate = Estate(preview)
    a, b, c = (estate.vnet(x, ["10.0.0.0/16"]) for x in ("a", "b", "c"))
    estate.connect(a, ER_HK)
    estate.connect(c, ER_SG)
    assert run("vnet-address-space-overlap", estate) == []  # two circuits are two domains
    estate.connect(b, ER_HK)
    found = run("vnet-address-space-overlap", estate)
    assert len(found) == 1 and "'a'" in found[0] and "'b'" in found[0] and "er-hongkong" in found[0]


def test_ipv6_and_self_overlap(preview: bool) -> None:
    estate = Estate(preview)
    estate.vnet("dual", ["10.0.0.0/16", "fd00::/48", "fd00:0:0:1::/64"])
    found = run("vnet-address-space-overlap", estate)
    assert len(found) == 1 and "lists overlapping prefixes fd00::/48 and fd00:0:0:1::/64" in found[0]


def test_on_prem_prefixes_of_a_circuit(preview: bool) -> None:
    estate, _ = article_estate(preview)
    config = {"circuits": [{**HK, "onPremPrefixes": ["192.168.0.0/16"]}]}
    assert run("vnet-address-space-overlap", estate, config) == []
    config = {"circuits": [{**HK, "onPremPrefixes": ["10.2.0.0/16"]}]}
    found = run("vnet-address-space-overlap", estate, config)
    assert len(found) == 1 and "on-premises prefixes of circuit 'er-hongkong'" in found[0]


def test_other_stack_from_pack_config_and_from_a_stack_reference(preview: bool) -> None:
    estate, _ = article_estate(preview)
    prod = {"name": "prod", "circuitIds": [ER_HK], "addressPrefixes": ["10.1.0.0/24"]}
    assert len(run("vnet-address-space-overlap", estate, {"externalNetworks": [prod]})) == 1
    other_circuit = {**prod, "circuitIds": [ER_SG]}
    assert run("vnet-address-space-overlap", estate, {"externalNetworks": [other_circuit]}) == []
    estate.stack_reference("org/p/prod", {"vnetPrefixes": {"hub": ["10.10.10.0/24"]}, "circuitConnections": [ER_HK]})
    found = run("vnet-address-space-overlap", estate)
    assert len(found) == 1 and "org/p/prod" in found[0]
    assert run("vnet-address-space-overlap", estate, {"readStackReferences": False}) == []


def test_unknown_prefix_is_advised_reported_or_ignored_as_configured(preview: bool) -> None:
    estate, n = article_estate(preview)
    estate.props(n["vnet1"])["addressSpace"]["addressPrefixes"] = UNKNOWN
    notes: list[str] = []
    assert run("vnet-address-space-overlap", estate, notes=notes) == []
    assert len(notes) == 1 and notes[0].startswith("Not decided in this preview (1): VNet 'vnet1'")
    assert "`pulumi up` checks them again" in notes[0]
    found = run("vnet-address-space-overlap", estate, {"onUnknown": "report"})
    assert len(found) == 1 and found[0].startswith("Cannot check VNet 'vnet1'")
    notes.clear()
    assert run("vnet-address-space-overlap", estate, {"onUnknown": "ignore"}, notes=notes) == [] and notes == []


def test_subnet_outside_its_vnet_and_overlapping_subnets(preview: bool) -> None:
    estate, n = article_estate(preview)
    estate.props(n["vnet1-workload"])["addressPrefix"] = "10.9.0.0/24"
    found = run("subnet-address-overlap", estate)
    assert len(found) == 1 and "not inside VNet 'vnet1'" in found[0]
    estate, n = article_estate(preview)
    estate.subnet(n["hub"], "extra", "10.10.10.64/26")
    found = run("subnet-address-overlap", estate)
    assert len(found) == 1 and f"overlaps subnet '{subnet_label('hub', 'nva', preview)}'" in found[0]


# --- gateway subnet, gateways ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda e, n: e.props(n["gateway_subnet"]).update(addressPrefix="10.10.10.224/28"), "/27 or larger"),
        (lambda e, n: e.props(n["gateway_subnet"]).update(subnetName="gatewaysubnet"), "named exactly"),
        (lambda e, n: e.props(n["gateway_subnet"]).update(networkSecurityGroup={"id": "x"}), "network security"),
        (lambda e, n: e.props(n["gateway_routes"]).update(disableBgpRoutePropagation=True), "BGP"),
        (
            lambda e, n: e.props(n["gateway_routes"])["routes"].append(
                {"name": "default", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance"}
            ),
            "0.0.0.0/0 route",
        ),
    ],
    ids=["size", "name", "nsg", "bgp", "default-route"],
)
def test_gateway_subnet(preview: bool, change: Any, expect: str) -> None:
    estate, n = article_estate(preview)
    change(estate, n)
    notes: list[str] = []
    found = run("gateway-subnet", estate, notes=notes)
    if preview and expect == "named exactly":
        # A subnet being created has no known name in a preview: `pulumi up` decides it.
        assert found == [] and len(notes) == 1 and "the exact name of 'hub/hub-GatewaySubnet'" in notes[0]
        return
    assert found and all(expect in m for m in found[:1]), found


def test_zone_redundant_gateway_sku() -> None:
    estate, _ = article_estate()
    gateway = next(u for u in estate.items if u.endswith("hub-gateway"))
    assert run("expressroute-gateway-zone-redundant", estate, urn=gateway) == []
    estate.props(gateway)["sku"] = {"name": "Standard", "tier": "Standard"}
    assert "not zone-redundant" in run("expressroute-gateway-zone-redundant", estate, urn=gateway)[0]
    estate.props(gateway)["location"] = "westcentralus"  # no zones there
    assert run("expressroute-gateway-zone-redundant", estate, urn=gateway) == []


def test_circuits_per_gateway_and_vnets_per_circuit(preview: bool) -> None:
    estate, n = article_estate(preview)
    for i in range(4):
        estate.connect(n["hub"], ER_HK.replace("er-hongkong", f"er-extra{i}"))
    found = run("expressroute-link-limits", estate)
    assert len(found) == 1 and "connects 5 circuits; that SKU allows 4" in found[0]
    estate, n = article_estate(preview)
    for i in range(10):
        estate.connect(estate.vnet(f"extra{i}", [f"10.{100 + i}.0.0/24"]), ER_HK)
    found = run("expressroute-link-limits", estate, CIRCUITS)
    assert len(found) == 1 and "would link 11 virtual networks, above its limit of 10" in found[0]


# --- peerings and the drill network -----------------------------------------------------------


def test_missing_reverse_peering(preview: bool) -> None:
    estate, _ = article_estate(preview)
    estate.remove(next(u for u in estate.items if u.endswith("::hub-to-vnet2")))
    found = run("hub-spoke-peering", estate)
    assert len(found) == 1 and "no peering back from hub to vnet2" in found[0]


def test_article_table_settings(preview: bool) -> None:
    estate, _ = article_estate(preview)
    estate.props(next(u for u in estate.items if u.endswith("::hub-to-vnet1")))["allowGatewayTransit"] = False
    found = run("hub-spoke-peering", estate)
    assert any("allowGatewayTransit should be true" in m for m in found)
    assert any("does not allow gateway transit" in m for m in found)
    assert run("hub-spoke-peering", estate, {"enforceArticleTable": False}) == [
        m for m in found if "does not allow gateway transit" in m
    ]


def test_remote_gateways_only_towards_a_gateway_and_once(preview: bool) -> None:
    estate = Estate(preview)
    a, b, c = (estate.vnet(x, [f"10.{i}.0.0/16"]) for i, x in enumerate("abc"))
    estate.peering(a, b, useRemoteGateways=True)
    estate.peering(b, a)
    found = run("hub-spoke-peering", estate)
    assert any("b has no virtual network gateway" in m for m in found)
    estate.gateway(b)
    estate.gateway(c)
    estate.peering(a, c, useRemoteGateways=True)
    estate.peering(c, a, allowGatewayTransit=True)
    found = run("hub-spoke-peering", estate)
    assert any("uses remote gateways through 2 peerings" in m for m in found)


def test_drill_network_is_isolated(preview: bool) -> None:
    estate, n = article_estate(preview)
    drill = estate.vnet("drill-hub", ["172.16.0.0/24"], tags={"purpose": "drill"})
    assert run("drill-network-isolated", estate) == []
    estate.peering(drill, n["hub"])
    estate.connect(drill, ER_HK)
    found = run("drill-network-isolated", estate)
    assert len(found) == 2 and "is peered" in found[0] and "is connected through gateway" in found[1]


def test_drill_vnet_known_by_name_only_is_decided_on_up(preview: bool) -> None:
    estate, n = article_estate(preview)
    estate.peering(estate.vnet("hub-drill", ["172.16.0.0/24"]), n["hub"])
    notes: list[str] = []
    found = run("drill-network-isolated", estate, notes=notes)
    if preview:
        assert (
            found == []
            and len(notes) == 1
            and "and 3 more join a VNet named like a drill VNet (waits for the VNets' names)" in notes[0]
        )
    else:
        assert len(found) == 1 and "Drill VNet 'hub-drill' is peered" in found[0] and notes == []
    assert run("drill-network-isolated", estate, {"drillNamePattern": ""}, notes=notes) == []


# --- circuits ------------------------------------------------------------------------------------


def test_premium_outside_the_geopolitical_region(preview: bool) -> None:
    estate = Estate(preview)
    estate.connect(estate.vnet("weu", ["10.0.0.0/16"], location="westeurope"), ER_HK)
    found = run("expressroute-premium-outside-geopolitical-region", estate, CIRCUITS)
    assert len(found) == 1 and "westeurope (Europe)" in found[0] and "Hong Kong (Asia)" in found[0]
    premium = {"circuits": [{**HK, "skuTier": "Premium"}]}
    assert run("expressroute-premium-outside-geopolitical-region", estate, premium) == []
    assert run("expressroute-premium-outside-geopolitical-region", estate) == []  # nothing known: no guess
    assert len(run("expressroute-premium-outside-geopolitical-region", estate, {"requireCircuitFacts": True})) == 1


def test_circuits_of_one_peering_location_on_one_vnet_up_to_azures_limit(preview: bool) -> None:
    """Up to four circuits of one peering location on one VNet (ExpressRoute FAQ); a fifth is refused."""
    estate, n = article_estate(preview)
    estate.connect(n["hub"], ER_SG)
    same = [HK, {**SG, "peeringLocation": "Hong Kong"}]
    found = run("circuits-same-peering-location", estate, {"circuits": same})
    assert found == []  # two: allowed now
    for i in range(3):
        extra = f"{ER_HK}-extra{i}"
        estate.connect(n["hub"], extra)
        same.append({**HK, "id": extra, "name": f"er-extra{i}"})
        found = run("circuits-same-peering-location", estate, {"circuits": same})
        assert found == [] if len(same) <= 4 else len(found) == 1, (len(same), found)
    assert "connected to 5 circuits at peering location Hong Kong" in found[0]
    assert "Azure allows 4" in found[0]


def test_storage_endpoint_behind_an_nva_default_route(preview: bool) -> None:
    estate, n = article_estate(preview)
    del estate.props(n["vnet2-workload"])["serviceEndpoints"]
    found = run("storage-endpoint-behind-nva-default-route", estate)
    assert len(found) == 1 and f"'{subnet_label('vnet2', 'workload', preview)}'" in found[0]


def test_authorization_key_must_be_secret() -> None:
    estate, n = article_estate()
    assert run("circuit-authorization-key-secret", estate, urn=n["connection"]) == []
    estate.props(n["connection"])["authorizationKey"] = "plain-key"
    found = run("circuit-authorization-key-secret", estate, urn=n["connection"])
    assert len(found) == 1 and "plain text" in found[0] and "plain-key" not in found[0]


# --- unknown values never escape as the SDK's "can't run" --------------------------------------


def test_unresolvable_reference_is_reported_not_raised() -> None:
    estate, _ = article_estate(preview=True)
    estate.vnet("drill-hub", ["172.16.0.0/24"], tags={"purpose": "drill"})
    peering = next(u for u in estate.items if u.endswith("::vnet1-to-hub"))
    estate.items[peering].deps["remoteVirtualNetwork"] = []
    for rule in ("vnet-address-space-overlap", "hub-spoke-peering", "drill-network-isolated"):
        notes: list[str] = []
        assert run(rule, estate, notes=notes) == []
        assert len(notes) == 1 and "waits for remoteVirtualNetwork.id" in notes[0], notes
        found = run(rule, estate, {"onUnknown": "report"})
        assert any("peering 'vnet1-to-hub'" in m and "remoteVirtualNetwork.id is not known" in m for m in found)
        assert all(m.startswith("Cannot check") for m in found)
        notes.clear()
        assert run(rule, estate, {"onUnknown": "ignore"}, notes=notes) == [] and notes == []


def test_a_rule_that_breaks_reports_instead_of_raising() -> None:
    boom = Rule(
        name="boom",
        display_name="boom",
        description="Boom.",
        severity=RULES[0].severity,
        level=RULES[0].level,
        remediation="none",
        check=lambda ctx, estate: {}["missing"],
    )
    found: list[str] = []
    boom.run_stack([], {}, lambda m, u=None: found.append(m), lambda m, u=None: found.append("note: " + m))
    assert len(found) == 1 and "Rule boom failed (KeyError" in found[0]


# --- UDR next hops ------------------------------------------------------------------------------


def _hop(estate: Estate, table: str, address: str) -> None:
    for route in estate.props(table)["routes"]:
        route["nextHopIpAddress"] = address


def test_udr_next_hop_must_lie_in_a_declared_appliance_subnet(preview: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    estate, n = article_estate(preview)
    assert run("udr-next-hop-in-appliance-subnet", estate, APPLIANCES) == []
    # Declared by the stack config instead (what the CLI hands the pack): the layout's NVA subnet.
    layout = {"hub": {"nvaSubnet": {"name": "nva", "prefix": "10.10.10.0/25"}}}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"expressroute-dr:layout": json.dumps(layout)}))
    assert run("udr-next-hop-in-appliance-subnet", estate) == []
    monkeypatch.delenv("PULUMI_CONFIG")
    _hop(estate, n["gateway_routes"], "10.1.0.4")
    notes: list[str] = []
    found = run("udr-next-hop-in-appliance-subnet", estate, APPLIANCES, notes=notes)
    if preview:
        # 10.1.0.4 lies in a subnet whose name a first preview does not know yet: it could be
        # the NVA's, so the rule waits for `pulumi up` and says so.
        assert found == [] and len(notes) == 1 and "whether route 'r0' points into an appliance subnet" in notes[0]
        return
    assert len(found) == 2  # both spoke routes of the GatewaySubnet's table
    assert (
        "sends 10.1.0.0/24 to 10.1.0.4, which lies in no declared appliance's subnet (applianceSubnets (10.10.10.0/25))"
        in found[0]
    )


def test_udr_next_hop_into_an_azure_firewall_subnet(preview: bool) -> None:
    estate, n = article_estate(preview)
    estate.subnet(n["hub"], "AzureFirewallSubnet", "10.10.10.64/26")
    for table in (n["gateway_routes"],):
        _hop(estate, table, "10.10.10.68")
    notes: list[str] = []
    found = run("udr-next-hop-in-appliance-subnet", estate, notes=notes)
    if preview:
        # Neither subnet's name is known in a first preview: decided on `pulumi up`.
        assert found == [] and notes
        return
    # The gateway's routes now point into the firewall subnet; the spokes' still at 10.10.10.10,
    # where nothing is declared without the NVA subnet.
    assert len(found) == 1 and "sends 0.0.0.0/0 to 10.10.10.10" in found[0]
    assert "subnet 'hub/AzureFirewallSubnet' (10.10.10.64/26)" in found[0]


def test_udr_next_hop_unknown_in_preview_is_reported() -> None:
    estate, n = article_estate(True)
    estate.props(n["gateway_routes"])["routes"][0]["nextHopIpAddress"] = UNKNOWN
    notes: list[str] = []
    assert run("udr-next-hop-in-appliance-subnet", estate, APPLIANCES, notes=notes) == []
    assert len(notes) == 1 and "the next hop of route 'r0'" in notes[0]
    found = run("udr-next-hop-in-appliance-subnet", estate, {**APPLIANCES, "onUnknown": "report"})
    assert len(found) == 1 and found[0].startswith("Cannot check the next hop of route 'r0'")


# --- VNets of several subscriptions -------------------------------------------------------------


def test_same_group_and_name_in_two_subscriptions_are_two_vnets() -> None:
    """Landing-zone spokes may share a resource group and VNet name across subscriptions; only the
    subscription in their IDs tells them apart, and an overlap with the wrong one must not be
    reported (nor the right one missed)."""
    from policies.estate import Estate as Facts

    estate, n = article_estate(False)
    other_sub = "22222222-2222-2222-2222-222222222222"
    twin = estate.vnet("vnet1-lz2", ["10.10.10.0/25"])
    # Same group and name as vnet1, in another subscription.
    estate.props(twin)["virtualNetworkName"] = "vnet1"
    estate.items[twin].resource_id = estate.id_of(n["vnet1"]).replace(SUB, other_sub)
    facts = Facts(estate.policy_resources())
    first = facts.vnet_by_id(estate.id_of(n["vnet1"]))
    second = facts.vnet_by_id(estate.id_of(twin))
    assert first is not None and second is not None and first is not second
    assert second.urn == twin  # type: ignore[union-attr]
    # The twin overlaps the hub, but it is peered with nothing: no routing domain shares both.
    assert run("vnet-address-space-overlap", estate) == []
    peering = estate.peering(n["hub"], twin, allowGatewayTransit=True)
    estate.props(peering)["remoteVirtualNetwork"] = {"id": estate.id_of(twin)}
    found = run("vnet-address-space-overlap", estate)
    assert len(found) == 1 and "10.10.10.0/25" in found[0]
