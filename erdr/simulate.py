"""Run the real ``__main__.py`` under Pulumi's own mock runtime and record what it registers.

The mock monitor is Pulumi's (``pulumi.runtime.mocks.MockMonitor``); this module only listens to
the requests the SDK sends it, so each :class:`Registration` holds what the engine would receive:
type, name, parent, dependencies, inputs (camelCase, secrets and unknowns as sent), options.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import runpy
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from erdr.stackfiles import PROJECT_DIR, StackSettings
from policies.shared import names as T

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"

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


def arm_id(type_: str, inputs: Mapping[str, Any], subscription: str = SUBSCRIPTION) -> str | None:
    """The ARM ID Azure would give the resource, or None while an input it needs is unknown."""
    entry = _ARM_PATHS.get(type_)
    if entry is None:
        return None
    template, _ = entry
    values = {k: v for k, v in inputs.items() if isinstance(v, str) and v != UNKNOWN}
    values["rg"] = f"/resourceGroups/{values.get('resourceGroupName', '')}"
    try:
        path = template.format(**values)
    except KeyError:
        return None
    return path if template.startswith("{scope}") else f"/subscriptions/{subscription}{path}"


def physical_name(type_: str, inputs: Mapping[str, Any]) -> str | None:
    entry = _ARM_PATHS.get(type_)
    value = inputs.get(entry[1]) if entry else None
    return value if isinstance(value, str) and value != UNKNOWN else None


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    protect: bool
    delete_before_replace: bool
    import_id: str
    custom_timeouts: dict[str, str]
    ignore_changes: list[str]
    id: str = ""
    read: bool = False
    # The engine never deletes a retained resource from the cloud (destroy, replace, removal).
    retain_on_delete: bool = False
    provider: str = ""  # "<provider URN>::<ID>" when the resource names an explicit provider

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped (unknowns stay as the UNKNOWN sentinel)."""
        return unwrap_secrets(self.inputs)


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return unwrap_secrets(value.get("value"))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG


@dataclass
class SimResult:
    stack: str
    preview: bool
    resources: list[Registration] = field(default_factory=list[Registration])
    outputs: dict[str, Any] = field(default_factory=dict[str, Any])
    error: str | None = None
    logs: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    # (invoke token, args) of every provider function the program called
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list[tuple[str, dict[str, Any]]])

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> Registration:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)


def _flatten(resource: Mapping[str, Any]) -> dict[str, Any]:
    """An ARM resource body as azure-native's invokes return it: ``properties`` lifted to the top,
    recursively (sub-resources such as subnets carry their own ``properties``)."""
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if key == "properties" and isinstance(value, Mapping):
            out.update(_flatten(value))
        elif isinstance(value, Mapping):
            out[key] = _flatten(value)
        elif isinstance(value, list):
            out[key] = [_flatten(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = value
    return out


# Read-only lookups the program makes (invoke token -> ARM path template over the invoke's args).
_LOOKUPS: dict[str, str] = {
    "azure-native:network:getVirtualNetwork": (
        "/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}"
    ),
    "azure-native:network:getAzureFirewall": (
        "/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/azureFirewalls/{azureFirewallName}"
    ),
}


class _Mocks(mocks.Mocks):
    def __init__(
        self,
        preview: bool,
        peer_outputs: Mapping[str, Mapping[str, Any]],
        subscription: str,
        live: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.preview = preview
        self.peer_outputs = peer_outputs
        self.subscription = subscription
        # ARM ID (lower-case) -> ARM resource body: the estate read-only lookups see.
        self.live = {k.lower(): v for k, v in (live or {}).items()}
        # explicit provider name -> its subscription
        self.subscriptions: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def subscription_of(self, provider_ref: str | None) -> str:
        """The subscription a resource or lookup goes to: its explicit provider's, else the stack's."""
        if not provider_ref:
            return self.subscription
        urn = provider_ref.rsplit("::", 1)[0]
        return self.subscriptions.get(urn.rsplit("::", 1)[-1], self.subscription)

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == T.STACK_REFERENCE:
            name = str(inputs.get("name") or args.resource_id)
            if name not in self.peer_outputs:
                raise Exception(f"unknown stack reference {name!r} (the offline run knows {sorted(self.peer_outputs)})")
            return name, {"name": name, "outputs": dict(self.peer_outputs[name]), "secretOutputNames": []}
        if args.typ == T.PROVIDER:
            self.subscriptions[args.name] = str(inputs.get("subscriptionId") or self.subscription)
            return ("" if self.preview else f"{args.name}-id"), dict(inputs)
        state = dict(inputs)
        name = physical_name(args.typ, inputs)
        if name is not None:
            state["name"] = name
        if self.preview:
            # As in a real preview: computed outputs (the ID above all) are not known yet.
            return "", state
        rid = arm_id(args.typ, inputs, self.subscription_of(args.provider)) or f"/mock/{args.typ}/{args.name}"
        state["id"] = rid
        identity = inputs.get("identity")
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
            # Azure creates the identity's service principal; derive a stable object ID for it.
            principal = str(uuid.uuid5(uuid.NAMESPACE_URL, rid))
            state["identity"] = {**identity, "principalId": principal, "tenantId": TENANT}
        return rid, state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        if args.token in _LOOKUPS:
            subscription = self.subscription_of(args.provider)
            path = f"/subscriptions/{subscription}" + _LOOKUPS[args.token].format(**args.args)
            found = self.live.get(path.lower())
            if found is None:
                # What azure-native reports for a 404 from ARM.
                raise Exception(f'Status=404 Code="ResourceNotFound" Message="{path} was not found"')
            return _flatten(found), []
        if args.token == "azure-native:authorization:getClientConfig":
            return (
                {"subscriptionId": self.subscription, "tenantId": TENANT, "clientId": "mock", "objectId": "mock"},
                [],
            )
        if args.token == "azure-native:storage:listStorageAccountServiceSAS":
            # Deterministic, like the real one (an HMAC of the same fields with the same key).
            a = dict(args.args)
            fields = [str(a.get(k, "")) for k in ("canonicalizedResource", "permissions", "sharedAccessExpiryTime")]
            sig = hashlib.sha256("\n".join(fields).encode()).hexdigest()[:32]
            token = f"sv=2024-01-01&sr={a.get('resource', '')}&sp={fields[1]}&se={fields[2]}&sig=mock{sig}"
            return {"serviceSasToken": token}, []
        raise Exception(f"no mock for function {args.token}")


def _struct(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True) if message is not None else {}


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, m: mocks.Mocks, result: SimResult) -> None:
        super().__init__(m)
        self.result = result
        self.stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        timeouts = request.customTimeouts
        self.result.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                # The engine treats these as sets and the SDK sends them in the order its tasks
                # finish; sorted, two runs of one program compare equal.
                dependencies=sorted(request.dependencies),
                property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
                inputs=_struct(request.object),
                protect=bool(request.protect),
                delete_before_replace=bool(request.deleteBeforeReplace),
                import_id=request.importId,
                custom_timeouts={
                    k: v
                    for k, v in (("create", timeouts.create), ("update", timeouts.update), ("delete", timeouts.delete))
                    if v
                },
                ignore_changes=list(request.ignoreChanges),
                id=response.id,
                retain_on_delete=bool(request.retainOnDelete),
                provider=request.provider,
            )
        )
        return response

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        self.result.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=request.parent,
                dependencies=sorted(request.dependencies),
                property_dependencies={},
                inputs=_struct(request.properties),
                protect=False,
                delete_before_replace=False,
                import_id="",
                custom_timeouts={},
                ignore_changes=[],
                id=request.id,
                read=True,
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            self.result.outputs = _struct(request.outputs)
        return super().RegisterResourceOutputs(request)


class _LogCapture(logging.Handler):
    def __init__(self, result: SimResult) -> None:
        super().__init__(logging.DEBUG)
        self.result = result

    def emit(self, record: logging.LogRecord) -> None:
        self.result.logs.append((record.levelname.lower(), record.getMessage()))


def _run(
    settings_: StackSettings,
    preview: bool,
    peer_outputs: Mapping[str, Mapping[str, Any]],
    program: Path,
    subscription: str,
    live: Mapping[str, Mapping[str, Any]] | None = None,
) -> SimResult:
    result = SimResult(stack=settings_.stack, preview=preview)
    logger = logging.getLogger(f"erdr.simulate.{settings_.stack}.{id(result)}")
    logger.propagate = False
    logger.addHandler(_LogCapture(result))
    mocked = _Mocks(preview, peer_outputs, subscription, live)
    monitor = _RecordingMonitor(mocked, result)
    mock_settings = mocks.MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        engine=mocks.MockEngine(logger),
        project=settings_.project,
        stack=settings_.stack,
        dry_run=preview,
        organization="organization",
        callbacks=None,
        root_directory=str(program.parent),
        # MockSettings does not reset these; a failed earlier run would leave its tasks here.
        outputs=set(),
        lock=threading.Lock(),
        package_refs={},
        base_providers_by_ref={},
    )
    settings.configure(mock_settings)
    set_all_config(settings_.engine_config(), settings_.engine_secret_keys())
    if str(program.parent) not in sys.path:
        sys.path.insert(0, str(program.parent))
    loop = asyncio.new_event_loop()
    # The program's own error is reported once, in result.error; the same exception resurfacing
    # from every output that awaited it is noise, kept in the logs instead of printed.
    loop.set_exception_handler(lambda _loop, ctx: result.logs.append(("debug", str(ctx.get("message")))))
    asyncio.set_event_loop(loop)
    try:

        def program_body() -> None:
            runpy.run_path(str(program), run_name="__main__")

        loop.run_until_complete(run_in_stack(program_body))
    except Exception as exc:  # noqa: BLE001 - the program's own error is the result
        result.error = str(exc)
    finally:
        # A failed program leaves outputs waiting on each other; cancel them so the loop closes
        # quietly instead of printing "Task was destroyed but it is pending".
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    result.calls = mocked.calls
    return result


def simulate(
    stack: StackSettings,
    *,
    preview: bool = False,
    peer_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
    subscription: str = SUBSCRIPTION,
    live: Mapping[str, Mapping[str, Any]] | None = None,
) -> SimResult:
    """Run the program once for ``stack`` (deployed to ``subscription`` of the mock tenant),
    isolated from any other run in this process.

    ``live``: ARM ID -> ARM resource body (as ``GET`` returns it) that the program's read-only
    lookups (``network.get_virtual_network`` ...) find; anything else answers 404.
    """
    ctx = contextvars.Context()
    run: Callable[[], SimResult] = lambda: _run(stack, preview, peer_outputs or {}, program, subscription, live)  # noqa: E731
    return ctx.run(run)
