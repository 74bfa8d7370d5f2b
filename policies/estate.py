"""The network facts of a stack, read from standard azure-native resources.

Rules never read raw properties; they read an :class:`Estate`, built from the resources the
engine hands a stack policy. Three shapes reach it, and all three are understood:

- **inputs** (``Analyze``, and the tests' own estates): path parameters such as
  ``virtualNetworkName``/``resourceGroupName`` name a resource and its parent;
- **outputs after an update** (``AnalyzeStack`` on ``pulumi up``, a state export): Azure's
  response, with ``id`` and ``name`` known and no path parameters;
- **outputs in a preview** (``AnalyzeStack`` on ``pulumi preview``): for a resource being created
  azure-native returns every output property, copied from the input of that name or *unknown*
  (pulumi/pulumi-azure-native ``provider/pkg/convert/previewOutputs.go``), so ``id``, ``name``
  and every property the program did not set are unknown, and path parameters are absent.

So references are followed

1. by ARM ID when the ID is known (``remoteVirtualNetwork.id``, ``subnet.id``, a resource's own
   ``id``...),
2. by resource group and name when the inputs carry them,
3. by the engine's property dependencies while IDs and names are unknown (the engine records
   which resources fed each input property: ``remoteVirtualNetwork`` -> the VNet), then by the
   resource's parent or its one dependency of the right type.

A preview output that is unknown *and* fed by no resource (no property dependency) was not set
by the program: PreviewOutputs fills every unset output property with an unknown, and a value
the program computes from other resources carries their URNs as property dependencies. Such a
property reads as absent here (:meth:`Estate.settable`): Azure applies its default, which is what
the update records. Identity properties (``id``, ``name``) are never read that way.

What can't be resolved is :data:`values.UNKNOWN`, never a guess; rules report it.
Every section is built on first use, so a rule pays only for the resource types it reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Protocol

from .shared import addrspace
from .shared.names import (
    CIRCUIT,
    CONNECTION,
    GATEWAY,
    GATEWAY_SUBNET,
    NAMESPACE,
    PEERING,
    ROUTE,
    ROUTE_TABLE,
    STACK_REFERENCE,
    SUBNET,
    VNET,
)
from .values import UNKNOWN, flag, get, items, number, text

Network = addrspace.Network


def physical_name(props: Any, input_key: str) -> Any:
    """A resource's Azure name: its input (``virtualNetworkName``...) as a program sends it, else
    the ``name`` output that a state export or an inline child carries."""
    name = text(props, input_key)
    return text(props, "name") if name is None else name


class ResourceLike(Protocol):
    """What the SDK's PolicyResource offers (and what the tests build)."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str

    @property
    def property_dependencies(self) -> Mapping[str, Sequence[Any]]: ...


def _urn_of(r: Any) -> str | None:
    if r is None:
        return None
    return r if isinstance(r, str) else getattr(r, "urn", None)


def logical_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


# --- ARM IDs --------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def arm_segments(arm_id: str) -> dict[str, str]:
    """Lower-cased {segment type: name} of an ARM ID ("resourcegroups", "virtualnetworks", ...)."""
    parts = [p for p in arm_id.strip().split("/") if p]
    out: dict[str, str] = {}
    i = 0
    while i + 1 < len(parts):
        kind = parts[i].lower()
        if kind == "providers":
            i += 2  # skip the namespace
            continue
        out.setdefault(kind, parts[i + 1].lower())
        i += 2
    return out


def vnet_key_of(arm_id: str) -> tuple[str, str] | None:
    """(resource group, VNet name), lower-cased, of a VNet ID or of anything inside a VNet."""
    seg = arm_segments(arm_id)
    if "resourcegroups" in seg and "virtualnetworks" in seg:
        return seg["resourcegroups"], seg["virtualnetworks"]
    return None


def canonical_id(arm_id: str) -> str:
    return arm_id.strip().rstrip("/").lower()


def resource_key(arm_id: str, kind: str) -> tuple[str, str] | None:
    """(resource group, name) of a resource of segment type ``kind`` (e.g. "routetables")."""
    seg = arm_segments(arm_id)
    if "resourcegroups" in seg and kind in seg:
        return seg["resourcegroups"], seg[kind]
    return None


# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Circuit:
    """What the rules need to know about an ExpressRoute circuit."""

    key: str  # lower-cased ARM ID, or the resource URN while its ID is unknown
    label: str
    peering_location: str | None = None
    sku_tier: str | None = None
    bandwidth_mbps: float | None = None
    on_prem_prefixes: tuple[str, ...] = ()
    urn: str = ""


@dataclass(frozen=True)
class ExternalNetwork:
    """A network outside this stack linked to circuits: a hub and everything routed behind it."""

    name: str
    circuit_keys: tuple[str, ...]
    prefixes: tuple[str, ...]
    source: str  # "pack config" or "stack reference <name>"
    urn: str = ""


@dataclass(eq=False)
class Vnet:
    urn: str
    name: str | Any
    resource_group: str | Any
    location: str | Any
    arm_id: str | None
    prefixes: list[str] | Any
    tags: Mapping[str, Any]
    inline_subnets: list[Any] = field(default_factory=list[Any])

    @property
    def label(self) -> str:
        return self.name if isinstance(self.name, str) else self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class OutsideVnet:
    """A VNet referenced by ID that this stack does not declare."""

    key: tuple[str, str]
    arm_id: str

    @property
    def label(self) -> str:
        return self.key[1]


VnetRef = Vnet | OutsideVnet


@dataclass(eq=False)
class Subnet:
    urn: str  # the Subnet resource, or the VNet for an inline subnet
    name: str | Any
    vnet: Vnet | OutsideVnet | Any | None
    prefixes: list[str] | Any
    nsg: object  # None when absent
    route_table: RouteTable | Any | None
    service_endpoints: list[str] | Any
    inline: bool = False

    @property
    def label(self) -> str:
        vnet = self.vnet.label if isinstance(self.vnet, Vnet | OutsideVnet) else "?"
        if isinstance(self.name, str):
            return f"{vnet}/{self.name}"
        return f"{vnet}/{logical_name(self.urn)}"  # its Azure name is unknown until created


@dataclass(frozen=True)
class Route:
    name: str | Any
    prefix: str | Any
    next_hop_type: str | Any
    urn: str
    next_hop_ip: str | Any | None = None


@dataclass(eq=False)
class RouteTable:
    urn: str
    name: str | Any
    routes: list[Route] | Any
    disable_bgp: bool | Any | None

    @property
    def label(self) -> str:
        return self.name if isinstance(self.name, str) else logical_name(self.urn)


@dataclass(eq=False)
class Peering:
    urn: str
    name: str | Any
    local: VnetRef | Any | None
    remote: VnetRef | Any | None
    allow_access: bool | Any | None
    allow_forwarded: bool | Any | None
    allow_transit: bool | Any | None
    use_remote_gateways: bool | Any | None

    @property
    def label(self) -> str:
        return self.name if isinstance(self.name, str) else logical_name(self.urn)


@dataclass(eq=False)
class Gateway:
    urn: str
    name: str | Any
    location: str | Any
    gateway_type: str | Any
    sku: str | Any | None
    min_scale_units: float | Any | None
    vnet: VnetRef | Any | None
    subnets: list[Subnet | Any]

    @property
    def label(self) -> str:
        return self.name if isinstance(self.name, str) else logical_name(self.urn)


@dataclass(eq=False)
class Connection:
    urn: str
    name: str | Any
    connection_type: str | Any
    gateway: Gateway | Any | None
    circuit: str | Any | None  # circuit key

    @property
    def label(self) -> str:
        return self.name if isinstance(self.name, str) else logical_name(self.urn)


def _norm_tier(tier: object) -> str | None:
    return tier if isinstance(tier, str) else None


def _circuits_from_config(entries: object, source: str) -> list[Circuit]:
    out: list[Circuit] = []
    if isinstance(entries, Mapping):  # the project's {primary: {...}, secondary: {...}}
        entries = [{**v, "label": k} for k, v in entries.items() if isinstance(v, Mapping)]
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        return out
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        arm_id = str(entry["id"])
        prefixes = entry.get("onPremPrefixes") or []
        bandwidth = entry.get("bandwidthMbps")
        out.append(
            Circuit(
                key=canonical_id(arm_id),
                label=str(entry.get("label") or entry.get("name") or arm_id.rsplit("/", 1)[-1]),
                peering_location=entry.get("peeringLocation")
                if isinstance(entry.get("peeringLocation"), str)
                else None,
                sku_tier=_norm_tier(entry.get("skuTier")),
                bandwidth_mbps=float(bandwidth) if isinstance(bandwidth, int | float) else None,
                on_prem_prefixes=tuple(str(p) for p in prefixes if isinstance(p, str)),
                urn=source,
            )
        )
    return out


def stack_config_value(key: str) -> Any:
    """One key of this project's stack config (PULUMI_CONFIG, objects decoded), or None."""
    raw = os.environ.get("PULUMI_CONFIG")
    if not raw:
        return None
    try:
        value = json.loads(raw).get(f"{NAMESPACE}:{key}")
        return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    except (json.JSONDecodeError, AttributeError):
        return None


def stack_config_circuits() -> list[Circuit]:
    """Circuits from this project's stack config, which the CLI passes the pack in PULUMI_CONFIG."""
    raw = os.environ.get("PULUMI_CONFIG")
    if not raw:
        return []
    try:
        config = json.loads(raw)
        value = config.get(f"{NAMESPACE}:circuits")
        if isinstance(value, str):
            value = json.loads(value)
    except (json.JSONDecodeError, AttributeError):
        return []
    return _circuits_from_config(value, "stack config")


class Estate:
    """The azure-native network resources of one stack, cross-referenced."""

    def __init__(self, resources: Iterable[ResourceLike], config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = config or {}  # the running policy's config
        self._memos: dict[str, dict[str, Any]] = {}
        self.by_type: dict[str, list[ResourceLike]] = {}
        self.by_urn: dict[str, ResourceLike] = {}
        for r in resources:
            self.by_type.setdefault(r.resource_type, []).append(r)
            self.by_urn[r.urn] = r

    def of(self, type_: str) -> list[ResourceLike]:
        return self.by_type.get(type_, [])

    @staticmethod
    def deps(r: ResourceLike, prop: str) -> list[str]:
        try:
            found = r.property_dependencies.get(prop) or []
        except AttributeError:
            return []
        return [d if isinstance(d, str) else d.urn for d in found]

    @staticmethod
    def settable(r: ResourceLike, key: str, *path: str | int) -> Any:
        """``r.props[key][path...]``, with a value that no resource fed and that is unknown read
        as not set (None): in a preview, azure-native reports every output property the program
        did not set as unknown (see the module docstring). Never for ``id`` or ``name``."""
        top = get(r.props, key)
        if top is UNKNOWN and not Estate.deps(r, key):
            return None
        return get(top, *path) if path else top

    @staticmethod
    def parent_urn(r: ResourceLike) -> str | None:
        return _urn_of(getattr(r, "parent", None))

    @staticmethod
    def dependency_urns(r: ResourceLike) -> list[str]:
        found = [_urn_of(d) for d in getattr(r, "dependencies", None) or []]
        return [u for u in found if u]

    # --- VNets ----------------------------------------------------------------------------

    @cached_property
    def vnets(self) -> list[Vnet]:
        out: list[Vnet] = []
        for r in self.of(VNET):
            p = r.props
            arm_id = text(p, "id")
            name = physical_name(p, "virtualNetworkName")
            rg = text(p, "resourceGroupName")
            known_id = arm_id if isinstance(arm_id, str) else None
            if known_id:
                key = vnet_key_of(known_id)
                if key is not None:
                    rg = rg if isinstance(rg, str) else key[0]
                    name = name if isinstance(name, str) else key[1]
            prefixes = items(p, "addressSpace", "addressPrefixes")
            tags = self.settable(r, "tags")
            inline = items(self.settable(r, "subnets"))
            out.append(
                Vnet(
                    urn=r.urn,
                    name=name if name is not None else UNKNOWN,
                    resource_group=rg if rg is not None else UNKNOWN,
                    location=text(self.settable(r, "location")),
                    arm_id=canonical_id(known_id) if known_id else None,
                    prefixes=prefixes,
                    tags=tags if isinstance(tags, Mapping) else {},
                    inline_subnets=inline if isinstance(inline, list) else [],
                )
            )
        return out

    @cached_property
    def _vnet_index(self) -> tuple[dict[str, Vnet], dict[tuple[str, str], Vnet], dict[str, list[Vnet]]]:
        by_urn = {v.urn: v for v in self.vnets}
        by_key: dict[tuple[str, str], Vnet] = {}
        by_name: dict[str, list[Vnet]] = {}
        for v in self.vnets:
            if isinstance(v.name, str):
                by_name.setdefault(v.name.lower(), []).append(v)
                if isinstance(v.resource_group, str):
                    by_key[(v.resource_group.lower(), v.name.lower())] = v
        return by_urn, by_key, by_name

    def vnet_by_urn(self, urn: str) -> Vnet | None:
        return self._vnet_index[0].get(urn)

    @cached_property
    def _vnet_by_root(self) -> dict[str, Vnet]:
        """Known VNet IDs (subscription included) -> VNet: spokes in several subscriptions may share
        a group and VNet name, and only the subscription tells them apart."""
        return {v.arm_id: v for v in self.vnets if v.arm_id}

    def vnet_by_id(self, arm_id: str) -> VnetRef | None:
        key = vnet_key_of(arm_id)
        if key is None:
            return None
        seg = arm_segments(arm_id)
        root = f"/subscriptions/{seg.get('subscriptions', '')}/resourcegroups/{key[0]}"
        vnet_id = f"{root}/providers/microsoft.network/virtualnetworks/{key[1]}"
        exact = self._vnet_by_root.get(vnet_id)
        if exact is not None:
            return exact
        found = self._vnet_index[1].get(key)
        # By group and name only while the VNet's own ID is unknown (preview), or it is the same VNet.
        if found is not None and (found.arm_id is None or found.arm_id == vnet_id or not seg.get("subscriptions")):
            return found
        return OutsideVnet(key, vnet_id)

    def vnet_by_name(self, rg: object, name: object) -> Vnet | None:
        if not isinstance(name, str):
            return None
        if isinstance(rg, str):
            return self._vnet_index[1].get((rg.lower(), name.lower()))
        matches = self._vnet_index[2].get(name.lower(), [])
        return matches[0] if len(matches) == 1 else None

    def _vnet_via_deps(self, r: ResourceLike, prop: str) -> Vnet | None:
        for urn in self.deps(r, prop):
            vnet = self.vnet_by_urn(urn)
            if vnet is not None:
                return vnet
            sub = self._subnet_by_urn_map.get(urn)
            if sub is not None and isinstance(sub.vnet, Vnet):
                return sub.vnet
        return None

    def _vnet_via_parent_or_dependency(self, r: ResourceLike) -> Vnet | None:
        """A child parented to its VNet, or with exactly one VNet among its dependencies (a
        literal VNet name plus ``depends_on``): the links left when no property names it."""
        parent = self.parent_urn(r)
        if parent is not None and self.vnet_by_urn(parent) is not None:
            return self.vnet_by_urn(parent)
        vnets = {u for u in self.dependency_urns(r) if self.vnet_by_urn(u) is not None}
        return self.vnet_by_urn(vnets.pop()) if len(vnets) == 1 else None

    def vnet_ref(self, r: ResourceLike, id_value: object, prop: str) -> VnetRef | Any | None:
        """The VNet an ``{id: ...}`` reference points at: by ID, else by property dependency."""
        if isinstance(id_value, str):
            return self.vnet_by_id(id_value)
        via = self._vnet_via_deps(r, prop)
        if via is not None:
            return via
        return UNKNOWN if id_value is UNKNOWN else None

    def _vnet_by_id_or_name(self, p: Any) -> VnetRef | None:
        """The VNet named by a child's own ARM ID, else by its resource group and VNet name."""
        arm_id = text(p, "id")
        if isinstance(arm_id, str):
            found = self.vnet_by_id(arm_id)
            if found is not None:
                return found
        return self.vnet_by_name(text(p, "resourceGroupName"), text(p, "virtualNetworkName"))

    def containing_vnet(self, r: ResourceLike) -> VnetRef | Any:
        """The VNet a child resource (subnet, peering, route) lives in."""
        p = r.props
        name = text(p, "virtualNetworkName")
        found = self._vnet_by_id_or_name(p)
        if found is not None:
            return found
        via = self._vnet_via_deps(r, "virtualNetworkName") or self._vnet_via_parent_or_dependency(r)
        if via is not None:
            return via
        if isinstance(name, str) and isinstance(text(p, "resourceGroupName"), str):
            rg = str(text(p, "resourceGroupName")).lower()
            return OutsideVnet((rg, name.lower()), f"resourcegroups/{rg}/virtualnetworks/{name.lower()}")
        return UNKNOWN

    # --- route tables -----------------------------------------------------------------------

    @cached_property
    def route_tables(self) -> list[RouteTable]:
        tables: list[RouteTable] = []
        self._table_by_key: dict[tuple[str, str], RouteTable] = {}
        self._table_by_urn: dict[str, RouteTable] = {}
        for r in self.of(ROUTE_TABLE):
            p = r.props
            name = physical_name(p, "routeTableName")
            rg = text(p, "resourceGroupName")
            arm_id = text(p, "id")
            if isinstance(arm_id, str):
                key = resource_key(arm_id, "routetables")
                if key is not None:
                    rg = rg if isinstance(rg, str) else key[0]
                    name = name if isinstance(name, str) else key[1]
            raw = items(self.settable(r, "routes"))
            routes: list[Route] | Any = UNKNOWN
            if raw is not UNKNOWN:
                routes = [
                    Route(
                        text(x, "name"),
                        text(x, "addressPrefix"),
                        text(x, "nextHopType"),
                        r.urn,
                        text(x, "nextHopIpAddress"),
                    )
                    if x is not UNKNOWN
                    else Route(UNKNOWN, UNKNOWN, UNKNOWN, r.urn, UNKNOWN)
                    for x in raw
                ]
            table = RouteTable(r.urn, name, routes, flag(self.settable(r, "disableBgpRoutePropagation")))
            tables.append(table)
            self._table_by_urn[r.urn] = table
            if isinstance(name, str) and isinstance(rg, str):
                self._table_by_key[(rg.lower(), name.lower())] = table
        for r in self.of(ROUTE):  # routes declared as their own resources
            p = r.props
            table: RouteTable | None = None
            arm_id = text(p, "id")
            if isinstance(arm_id, str):
                key = resource_key(arm_id, "routetables")
                table = self._table_by_key.get(key) if key else None
            if table is None:
                rg, name = text(p, "resourceGroupName"), text(p, "routeTableName")
                if isinstance(rg, str) and isinstance(name, str):
                    table = self._table_by_key.get((rg.lower(), name.lower()))
            if table is None:
                for urn in self.deps(r, "routeTableName"):
                    table = self._table_by_urn.get(urn) or table
            if table is None:
                parent = self.parent_urn(r)
                owners = {u for u in [parent, *self.dependency_urns(r)] if u in self._table_by_urn}
                table = self._table_by_urn[owners.pop()] if len(owners) == 1 else None
            if table is not None and isinstance(table.routes, list):
                table.routes.append(
                    Route(
                        text(p, "routeName"),
                        text(p, "addressPrefix"),
                        text(p, "nextHopType"),
                        r.urn,
                        text(p, "nextHopIpAddress"),
                    )
                )
        return tables

    def route_table_ref(self, r: ResourceLike, id_value: object, prop: str) -> RouteTable | Any | None:
        _ = self.route_tables
        if isinstance(id_value, str):
            key = resource_key(id_value, "routetables")
            found = self._table_by_key.get(key) if key else None
            if found is not None:
                return found
            # Else the table whose ID this view does not hold yet (an adopted table updated in a
            # preview reports its ID unknown) is the one the property waits for.
        for urn in self.deps(r, prop):
            if urn in self._table_by_urn:
                return self._table_by_urn[urn]
        return UNKNOWN if id_value is UNKNOWN else None

    # --- subnets ----------------------------------------------------------------------------

    def _subnet(
        self, r: ResourceLike, p: Any, vnet: VnetRef | Any, urn: str, inline: bool, fed: Callable[[str], bool]
    ) -> Subnet:
        """A subnet from its properties ``p``; ``fed(key)``: whether a resource fed that key (an
        unknown value no resource fed is a property the program did not set, see settable)."""

        def read(key: str) -> Any:
            value = get(p, key)
            return None if value is UNKNOWN and not fed(key) else value

        single = text(read("addressPrefix"))
        many = items(read("addressPrefixes"))
        prefixes: list[str] | Any
        if single is UNKNOWN or many is UNKNOWN:
            prefixes = UNKNOWN
        else:
            prefixes = ([single] if isinstance(single, str) else []) + list(many)
        nsg = read("networkSecurityGroup")
        nsg_id = get(nsg, "id") if isinstance(nsg, Mapping) else nsg
        reference = read("routeTable")
        table: RouteTable | Any | None = None
        if reference is not None:
            table_id = get(reference, "id") if reference is not UNKNOWN else UNKNOWN
            if not inline:
                table = self.route_table_ref(r, table_id, "routeTable")
            elif isinstance(table_id, str):
                table = self.route_table_ref(r, table_id, "")
        endpoints = items(read("serviceEndpoints"))
        services: list[str] | Any = UNKNOWN
        if endpoints is not UNKNOWN:
            services = [text(e, "service") if e is not UNKNOWN else UNKNOWN for e in endpoints]
        name = text(p, "name") if inline else physical_name(p, "subnetName")
        return Subnet(urn, name, vnet, prefixes, nsg_id, table, services, inline)

    @cached_property
    def subnets(self) -> list[Subnet]:
        self._subnet_by_urn: dict[str, Subnet] = {}
        out: list[Subnet] = []
        # VNet resolution needs no subnet (containing_vnet falls back to VNet deps only).
        for r in self.of(SUBNET):
            sub = self._subnet(r, r.props, UNKNOWN, r.urn, False, lambda key, r=r: bool(self.deps(r, key)))
            sub.vnet = self._subnet_vnet(r)
            out.append(sub)
            self._subnet_by_urn[r.urn] = sub
        declared = {(s.vnet.urn, s.name.lower()) for s in out if isinstance(s.vnet, Vnet) and isinstance(s.name, str)}
        vnet_resources = {r.urn: r for r in self.of(VNET)}
        for vnet in self.vnets:
            for raw in vnet.inline_subnets:
                if raw is UNKNOWN:
                    continue
                owner = vnet_resources[vnet.urn]
                fed = bool(self.deps(owner, "subnets"))
                sub = self._subnet(owner, raw, vnet, vnet.urn, True, lambda _key, fed=fed: fed)
                if isinstance(sub.name, str) and (vnet.urn, sub.name.lower()) in declared:
                    continue  # the same subnet, also declared as its own resource
                out.append(sub)
        return out

    def _subnet_vnet(self, r: ResourceLike) -> VnetRef | Any:
        # Unlike containing_vnet, no fallback through subnets: they are being built here.
        found = self._vnet_by_id_or_name(r.props)
        if found is not None:
            return found
        for urn in self.deps(r, "virtualNetworkName"):
            vnet = self.vnet_by_urn(urn)
            if vnet is not None:
                return vnet
        return self._vnet_via_parent_or_dependency(r) or UNKNOWN

    @property
    def _subnet_by_urn_map(self) -> dict[str, Subnet]:
        _ = self.subnets
        return self._subnet_by_urn

    def subnet_ref(self, r: ResourceLike, id_value: object, prop: str) -> Subnet | VnetRef | Any | None:
        """The subnet an ``{id: ...}`` points at; its VNet when only the VNet is known."""
        subs = self._subnet_by_urn_map
        if isinstance(id_value, str):
            vnet = self.vnet_by_id(id_value)
            name = arm_segments(id_value).get("subnets")
            for s in self.subnets:
                if s.vnet is vnet and isinstance(s.name, str) and s.name.lower() == name:
                    return s
            return vnet
        for urn in self.deps(r, prop):
            if urn in subs:
                return subs[urn]
        for urn in self.deps(r, prop):
            # A VNet that declares its subnets inline: the reference is one of them (a first preview
            # leaves the subnet's ID unknown, but the engine records the dependency on the VNet).
            vnet = self.vnet_by_urn(urn)
            if vnet is not None:
                return self._inline_subnet_of(vnet, prop) or vnet
        return UNKNOWN if id_value is UNKNOWN else None

    def _inline_subnet_of(self, vnet: Vnet, prop: str) -> Subnet | None:
        """The inline subnet of ``vnet`` a reference through ``prop`` must mean: for a gateway's
        ``ipConfigurations`` the one named GatewaySubnet (Azure places a gateway nowhere else)."""
        if prop != "ipConfigurations":
            return None
        named = [
            s
            for s in self.subnets
            if s.inline and s.vnet is vnet and isinstance(s.name, str) and s.name.lower() == GATEWAY_SUBNET.lower()
        ]
        return named[0] if len(named) == 1 else None

    # --- peerings ---------------------------------------------------------------------------

    @cached_property
    def peerings(self) -> list[Peering]:
        out: list[Peering] = []
        _ = self._subnet_by_urn_map
        for r in self.of(PEERING):
            p = r.props
            name = physical_name(p, "virtualNetworkPeeringName")
            remote_id = get(p, "remoteVirtualNetwork", "id")
            out.append(
                Peering(
                    urn=r.urn,
                    name=name,
                    local=self.containing_vnet(r),
                    remote=self.vnet_ref(r, remote_id, "remoteVirtualNetwork"),
                    allow_access=flag(self.settable(r, "allowVirtualNetworkAccess")),
                    allow_forwarded=flag(self.settable(r, "allowForwardedTraffic")),
                    allow_transit=flag(self.settable(r, "allowGatewayTransit")),
                    use_remote_gateways=flag(self.settable(r, "useRemoteGateways")),
                )
            )
        return out

    # --- gateways and connections -------------------------------------------------------------

    @cached_property
    def gateways(self) -> list[Gateway]:
        out: list[Gateway] = []
        _ = self._subnet_by_urn_map
        self._gateway_by_urn: dict[str, Gateway] = {}
        self._gateway_by_key: dict[tuple[str, str], Gateway] = {}
        for r in self.of(GATEWAY):
            p = r.props
            name = physical_name(p, "virtualNetworkGatewayName")
            configs = items(self.settable(r, "ipConfigurations"))
            subnets: list[Subnet | Any] = []
            vnet: VnetRef | Any | None = None
            if configs is UNKNOWN:
                vnet = UNKNOWN
            for cfg in configs if isinstance(configs, list) else []:
                sub_id = get(cfg, "subnet", "id")
                ref = self.subnet_ref(r, sub_id, "ipConfigurations")
                if isinstance(ref, Subnet):
                    subnets.append(ref)
                    here = ref.vnet
                elif ref is UNKNOWN:
                    subnets.append(UNKNOWN)
                    here = UNKNOWN
                else:
                    here = ref
                if vnet is None or vnet is UNKNOWN:
                    vnet = here if here is not None else vnet
            sku = get(self.settable(r, "sku"), "name")
            bounds = get(self.settable(r, "autoScaleConfiguration"), "bounds", "min")
            gw = Gateway(
                urn=r.urn,
                name=name,
                location=text(self.settable(r, "location")),
                gateway_type=text(self.settable(r, "gatewayType")),
                sku=sku if isinstance(sku, str) or sku is UNKNOWN else None,
                min_scale_units=bounds if isinstance(bounds, int | float) or bounds is UNKNOWN else None,
                vnet=vnet,
                subnets=subnets,
            )
            out.append(gw)
            self._gateway_by_urn[r.urn] = gw
            rg = text(p, "resourceGroupName")
            arm_id = text(p, "id")
            if isinstance(arm_id, str):
                key = resource_key(arm_id, "virtualnetworkgateways")
                if key:
                    self._gateway_by_key[key] = gw
            if isinstance(rg, str) and isinstance(name, str):
                self._gateway_by_key[(rg.lower(), name.lower())] = gw
        return out

    @cached_property
    def gateway_hosts(self) -> dict[int, list[Gateway]]:
        """id(subnet) -> the gateways sitting in it (linked by subnet ID or property dependency)."""
        out: dict[int, list[Gateway]] = {}
        for g in self.gateways:
            for sub in g.subnets:
                if isinstance(sub, Subnet):
                    out.setdefault(id(sub), []).append(g)
        return out

    def is_gateway_subnet(self, s: Subnet) -> bool:
        """Named GatewaySubnet (in any case), or used by a gateway of this stack."""
        named = isinstance(s.name, str) and s.name.lower() == GATEWAY_SUBNET.lower()
        return named or id(s) in self.gateway_hosts

    def gateways_in(self, vnet: VnetRef) -> list[Gateway]:
        return [g for g in self.gateways if g.vnet is vnet or (isinstance(vnet, OutsideVnet) and g.vnet == vnet)]

    @cached_property
    def gateway_vnets(self) -> dict[int, list[Gateway]]:
        """id(VNet) -> its gateways (every kind)."""
        out: dict[int, list[Gateway]] = {}
        for g in self.gateways:
            if isinstance(g.vnet, Vnet):
                out.setdefault(id(g.vnet), []).append(g)
        return out

    def _memo(self, name: str, *keys: str) -> tuple[dict[str, Any], str]:
        memo = self._memos.setdefault(name, {})
        return memo, json.dumps([self.config.get(k) for k in keys], sort_keys=True, default=str)

    @property
    def circuit_facts(self) -> dict[str, Circuit]:
        """Circuits by key: this stack's ExpressRouteCircuit resources, pack config, stack config."""
        memo, key = self._memo("circuits", "circuits")
        if key not in memo:
            memo[key] = self._circuit_facts()
        return memo[key]

    def _circuit_facts(self) -> dict[str, Circuit]:
        found: dict[str, Circuit] = {}
        for c in stack_config_circuits() + _circuits_from_config(self.config.get("circuits"), "pack config"):
            found[c.key] = c
        for r in self.of(CIRCUIT):
            p = r.props
            arm_id = text(p, "id")
            key = canonical_id(arm_id) if isinstance(arm_id, str) else r.urn
            name = text(p, "circuitName") or text(p, "name")
            location = text(self.settable(r, "serviceProviderProperties"), "peeringLocation")
            if not isinstance(location, str):
                location = text(self.settable(r, "peeringLocation"))
            mbps = number(self.settable(r, "serviceProviderProperties"), "bandwidthInMbps")
            gbps = number(self.settable(r, "bandwidthInGbps"))
            if not isinstance(mbps, int | float) and isinstance(gbps, int | float):
                mbps = gbps * 1000
            tier = text(self.settable(r, "sku"), "tier")
            known = found.get(key)
            found[key] = Circuit(
                key=key,
                label=name if isinstance(name, str) else r.name,
                peering_location=location if isinstance(location, str) else (known.peering_location if known else None),
                sku_tier=tier if isinstance(tier, str) else (known.sku_tier if known else None),
                bandwidth_mbps=mbps if isinstance(mbps, int | float) else (known.bandwidth_mbps if known else None),
                on_prem_prefixes=known.on_prem_prefixes if known else (),
                urn=r.urn,
            )
            if isinstance(arm_id, str):
                found.setdefault(r.urn, found[key])
        return found

    def circuit_key(self, r: ResourceLike, id_value: object, prop: str) -> str | Any | None:
        if isinstance(id_value, str):
            return canonical_id(id_value)
        for urn in self.deps(r, prop):
            dep = self.by_urn.get(urn)
            if dep is not None and dep.resource_type == CIRCUIT:
                arm_id = text(dep.props, "id")
                return canonical_id(arm_id) if isinstance(arm_id, str) else urn
        return UNKNOWN if id_value is UNKNOWN else None

    @cached_property
    def connections(self) -> list[Connection]:
        out: list[Connection] = []
        _ = self.gateways, self._subnet_by_urn_map
        for r in self.of(CONNECTION):
            p = r.props
            name = physical_name(p, "virtualNetworkGatewayConnectionName")
            gw_id = get(p, "virtualNetworkGateway1", "id")
            gateway: Gateway | Any | None = None
            if isinstance(gw_id, str):
                key = resource_key(gw_id, "virtualnetworkgateways")
                gateway = self._gateway_by_key.get(key) if key else None
            if gateway is None:
                for urn in self.deps(r, "virtualNetworkGateway1"):
                    gateway = self._gateway_by_urn.get(urn) or gateway
            if gateway is None and gw_id is UNKNOWN:
                gateway = UNKNOWN
            out.append(
                Connection(
                    urn=r.urn,
                    name=name,
                    connection_type=text(self.settable(r, "connectionType")),
                    gateway=gateway,
                    circuit=self.circuit_key(r, get(self.settable(r, "peer"), "id"), "peer"),
                )
            )
        return out

    def expressroute_links(self) -> list[Connection]:
        """Connections that link a gateway to a circuit (type ExpressRoute, or a circuit peer)."""
        out = []
        for c in self.connections:
            if c.connection_type == "ExpressRoute" or (c.connection_type is UNKNOWN and c.circuit is not None):
                out.append(c)
        return out

    # --- other stacks -----------------------------------------------------------------------

    @property
    def external_networks(self) -> list[ExternalNetwork]:
        """Other stacks' networks on shared circuits: pack config, then StackReference outputs."""
        memo, key = self._memo("external", "externalNetworks", "readStackReferences")
        if key not in memo:
            memo[key] = self._external_networks()
        return memo[key]

    def _external_networks(self) -> list[ExternalNetwork]:
        out: list[ExternalNetwork] = []
        for entry in self.config.get("externalNetworks") or []:
            if not isinstance(entry, Mapping):
                continue
            out.append(
                ExternalNetwork(
                    name=str(entry.get("name") or "external"),
                    circuit_keys=tuple(canonical_id(str(c)) for c in entry.get("circuitIds") or []),
                    prefixes=tuple(str(x) for x in entry.get("addressPrefixes") or []),
                    source="pack config externalNetworks",
                )
            )
        if self.config.get("readStackReferences", True) is not False:
            for r in self.of(STACK_REFERENCE):
                outputs = get(r.props, "outputs")
                if not isinstance(outputs, Mapping):
                    continue
                held = items(outputs, "circuitConnections")
                spaces = get(outputs, "vnetPrefixes")
                if not isinstance(held, list) or not isinstance(spaces, Mapping):
                    continue
                prefixes: list[str] = []
                for key in spaces:
                    prefixes += [x for x in items(spaces, key) if isinstance(x, str)] if isinstance(key, str) else []
                stack = text(r.props, "name")
                label = stack if isinstance(stack, str) else r.name
                out.append(
                    ExternalNetwork(
                        name=label,
                        circuit_keys=tuple(canonical_id(c) for c in held if isinstance(c, str)),
                        prefixes=tuple(prefixes),
                        source=f"stack reference {label} (outputs vnetPrefixes, circuitConnections)",
                        urn=r.urn,
                    )
                )
        return out


def parse_all(prefixes: Iterable[str]) -> tuple[list[Network], list[tuple[str, str]]]:
    """Parsed prefixes, and (text, why) for the ones that are not valid CIDR."""
    good: list[Network] = []
    bad: list[tuple[str, str]] = []
    for text_ in prefixes:
        try:
            good.append(addrspace.parse_prefix(text_))
        except addrspace.PrefixError as exc:
            bad.append((str(text_), str(exc)))
    return good, bad
