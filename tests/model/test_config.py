"""The config model refuses every kind of bad input with one actionable line (issue: source region)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erdr.schema import SCHEMA_PATH, render
from erdr.stackfiles import load_stack, set_path
from model.config import ConfigError, StackConfig, load
from tests.helpers import run_stack


def base(stack: str = "prod") -> dict[str, Any]:
    return copy.deepcopy(load_stack(stack).config)


def error_of(raw: dict[str, Any], stack: str = "prod") -> str:
    with pytest.raises(ConfigError) as info:
        load(stack, raw)
    return str(info.value)


def with_(path: str, value: Any, stack: str = "prod") -> dict[str, Any]:
    raw = base(stack)
    set_path(raw, path, value)
    return raw


def test_default_stacks_are_valid():
    for stack in ("prod", "dr"):
        cfg = load(stack, base(stack))
        assert isinstance(cfg, StackConfig)


@pytest.mark.parametrize(
    ("path", "value", "key", "fragment"),
    [
        (
            "layout.spokes",
            [{"name": "vnet1", "addressSpace": ["10.1.0.0"], "subnets": [{"name": "w", "prefix": "10.1.0.0/24"}]}],
            "layout.spokes[0].addressSpace[0]",
            "missing prefix length",
        ),
        (
            "layout.hub.addressSpace",
            ["10.10.10.300/24"],
            "layout.hub.addressSpace[0]",
            "is not an IPv4 or IPv6 address",
        ),
        (
            "layout.hub.addressSpace",
            ["10.10.10.1/24"],
            "layout.hub.addressSpace[0]",
            "host bits set; did you mean 10.10.10.0/24",
        ),
        ("layout.hub.addressSpace", ["10.10.10.0/33"], "layout.hub.addressSpace[0]", "longer than /32"),
        ("layout.hub.addressSpace", ["10.10.10.0/24", "fd00::/129"], "layout.hub.addressSpace[1]", "longer than /128"),
        ("layout.hub.gatewaySubnetPrefix", "10.10.11.0/27", "layout.hub.gatewaySubnetPrefix", "outside its VNet"),
        ("layout.hub.gatewaySubnetPrefix", "10.10.10.0/26", "layout.hub.gatewaySubnetPrefix", "overlaps 10.10.10.0/25"),
        ("layout.hub.gatewaySubnetPrefix", "10.10.10.224/29", "layout.hub.gatewaySubnetPrefix", "/27 or larger"),
        ("layout.hub.nvaAddress", "10.10.10.200", "layout.hub.nvaAddress", "outside the NVA subnet"),
        ("layout.hub.nvaAddress", "10.10.10.3", "layout.hub.nvaAddress", "Azure reserves this address"),
        ("layout.hub.nvaAddress", "10.10.10.127", "layout.hub.nvaAddress", "Azure reserves this address"),
        ("layout.hub.nvaAddress", "10.10.10", "layout.hub.nvaAddress", "not an IPv4 or IPv6 address"),
        ("topology", "three-circuits", "topology", "Input should be"),
        ("role", "primary", "role", "Input should be 'source' or 'target'"),
        ("phase", "recovering", "phase", "Input should be"),
        ("addressing", "nat", "addressing", "Input should be"),
        ("regions.target", "south east asia", "regions.target", "unknown Azure region"),
        ("regions.target", "eastasia", "regions.target", "must differ from the source region"),
        ("circuits.primary.id", "er-hongkong", "circuits.primary.id", "not an ExpressRoute circuit resource ID"),
        (
            "circuits.primary.peeringLocation",
            "Hongkong City",
            "circuits.primary.peeringLocation",
            "unknown ExpressRoute peering location",
        ),
        (
            "circuits.secondary.peeringLocation",
            "Hong Kong",
            "circuits.secondary.peeringLocation",
            "two-circuits-one-location",
        ),
        ("layout.hub.nvaSubnet.prefxi", "10.10.10.0/25", "layout.hub.nvaSubnet.prefxi", "unknown key"),
        ("gateway.sku", "VpnGw1", "gateway.sku", "not an ExpressRoute gateway SKU"),
        ("routingWeights.standby", 200, "routingWeights.standby", "only choose among the connections of one gateway"),
    ],
)
def test_each_rule_names_stack_key_and_value(path, value, key, fragment):
    message = error_of(with_(path, value))
    first = message.splitlines()[0]
    assert first.startswith(f"stack 'prod': config expressroute-dr:{key} = ")
    assert fragment in message
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    if key == path and not isinstance(value, list):
        assert shown in first


def test_missing_gateway_subnet():
    raw = base()
    del raw["layout"]["hub"]["gatewaySubnetPrefix"]
    assert "config expressroute-dr:layout.hub.gatewaySubnetPrefix = null: required key is missing" in error_of(raw)


def test_overlapping_vnets_are_named():
    message = error_of(
        with_(
            "layout.spokes",
            [
                {"name": "vnet1", "addressSpace": ["10.1.0.0/24"], "subnets": [{"name": "w", "prefix": "10.1.0.0/24"}]},
                {
                    "name": "vnet2",
                    "addressSpace": ["10.1.0.128/25"],
                    "subnets": [{"name": "w", "prefix": "10.1.0.128/25"}],
                },
            ],
        )
    )
    assert (
        "layout.spokes[1].addressSpace[0] = '10.1.0.128/25': address space overlaps 10.1.0.0/24 of 'vnet1'" in message
    )


def test_overlap_with_the_hub():
    message = error_of(
        with_(
            "layout.spokes",
            [
                {
                    "name": "vnet1",
                    "addressSpace": ["10.10.0.0/16"],
                    "subnets": [{"name": "w", "prefix": "10.10.0.0/24"}],
                },
            ],
        )
    )
    assert "overlaps 10.10.0.0/16 of 'vnet1'" in message
    assert "layout.hub.addressSpace[0]" in message


def test_duplicate_names():
    spoke = {
        "name": "vnet1",
        "addressSpace": ["10.1.0.0/24"],
        "subnets": [{"name": "w", "prefix": "10.1.0.0/25"}, {"name": "w", "prefix": "10.1.0.128/25"}],
    }
    other = {"name": "VNET1", "addressSpace": ["10.3.0.0/24"], "subnets": [{"name": "w", "prefix": "10.3.0.0/24"}]}
    message = error_of(with_("layout.spokes", [spoke, other]))
    assert "layout.spokes[1].name = 'VNET1': duplicate VNet name" in message
    assert "layout.spokes[0].subnets[1].name = 'w': duplicate subnet name" in message


def test_spoke_gateway_subnet_refused():
    spoke = {
        "name": "vnet1",
        "addressSpace": ["10.1.0.0/24"],
        "subnets": [{"name": "GatewaySubnet", "prefix": "10.1.0.0/27"}],
    }
    assert "a spoke may not have a GatewaySubnet" in error_of(with_("layout.spokes", [spoke]))


def test_topology_without_the_circuits_it_needs():
    raw = base()
    del raw["circuits"]["secondary"]
    assert (
        "config expressroute-dr:circuits.secondary = null: topology 'two-circuits-two-locations' needs a secondary circuit"
        in error_of(raw)
    )


def test_single_circuit_with_two_circuits_refused():
    assert "takes only circuits.primary" in error_of(with_("topology", "single-circuit"))


def test_single_circuit_same_ip_cannot_pre_connect():
    raw = with_("topology", "single-circuit", "dr")
    del raw["circuits"]["secondary"]
    raw["preConnectTarget"] = True
    assert "config expressroute-dr:preConnectTarget = true: with a single circuit and the same IPs" in error_of(
        raw, "dr"
    )


def test_single_circuit_failover_needs_the_peer_gate():
    raw = with_("topology", "single-circuit", "dr")
    del raw["circuits"]["secondary"]
    raw["phase"] = "failover"
    assert "set peerStack" in error_of(raw, "dr")
    raw["sourceRegionUnreachable"] = True
    assert load("dr", raw).source_region_unreachable


def test_premium_needed_outside_the_geopolitical_region():
    raw = with_("topology", "single-circuit", "dr")
    del raw["circuits"]["secondary"]
    raw["regions"]["target"] = "westeurope"
    message = error_of(raw, "dr")
    assert (
        "config expressroute-dr:circuits.primary.skuTier = 'Standard': westeurope (Europe) is outside the geopolitical region of peering location Hong Kong (Asia)"
        in message
    )
    raw["circuits"]["primary"]["skuTier"] = "Premium"
    assert load("dr", raw).circuits.primary.sku_tier == "Premium"


def test_translated_plan_rules():
    raw = with_("addressing", "translated", "dr")
    assert "targetAddressPlan.hub = null: addressing is 'translated' but VNet 'hub' has no target prefixes" in error_of(
        raw, "dr"
    )
    raw["targetAddressPlan"] = {"hub": ["10.20.10.0/24"], "vnet1": ["10.21.0.0/23"], "vnet2": ["10.2.0.0/24"]}
    message = error_of(raw, "dr")
    assert (
        "targetAddressPlan.vnet1[0] = '10.21.0.0/23': must have the same length as the source prefix 10.1.0.0/24"
        in message
    )
    assert "targetAddressPlan.vnet2[0] = '10.2.0.0/24': target prefix overlaps source vnet2" in message


def test_plain_text_authorization_key_is_refused_without_printing_it():
    raw = base()
    raw["primaryAuthorizationKey"] = "abc-plain-text-key"
    message = error_of(raw)
    assert "config expressroute-dr:primaryAuthorizationKey = <hidden>: authorization keys must be secrets" in message
    assert "abc-plain-text-key" not in message
    assert load("prod", raw, frozenset({"primaryAuthorizationKey"})) is not None


def test_invalid_config_registers_nothing_through_the_real_program():
    result = run_stack("prod", overrides={"layout.hub.nvaAddress": "10.10.10.0"})
    assert result.error is not None
    assert "stack 'prod': config expressroute-dr:layout.hub.nvaAddress = '10.10.10.0'" in result.error
    assert result.resources == []


def test_json_schema_is_current():
    assert SCHEMA_PATH.read_text() == render(), "run `python -m erdr.schema` and commit schema/config.schema.json"


def test_json_schema_describes_fixed_keys():
    schema = json.loads(SCHEMA_PATH.read_text())
    props = schema["properties"]
    assert {"role", "topology", "addressing", "phase", "layout", "circuits"} <= set(props)
    assert schema["additionalProperties"] is False
    assert set(schema["$defs"]["Topology"]["enum"]) == {
        "two-circuits-two-locations",
        "two-circuits-one-location",
        "single-circuit",
    }


# --- any valid-looking layout, not only ours --------------------------------------------------


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, Any]:
    """Random valid hub-and-spoke layouts: the hub in 10.0.x.0/24, spokes in 10.<n>.0.0/16."""
    n = draw(st.integers(min_value=1, max_value=6))
    third = draw(st.integers(min_value=0, max_value=250))
    hub = {
        "name": "hub",
        "addressSpace": [f"10.0.{third}.0/24"],
        "nvaSubnet": {"name": "nva", "prefix": f"10.0.{third}.0/25"},
        "nvaAddress": f"10.0.{third}.{draw(st.integers(min_value=4, max_value=126))}",
        "gatewaySubnetPrefix": f"10.0.{third}.128/{draw(st.sampled_from([25, 26, 27]))}",
    }
    seconds = draw(st.lists(st.integers(min_value=1, max_value=200), min_size=n, max_size=n, unique=True))
    spokes = [
        {
            "name": f"spoke{i}",
            "addressSpace": [f"10.{b}.0.0/16"],
            "subnets": [{"name": "a", "prefix": f"10.{b}.0.0/24"}, {"name": "b", "prefix": f"10.{b}.1.0/24"}],
        }
        for i, b in enumerate(seconds)
    ]
    return {"hub": hub, "spokes": spokes}


FAULTS = [
    (
        "host bits",
        lambda lay: (
            "layout.spokes[0].subnets[1].prefix",
            lay["spokes"][0]["subnets"][1].__setitem__(
                "prefix", lay["spokes"][0]["subnets"][1]["prefix"].replace(".0/24", ".7/24")
            ),
        ),
    ),
    (
        "outside",
        lambda lay: (
            "layout.spokes[0].subnets[0].prefix",
            lay["spokes"][0]["subnets"][0].__setitem__("prefix", "192.168.0.0/24"),
        ),
    ),
    (
        "overlap",
        lambda lay: (
            "layout.spokes[0].subnets[1].prefix",
            lay["spokes"][0]["subnets"][1].__setitem__(
                "prefix", lay["spokes"][0]["addressSpace"][0].replace("/16", "/23")
            ),
        ),
    ),
    (
        "vnet overlap",
        lambda lay: ("layout.spokes", lay["spokes"].append({**copy.deepcopy(lay["spokes"][0]), "name": "copy"})),
    ),
    (
        "reserved",
        lambda lay: (
            "layout.hub.nvaAddress",
            lay["hub"].__setitem__("nvaAddress", lay["hub"]["nvaSubnet"]["prefix"].split("/")[0]),
        ),
    ),
    (
        "small gateway subnet",
        lambda lay: (
            "layout.hub.gatewaySubnetPrefix",
            lay["hub"].__setitem__("gatewaySubnetPrefix", lay["hub"]["gatewaySubnetPrefix"].split("/")[0] + "/28"),
        ),
    ),
]


@settings(max_examples=30, deadline=None)
@given(layout=layouts(), fault=st.sampled_from(FAULTS))
def test_any_layout_valid_then_each_fault_caught(layout, fault):
    raw = base()
    raw["layout"] = layout
    load("prod", raw)  # the generated layout itself is valid
    broken = copy.deepcopy(layout)
    _, apply = fault
    path, _ = apply(broken)
    raw["layout"] = broken
    message = error_of(raw)
    assert path in message  # an overlap names both sides; the inner one leads the line
    assert all(line.startswith("stack 'prod': config expressroute-dr:layout.") for line in message.splitlines())


def _one_location_cross_connect(stack: str) -> dict[str, Any]:
    raw = base(stack)
    raw.update(
        topology="two-circuits-one-location",
        addressing="translated",
        crossConnect=True,
        targetAddressPlan={"hub": ["10.20.10.0/24"], "vnet1": ["10.21.0.0/24"], "vnet2": ["10.22.0.0/24"]},
    )
    raw["circuits"]["secondary"]["peeringLocation"] = "Hong Kong"
    return raw


def test_cross_connect_at_one_peering_location_is_valid():
    """Two circuits of one peering location on each hub: within the ExpressRoute FAQ's four per VNet."""
    for stack in ("prod", "dr"):
        cfg = load(stack, _one_location_cross_connect(stack))
        assert cfg.cross_connect and cfg.topology.value == "two-circuits-one-location"
    assert "has no other circuit" in error_of({**with_("topology", "single-circuit"), "crossConnect": True})
    same_ips = _one_location_cross_connect("dr")
    same_ips["addressing"] = "same"
    del same_ips["targetAddressPlan"]
    assert "use addressing 'translated'" in error_of(same_ips, "dr")
