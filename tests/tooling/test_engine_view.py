"""The offline emulation of what the engine and azure-native return (erdr.engine_view), checked
against azure-native's own SDK classes and the rules of its provider (previewOutputs.go, Update
with preview, checkpointObject) and the engine (annotateSecrets)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pulumi._types as sdk_types
import pytest
from pulumi_azure_native import network

from erdr import engine_view as ev
from erdr.engine_view import UNKNOWN, secret
from erdr.simulate import simulate
from erdr.stackfiles import load_stack
from policies.shared import names as T
from tests.helpers import run_stack

RG = "rg-x"
SUBNET_INPUTS: dict[str, Any] = {
    "subnetName": "GatewaySubnet",
    "virtualNetworkName": UNKNOWN,
    "resourceGroupName": RG,
    "addressPrefix": "10.0.0.0/27",
    "routeTable": {"id": UNKNOWN},
    "privateEndpointNetworkPolicies": "Disabled",
}


@pytest.mark.parametrize(
    "type_", [T.VNET, T.SUBNET, T.PEERING, T.ROUTE_TABLE, T.GATEWAY, T.CONNECTION, T.RESOURCE_GROUP]
)
def test_the_output_properties_are_the_sdk_classes_plus_id(type_: str) -> None:
    """The classes' typed getters, and the state keys their own `get()` reads back, agree."""
    cls = ev.resource_class(type_)
    assert cls is not None
    declared = set(sdk_types.resource_types(cls))
    assert set(ev.output_types(type_)) == declared | {"id"}
    state_keys = set(re.findall(r'__props__\.__dict__\["(\w+)"\] = None', inspect.getsource(cls.get)))
    snake_to_camel = sdk_types.resource_py_to_pulumi_names(cls)
    assert {snake_to_camel[k] for k in state_keys} == declared
    path_parameter = {T.SUBNET: "subnetName", T.VNET: "virtualNetworkName", T.GATEWAY: "virtualNetworkGatewayName"}
    assert path_parameter.get(type_, "resourceGroupName") not in declared


def test_only_azure_native_types_have_outputs_here() -> None:
    assert ev.output_types("expressroute-dr:network:Hub") == {}


def test_an_azure_native_type_without_its_class_is_an_error_not_an_empty_view() -> None:
    """An unknown class used to read as "no outputs", and an emulated import silently lost them."""
    with pytest.raises(LookupError, match="azure-native:network:NoSuchThing: no class NoSuchThing in"):
        ev.output_types("azure-native:network:NoSuchThing")
    with pytest.raises(LookupError, match=r"pulumi_azure_native\.nosuchnamespace"):
        ev.resource_class("azure-native:nosuchnamespace:Thing")


def test_preview_of_a_create_follows_preview_outputs() -> None:
    out = ev.preview_outputs(T.SUBNET, SUBNET_INPUTS)
    # Every output property, from the input of that name, unknown otherwise.
    assert set(out) == set(ev.output_types(T.SUBNET)) - {"azureApiVersion"}
    assert out["id"] == UNKNOWN and out["name"] == UNKNOWN
    assert out["addressPrefix"] == "10.0.0.0/27"
    assert out["privateEndpointNetworkPolicies"] == "Disabled"
    assert out["networkSecurityGroup"] == UNKNOWN and out["serviceEndpoints"] == UNKNOWN
    # Path parameters are not outputs.
    assert not {"subnetName", "virtualNetworkName", "resourceGroupName"} & set(out)
    # A nested reference is shaped by its output type: the input's id, the rest unknown.
    table = out["routeTable"]
    assert set(table) == set(sdk_types.output_type_types(network.outputs.RouteTableResponse))
    assert table["id"] == UNKNOWN and table["routes"] == UNKNOWN


def test_a_value_of_the_wrong_type_is_unknown_in_preview() -> None:
    out = ev.preview_outputs(T.SUBNET, {**SUBNET_INPUTS, "addressPrefix": 27})
    assert out["addressPrefix"] == UNKNOWN


def test_preview_of_an_update_keeps_name_and_location_only() -> None:
    old = ev.applied_outputs(T.VNET, _vnet_inputs(), "/subscriptions/s/resourceGroups/rg-x/providers/x/y")
    out = ev.update_preview_outputs(T.VNET, {**_vnet_inputs(), "tags": {"a": "b"}}, old)
    assert out["name"] == "hub" and out["location"] == "eastasia"
    assert out["id"] == UNKNOWN and out["tags"] == {"a": "b"}


def _vnet_inputs() -> dict[str, Any]:
    return {
        "virtualNetworkName": "hub",
        "resourceGroupName": RG,
        "location": "eastasia",
        "addressSpace": {"addressPrefixes": ["10.0.0.0/24"]},
    }


def test_after_up_the_outputs_are_azures_response() -> None:
    inputs = {**SUBNET_INPUTS, "virtualNetworkName": "hub", "routeTable": {"id": "/subscriptions/s/rt"}}
    arm = ev.arm_id(T.SUBNET, inputs)
    vnet = f"/subscriptions/{ev.SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/hub"
    assert arm is not None and arm == vnet + "/subnets/GatewaySubnet"
    out = ev.applied_outputs(T.SUBNET, inputs, arm)
    assert out["id"] == arm and out["name"] == "GatewaySubnet"
    assert out["type"] == "Microsoft.Network/virtualNetworks/subnets"
    assert out["provisioningState"] == "Succeeded"
    assert out["routeTable"] == {"id": "/subscriptions/s/rt"}  # Azure returns the reference only
    assert out["azureApiVersion"] == ev.api_version(T.SUBNET) == "2024-05-01"
    assert not {"subnetName", "virtualNetworkName", "resourceGroupName"} & set(out)
    assert UNKNOWN not in str(out)


def test_secret_inputs_make_secret_outputs() -> None:
    inputs = {"virtualNetworkGatewayConnectionName": "c", "resourceGroupName": RG, "authorizationKey": secret("k")}
    for out in (
        ev.preview_outputs(T.CONNECTION, inputs),
        ev.applied_outputs(T.CONNECTION, inputs, ev.arm_id(T.CONNECTION, inputs) or ""),
    ):
        assert out["authorizationKey"] == secret("k")


def test_the_program_previews_with_the_unknowns_a_real_preview_has() -> None:
    """vnet.name is unknown in a fresh preview, so a subnet's virtualNetworkName is unknown too,
    with the VNet as its property dependency: exactly what a first `pulumi preview` registers."""
    prod = run_stack("prod", preview=True)
    subnet = prod.by_name("hub-GatewaySubnet")
    vnet = prod.by_name("hub-vnet")
    assert subnet.inputs["virtualNetworkName"] == UNKNOWN
    assert subnet.property_dependencies["virtualNetworkName"] == [vnet.urn]
    assert vnet.outputs["name"] == UNKNOWN and vnet.outputs["addressSpace"]["addressPrefixes"] == ["10.10.10.0/24"]
    assert "virtualNetworkName" not in vnet.outputs
    up = run_stack("prod")
    assert up.by_name("hub-GatewaySubnet").inputs["virtualNetworkName"] == "hub-eastasia"
    assert up.by_name("hub-vnet").outputs["name"] == "hub-eastasia"


@pytest.mark.parametrize("phase", ["standby", "failover"])
def test_a_preview_against_the_deployed_stack_takes_same_update_and_create_steps(phase: str) -> None:
    # Cross-connected hubs: the one design whose failover changes something that is not created
    # (the routing weights of both connections of the gateway), so the update preview shows.
    cross = {
        "addressing": "translated",
        "targetAddressPlan": {"hub": ["10.20.10.0/24"], "vnet1": ["10.21.0.0/24"], "vnet2": ["10.22.0.0/24"]},
        "crossConnect": True,
    }
    deployed = run_stack("dr", overrides=cross)
    settings = load_stack("dr", overrides={**cross, "phase": phase})
    change = simulate(settings, preview=True, prior=deployed)
    assert change.error is None, change.error
    ops = {r.name: r.op for r in change.resources if r.custom}
    if phase == "standby":
        assert set(ops.values()) == {"same"}
        hub = change.by_name("hub-vnet")
        assert hub.outputs == deployed.by_name("hub-vnet").outputs and hub.id == deployed.by_name("hub-vnet").id
    else:
        changed = {n for n, op in ops.items() if op != "same"}
        assert changed == {"hub-primary-connection", "hub-secondary-connection"}
        conn = change.by_name("hub-secondary-connection")
        assert conn.op == "update" and conn.outputs["name"] == "hub-southeastasia-to-secondary"
        assert conn.outputs["id"] == UNKNOWN and conn.id == deployed.by_name("hub-secondary-connection").id
    # The article's example: a failover changes nothing in Azure, every step is `same`.
    plain = simulate(load_stack("dr", overrides={"phase": phase}), preview=True, prior=run_stack("dr"))
    assert {r.op for r in plain.resources if r.custom} == {"same"}
    with pytest.raises(ValueError, match="prior must be an `up` run"):
        simulate(settings, preview=True, prior=run_stack("dr", preview=True))


# --- an import, as the engine's import step runs it ------------------------------------------------


def test_read_state_is_azure_natives_read_of_a_body() -> None:
    from erdr.engine_view import read_state

    sub_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/GatewaySubnet"
    body = {
        "id": sub_id,
        "name": "GatewaySubnet",
        "etag": 'W/"1"',
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "addressPrefix": "10.0.0.0/27",
            "networkSecurityGroup": {
                "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n"
            },
            "provisioningState": "Succeeded",
        },
    }
    inputs, outputs = read_state("azure-native:network:Subnet", body)
    # Inputs: the body's properties flattened, with the path parameters its ID holds.
    assert inputs == {
        "addressPrefix": "10.0.0.0/27",
        "networkSecurityGroup": body["properties"]["networkSecurityGroup"],
        "resourceGroupName": "rg",
        "virtualNetworkName": "v",
        "subnetName": "GatewaySubnet",
    }
    # Outputs: the SDK's output shape, Azure's ID, and the read-only values.
    assert outputs["id"] == sub_id and outputs["name"] == "GatewaySubnet"
    assert outputs["provisioningState"] == "Succeeded" and outputs["networkSecurityGroup"]["id"].endswith("/n")


def test_ignore_changes_take_the_read_value_or_drop_the_property() -> None:
    """processIgnoreChanges (pulumi/pulumi step_generator.go): an ignored property gets the old
    (read) value, and is removed when the old inputs lack it."""
    from erdr.engine_view import process_ignore_changes

    news = {"addressPrefix": "10.0.0.0/27", "serviceEndpoints": [{"service": "Microsoft.Storage"}], "natGateway": None}
    olds = {"addressPrefix": "10.0.0.0/27", "networkSecurityGroup": {"id": "/n"}}
    got = process_ignore_changes(news, olds, ["networkSecurityGroup", "serviceEndpoints", "natGateway"])
    assert got == {"addressPrefix": "10.0.0.0/27", "networkSecurityGroup": {"id": "/n"}}
    assert process_ignore_changes(news, olds, []) == news  # control: nothing ignored, nothing taken


def test_an_import_is_a_change_only_where_the_program_sets_another_value() -> None:
    from erdr.engine_view import import_changes

    olds = {
        "routes": [{"name": "r", "addressPrefix": "0.0.0.0/0", "provisioningState": "Succeeded"}],
        "routeTable": {"id": "/subscriptions/S/x"},
        "tags": {"owner": "netops"},
    }
    same = {"routes": [{"name": "r", "addressPrefix": "0.0.0.0/0"}], "routeTable": {"id": "/subscriptions/s/X"}}
    assert import_changes(same, olds) == []  # read-only extras and the case of an ARM ID do not count
    changed = {"routes": [{"name": "r", "addressPrefix": "10.0.0.0/8"}], "routeTable": {"id": "/subscriptions/s/x"}}
    assert import_changes(changed, olds) == ["routes"]
