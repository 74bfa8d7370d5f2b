"""Conformance oracle: the ARM request each registered resource becomes, checked against
Microsoft's own generated Python SDKs for the service and API version azure-native v3 uses.

How an azure-native resource becomes a request (pulumi/pulumi-azure-native, provider/pkg):

- ``provider/provider.go`` Create/Update: ``prepareAzureRESTInputs(res.Path, res.PutParameters, inputs)``,
  then a PUT (PATCH only where the API has no PUT) of the body to the path; Delete: ``azureDelete``, an
  HTTP DELETE of the resource ID, unless the resource is retained (the engine then never calls it).
- ``resources/resources.go`` AzureAPIParameter: every PUT parameter is ``path``, ``query`` or ``body``;
  path parameters are the ``{placeholders}`` of the resource path and appear as inputs of the same name.
- ``resources/resources.go`` AzureAPIProperty.Containers and ``gen/properties.go``: a property marked
  ``x-ms-client-flatten`` in the OpenAPI spec is flattened into its parent; the body nests it again
  under its container (``routingWeight`` -> ``properties.routingWeight``). A location-bearing body
  without ``location`` gets the resource group's (``AutoLocationDisabled``).

Microsoft's generators flatten the same ``x-ms-client-flatten`` properties: msrest-style models keep
the container in the ``_attribute_map`` key (``properties.routingWeight``), TypeSpec-style models list
them in ``__flattened_items`` of the parent. So a model knows both the SDK's flat names and the wire
shape, and checks the body: no property the model lacks, no read-only property, every required one,
enum values it knows, the discriminator's subtype. Its request builders (``build_*_request``) give the
operations the service has: HTTP method and URL template per API version.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import importlib.util
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erdr.simulate import Registration
from policies.shared import names as T
from tests import session_cache

# --- which Microsoft package, model and path stand for each azure-native type ---------------


@dataclass(frozen=True)
class Api:
    """One API version of a resource as a Microsoft SDK package knows it."""

    models: str  # module of the generated models
    operations: str  # package whose *_operations.py hold the request builders
    body: str  # model of the PUT body
    path: str  # the resource path (the OpenAPI path of its PUT)


@dataclass(frozen=True)
class Surface:
    """An azure-native resource type and the Microsoft API version(s) that check it."""

    native_version: str  # what azure-native v3 sends (its SDK docstring: "Uses Azure REST API version")
    apis: tuple[Api, ...]
    # Why the check holds where the Microsoft package carries another API version.
    version_note: str = ""


_SUB = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
_NET = "azure.mgmt.network"
_ASR = "azure.mgmt.recoveryservicessiterecovery"
_AA = "azure.mgmt.automation"
_ST = "azure.mgmt.storage"
_VAULT = _SUB + "Microsoft.RecoveryServices/vaults/{resourceName}"
_ASR_NOTE = (
    "azure-mgmt-recoveryservicessiterecovery has no 2024-10-01 build: 1.2.0 is 2023-08-01 and 1.3.0 "
    "(installed) 2025-01-01. The models the bodies use are not in 1.3.0's changelog "
    "(test_site_recovery_models_did_not_change_across_the_gap), so 2023-08-01 and 2025-01-01 agree on "
    "them and 2024-10-01, between the two, does too."
)


def _net(body: str, path: str) -> Surface:
    return Surface("2024-05-01", (Api(f"{_NET}.models", f"{_NET}.operations", body, _SUB + path),))


def _asr(body: str, path: str) -> Surface:
    return Surface(
        "2024-10-01", (Api(f"{_ASR}.models", f"{_ASR}.operations", body, _VAULT + path),), version_note=_ASR_NOTE
    )


def _aa(body: str, path: str) -> Surface:
    account = "Microsoft.Automation/automationAccounts/{automationAccountName}"
    return Surface("2024-10-23", (Api(f"{_AA}.models", f"{_AA}.operations", body, _SUB + account + path),))


def _st(body: str, path: str) -> Surface:
    account = "Microsoft.Storage/storageAccounts/{accountName}"
    return Surface("2024-01-01", (Api(f"{_ST}.models", f"{_ST}.operations", body, _SUB + account + path),))


PROTECTION_CONTAINER = "Microsoft.RecoveryServices/replicationProtectionContainers"

SURFACES: dict[str, Surface] = {
    T.RESOURCE_GROUP: Surface(
        "2024-03-01",
        tuple(
            Api(
                f"azure.mgmt.resource.resources.{v}.models",
                f"azure.mgmt.resource.resources.{v}.operations",
                "ResourceGroup",
                "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}",
            )
            for v in ("v2022_09_01", "v2024_07_01")
        ),
        version_note="azure-mgmt-resource skips 2024-03-01; the body passes both neighbours, "
        "2022-09-01 and 2024-07-01.",
    ),
    T.VNET: _net("VirtualNetwork", "Microsoft.Network/virtualNetworks/{virtualNetworkName}"),
    T.SUBNET: _net("Subnet", "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}"),
    T.PEERING: _net(
        "VirtualNetworkPeering",
        "Microsoft.Network/virtualNetworks/{virtualNetworkName}/virtualNetworkPeerings/{virtualNetworkPeeringName}",
    ),
    T.ROUTE_TABLE: _net("RouteTable", "Microsoft.Network/routeTables/{routeTableName}"),
    T.NSG: _net("NetworkSecurityGroup", "Microsoft.Network/networkSecurityGroups/{networkSecurityGroupName}"),
    T.PUBLIC_IP: _net("PublicIPAddress", "Microsoft.Network/publicIPAddresses/{publicIpAddressName}"),
    T.GATEWAY: _net("VirtualNetworkGateway", "Microsoft.Network/virtualNetworkGateways/{virtualNetworkGatewayName}"),
    T.CONNECTION: _net(
        "VirtualNetworkGatewayConnection", "Microsoft.Network/connections/{virtualNetworkGatewayConnectionName}"
    ),
    T.FIREWALL: _net("AzureFirewall", "Microsoft.Network/azureFirewalls/{azureFirewallName}"),
    T.FIREWALL_POLICY: _net("FirewallPolicy", "Microsoft.Network/firewallPolicies/{firewallPolicyName}"),
    T.VAULT: Surface(
        "2024-10-01",
        (
            Api(
                "azure.mgmt.recoveryservices.models",
                "azure.mgmt.recoveryservices.operations",
                "Vault",
                _SUB + "Microsoft.RecoveryServices/vaults/{vaultName}",
            ),
        ),
        version_note="azure-mgmt-recoveryservices 3.0.0 is 2024-04-01 and 3.1.0 (installed) 2025-02-01; "
        "3.1.0's changelog only adds SecuritySettings.source_scan_configuration, which the vault does not send.",
    ),
    T.FABRIC: _asr("FabricCreationInput", "/replicationFabrics/{fabricName}"),
    PROTECTION_CONTAINER: _asr(
        "CreateProtectionContainerInput",
        "/replicationFabrics/{fabricName}/replicationProtectionContainers/{protectionContainerName}",
    ),
    T.REPLICATION_POLICY: _asr("CreatePolicyInput", "/replicationPolicies/{policyName}"),
    T.CONTAINER_MAPPING: _asr(
        "CreateProtectionContainerMappingInput",
        "/replicationFabrics/{fabricName}/replicationProtectionContainers/{protectionContainerName}"
        "/replicationProtectionContainerMappings/{mappingName}",
    ),
    T.NETWORK_MAPPING: _asr(
        "CreateNetworkMappingInput",
        "/replicationFabrics/{fabricName}/replicationNetworks/{networkName}/replicationNetworkMappings/{networkMappingName}",
    ),
    T.RECOVERY_PLAN: _asr("CreateRecoveryPlanInput", "/replicationRecoveryPlans/{recoveryPlanName}"),
    T.AUTOMATION_ACCOUNT: _aa("AutomationAccountCreateOrUpdateParameters", ""),
    T.RUNBOOK: _aa("RunbookCreateOrUpdateParameters", "/runbooks/{runbookName}"),
    T.AUTOMATION_VARIABLE: _aa("VariableCreateOrUpdateParameters", "/variables/{variableName}"),
    T.RUNTIME_ENVIRONMENT: _aa("RuntimeEnvironment", "/runtimeEnvironments/{runtimeEnvironmentName}"),
    T.STORAGE_ACCOUNT: _st("StorageAccountCreateParameters", ""),
    T.BLOB_CONTAINER: _st("BlobContainer", "/blobServices/default/containers/{containerName}"),
    T.ROLE_DEFINITION: Surface(
        "2022-05-01-preview",
        (
            Api(
                "azure.mgmt.authorization.v2022_05_01_preview.models",
                "azure.mgmt.authorization.v2022_05_01_preview.operations",
                "RoleDefinition",
                "/{scope}/providers/Microsoft.Authorization/roleDefinitions/{roleDefinitionId}",
            ),
        ),
    ),
    T.ROLE_ASSIGNMENT: Surface(
        "2022-04-01",
        (
            Api(
                "azure.mgmt.authorization.v2022_04_01.models",
                "azure.mgmt.authorization.v2022_04_01.operations",
                "RoleAssignmentCreateParameters",
                "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}",
            ),
        ),
    ),
}

# Registered, but no ARM request of their own.
NOT_ARM: dict[str, str] = {
    # azure-native's custom resource writes the blob through the Storage data plane
    # (provider/pkg/resources/customresources/custom_storage.go), not through ARM.
    T.BLOB: "Storage data plane (azure-native custom resource), not an ARM resource",
    T.STACK_REFERENCE: "Pulumi engine resource",
    # One explicit azure-native provider per subscription named in a placement (program/estate.py).
    T.PROVIDER: "Pulumi provider instance, configured locally; no request of its own",
}

# azure-native inputs of the generic resource that name its path and API version.
_GENERIC_INPUTS = ("resourceProviderNamespace", "parentResourcePath", "resourceType", "resourceName", "apiVersion")


# --- the models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    attr: str  # the model's Python attribute
    path: tuple[str, ...]  # wire keys inside the model's JSON (containers first)
    hint: Any  # the attribute's type: str, int, bool, a model class, an Enum, list[...], dict[...]
    required: bool
    readonly: bool


def _is_msrest(cls: type) -> bool:
    return hasattr(cls, "_attribute_map")


def _models_module(cls: type) -> types.ModuleType:
    return importlib.import_module(cls.__module__.rsplit(".", 1)[0])


def _resolve_string_type(type_str: str, cls: type) -> Any:
    """An msrest ``_attribute_map`` type (``str``, ``[SubResource]``, ``{str}``) as a hint."""
    if type_str.startswith("[") and type_str.endswith("]"):
        return list[_resolve_string_type(type_str[1:-1], cls)]
    if type_str.startswith("{") and type_str.endswith("}"):
        return dict[str, _resolve_string_type(type_str[1:-1], cls)]
    simple = {"str": str, "int": int, "long": int, "bool": bool, "float": float, "object": Any}
    if type_str in simple:
        return simple[type_str]
    model = getattr(_models_module(cls), type_str, None)
    return model if model is not None else str  # dates, durations and the like travel as strings


def _hints(target: Any, cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    namespace = {**vars(module), "_models": _models_module(cls)}
    try:
        return typing.get_type_hints(target, globalns=namespace)
    except Exception:  # noqa: BLE001 - a hint the generator left unresolvable: fall back to the map
        return {}


@functools.cache
def fields(cls: type) -> tuple[Field, ...]:
    """The model's fields with their wire paths, for both of Microsoft's generators."""
    out: list[Field] = []
    if _is_msrest(cls):
        init_hints = _hints(cls.__init__, cls)
        validation: dict[str, dict[str, Any]] = getattr(cls, "_validation", {})
        for attr, spec in cls._attribute_map.items():  # type: ignore[attr-defined]
            path = tuple(part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", spec["key"]))
            hint = init_hints.get(attr) or _resolve_string_type(spec["type"], cls)
            rules = validation.get(attr, {})
            out.append(Field(attr, path, hint, bool(rules.get("required")), bool(rules.get("readonly"))))
        return tuple(out)
    hints = _hints(cls, cls)
    flattened: list[str] = getattr(cls, f"_{cls.__name__}__flattened_items", [])
    for attr, rest in _rest_fields(cls).items():
        hint = hints.get(attr, Any)
        optional = type(None) in typing.get_args(hint)
        readonly = list(rest._visibility or []) == ["read"]
        out.append(Field(attr, (rest._rest_name,), hint, not optional and not readonly, readonly))
    # TypeSpec models keep the container as a field and list what the SDK flattens out of it.
    for container in [f for f in out if _model_of(f.hint) is not None]:
        inner = _model_of(container.hint)
        assert inner is not None
        for f in fields(inner):
            if f.attr in flattened:
                out.append(Field(f.attr, (*container.path, *f.path), f.hint, f.required, f.readonly))
    return tuple(out)


def _rest_fields(cls: type) -> dict[str, Any]:
    """A TypeSpec model's attribute -> rest field map (the model computes it on first use)."""
    cls.__new__(cls)  # type: ignore[call-overload]
    return cls._attr_to_rest_field  # type: ignore[attr-defined]


def _unwrap(hint: Any) -> Any:
    """``Optional[X]`` -> X; ``Union[str, SomeEnum]`` -> SomeEnum."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums:
            return enums[0]
        non_str = [a for a in args if a is not str]
        return _unwrap(non_str[0]) if len(args) > 1 and non_str else _unwrap(args[0])
    return hint


def _model_of(hint: Any) -> type | None:
    hint = _unwrap(hint)
    if isinstance(hint, type) and (hasattr(hint, "_attribute_map") or hasattr(hint, "_calculated")):
        return hint
    return None


def _subtype(cls: type, value: Mapping[str, Any]) -> type:
    """The subclass a discriminator value selects (msrest ``_subtype_map``, TypeSpec ``__mapping__``)."""
    if _is_msrest(cls):
        # Only the class's own map: subclasses inherit their base's.
        for attr, mapping in cls.__dict__.get("_subtype_map", {}).items():
            key = cls._attribute_map[attr]["key"]  # type: ignore[attr-defined]
            name = mapping.get(value.get(key))
            if name is not None and name != cls.__name__:
                return _subtype(getattr(_models_module(cls), name), value)
        return cls
    mapping = getattr(cls, "__mapping__", {})
    for rest in _rest_fields(cls).values():
        if getattr(rest, "_is_discriminator", False) and value.get(rest._rest_name) in mapping:
            return mapping[value[rest._rest_name]]
    return cls


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _field_for_input(cls: type, name: str) -> Field | None:
    """The field an azure-native input name stands for (its wire name, or the SDK's own name)."""
    # azure-native names are lowerCamel (x-ms-client-name, else the wire name): a snake_case key is
    # the Python SDK's spelling, which reaches Azure unchanged and unknown.
    for f in fields(cls):
        if f.path[-1].lower() == name.lower() or ("_" not in name and f.attr == _snake(name)):
            return f
    # The ARM `properties` bag: the OpenAPI specs mark it x-ms-client-flatten and azure-native
    # flattens it, while the TypeSpec generator does not always list it in __flattened_items
    # (automation's RuntimeEnvironment 2024-10-23).
    bag = next((f for f in fields(cls) if f.path == ("properties",)), None)
    inner = _model_of(bag.hint) if bag is not None and not _is_msrest(cls) else None
    if bag is not None and inner is not None:
        found = _field_for_input(inner, name)
        if found is not None:
            return Field(found.attr, (*bag.path, *found.path), found.hint, found.required, found.readonly)
    return None


# --- inputs -> request ------------------------------------------------------------------------


@dataclass
class Request:
    type: str
    urn: str
    api: Api
    path_params: dict[str, str]
    body: dict[str, Any]
    problems: list[str] = field(default_factory=list[str])


def _place(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _to_wire(hint: Any, value: Any, where: str, problems: list[str]) -> Any:
    """An azure-native input value -> the JSON the request carries (containers restored)."""
    hint = _unwrap(hint)
    model = _model_of(hint)
    if model is not None and isinstance(value, Mapping):
        return _object_to_wire(_subtype(model, value), value, where, problems)
    origin = typing.get_origin(hint)
    if origin in (list, Sequence) and isinstance(value, list):
        (item,) = typing.get_args(hint) or (Any,)
        return [_to_wire(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        item = typing.get_args(hint)[-1] if typing.get_args(hint) else Any
        return {k: _to_wire(item, v, f"{where}.{k}", problems) for k, v in value.items()}
    return value


def _object_to_wire(cls: type, value: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    # A discriminated input names its subtype by its wire value; match it by wire name first.
    wire_value = {}
    for name, item in value.items():
        f = _field_for_input(cls, name)
        if f is None:
            problems.append(f"{where}.{name}: {cls.__name__} has no such property")
            continue
        _place(wire_value, f.path, _to_wire(f.hint, item, f"{where}.{name}", problems))
    return wire_value


def _concrete_path(registration: Registration) -> tuple[str, dict[str, Any]]:
    """(type the oracle checks, inputs with the generic resource's path spelled out)."""
    inputs = dict(registration.plain_inputs)
    if registration.type != T.GENERIC_RESOURCE:
        return registration.type, inputs
    kind = f"{inputs['resourceProviderNamespace']}/{inputs['resourceType']}"
    if kind != PROTECTION_CONTAINER:
        raise KeyError(f"no oracle surface for generic resource {kind}")
    # parentResourcePath = vaults/<vault>/replicationFabrics/<fabric>
    _, vault, _, fabric = str(inputs["parentResourcePath"]).split("/")
    path = {"resourceName": vault, "fabricName": fabric, "protectionContainerName": inputs["resourceName"]}
    body = {k: v for k, v in inputs.items() if k not in (*_GENERIC_INPUTS, "resourceGroupName")}
    return kind, {**body, **path, "resourceGroupName": inputs["resourceGroupName"]}


def placeholders(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def requests_for(registration: Registration) -> list[Request]:
    """The PUT each of the resource's Microsoft API versions would receive from azure-native."""
    kind, inputs = _concrete_path(registration)
    surface = SURFACES[kind]
    out: list[Request] = []
    for api in surface.apis:
        problems: list[str] = []
        body_cls = getattr(importlib.import_module(api.models), api.body)
        params = {p: inputs[p] for p in placeholders(api.path) if p in inputs}
        missing = [p for p in placeholders(api.path) if p not in inputs and p != "subscriptionId"]
        problems += [f"path parameter {p} is not an input" for p in missing]
        body_inputs = {k: v for k, v in inputs.items() if k not in params}
        cls = _subtype(body_cls, body_inputs)
        if _field_for_input(cls, "location") is not None and "location" not in body_inputs:
            body_inputs["location"] = "<the resource group's location>"  # azure-native's auto-location
        body = _object_to_wire(cls, body_inputs, registration.name, problems)
        out.append(Request(kind, registration.urn, api, params, body, problems))
    return out


# --- checking a body against the model --------------------------------------------------------


def _enum_values(hint: Any) -> set[str] | None:
    hint = _unwrap(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {str(m.value).lower() for m in hint}
    return None


def _primitive_ok(hint: Any, value: Any) -> bool:
    hint = _unwrap(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        # Numbers cross the engine as doubles (protobuf Struct); an integer field needs a whole one.
        return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str or _enum_values(hint) is not None:
        return isinstance(value, str)
    return True


def check_body(cls: type, body: Any, where: str = "body", seen: set[str] | None = None) -> list[str]:
    """Every way ``body`` departs from the model (empty when it conforms); ``seen`` collects the
    names of the models the body touched."""
    if not isinstance(body, Mapping):
        return [f"{where}: expected an object for {cls.__name__}, got {type(body).__name__}"]
    cls = _subtype(cls, body)
    if seen is not None:
        seen.update(c.__name__ for c in cls.__mro__ if c.__module__.rsplit(".", 1)[-1] in ("_models", "_models_py3"))
    problems: list[str] = []
    known: dict[tuple[str, ...], Field] = {f.path: f for f in fields(cls)}
    containers = {f.path[:i] for f in known.values() for i in range(1, len(f.path))}

    def walk(node: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in node.items():
            path = (*prefix, key)
            here = f"{where}.{'.'.join(path)}"
            if path in known:
                problems.extend(_check_value(known[path], value, here, seen))
            elif path in containers and isinstance(value, Mapping):
                walk(value, path)
            else:
                problems.append(f"{here}: {cls.__name__} defines no such property")

    walk(body, ())
    for f in known.values():
        if f.required and not f.readonly and _lookup(body, f.path) is _MISSING:
            problems.append(f"{where}.{'.'.join(f.path)}: required by {cls.__name__}, not sent")
    return problems


_MISSING = object()


def _lookup(node: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _check_value(f: Field, value: Any, where: str, seen: set[str] | None = None) -> list[str]:
    if f.readonly:
        return [f"{where}: read-only ({f.attr}); Azure ignores or refuses it"]
    if value is None:
        return []
    hint = _unwrap(f.hint)
    model = _model_of(hint)
    if model is not None:
        return check_body(model, value, where, seen)
    origin = typing.get_origin(hint)
    if origin in (list, Sequence):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        (item,) = typing.get_args(hint) or (Any,)
        sub = Field(f.attr, f.path, item, False, False)
        return [p for i, v in enumerate(value) for p in _check_value(sub, v, f"{where}[{i}]", seen)]
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            return [f"{where}: expected an object"]
        item = typing.get_args(hint)[-1] if typing.get_args(hint) else Any
        sub = Field(f.attr, f.path, item, False, False)
        return [p for k, v in value.items() for p in _check_value(sub, v, f"{where}.{k}", seen)]
    if not _primitive_ok(hint, value):
        return [f"{where}: {value!r} is not a {getattr(hint, '__name__', hint)}"]
    allowed = _enum_values(hint)
    if allowed is not None and str(value).lower() not in allowed:
        return [f"{where}: {value!r} is not one of {sorted(allowed)}"]
    return []


# --- the operations the service has -----------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    url: str
    api_version: str
    builder: str


def normalise(url: str) -> str:
    """Placeholders kept, literal segments case-folded (ARM paths are case-insensitive)."""
    return "/".join(p if p.startswith("{") else p.lower() for p in url.strip("/").split("/"))


@functools.cache
def operations(package: str) -> tuple[Operation, ...]:
    """Every request builder in the package's operations modules: method, URL template, API version.

    Read once per test run (tests/session_cache.py)."""
    return session_cache.once(f"operations-{package}", lambda: _read_operations(package))


_BUILDER = re.compile(r"^def build_\w+\(", re.MULTILINE)
_NEXT_TOP_LEVEL = re.compile(r"^(?:def |async def |class |@)", re.MULTILINE)


def builder_sources(text: str) -> str:
    """The module-level ``def build_*`` functions of an operations module, each from its ``def`` to
    the next module-level ``def``, ``class`` or decorator, and nothing else. The builders are a
    small part of each module (the network package's one module is 4.3 MB, mostly operation classes),
    and parsing only the builders takes about a third of the time (~1 s instead of ~2.8 s a run)."""
    chunks = []
    for start in _BUILDER.finditer(text):
        end = _NEXT_TOP_LEVEL.search(text, start.end())
        chunks.append(text[start.start() : end.start() if end else len(text)])
    return "\n".join(chunks)


def _builders(source: Path) -> list[ast.FunctionDef]:
    text = source.read_text()
    try:
        tree = ast.parse(builder_sources(text))
    except SyntaxError:  # a builder that does not end where a module-level statement starts
        tree = ast.parse(text)
    return _builder_defs(tree)


def _builder_defs(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("build_")]


def _read_operations(
    package: str, builders: Callable[[Path], list[ast.FunctionDef]] = _builders
) -> tuple[Operation, ...]:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module named {package!r}")
    folder = Path(spec.origin).parent
    out: list[Operation] = []
    for source in sorted(folder.glob("_*operations.py")):
        for node in builders(source):
            strings = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            url = next((s for s in strings if s.startswith("/") and "{" in s), None)
            version = next((s for s in strings if re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", s)), "")
            method = next(
                (
                    kw.value.value
                    for call in ast.walk(node)
                    if isinstance(call, ast.Call)
                    for kw in call.keywords
                    if kw.arg == "method" and isinstance(kw.value, ast.Constant)
                ),
                None,
            )
            if url and method:
                out.append(Operation(str(method), url, version, node.name))
    return tuple(out)


def whole_module_builders(source: Path) -> list[ast.FunctionDef]:
    """The builders found by parsing the whole module: what :func:`builder_sources` must agree with."""
    return _builder_defs(ast.parse(source.read_text()))


@functools.cache
def _operations_by_path(package: str) -> dict[str, dict[str, Operation]]:
    """Normalised path -> HTTP method -> operation, indexed once per package (a resource's lookup
    used to normalise every one of the package's URLs: ~900,000 calls a test session)."""
    index: dict[str, dict[str, Operation]] = {}
    for op in operations(package):
        index.setdefault(normalise(op.url), {})[op.method] = op
    return index


def operations_on(api: Api) -> dict[str, Operation]:
    """HTTP method -> the operation on the resource's own path."""
    return dict(_operations_by_path(api.operations).get(normalise(api.path), {}))


def lifecycle_problems(registration: Registration, kind: str) -> list[str]:
    """Operations the engine would call that the service does not have."""
    problems: list[str] = []
    for api in SURFACES[kind].apis:
        ops = operations_on(api)
        if "PUT" not in ops and "PATCH" not in ops:
            problems.append(f"{registration.name}: {api.path} has no PUT or PATCH in {api.operations}")
        if "GET" not in ops:
            problems.append(f"{registration.name}: {api.path} has no GET (refresh and import read it)")
        if "DELETE" not in ops and not registration.retain_on_delete:
            others = sorted(
                op.url.rsplit("/", 1)[-1] for op in operations(api.operations) if op.url.startswith(api.path)
            )
            problems.append(
                f"{registration.name}: {api.path} has no DELETE ({', '.join(m for m in sorted(ops))}; "
                f"removal is another operation: {others}); destroy or replace would fail: retain it on delete"
            )
    return problems


def conformance_problems(registration: Registration, seen: set[str] | None = None) -> list[str]:
    """Everything the oracle finds wrong with one registered resource."""
    if registration.type in NOT_ARM or not registration.custom:
        return []
    problems: list[str] = []
    for request in requests_for(registration):
        problems += request.problems
        body_cls = getattr(importlib.import_module(request.api.models), request.api.body)
        problems += check_body(body_cls, request.body, registration.name, seen)
    kind, _ = _concrete_path(registration)
    problems += lifecycle_problems(registration, kind)
    return problems


def iter_checked(registrations: Sequence[Registration]) -> Iterator[Registration]:
    """The registrations the oracle checks (custom resources that are ARM resources)."""
    return (r for r in registrations if r.custom and r.type not in NOT_ARM)
