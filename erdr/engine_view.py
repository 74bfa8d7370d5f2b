"""What the Pulumi engine and azure-native make of a registered resource, emulated offline.

One module answers, for every resource the program registers, the two questions the offline
tooling keeps asking:

- **the inputs** the engine hands ``Analyze`` (resource policies): the properties as the program
  registered them (camelCase, secrets and unknowns as marshalled);
- **the outputs** the provider returns, which the program reads back (``vnet.name``,
  ``subnet.id``) and which ``AnalyzeStack`` (stack policies) receives: ``AnalyzeStack`` is given
  each resource's ``Outputs`` (pulumi/pulumi ``pkg/resource/deploy/step_generator.go``
  ``AnalyzeResources``), not its inputs.

The outputs come from azure-native itself, not from a list kept here:

- the property set and types are the resource class's output properties in the
  ``pulumi_azure_native`` Python SDK (its ``@pulumi.getter`` properties, via
  ``pulumi._types.resource_types``; nested output types likewise), plus ``id``, which the provider
  keeps in its response metadata although the SDK exposes it as the resource ID;
- **preview of a create** follows ``SdkShapeConverter.PreviewOutputs``
  (pulumi/pulumi-azure-native ``provider/pkg/convert/previewOutputs.go``, called from the
  provider's ``Create`` when ``preview`` is set): every output property, taken from the input of
  the same name when its type matches, *unknown* otherwise, recursively through nested types.
  So ``id``, ``name`` and everything Azure computes are unknown, and path parameters that are not
  outputs (``resourceGroupName``, ``virtualNetworkName``, ``subnetName``...) are absent;
- **preview of an update** is the same plus the old ``name`` and ``location`` (the provider's
  ``Update`` with ``preview``: "universally immutable" outputs);
- **after ``pulumi up``** the outputs are Azure's response: what the program set (shaped by the
  output types, nothing unknown), the ARM ``id``, the resource's ``name``, ``type``,
  ``provisioningState``, an ``etag``, and ``azureApiVersion`` (``checkpointObject`` adds the
  resource's API version, read here from the SDK's own docstring); path parameters are absent;
- secrets: azure-native does not accept secrets, so the engine re-marks an output as secret when
  the input of the same key held one (``annotateSecrets`` in
  ``sdk/go/common/resource/plugin/provider_plugin.go``).

The ARM ID templates below are the one hand-written part: the Python SDK does not carry resource
paths. Known limitation: ``const`` discriminators that are absent from the inputs stay unknown
in preview here (the provider fills them); no rule reads one.
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import pulumi._types as sdk_types

from policies.shared import names as T

UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string
SECRET_SIG: Final = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
SUBSCRIPTION: Final = "00000000-0000-0000-0000-000000000000"
TENANT: Final = "11111111-1111-1111-1111-111111111111"
AZURE_NATIVE: Final = "azure-native"
AZURE_NATIVE_VERSION: Final = metadata.version("pulumi_azure_native")
STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_TYPE: Final = f"pulumi:providers:{AZURE_NATIVE}"

# azure-native type -> (ARM path template, input naming the resource). Templates use inputs.
_ARM_PATHS: dict[str, tuple[str, str]] = {
    T.RESOURCE_GROUP: ("/resourceGroups/{resourceGroupName}", "resourceGroupName"),
    T.VNET: (
        "{rg}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}",
        "virtualNetworkName",
    ),
    T.SUBNET: (
        "{rg}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}",
        "subnetName",
    ),
    T.PEERING: (
        "{rg}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/virtualNetworkPeerings/{virtualNetworkPeeringName}",
        "virtualNetworkPeeringName",
    ),
    T.ROUTE_TABLE: (
        "{rg}/providers/Microsoft.Network/routeTables/{routeTableName}",
        "routeTableName",
    ),
    T.NSG: (
        "{rg}/providers/Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}",
        "networkSecurityGroupName",
    ),
    T.ROUTE: (
        "{rg}/providers/Microsoft.Network/routeTables/{routeTableName}/routes/{routeName}",
        "routeName",
    ),
    T.PUBLIC_IP: (
        "{rg}/providers/Microsoft.Network/publicIPAddresses/{publicIpAddressName}",
        "publicIpAddressName",
    ),
    T.GATEWAY: (
        "{rg}/providers/Microsoft.Network/virtualNetworkGateways/{virtualNetworkGatewayName}",
        "virtualNetworkGatewayName",
    ),
    T.CONNECTION: (
        "{rg}/providers/Microsoft.Network/connections/{virtualNetworkGatewayConnectionName}",
        "virtualNetworkGatewayConnectionName",
    ),
    T.CIRCUIT: (
        "{rg}/providers/Microsoft.Network/expressRouteCircuits/{circuitName}",
        "circuitName",
    ),
    T.FIREWALL: (
        "{rg}/providers/Microsoft.Network/azureFirewalls/{azureFirewallName}",
        "azureFirewallName",
    ),
    T.FIREWALL_POLICY: (
        "{rg}/providers/Microsoft.Network/firewallPolicies/{firewallPolicyName}",
        "firewallPolicyName",
    ),
    T.VAULT: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{vaultName}",
        "vaultName",
    ),
    T.FABRIC: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{resourceName}/replicationFabrics/{fabricName}",
        "fabricName",
    ),
    T.REPLICATION_POLICY: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{resourceName}/replicationPolicies/{policyName}",
        "policyName",
    ),
    T.CONTAINER_MAPPING: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{resourceName}/replicationFabrics/{fabricName}/replicationProtectionContainers/{protectionContainerName}/replicationProtectionContainerMappings/{mappingName}",
        "mappingName",
    ),
    T.NETWORK_MAPPING: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{resourceName}/replicationFabrics/{fabricName}/replicationNetworks/{networkName}/replicationNetworkMappings/{networkMappingName}",
        "networkMappingName",
    ),
    T.RECOVERY_PLAN: (
        "{rg}/providers/Microsoft.RecoveryServices/vaults/{resourceName}/replicationRecoveryPlans/{recoveryPlanName}",
        "recoveryPlanName",
    ),
    T.GENERIC_RESOURCE: (
        "{rg}/providers/{resourceProviderNamespace}/{parentResourcePath}/{resourceType}/{resourceName}",
        "resourceName",
    ),
    T.AUTOMATION_ACCOUNT: (
        "{rg}/providers/Microsoft.Automation/automationAccounts/{automationAccountName}",
        "automationAccountName",
    ),
    T.RUNBOOK: (
        "{rg}/providers/Microsoft.Automation/automationAccounts/{automationAccountName}/runbooks/{runbookName}",
        "runbookName",
    ),
    T.AUTOMATION_VARIABLE: (
        "{rg}/providers/Microsoft.Automation/automationAccounts/{automationAccountName}/variables/{variableName}",
        "variableName",
    ),
    T.RUNTIME_ENVIRONMENT: (
        "{rg}/providers/Microsoft.Automation/automationAccounts/{automationAccountName}/runtimeEnvironments/{runtimeEnvironmentName}",
        "runtimeEnvironmentName",
    ),
    T.STORAGE_ACCOUNT: (
        "{rg}/providers/Microsoft.Storage/storageAccounts/{accountName}",
        "accountName",
    ),
    T.BLOB_CONTAINER: (
        "{rg}/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}",
        "containerName",
    ),
    T.BLOB: (
        "{rg}/providers/Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{containerName}/blobs/{blobName}",
        "blobName",
    ),
    # Extension resources: the template starts at their scope, which is a full ARM ID.
    T.ROLE_DEFINITION: (
        "{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
        "roleDefinitionId",
    ),
    T.ROLE_ASSIGNMENT: (
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
        "roleAssignmentName",
    ),
}


# --- secrets and unknowns, as the engine marshals them ------------------------------------------


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG


def secret(value: Any) -> dict[str, Any]:
    """``value`` wrapped as the engine marshals a secret."""
    return {SECRET_SIG: SECRET_VALUE_SIG, "value": value}


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if is_secret(value):
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


def annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's ``annotateSecrets``: an output whose input held a secret becomes secret
    (objects on both sides are matched key by key)."""
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if (
            isinstance(out_value, dict)
            and not is_secret(out_value)
            and isinstance(in_value, dict)
            and not is_secret(in_value)
        ):
            annotate_secrets(out_value, in_value)
        elif not is_secret(out_value) and contains_secret(in_value):
            outs[key] = secret(out_value)
    return outs


# --- azure-native's own description of a resource -------------------------------------------------


def is_azure_native(type_: str) -> bool:
    return type_.startswith(AZURE_NATIVE + ":")


@cache
def resource_class(type_: str) -> type | None:
    """The pulumi_azure_native class of a type token (``azure-native:network:Subnet``)."""
    if not is_azure_native(type_):
        return None
    _, module, name = type_.split(":")
    package = f"pulumi_azure_native.{module.replace('/', '.')}"
    try:
        return getattr(importlib.import_module(package), name)
    except (ImportError, AttributeError) as exc:
        # Not "no outputs": the emulated import and refresh would silently lose every output of
        # the type. A namespace package can miss a class when one of its defining modules was
        # imported before it (azure-native's namespaces are lazy modules; tests/tooling/test_sdk_imports.py).
        raise LookupError(
            f"{type_}: no class {name} in {package} (pulumi-azure-native {AZURE_NATIVE_VERSION}); "
            "the offline view cannot emulate this resource's outputs"
        ) from exc


@cache
def output_types(type_: str) -> dict[str, Any]:
    """Output property -> type, as the SDK class declares its outputs, plus ``id``."""
    cls = resource_class(type_)
    if cls is None:
        return {}
    return {"id": str, **sdk_types.resource_types(cls)}


@cache
def api_version(type_: str) -> str | None:
    """The Azure REST API version azure-native uses for ``type_`` (the SDK documents it)."""
    cls = resource_class(type_)
    if cls is None:
        return None
    source = inspect.getsourcefile(cls)
    text = Path(source).read_text() if source else ""
    found = re.search(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)", text)
    return found.group(1) if found else None


def _is_output_type(typ: Any) -> bool:
    return isinstance(typ, type) and sdk_types.is_output_type(typ)


def _shape(value: Any, typ: Any, *, preview: bool) -> Any:
    """One value of an output property, from its input (``previewOutputValue``). In preview a
    value that does not fit the type is unknown; after an update it is what Azure stored."""
    missing = UNKNOWN if preview else None
    if value == UNKNOWN:
        return UNKNOWN
    origin = typing.get_origin(typ)
    if typ is typing.Any or origin is typing.Union or typ is None:
        return value  # untyped, or a oneOf: the provider passes the input through
    if typ is bool:
        return value if isinstance(value, bool) else missing
    if typ in (int, float):
        return value if isinstance(value, int | float) and not isinstance(value, bool) else missing
    if typ is str:
        return value if isinstance(value, str) else missing
    if origin in (list, Sequence, typing.Sequence) or typ in (list, Sequence):
        (item,) = typing.get_args(typ) or (typing.Any,)
        return [_shape(v, item, preview=preview) for v in value] if isinstance(value, list) else missing
    if origin in (dict, Mapping, typing.Mapping) or typ in (dict, Mapping):
        args = typing.get_args(typ)
        item = args[1] if len(args) == 2 else typing.Any
        return {k: _shape(v, item, preview=preview) for k, v in value.items()} if isinstance(value, dict) else missing
    if _is_output_type(typ):
        if not isinstance(value, dict):
            return missing
        return _object(value, sdk_types.output_type_types(typ), preview=preview)
    return value if isinstance(value, str | int | float | bool) else missing


def _object(inputs: Mapping[str, Any], types: Mapping[str, Any], *, preview: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, typ in types.items():
        if name in inputs:
            shaped = _shape(unwrap_secrets(inputs[name]), typ, preview=preview)
            if shaped is not None:
                out[name] = shaped
        elif preview:
            out[name] = UNKNOWN
    return out


# --- the three shapes of a resource's outputs ----------------------------------------------------


# Outputs the provider adds itself after an update (``checkpointObject``), not from the API's
# response description, so a preview does not have them.
_ADDED_AFTER_UPDATE: Final = ("azureApiVersion",)


def preview_outputs(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What azure-native returns for a resource created in ``pulumi preview``."""
    types = {k: v for k, v in output_types(type_).items() if k not in _ADDED_AFTER_UPDATE}
    if not types:
        return {**dict(inputs), "id": UNKNOWN}
    return annotate_secrets(_object(inputs, types, preview=True), inputs)


def update_preview_outputs(type_: str, inputs: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """What azure-native returns for a resource updated in ``pulumi preview``: as a create, with
    the old ``name`` and ``location`` kept (they never change in place)."""
    out = preview_outputs(type_, inputs)
    for key in ("name", "location"):
        if key in old:
            out[key] = old[key]
    return out


def arm_id(type_: str, inputs: Mapping[str, Any], subscription: str = SUBSCRIPTION) -> str | None:
    """The ARM ID Azure would give the resource, or None while an input it needs is unknown."""
    entry = _ARM_PATHS.get(type_)
    if entry is None:
        return None
    template, _ = entry
    plain = unwrap_secrets(dict(inputs))
    values = {k: v for k, v in plain.items() if isinstance(v, str) and v != UNKNOWN}
    values["rg"] = f"/resourceGroups/{values.get('resourceGroupName', '')}"
    try:
        path = template.format(**values)
    except KeyError:
        return None
    return path if template.startswith("{scope}") else f"/subscriptions/{subscription}{path}"


def physical_name(type_: str, inputs: Mapping[str, Any]) -> str | None:
    """The resource's Azure name: the input its ARM path names it by."""
    entry = _ARM_PATHS.get(type_)
    value = unwrap_secrets(inputs.get(entry[1])) if entry else None
    return value if isinstance(value, str) and value != UNKNOWN else None


def arm_type(arm: str) -> str | None:
    """``Microsoft.Network/virtualNetworks/subnets`` of an ARM ID."""
    parts = [p for p in arm.split("/") if p]
    if "providers" not in parts:
        return "Microsoft.Resources/resourceGroups" if "resourceGroups" in parts else None
    at = len(parts) - 1 - parts[::-1].index("providers")
    rest = parts[at + 1 :]
    return "/".join([rest[0], *rest[1::2]]) if rest else None


def applied_outputs(type_: str, inputs: Mapping[str, Any], resource_id: str) -> dict[str, Any]:
    """What azure-native records after ``pulumi up`` creates or updates the resource: Azure's
    response in the SDK's output shape (see the module docstring)."""
    types = output_types(type_)
    if not types:
        return {**dict(inputs), "id": resource_id}
    out = _object(inputs, types, preview=False)
    out["id"] = resource_id
    name = physical_name(type_, inputs)
    if "name" in types and name is not None:
        out["name"] = name
    kind = arm_type(resource_id)
    if types.get("type") is str and kind is not None:  # storage.Blob's `type` is the blob type
        out["type"] = kind
    if "provisioningState" in types:
        out["provisioningState"] = "Succeeded"
    if "etag" in types:
        out["etag"] = f'W/"{uuid.uuid5(uuid.NAMESPACE_URL, resource_id)}"'
    version = api_version(type_)
    if version is not None:
        out["azureApiVersion"] = version
    identity = out.get("identity")
    if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
        # Azure creates the identity's service principal; derive a stable object ID for it.
        identity["principalId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id))
        identity["tenantId"] = TENANT
    return annotate_secrets(out, inputs)


# --- an import: what the engine makes of a resource that exists -----------------------------------
#
# pulumi/pulumi pkg/resource/deploy/step_generator.go and step.go: a registration with an import ID
# becomes an ImportStep, which calls the provider's Read (in a preview too). azure-native's Read of
# a resource with no old state (provider.go, Read) GETs it and returns ``outputs`` =
# ResponseBodyToSdkOutputs(response) and ``inputs`` = ResponseToSdkInputs(path items, response).
# The step generator then (continueStepsFromImport) copies every ``ignoreChanges`` property from
# those read inputs into the program's inputs (processIgnoreChanges: the old value where it has
# one, else the property is removed), runs Analyze on the result, and diffs it against the read
# inputs: no difference resolves the registration with the imported state (the read outputs);
# a difference is an update step, whose preview outputs azure-native's Update builds from the new
# inputs (PreviewOutputs plus the old name and location).


def flatten(resource: Mapping[str, Any]) -> dict[str, Any]:
    """An ARM resource body in the SDK's shape: ``properties`` lifted to the top, recursively
    (sub-resources such as subnets carry their own ``properties``)."""
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if key == "properties" and isinstance(value, Mapping):
            out.update(flatten(value))
        elif isinstance(value, Mapping):
            out[key] = flatten(value)
        elif isinstance(value, list):
            out[key] = [flatten(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


def path_parameters(type_: str, resource_id: str) -> dict[str, str]:
    """The path parameters (``resourceGroupName``, ``virtualNetworkName``...) in an ARM ID, read
    with the type's path template (what ``resources.ParseResourceID`` gives ResponseToSdkInputs)."""
    entry = _ARM_PATHS.get(type_)
    if entry is None:
        return {}
    template = entry[0].replace("{rg}", "/resourceGroups/{resourceGroupName}")
    if not template.startswith("{scope}"):
        template = "/subscriptions/{subscriptionId}" + template
    names = re.findall(r"{(\w+)}", template)
    pattern = "^" + re.sub(r"{\w+}", "([^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
    found = re.match(pattern, resource_id, flags=re.IGNORECASE)
    if found is None:
        return {}
    return {n: v for n, v in zip(names, found.groups(), strict=True) if n != "subscriptionId"}


def read_state(type_: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs, outputs) azure-native's Read returns for an existing resource whose ARM body (as
    ``GET`` returns it) is ``body``: the outputs in the SDK's output shape with the ARM ``id`` and
    the API version; the inputs the body's properties in the SDK's (flattened) shape, plus the path
    parameters its ID holds."""
    flat = flatten(body)
    resource_id = str(body.get("id", ""))
    types = output_types(type_)
    outputs = _object(flat, types, preview=False) if types else dict(flat)
    outputs["id"] = resource_id
    version = api_version(type_)
    if version is not None and types:
        outputs["azureApiVersion"] = version
    inputs = {k: v for k, v in flat.items() if k not in ("id", "etag", "type", "provisioningState")}
    inputs.pop("name", None)  # the resource's name is a path parameter, not a body input
    inputs.update(path_parameters(type_, resource_id))
    return inputs, outputs


def process_ignore_changes(news: Mapping[str, Any], olds: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """``processIgnoreChanges`` for top-level property paths: each ignored property takes the old
    (read) value, or is dropped when the old inputs have none."""
    out = dict(news)
    for path in paths:
        key = path.split(".", 1)[0].split("[", 1)[0]
        if key in olds:
            out[key] = olds[key]
        else:
            out.pop(key, None)
    return out


def _same(new: Any, old: Any) -> bool:
    """Whether the program's value ``new`` matches what Azure holds: objects key by key on the
    keys the program sets (Azure adds read-only fields the inputs do not have), lists item by item."""
    new, old = unwrap_secrets(new), unwrap_secrets(old)
    if isinstance(new, dict):
        return isinstance(old, dict) and all(_same(v, old.get(k)) for k, v in new.items() if v is not None)
    if isinstance(new, list):
        return (
            isinstance(old, list) and len(new) == len(old) and all(_same(a, b) for a, b in zip(new, old, strict=True))
        )
    if isinstance(new, str) and isinstance(old, str) and new.startswith("/subscriptions/"):
        return new.lower() == old.lower()  # ARM IDs compare without case
    return new == old


def import_changes(news: Mapping[str, Any], olds: Mapping[str, Any]) -> list[str]:
    """The properties the first update after an import would change (empty: the import is all)."""
    return sorted(k for k, v in news.items() if v is not None and v != UNKNOWN and not _same(v, olds.get(k)))


def stack_reference_outputs(name: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """A StackReference's state: what it read from the other stack (in preview too)."""
    return {"name": name, "outputs": dict(outputs), "secretOutputNames": []}


# --- the deployment as AnalyzeStack sees it --------------------------------------------------------


@dataclass
class EngineResource:
    """One resource of a deployment, as the engine describes it to a policy pack."""

    urn: str
    type: str
    properties: dict[str, Any]
    custom: bool = True
    parent: str = ""
    dependencies: list[str] = field(default_factory=list[str])
    property_dependencies: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    protect: bool = False
    delete_before_replace: bool | None = None
    custom_timeouts: dict[str, str] = field(default_factory=dict[str, str])
    provider: str = ""

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def stack_urn(stack: str, project: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


def default_provider_urn(stack: str, project: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{PROVIDER_TYPE}::default_{AZURE_NATIVE_VERSION.replace('.', '_')}"


def default_provider_id(stack: str) -> str:
    """A stable provider ID per stack (the engine uses a random UUID; stable keeps diffs quiet)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"expressroute-dr/{stack}/{AZURE_NATIVE}"))


def default_provider(stack: str, project: str) -> EngineResource:
    """The default azure-native provider: the engine registers it and counts it in the
    deployment (its state's inputs and outputs are the provider's config)."""
    props = {"version": AZURE_NATIVE_VERSION}
    return EngineResource(default_provider_urn(stack, project), PROVIDER_TYPE, props, parent="")


def outputs_for(type_: str, inputs: Mapping[str, Any], *, preview: bool, resource_id: str = "") -> dict[str, Any]:
    """A resource's outputs from its inputs: a create preview, or Azure's response after up."""
    if preview:
        return preview_outputs(type_, inputs)
    return applied_outputs(type_, inputs, resource_id or arm_id(type_, inputs) or f"/mock/{type_}")


def provider_ref(stack: str, project: str, *, preview: bool) -> str:
    """``<provider URN>::<ID>`` of the default provider (its ID is unknown in a preview)."""
    return f"{default_provider_urn(stack, project)}::{UNKNOWN if preview else default_provider_id(stack)}"
