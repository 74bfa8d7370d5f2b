"""Describe the production network that already exists, as this program's config.

    python -m erdr.discover --hub-id /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<hub> \\
        --target-region southeastasia [--secondary-circuit <circuit ID>] [--mode adopted|external|managed] \\
        [--out FILE] [--stacks-dir DIR] [--arm-endpoint URL]

It reads the live network through the pipeline of Microsoft's SDK (``azure-identity``'s
``DefaultAzureCredential``, ``azure-mgmt-network``'s client: bearer token, retries after
``Retry-After``, the timeouts and token guard of :mod:`erdr.arm`) and reads each answer itself
(:class:`Arm`: JSON of the expected shape, pages that stay on the endpoint and end): the hub's address space and subnets, its GatewaySubnet,
the next hop (Azure Firewall in ``AzureFirewallSubnet``, or the appliance the UDRs point at), every
peered spoke in whatever subscription it lives in, their subnets, route tables and service
endpoints, the ExpressRoute gateway, its connections, their circuits and routing weights.

It writes (YAML on stdout, or ``--out FILE``):

- ``config``: ``regions``, ``layout`` (with each VNet's placement), ``circuits``, ``topology``,
  ``gateway``, ``resourceGroupNames`` and ``source`` (mode, and for ``adopted``
  the resource IDs to import and the existing route names), in Pulumi.yaml's project-config form;
- ``discovered``: the resource IDs it read, by role;
- ``notModelled``: what it found that the program does not model (VPN gateways, the Route Server
  and Bastion in their subnets, which the layout holds by their services' rules, private endpoints,
  NAT gateways, DNS servers...), so nothing is silently dropped; ``differences``: where the estate differs from what
  the program would declare (an adopted first ``up`` would change these);
- ``problems``: what it could not read (a 403 on one landing-zone subscription), the rest still
  described.

``--stacks-dir DIR`` also writes ``DIR/Pulumi.prod.yaml`` and ``DIR/Pulumi.dr.yaml`` with the whole
config, ready for ``python -m erdr.plan --stacks-dir DIR``, and beside them ``DIR/observed-state.json``:
every resource as ARM returned it (ID -> body, ``properties`` nested, read-only values kept; the
subnets and peerings of each VNet under their own IDs). The offline plan reads it as the import
step's Read (and as the live network an ``external`` dr stack checks), so its verdicts on adopted
resources are the ones a real preview gives (docs/estates.md).

``--arm-endpoint URL`` reads another ARM endpoint (a sovereign cloud, a recorded or fake one) with
the bearer token in ``ERDR_ARM_TOKEN``; plain ``http://`` is accepted for loopback addresses only.

Exit codes: 0 described; 1 described, but something could not be read (see ``problems``);
2 nothing written (bad arguments, the hub unreadable, or any answer malformed: not JSON, a
resource without ``id``/``name``, a field of the wrong type, a list whose ``nextLink`` repeats,
leaves the endpoint or runs past 200 pages; the message names the resource).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import yaml
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.network import NetworkManagementClient

from erdr.arm import (
    ARM_ENDPOINT,
    CALL_TIMEOUTS,
    TOKEN_ENV,
    ArmEndpointError,
    ArmRefused,
    check_endpoint,
    client_options,
    credential_for,
    describe_error,
    origin,
)
from model.identity import Logical, ResourceId
from model.naming import RESOURCE_GROUPS, TargetNaming
from policies.shared import azure_facts
from policies.shared.addrspace import parse_address, parse_prefix
from policies.shared.names import (
    AZURE_FIREWALL_SUBNET,
    DEFAULT_ROUTE,
    GATEWAY_SUBNET,
    NAMESPACE,
    STORAGE_ENDPOINT,
)
from policies.shared.service_subnets import RouteRule, service_subnet

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


class DiscoverError(Exception):
    """Nothing could be described; the message says what to fix."""


# --- reading ARM ---------------------------------------------------------------------------------

API_VERSION = "2024-05-01"  # what azure-mgmt-network 28.1.0 sends for these operations (and azure-native v3 uses)
MAX_PAGES = 200  # of one list: a VNet has at most 500 peerings (Azure's limit), ARM pages them by the hundred


def parse_id(arm_id: str) -> dict[str, str]:
    """{"subscription", "group", "type" (last resource type, lower-case), "name"} of an ARM ID."""
    parts = [p for p in arm_id.split("/") if p]
    lower = [p.lower() for p in parts]
    out = {
        "subscription": parts[lower.index("subscriptions") + 1] if "subscriptions" in lower[:-1] else "",
        "group": parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower[:-1] else "",
        "name": parts[-1] if parts else "",
        "type": lower[-2] if len(parts) >= 2 else "",
    }
    return out


def _props(body: Mapping[str, Any]) -> dict[str, Any]:
    return dict(body.get("properties") or {})


def _ref(value: object) -> str:
    return str(value.get("id", "")) if isinstance(value, Mapping) else ""


# What the walk reads of each answer, and its JSON type: anything else is a malformed answer.
# {"__named__": True}: the object must carry "id" and "name" (a resource or a child resource).
_REF: dict[str, Any] = {"id": str}
_SUBNET: dict[str, Any] = {
    "__named__": True,
    "id": str,
    "name": str,
    "properties": {
        "addressPrefix": str,
        "routeTable": _REF,
        "networkSecurityGroup": _REF,
        "natGateway": _REF,
        "delegations": [{"name": str, "properties": {"serviceName": str}}],
        "privateEndpoints": [_REF],
        "serviceEndpoints": [{"service": str}],
        "ipConfigurations": [_REF],
    },
}
_IP_CONFIGS: list[Any] = [{"id": str, "properties": {"publicIPAddress": _REF, "privateIPAddress": str}}]
SHAPES: dict[str, dict[str, Any]] = {
    "virtualnetworks": {
        "__named__": True,
        "id": str,
        "name": str,
        "location": str,
        "properties": {
            "addressSpace": {"addressPrefixes": [str]},
            "dhcpOptions": {"dnsServers": [str]},
            "subnets": [_SUBNET],
        },
    },
    "virtualnetworkpeerings": {
        "__named__": True,
        "id": str,
        "name": str,
        "properties": {
            "remoteVirtualNetwork": _REF,
            "remoteAddressSpace": {"addressPrefixes": [str]},
            "allowGatewayTransit": bool,
            "allowForwardedTraffic": bool,
            "useRemoteGateways": bool,
        },
    },
    "routetables": {
        "__named__": True,
        "id": str,
        "name": str,
        "properties": {
            "disableBgpRoutePropagation": bool,
            "routes": [
                {
                    "__named__": True,
                    "id": str,
                    "name": str,
                    "properties": {"addressPrefix": str, "nextHopType": str, "nextHopIpAddress": str},
                }
            ],
        },
    },
    "virtualnetworkgateways": {
        "__named__": True,
        "id": str,
        "name": str,
        "sku": {"name": str},
        "properties": {"gatewayType": str, "ipConfigurations": _IP_CONFIGS, "sku": {"name": str}},
    },
    "connections": {
        "__named__": True,
        "id": str,
        "name": str,
        "properties": {"connectionType": str, "peer": _REF, "routingWeight": int},
    },
    "expressroutecircuits": {
        "__named__": True,
        "id": str,
        "name": str,
        "sku": {"tier": str, "family": str},
        "properties": {
            "serviceProviderProperties": {"peeringLocation": str, "bandwidthInMbps": int},
            "bandwidthInGbps": (int, float),
        },
    },
    "publicipaddresses": {
        "__named__": True,
        "id": str,
        "name": str,
        "sku": {"name": str, "tier": str},
        "properties": {"publicIPAllocationMethod": str, "ipAddress": str},
    },
    "networksecuritygroups": {
        "__named__": True,
        "id": str,
        "name": str,
        "properties": {"securityRules": [{"__named__": True, "id": str, "name": str, "properties": dict}]},
    },
    "azurefirewalls": {
        "__named__": True,
        "id": str,
        "name": str,
        "properties": {"ipConfigurations": _IP_CONFIGS, "sku": {"tier": str}, "firewallPolicy": _REF},
    },
}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a number", dict: "an object", list: "a list"}


def shape_problem(value: Any, shape: Any, where: str = "") -> str | None:
    """Why ``value`` does not have ``shape`` (None: it has). Keys a shape does not name are not
    checked (ARM adds fields); ``null`` stands for an absent value, as ARM omits them."""
    if value is None:
        return "the body is null, expected an object" if not where else None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where or 'the body'} is {_kind(value)}, expected an object"
        obj = cast(dict[str, Any], value)
        if shape.get("__named__"):
            for key in ("id", "name"):
                if not isinstance(obj.get(key), str) or not obj[key]:
                    return f"{where + '.' if where else ''}{key} is missing"
        for key, sub in shape.items():
            if key != "__named__" and key in obj:
                problem = shape_problem(obj[key], sub, f"{where}.{key}" if where else key)
                if problem:
                    return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} is {_kind(value)}, expected a list"
        for i, item in enumerate(cast(list[Any], value)):
            problem = shape_problem(item, shape[0], f"{where}[{i}]")
            if problem:
                return problem
        return None
    wanted = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in wanted:
        return f"{where} is {_kind(value)}, expected {_TYPE_NAMES.get(wanted[0], wanted[0].__name__)}"
    if not isinstance(value, wanted):
        return f"{where} is {_kind(value)}, expected {_TYPE_NAMES.get(wanted[0], wanted[0].__name__)}"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    for t, name in _TYPE_NAMES.items():
        if isinstance(value, t):
            text = json.dumps(value) if t in (str, int) else ""
            return f"{text[:40]} ({name})" if text else name
    return type(value).__name__


class Arm:
    """ARM reads through azure-mgmt-network's client pipeline (bearer token, retries honouring
    ``Retry-After``, :mod:`erdr.arm`'s timeouts and token guard), one client per subscription.

    This class reads the answers itself: each must be JSON of the shape the walk relies on
    (:data:`SHAPES`), or the read stops with :class:`DiscoverError` naming the resource. Lists
    are followed page by page through ``nextLink``, which must stay on the endpoint, never repeat,
    and end within :data:`MAX_PAGES` pages. An error status raises the SDK's exception
    (``HttpResponseError`` with ARM's error code), which the walk reports per subscription.
    """

    def __init__(self, credential: TokenCredential, endpoint: str | None = None) -> None:
        self.credential = credential
        self.endpoint = check_endpoint(endpoint) if endpoint else ARM_ENDPOINT
        self._clients: dict[str, NetworkManagementClient] = {}
        self.read: list[str] = []
        # ARM ID -> the body ARM returned for it (the observed state): every resource read, and
        # the subnets and peerings a VNet body holds, each as a GET of its own ID returns it.
        self.observed: dict[str, dict[str, Any]] = {}

    def observe(self, body: Mapping[str, Any]) -> None:
        arm_id = str(body.get("id") or "")
        if not arm_id:
            return
        self.observed[arm_id] = dict(body)
        props = _props(body)
        for child in [*(props.get("subnets") or []), *(props.get("virtualNetworkPeerings") or [])]:
            if isinstance(child, Mapping) and child.get("id"):
                self.observed[str(child["id"])] = dict(child)

    def client(self, subscription: str) -> NetworkManagementClient:
        if subscription not in self._clients:
            options = client_options(self.endpoint, CALL_TIMEOUTS)
            self._clients[subscription] = NetworkManagementClient(self.credential, subscription or "-", **options)
        return self._clients[subscription]

    def _answer(self, url: str, subscription: str, what: str) -> Any:
        """GET ``url`` (absolute, on the endpoint), the answer's JSON; errors as described above."""
        if origin(url) != origin(self.endpoint) or any(c in url for c in "{}"):
            raise DiscoverError(f"{what}: ARM pointed to {url[:200]!r}, which is not on the endpoint {self.endpoint}")
        try:
            response = self.client(subscription)._send_request(HttpRequest("GET", url))  # pyright: ignore[reportPrivateUsage]
        except ArmRefused as exc:
            raise DiscoverError(f"{what}: {exc}") from None
        if response.status_code != 200:
            map_error(response.status_code, response, {401: ClientAuthenticationError, 404: ResourceNotFoundError})
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if kind != "application/json" and not kind.endswith("+json"):
                raise ValueError(f"content type {kind or 'missing'}")
            return json.loads(response.text())
        except (ValueError, RecursionError) as exc:
            raise DiscoverError(f"{what}: ARM's answer is not JSON ({_one_line(exc)}); nothing was written") from None

    def _resource_url(self, arm_id: str, tail: str = "") -> str:
        return f"{self.endpoint}/{arm_id.strip('/')}{tail}?api-version={API_VERSION}"

    def get(self, arm_id: str) -> dict[str, Any]:
        p = parse_id(arm_id)
        if p["type"] not in SHAPES or p["type"] == "virtualnetworkpeerings" or not p["subscription"]:
            raise DiscoverError(f"{arm_id}: not a resource type erdr.discover reads")
        body = self._answer(self._resource_url(arm_id), p["subscription"], arm_id)
        problem = shape_problem(body, SHAPES[p["type"]])
        if problem is None and str(body.get("id", "")).strip("/").lower() != arm_id.strip("/").lower():
            problem = f"it describes {str(body.get('id'))[:200]!r}, not the resource asked for"
        if problem:
            raise DiscoverError(f"{arm_id}: ARM's answer is malformed ({problem}); nothing was written")
        self.read.append(arm_id)
        self.observe(body)
        return cast(dict[str, Any], body)

    def _list(self, owner: str, tail: str, shape: dict[str, Any]) -> list[dict[str, Any]]:
        p = parse_id(owner)
        what = f"{owner}{tail}"
        url: str | None = self._resource_url(owner, tail)
        seen: set[str] = set()
        items: list[dict[str, Any]] = []
        pages = 0
        while url:
            if url in seen:
                raise DiscoverError(f"{what}: ARM sent the same nextLink twice ({url[:200]}); nothing was written")
            if pages >= MAX_PAGES:
                raise DiscoverError(f"{what}: more than {MAX_PAGES} pages; nothing was written")
            seen.add(url)
            pages += 1
            page = self._answer(url, p["subscription"], what)
            problem = shape_problem(page, {"value": [shape], "nextLink": str})
            if problem is None and not isinstance(page.get("value"), list):
                problem = "value is missing"
            if problem:
                raise DiscoverError(f"{what}: ARM's answer is malformed ({problem}); nothing was written")
            items += page["value"]
            url = page.get("nextLink") or None
        return items

    def peerings(self, vnet_id: str) -> list[dict[str, Any]]:
        found = self._list(vnet_id, "/virtualNetworkPeerings", SHAPES["virtualnetworkpeerings"])
        for body in found:
            self.observe(body)
        return found

    def gateway_connections(self, gateway_id: str) -> list[dict[str, Any]]:
        # VirtualNetworkGateways_ListConnections: entities with an id (read one by one after).
        return self._list(gateway_id, "/connections", {"__named__": True, "id": str, "name": str})


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


# --- the estate as read --------------------------------------------------------------------------


@dataclass
class Finding:
    resource: str
    what: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "what": self.what, "why": self.why}


@dataclass
class Discovery:
    config: dict[str, Any] = field(default_factory=dict[str, Any])
    discovered: dict[str, Any] = field(default_factory=dict[str, Any])
    not_modelled: list[Finding] = field(default_factory=list[Finding])
    differences: list[Finding] = field(default_factory=list[Finding])
    problems: list[Finding] = field(default_factory=list[Finding])

    def document(self) -> dict[str, Any]:
        return {
            "config": {key: {"value": value} for key, value in self.config.items()},
            "discovered": self.discovered,
            "notModelled": [f.as_dict() for f in self.not_modelled],
            "differences": [f.as_dict() for f in self.differences],
            "problems": [f.as_dict() for f in self.problems],
        }


@dataclass(frozen=True)
class Options:
    hub_id: str
    target_region: str
    secondary_circuit: str | None = None
    mode: str = "adopted"
    # The estate's naming convention: the source region's code in its names, and the target's.
    region_codes: tuple[str, str] | None = None
    # The dr stack's subscription (default: the hub's).
    target_subscription: str | None = None

    def naming(self, source_region: str) -> TargetNaming:
        codes = self.region_codes or (None, None)
        return TargetNaming(source_region, self.target_region, codes[0], codes[1])


def layout_key(azure_name: str, region: str) -> str:
    """The layout's name for a VNet: its Azure name without the region suffix (the replica gets
    the target region's)."""
    suffix = f"-{region}"
    return (
        azure_name[: -len(suffix)]
        if azure_name.lower().endswith(suffix) and len(azure_name) > len(suffix)
        else azure_name
    )


def _endpoints(props: Mapping[str, Any]) -> list[str]:
    return [str(e.get("service")) for e in props.get("serviceEndpoints") or [] if e.get("service")]


class Discoverer:
    def __init__(self, arm: Arm, opts: Options) -> None:
        self.arm = arm
        self.opts = opts
        self.out = Discovery()
        self.imports: dict[str, str] = {}
        self.route_names: dict[str, dict[str, str]] = {}
        self._tables: dict[str, dict[str, Any] | None] = {}
        self.nva_address = ""
        # Spoke subnets without a route table: the GatewaySubnet's table sends them VnetLocal.
        self.direct: list[str] = []

    # --- helpers ---

    def note(self, resource: str, what: str, why: str) -> None:
        self.out.not_modelled.append(Finding(resource, what, why))

    def differ(self, resource: str, what: str, why: str) -> None:
        self.out.differences.append(Finding(resource, what, why))

    def nsg(self, sub: Mapping[str, Any]) -> dict[str, Any] | None:
        """The subnet's NSG as layout ``nsg``: its ID, and its rules for the target's copy. An NSG
        that cannot be read keeps only its ID: the dr stack then refuses the config, by name."""
        nsg_id = _ref(_props(sub).get("networkSecurityGroup"))
        if not nsg_id:
            return None
        try:
            found = self.arm.get(nsg_id)
        except (HttpResponseError, ClientAuthenticationError) as exc:
            self.out.problems.append(Finding(nsg_id, "network security group not read", describe_error(exc)))
            return {"source": nsg_id}
        rules = [_security_rule(r) for r in _props(found).get("securityRules") or []]
        return {"source": nsg_id, "rules": rules}

    def layout_of(
        self, sub: Mapping[str, Any], *, keep_storage: bool = False, routed: bool = True, service: bool = False
    ) -> dict[str, Any]:
        return _subnet_layout(sub, keep_storage, self.nsg(sub), routed=routed, service=service)

    def table(self, table_id: str) -> dict[str, Any] | None:
        key = table_id.lower()
        if key not in self._tables:
            try:
                self._tables[key] = self.arm.get(table_id)
            except (HttpResponseError, ClientAuthenticationError) as exc:
                self.out.problems.append(Finding(table_id, "route table not read", describe_error(exc)))
                self._tables[key] = None
        return self._tables[key]

    def _subnet_extras(self, owner: str, sub: Mapping[str, Any]) -> None:
        props = _props(sub)
        name = str(sub.get("name"))
        where = f"{owner}/{name}"
        if _ref(props.get("natGateway")):
            self.note(_ref(props["natGateway"]), f"NAT gateway on subnet {where}", "not replicated")
        for pe in props.get("privateEndpoints") or []:
            self.note(_ref(pe), f"private endpoint in subnet {where}", "not replicated: recreate it in the target")

    # --- the walk ---

    def run(self) -> Discovery:
        hub = self.arm.get(self.opts.hub_id)  # the hub must be readable; errors propagate
        hub_props = _props(hub)
        region = str(hub.get("location", "")).replace(" ", "").lower()
        if region not in azure_facts.REGIONS:
            raise DiscoverError(f"hub {self.opts.hub_id}: unknown region {hub.get('location')!r}")
        hub_ref = parse_id(self.opts.hub_id)
        hub_key = layout_key(hub_ref["name"], region)
        self.out.discovered = {"hub": self.opts.hub_id, "spokes": {}, "gateways": [], "connections": [], "circuits": []}
        group = ResourceId(RESOURCE_GROUPS, hub_ref["group"], hub_ref["subscription"], hub_ref["group"])
        self.imports[Logical.RESOURCE_GROUP] = group.id
        self.imports[f"{hub_key}-vnet"] = hub["id"]
        for server in (hub_props.get("dhcpOptions") or {}).get("dnsServers") or []:
            self.note(hub["id"], f"custom DNS server {server}", "not replicated: set the target VNets' DNS yourself")

        subnets = {str(s["name"]): s for s in hub_props.get("subnets") or []}
        gateway_subnet = next((s for n, s in subnets.items() if n.lower() == GATEWAY_SUBNET.lower()), None)
        if gateway_subnet is None:
            raise DiscoverError(f"hub {self.opts.hub_id} has no {GATEWAY_SUBNET}: it is not an ExpressRoute hub")
        gateway = self._gateway(gateway_subnet, hub_key)
        nva_subnet, nva_address, nva = self._nva(subnets, hub_key)
        self.nva_address = nva_address  # the spokes' UDRs are checked against it
        extras: list[dict[str, Any]] = []
        services: list[dict[str, Any]] = []
        for name, sub in subnets.items():
            if sub is gateway_subnet or name == nva_subnet["name"]:
                self.imports[Logical.subnet(hub_key, name)] = sub["id"]
                continue
            rule = service_subnet(name)
            if rule is not None and rule.route in (RouteRule.GATEWAY, RouteRule.NOT_THE_NVA):
                # An AzureFirewallSubnet beside an appliance next hop: the hub models one next hop.
                self.note(sub["id"], f"{name} {_props(sub).get('addressPrefix')}", "not the next hop; not replicated")
                continue
            if rule is not None:
                # Written into the layout: both stacks give it its service's rule (no NVA route).
                self._service_note(sub)
                services.append(sub)
            extras.append(sub)
            self.imports[Logical.subnet(hub_key, name)] = sub["id"]
        for sub in subnets.values():
            self._subnet_extras(hub_ref["name"], sub)

        spokes, spoke_prefixes = self._spokes(hub, hub_key, region)
        gateway_table = _ref(_props(gateway_subnet).get("routeTable"))
        # The hub's workload subnets reply through the NVA, so the gateway sends their traffic there too.
        routed_extras = [s for s in extras if s not in services and _ref(_props(s).get("routeTable"))]
        for sub in services:
            self._check_service_table(hub_key, sub)
        returned = [*spoke_prefixes, *(str(_props(s).get("addressPrefix")) for s in routed_extras)]
        if gateway_table:
            self._check_table(
                f"{hub_key}-gateway-routes", gateway_table, returned, nva_address, bgp_off=False, direct=self.direct
            )
        else:
            self.differ(
                gateway_subnet["id"],
                "no route table",
                "the program routes spoke prefixes from the GatewaySubnet through the NVA",
            )
        workload_tables = {_ref(_props(s).get("routeTable")) for s in routed_extras}
        if routed_extras:
            if len(workload_tables) == 1 and "" not in workload_tables:
                self._check_table(
                    f"{hub_key}-workload-routes", workload_tables.pop(), [DEFAULT_ROUTE], nva_address, bgp_off=True
                )
            else:
                self.differ(
                    hub["id"], "hub workload subnets", "the program gives all of them one route table 0.0.0.0/0 -> NVA"
                )
        for sub in routed_extras:
            if STORAGE_ENDPOINT not in _endpoints(_props(sub)):
                self.differ(
                    sub["id"],
                    f"no {STORAGE_ENDPOINT} service endpoint",
                    "the program adds it where 0.0.0.0/0 goes to the NVA",
                )

        circuits, weight = self._connections(gateway, hub_key)
        hub_layout: dict[str, Any] = {
            "name": hub_key,
            "addressSpace": list((hub_props.get("addressSpace") or {}).get("addressPrefixes") or []),
            "nvaSubnet": self.layout_of(nva_subnet, keep_storage=True),
            "nvaAddress": nva_address,
            "gatewaySubnetPrefix": _props(gateway_subnet).get("addressPrefix"),
            "extraSubnets": [self.layout_of(s, routed=s in routed_extras, service=s in services) for s in extras],
            "nva": nva,
            "placement": {
                "source": {
                    "subscriptionId": hub_ref["subscription"],
                    "resourceGroup": hub_ref["group"],
                    "name": hub_ref["name"],
                }
            },
        }
        if not hub_layout["extraSubnets"]:
            del hub_layout["extraSubnets"]
        self._config(region, hub_ref, hub_layout, spokes, gateway, circuits, weight)
        return self.out

    def _gateway(self, gateway_subnet: Mapping[str, Any], hub_key: str) -> dict[str, Any]:
        found: dict[str, Any] | None = None
        for cfg in _props(gateway_subnet).get("ipConfigurations") or []:
            gw_id = _ref(cfg).rsplit("/ipConfigurations/", 1)[0]
            if "/virtualnetworkgateways/" not in gw_id.lower():
                continue
            body = self.arm.get(gw_id)
            self.out.discovered["gateways"].append(gw_id)
            if _props(body).get("gatewayType") == "ExpressRoute" and found is None:
                found = body
            else:
                kind = _props(body).get("gatewayType")
                self.note(
                    gw_id, f"{kind} gateway in the GatewaySubnet", "not modelled: build it in the target yourself"
                )
        if found is None:
            raise DiscoverError(f"no ExpressRoute gateway in the hub's {GATEWAY_SUBNET}")
        self.imports[f"{hub_key}-gateway"] = found["id"]
        for cfg in _props(found).get("ipConfigurations") or []:
            pip = _ref(_props(cfg).get("publicIPAddress"))
            if pip:
                # Read for the observed state: the plan imports the adopted IP from what Azure holds.
                self.arm.get(pip)
                self.imports[f"{hub_key}-gateway-ip"] = pip
        return found

    def _nva(self, subnets: Mapping[str, dict[str, Any]], hub_key: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
        firewall_subnet = next((s for n, s in subnets.items() if n == AZURE_FIREWALL_SUBNET), None)
        if firewall_subnet is not None:
            for cfg in _props(firewall_subnet).get("ipConfigurations") or []:
                ref = _ref(cfg)
                if "/azurefirewalls/" not in ref.lower():
                    continue
                fw_id = ref.split("/azureFirewallIpConfigurations/")[0].split("/ipConfigurations/")[0]
                fw = self.arm.get(fw_id)
                props = _props(fw)
                address = next(
                    (
                        _props(c).get("privateIPAddress")
                        for c in props.get("ipConfigurations") or []
                        if _props(c).get("privateIPAddress")
                    ),
                    None,
                )
                if not address:
                    raise DiscoverError(f"{fw_id}: the firewall has no private IP address yet")
                self.out.discovered["firewall"] = fw_id
                nva: dict[str, Any] = {
                    "kind": "azureFirewall",
                    "firewallSku": (props.get("sku") or {}).get("tier", "Standard"),
                }
                policy = _ref(props.get("firewallPolicy"))
                if policy:
                    nva["basePolicyId"] = policy
                else:
                    self.note(
                        fw_id, "classic firewall rules", "not replicated: move them to a firewall policy (basePolicyId)"
                    )
                if nva["firewallSku"] not in ("Standard", "Premium"):
                    self.differ(fw_id, f"SKU {nva['firewallSku']}", "the target firewall is Standard or Premium")
                    nva["firewallSku"] = "Standard"
                return firewall_subnet, str(address), nva
        # An appliance: the address the UDRs send traffic to, in one of the hub's subnets.
        hops: dict[str, int] = {}
        for sub in subnets.values():
            table_id = _ref(_props(sub).get("routeTable"))
            table = self.table(table_id) if table_id else None
            for route in _props(table or {}).get("routes") or []:
                hop = _props(route).get("nextHopIpAddress")
                if _props(route).get("nextHopType") == "VirtualAppliance" and hop:
                    hops[hop] = hops.get(hop, 0) + 1
        if not hops:
            raise DiscoverError(
                "no UDR in the hub sends traffic to a virtual appliance, and there is no Azure Firewall"
            )
        address = max(hops, key=lambda h: hops[h])
        try:
            hop_ip = parse_address(address)
        except ValueError:
            raise DiscoverError(
                f"the hub's UDRs send traffic to {address[:60]!r}, which is not an IP address"
            ) from None
        for sub in subnets.values():
            prefix = _props(sub).get("addressPrefix")
            try:
                inside = bool(prefix) and hop_ip in parse_prefix(str(prefix))
            except ValueError:
                raise DiscoverError(
                    f"{sub['id']}: ARM's answer is malformed (addressPrefix {str(prefix)[:60]!r} is not a prefix)"
                ) from None
            if inside:
                self.out.discovered["nva"] = {"address": address, "subnet": sub["id"]}
                return sub, address, {"kind": "appliance"}
        raise DiscoverError(f"the UDRs' next hop {address} lies in none of the hub's subnets")

    def _check_table(
        self,
        logical: str,
        table_id: str,
        prefixes: Sequence[str],
        hop: str,
        *,
        bgp_off: bool,
        direct: Sequence[str] = (),
    ) -> None:
        table = self.table(table_id)
        if table is None:
            return
        self.imports[logical] = table["id"]
        props = _props(table)
        names: dict[str, str] = {}
        for route in props.get("routes") or []:
            rp = _props(route)
            prefix = str(rp.get("addressPrefix"))
            to_nva = rp.get("nextHopType") == "VirtualAppliance" and rp.get("nextHopIpAddress") == hop
            if (prefix in prefixes and to_nva) or (prefix in direct and rp.get("nextHopType") == "VnetLocal"):
                names[prefix] = str(route["name"])
            else:
                self.differ(
                    route["id"],
                    f"route {prefix} -> {rp.get('nextHopIpAddress') or rp.get('nextHopType')}",
                    "not in the design: the program would remove it",
                )
        for prefix in prefixes:
            if prefix not in names:
                self.differ(table["id"], f"no route {prefix} -> {hop}", "the program would add it")
        for prefix in direct:
            if prefix not in names:
                self.differ(
                    table["id"],
                    f"no route {prefix} -> VnetLocal",
                    "the program would add it: the subnet has no route table, so its replies bypass the NVA",
                )
        if bool(props.get("disableBgpRoutePropagation")) != bgp_off:
            self.differ(
                table["id"],
                f"disableBgpRoutePropagation {bool(props.get('disableBgpRoutePropagation'))}",
                f"the design has {bgp_off}",
            )
        self.route_names[logical] = names

    def _service_note(self, sub: Mapping[str, Any]) -> None:
        """What of an Azure service subnet the replica lacks: the subnet is in the layout, the
        service in it is not."""
        name = str(sub["name"])
        rule = service_subnet(name)
        if rule is None:
            return
        if rule.route is RouteRule.INTERNET_DEFAULT:
            why = (
                "the subnet is replicated with its 0.0.0.0/0 -> Internet table; the target firewall gets no "
                "management IP configuration in it (forced tunneling): add it yourself"
            )
        else:
            why = "the subnet is replicated by its service's rules; the service itself is not: deploy it in the target"
        self.note(sub["id"], f"{rule.service} in {name}", why)

    def _check_service_table(self, key: str, sub: Mapping[str, Any]) -> None:
        """An Azure service subnet's route table against its service's rule
        (policies/shared/service_subnets.py): AzureFirewallManagementSubnet's own table, 0.0.0.0/0 ->
        Internet with BGP propagation off, adopted under its logical name; none on the others."""
        name = str(sub["name"])
        rule = service_subnet(name)
        table_id = _ref(_props(sub).get("routeTable"))
        if rule is None:
            return
        if rule.route is not RouteRule.INTERNET_DEFAULT:
            if table_id:
                self.differ(sub["id"], f"route table {table_id}", f"{rule.service} takes none ({rule.url})")
            return
        if not table_id:
            self.differ(
                sub["id"], "no route table", f"the program gives it 0.0.0.0/0 -> Internet, BGP off ({rule.url})"
            )
            return
        table = self.table(table_id)
        if table is None:
            return
        logical = Logical.service_routes(key, name)
        self.imports[logical] = table["id"]
        props = _props(table)
        names: dict[str, str] = {}
        for route in props.get("routes") or []:
            rp = _props(route)
            if rp.get("addressPrefix") == DEFAULT_ROUTE and rp.get("nextHopType") == "Internet":
                names[DEFAULT_ROUTE] = str(route["name"])
            else:
                self.differ(
                    route["id"],
                    f"route {rp.get('addressPrefix')} -> {rp.get('nextHopIpAddress') or rp.get('nextHopType')}",
                    f"the only route allowed on {name} is 0.0.0.0/0 -> Internet ({rule.url}): the program would remove it",
                )
        if DEFAULT_ROUTE not in names:
            self.differ(table["id"], f"no route {DEFAULT_ROUTE} -> Internet", "the program would add it")
        if not props.get("disableBgpRoutePropagation"):
            self.differ(table["id"], "disableBgpRoutePropagation false", f"{name} needs it disabled ({rule.url})")
        if names:
            self.route_names[logical] = names

    def _spokes(self, hub: Mapping[str, Any], hub_key: str, region: str) -> tuple[list[dict[str, Any]], list[str]]:
        spokes: list[dict[str, Any]] = []
        prefixes: list[str] = []
        for peering in self.arm.peerings(hub["id"]):
            props = _props(peering)
            remote = _ref(props.get("remoteVirtualNetwork"))
            remote_space = list((props.get("remoteAddressSpace") or {}).get("addressPrefixes") or [])
            if not props.get("allowGatewayTransit"):
                self.note(
                    peering["id"],
                    f"peering to {remote} without gateway transit",
                    "not a spoke of this hub's ExpressRoute gateway",
                )
                continue
            try:
                spoke = self.arm.get(remote)
            except (HttpResponseError, ClientAuthenticationError) as exc:
                ref = parse_id(remote)
                self.out.problems.append(
                    Finding(
                        remote,
                        f"spoke {ref['name']} in subscription {ref['subscription']} not read ({', '.join(remote_space)} per the hub's peering)",
                        f"{describe_error(exc)}. Left out of layout: give the identity Reader on that subscription "
                        "(docs/estates.md) and run erdr.discover again.",
                    )
                )
                continue
            ref = parse_id(remote)
            key = layout_key(ref["name"], region)
            sprops = _props(spoke)
            space = list((sprops.get("addressSpace") or {}).get("addressPrefixes") or [])
            prefixes += space
            self.out.discovered["spokes"][key] = remote
            self.imports[f"{key}-vnet"] = spoke["id"]
            self.imports[f"{hub_key}-to-{key}"] = peering["id"]
            back = [
                p
                for p in self.arm.peerings(remote)
                if _ref(_props(p).get("remoteVirtualNetwork")).lower() == str(hub["id"]).lower()
            ]
            if back:
                self.imports[f"{key}-to-{hub_key}"] = back[0]["id"]
                if not _props(back[0]).get("useRemoteGateways"):
                    self.differ(
                        back[0]["id"],
                        "useRemoteGateways false",
                        "the program sets it: the spoke reaches on-premises through the hub's gateway",
                    )
            else:
                self.differ(remote, "no peering back to the hub", "the program would create it")
            if not props.get("allowForwardedTraffic"):
                self.differ(
                    peering["id"], "allowForwardedTraffic false", "the program sets it (traffic passes the NVA)"
                )
            tables = set()
            layout_subnets = []
            for sub in sprops.get("subnets") or []:
                self._subnet_extras(ref["name"], sub)
                name = str(sub["name"])
                rule = service_subnet(name)
                if rule is not None and rule.route in (RouteRule.GATEWAY, RouteRule.NOT_THE_NVA):
                    self.note(sub["id"], f"{name} in a spoke", "the hub holds the gateway and next hop; not replicated")
                    continue
                self.imports[Logical.subnet(key, name)] = sub["id"]
                if rule is not None:
                    self._service_note(sub)
                    self._check_service_table(key, sub)
                    layout_subnets.append(self.layout_of(sub, routed=False, service=True))
                    # Its replies do not leave through the NVA: the GatewaySubnet sends it VnetLocal.
                    self.direct.append(str(_props(sub).get("addressPrefix")))
                    continue
                table = _ref(_props(sub).get("routeTable"))
                if not table:
                    # No route table (a private-endpoint subnet): kept off the NVA both ways.
                    layout_subnets.append(self.layout_of(sub, routed=False))
                    self.direct.append(str(_props(sub).get("addressPrefix")))
                    continue
                tables.add(table)
                if STORAGE_ENDPOINT not in _endpoints(_props(sub)):
                    self.differ(
                        sub["id"],
                        f"no {STORAGE_ENDPOINT} service endpoint",
                        "the program adds it where 0.0.0.0/0 goes to the NVA",
                    )
                layout_subnets.append(self.layout_of(sub))
            if len(tables) == 1:
                self._check_table(f"{key}-routes", tables.pop(), [DEFAULT_ROUTE], self.nva_address, bgp_off=True)
            elif tables:
                self.differ(
                    remote,
                    "spoke subnets' route tables",
                    "the program gives every subnet of a spoke one table 0.0.0.0/0 -> NVA",
                )
            placement: dict[str, Any] = {
                "source": {"subscriptionId": ref["subscription"], "resourceGroup": ref["group"], "name": ref["name"]}
            }
            placement["target"] = {
                "subscriptionId": ref["subscription"],
                "resourceGroup": self.opts.naming(region).target_name(ref["group"]),
            }
            spokes.append({"name": key, "addressSpace": space, "subnets": layout_subnets, "placement": placement})
        return spokes, prefixes

    def _connections(self, gateway: Mapping[str, Any], hub_key: str) -> tuple[dict[str, Any], int | None]:
        circuits: dict[str, Any] = {}
        weight: int | None = None
        for entity in self.arm.gateway_connections(str(gateway["id"])):
            conn = self.arm.get(str(entity["id"]))
            props = _props(conn)
            self.out.discovered["connections"].append(conn["id"])
            if props.get("connectionType") != "ExpressRoute":
                self.note(conn["id"], f"{props.get('connectionType')} connection", "not modelled")
                continue
            circuit_id = _ref(props.get("peer"))
            if "primary" in circuits:
                self.note(
                    conn["id"],
                    f"another ExpressRoute connection to {circuit_id}",
                    "the source hub holds one circuit here",
                )
                # It stays on the gateway: the plan counts its circuit's peering location against
                # Azure's limit per VNet (erdr.plan observed_link_issues), so read the circuit too.
                try:
                    if circuit_id:
                        self.arm.get(circuit_id)
                except HttpResponseError as exc:
                    self.note(circuit_id, f"circuit not readable ({describe_error(exc)})", "not counted by the plan")
                continue
            circuits["primary"] = self._circuit(circuit_id)
            self.imports[f"{hub_key}-primary-connection"] = conn["id"]
            weight = int(props.get("routingWeight") or 0)
            if weight:
                self.differ(
                    conn["id"],
                    f"routingWeight {weight}",
                    "a gateway's only connection keeps Azure's default weight 0 in the design (a weight "
                    "chooses only among one gateway's connections): the program would set 0",
                )
        if "primary" not in circuits:
            raise DiscoverError(f"gateway {gateway['id']} has no ExpressRoute connection to a circuit")
        if self.opts.secondary_circuit:
            circuits["secondary"] = self._circuit(self.opts.secondary_circuit)
        return circuits, weight

    def _circuit(self, circuit_id: str) -> dict[str, Any]:
        body = self.arm.get(circuit_id)
        props = _props(body)
        provider = props.get("serviceProviderProperties") or {}
        sku = body.get("sku") or {}
        self.out.discovered["circuits"].append(circuit_id)
        out: dict[str, Any] = {
            "id": body["id"],
            "peeringLocation": provider.get("peeringLocation"),
            "skuTier": sku.get("tier", "Standard"),
            "skuFamily": sku.get("family", "MeteredData"),
        }
        mbps = provider.get("bandwidthInMbps") or (props.get("bandwidthInGbps") or 0) * 1000
        if mbps:
            out["bandwidthMbps"] = int(mbps)
        return out

    def _config(
        self,
        region: str,
        hub_ref: Mapping[str, str],
        hub_layout: dict[str, Any],
        spokes: list[dict[str, Any]],
        gateway: Mapping[str, Any],
        circuits: dict[str, Any],
        weight: int | None,
    ) -> None:
        secondary = circuits.get("secondary")
        if secondary is None:
            topology = "single-circuit"
        elif str(secondary.get("peeringLocation")).lower() == str(circuits["primary"].get("peeringLocation")).lower():
            topology = "two-circuits-one-location"
        else:
            topology = "two-circuits-two-locations"
        sku = (_props(gateway).get("sku") or {}).get("name")
        public_ip = f"{hub_layout['name']}-gateway-ip" in self.imports
        config: dict[str, Any] = {
            "regions": {"source": region, "target": self.opts.target_region},
            "topology": topology,
            "layout": {"hub": hub_layout, "spokes": spokes},
            "circuits": circuits,
            "resourceGroupNames": {
                "source": hub_ref["group"],
                "target": self.opts.naming(region).target_name(hub_ref["group"]),
            },
            # The dr stack's own resources (group, vault, drill network) go to the target
            # subscription: the hub's unless --target-subscription says otherwise.
            "subscriptions": {
                "source": hub_ref["subscription"],
                "target": self.opts.target_subscription or hub_ref["subscription"],
            },
            # An existing gateway without a public IP of its own uses the Azure-managed one: keep it so.
            "gateway": {"sku": sku, "publicIp": "always" if public_ip else "never"},
        }
        if self.opts.region_codes:
            src, tgt = self.opts.region_codes
            config["naming"] = {"regionCodes": {"source": src, "target": tgt}}
        source: dict[str, Any] = {"mode": self.opts.mode}
        if self.opts.mode == "adopted":
            source["imports"] = dict(sorted(self.imports.items()))
            source["routeNames"] = {k: v for k, v in sorted(self.route_names.items()) if v}
        config["source"] = source
        self.out.config = config


def _subnet_layout(
    sub: Mapping[str, Any],
    keep_storage: bool = False,
    nsg: Mapping[str, Any] | None = None,
    *,
    routed: bool = True,
    service: bool = False,
) -> dict[str, Any]:
    """A subnet as layout config: prefix, endpoints, and what else the replica must carry (route
    table intent, NSG, delegations, network policies Azure would not default the same way). An
    Azure service subnet (``service``) has no ``routeTable`` key: its service's rule decides."""
    props = _props(sub)
    out: dict[str, Any] = {"name": sub["name"], "prefix": props.get("addressPrefix")}
    # The program adds Microsoft.Storage wherever 0.0.0.0/0 goes to the NVA.
    extra = [e for e in _endpoints(props) if keep_storage or not routed or service or e != STORAGE_ENDPOINT]
    if extra:
        out["serviceEndpoints"] = extra
    if not routed and not service:
        out["routeTable"] = "none"
    if nsg:
        out["nsg"] = dict(nsg)
    delegations = [str(_props(d).get("serviceName") or d.get("name")) for d in props.get("delegations") or []]
    if delegations:
        out["delegations"] = delegations
    # Only where the source differs from what Azure gives a new subnet.
    if props.get("privateEndpointNetworkPolicies") not in (None, "Disabled"):
        out["privateEndpointNetworkPolicies"] = props["privateEndpointNetworkPolicies"]
    if props.get("privateLinkServiceNetworkPolicies") not in (None, "Enabled"):
        out["privateLinkServiceNetworkPolicies"] = props["privateLinkServiceNetworkPolicies"]
    if props.get("defaultOutboundAccess") is not None:
        out["defaultOutboundAccess"] = bool(props["defaultOutboundAccess"])
    return out


def _security_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A securityRules entry in the layout's nsg.rules shape (single and plural fields merged)."""
    p = _props(rule)

    def merged(single: str, plural: str) -> list[str]:
        values = [str(v) for v in p.get(plural) or []]
        return values or ([str(p[single])] if p.get(single) else ["*"])

    out: dict[str, Any] = {
        "name": rule["name"],
        "priority": p.get("priority"),
        "direction": p.get("direction"),
        "access": p.get("access"),
        "protocol": p.get("protocol"),
        "sourceAddressPrefixes": merged("sourceAddressPrefix", "sourceAddressPrefixes"),
        "sourcePortRanges": merged("sourcePortRange", "sourcePortRanges"),
        "destinationAddressPrefixes": merged("destinationAddressPrefix", "destinationAddressPrefixes"),
        "destinationPortRanges": merged("destinationPortRange", "destinationPortRanges"),
    }
    if p.get("description"):
        out["description"] = p["description"]
    return out


def discover(arm: Arm, opts: Options) -> Discovery:
    return Discoverer(arm, opts).run()


# --- writing ------------------------------------------------------------------------------------


HEADER = (
    "# Written by `python -m erdr.discover` from {hub}.\n"
    "# config: paste into Pulumi.yaml's config (or use --stacks-dir). notModelled: found in Azure, not\n"
    "# replicated by this program. differences: where the estate differs from the design (an adopted\n"
    "# first `up` would change them). problems: what could not be read.\n"
)


def stack_files(found: Discovery) -> dict[str, str]:
    """Pulumi.prod.yaml and Pulumi.dr.yaml holding the whole config, for erdr.plan --stacks-dir."""
    out: dict[str, str] = {}
    for stack, role in (("prod", "source"), ("dr", "target")):
        # topology and addressing in both stack files, as README's set-up asks (same IPs: the
        # replica keeps production's addresses; translate with targetAddressPlan on both).
        config = {
            f"{NAMESPACE}:role": role,
            f"{NAMESPACE}:topology": found.config["topology"],
            f"{NAMESPACE}:addressing": "same",
            f"{NAMESPACE}:phase": "standby",
        }
        config.update({f"{NAMESPACE}:{k}": v for k, v in found.config.items() if k != "topology"})
        text = f"# {role} stack of the estate erdr.discover read; regenerate rather than edit.\n"
        out[f"Pulumi.{stack}.yaml"] = text + yaml.safe_dump({"config": config}, sort_keys=False, width=120)
    return out


OBSERVED_STATE = "observed-state.json"


def observed_state(arm: Arm, hub_id: str) -> str:
    """The observed-state file: what ARM returned, by ARM ID, in a stable order."""
    document = {
        "writtenBy": "python -m erdr.discover",
        "hub": hub_id,
        "note": "ARM bodies as read (GET), by ID; erdr.plan imports adopted resources from these",
        "resources": {k: arm.observed[k] for k in sorted(arm.observed, key=str.lower)},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render(found: Discovery, hub_id: str) -> str:
    return HEADER.format(hub=hub_id) + yaml.safe_dump(found.document(), sort_keys=False, width=120)


# --- the command --------------------------------------------------------------------------------


def _credential(endpoint: str | None, environ: Mapping[str, str]) -> TokenCredential:
    try:
        return credential_for(endpoint, environ)
    except ArmEndpointError as exc:
        raise DiscoverError(str(exc)) from None


_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _region_codes(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    src, sep, tgt = text.partition("=")
    if not sep or not _CODE.match(src) or not _CODE.match(tgt):
        raise DiscoverError(f"--region-codes {text!r}: expected SOURCE=TARGET, each 1-16 letters or digits (gwc=sdc)")
    return src, tgt


def _subscription(text: str | None) -> str | None:
    if text is not None and not _GUID.match(text):
        raise DiscoverError(f"--target-subscription {text!r}: not a subscription ID (a GUID)")
    return text.lower() if text else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m erdr.discover", description="Describe an existing hub-and-spoke as this program's config."
    )
    p.add_argument("--hub-id", required=True, help="ARM ID of the production hub VNet")
    p.add_argument("--target-region", required=True, help="the DR region (ARM name, e.g. southeastasia)")
    p.add_argument("--secondary-circuit", help="ARM ID of the DR circuit (two-circuit topologies)")
    p.add_argument(
        "--mode",
        choices=["adopted", "external", "managed"],
        default="adopted",
        help="source.mode to write (default adopted)",
    )
    p.add_argument(
        "--region-codes",
        metavar="SOURCE=TARGET",
        help="the estate's region codes (e.g. gwc=sdc): target names swap the source code for the target's",
    )
    p.add_argument("--target-subscription", help="the dr stack's subscription (default: the hub's)")
    p.add_argument("--out", type=Path, help="write the YAML here instead of stdout")
    p.add_argument("--stacks-dir", type=Path, help="also write Pulumi.prod.yaml and Pulumi.dr.yaml here")
    p.add_argument("--arm-endpoint", help=f"ARM base URL (token from {TOKEN_ENV}); default: Azure public cloud")
    return p


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO = sys.stdout,
    stderr: TextIO = sys.stderr,
    environ: Mapping[str, str] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        if args.target_region not in azure_facts.REGIONS:
            raise DiscoverError(f"--target-region {args.target_region!r}: unknown Azure region (use the ARM name)")
        arm = Arm(_credential(args.arm_endpoint, env), args.arm_endpoint)
        opts = Options(
            args.hub_id,
            args.target_region,
            args.secondary_circuit,
            args.mode,
            _region_codes(args.region_codes),
            _subscription(args.target_subscription),
        )
        found = discover(arm, opts)
    except (DiscoverError, AzureError) as exc:
        text = describe_error(exc) if not isinstance(exc, DiscoverError) else str(exc)
        stderr.write(f"error: {text}\nnothing was written.\n")
        return EXIT_ERROR
    text = render(found, args.hub_id)
    if args.out:
        args.out.write_text(text)
    else:
        stdout.write(text)
    if args.stacks_dir:
        args.stacks_dir.mkdir(parents=True, exist_ok=True)
        for name, content in stack_files(found).items():
            (args.stacks_dir / name).write_text(content)
        (args.stacks_dir / OBSERVED_STATE).write_text(observed_state(arm, args.hub_id))
    for f in found.problems:
        stderr.write(f"could not read {f.resource}: {f.what}: {f.why}\n")
    summary = (
        f"erdr.discover: hub, {len(found.config['layout']['spokes'])} spokes, "
        f"{len(found.not_modelled)} not modelled, {len(found.differences)} differences, {len(found.problems)} problems\n"
    )
    stderr.write(summary)
    return EXIT_PARTIAL if found.problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
