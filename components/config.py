"""The stack config model: validated once, at the edge, before any resource is registered.

Stack YAML and project-level config -> :func:`load` -> :class:`StackConfig`. Structural rules
(types, enums, unknown keys, CIDR syntax) live in the pydantic models; rules that span fields
(containment, overlap, topology versus circuits) live in :func:`semantic_issues`, which reports
each problem with the exact key path so the error line can name it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from policies import azure_facts
from policies.addrspace import (
    Network,
    PrefixError,
    contains,
    find_overlaps,
    parse_address,
    parse_prefix,
    reserved_addresses,
)

NAMESPACE = "expressroute-dr"
GATEWAY_SUBNET = "GatewaySubnet"
SECRET_KEYS = ("primaryAuthorizationKey", "secondaryAuthorizationKey")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_CIRCUIT_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.Network/expressRouteCircuits/[^/]+$",
    re.IGNORECASE,
)
_VNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.Network/virtualNetworks/[^/]+$",
    re.IGNORECASE,
)
_SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/"
    r"Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
_PROTECTED_ITEM_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.RecoveryServices/"
    r"vaults/(?P<vault>[^/]+)/replicationFabrics/[^/]+/replicationProtectionContainers/[^/]+/"
    r"replicationProtectedItems/[^/]+$",
    re.IGNORECASE,
)


class ConfigError(Exception):
    """Invalid stack config; ``str()`` is one line per problem, each naming stack, key, value."""

    def __init__(self, stack: str, issues: list[Issue]) -> None:
        self.stack = stack
        self.issues = issues
        super().__init__("\n".join(issue.line(stack) for issue in issues))


@dataclass(frozen=True)
class Issue:
    path: str
    value: object
    message: str

    def line(self, stack: str) -> str:
        shown = _show(self.value)
        return f"stack '{stack}': config {NAMESPACE}:{self.path} = {shown}: {self.message}"


def _show(value: object) -> str:
    if isinstance(value, HiddenValue):
        return "<hidden>"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class HiddenValue:
    """Stands in for a value that must not be printed (a plain-text authorization key)."""


def _cidr(value: str) -> str:
    try:
        return str(parse_prefix(value))
    except PrefixError as exc:
        raise ValueError(str(exc)) from None


def _ip(value: str) -> str:
    try:
        return str(parse_address(value))
    except PrefixError as exc:
        raise ValueError(str(exc)) from None


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            "not a valid Azure resource name (1-64 letters, digits, '-', '_', '.'; starts with a letter or digit)"
        )
    return value


def _circuit_id(value: str) -> str:
    if not _CIRCUIT_ID.match(value):
        raise ValueError(
            "not an ExpressRoute circuit resource ID (/subscriptions/<guid>/resourceGroups/<rg>/"
            "providers/Microsoft.Network/expressRouteCircuits/<name>)"
        )
    return value


def _vnet_id(value: str) -> str:
    if not _VNET_ID.match(value):
        raise ValueError(
            "not a virtual network resource ID (/subscriptions/<guid>/resourceGroups/<rg>/"
            "providers/Microsoft.Network/virtualNetworks/<name>)"
        )
    return value


def _protected_item_id(value: str) -> str:
    if not _PROTECTED_ITEM_ID.match(value):
        raise ValueError(
            "not a Site Recovery replicated item ID (/subscriptions/<guid>/resourceGroups/<rg>/providers/"
            "Microsoft.RecoveryServices/vaults/<vault>/replicationFabrics/<fabric>/"
            "replicationProtectionContainers/<container>/replicationProtectedItems/<item>)"
        )
    return value


def _subnet_id(value: str) -> str:
    if not _SUBNET_ID.match(value):
        raise ValueError(
            "not a subnet resource ID (/subscriptions/<guid>/resourceGroups/<rg>/providers/"
            "Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>)"
        )
    return value


def _region(value: str) -> str:
    if value not in azure_facts.REGIONS:
        close = [r for r in azure_facts.REGIONS if r.replace(" ", "") == value.lower().replace(" ", "")]
        hint = f"; did you mean {close[0]!r}?" if close else "; use the ARM name, e.g. 'eastasia'"
        raise ValueError(f"unknown Azure region{hint}")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
IpAddress = Annotated[str, AfterValidator(_ip)]
Name = Annotated[str, AfterValidator(_name)]
CircuitId = Annotated[str, AfterValidator(_circuit_id)]
VnetId = Annotated[str, AfterValidator(_vnet_id)]
SubnetId = Annotated[str, AfterValidator(_subnet_id)]
ProtectedItemId = Annotated[str, AfterValidator(_protected_item_id)]
Region = Annotated[str, AfterValidator(_region)]


class Role(StrEnum):
    SOURCE = "source"
    TARGET = "target"


class Topology(StrEnum):
    TWO_CIRCUITS_TWO_LOCATIONS = "two-circuits-two-locations"
    TWO_CIRCUITS_ONE_LOCATION = "two-circuits-one-location"
    SINGLE_CIRCUIT = "single-circuit"


class Addressing(StrEnum):
    SAME = "same"
    TRANSLATED = "translated"


class Phase(StrEnum):
    STANDBY = "standby"
    FAILOVER = "failover"
    FAILBACK = "failback"


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class SubnetLayout(Model):
    name: Name
    prefix: Cidr
    service_endpoints: list[str] = Field(
        default_factory=list[str],
        description="Extra service endpoints; Microsoft.Storage is added where 0.0.0.0/0 -> NVA.",
    )


class HubLayout(Model):
    name: Name = "hub"
    address_space: list[Cidr] = Field(min_length=1)
    nva_subnet: SubnetLayout
    nva_address: IpAddress
    gateway_subnet_prefix: Cidr
    extra_subnets: list[SubnetLayout] = Field(default_factory=list[SubnetLayout])


class SpokeLayout(Model):
    name: Name
    address_space: list[Cidr] = Field(min_length=1)
    subnets: list[SubnetLayout] = Field(min_length=1)


class Layout(Model):
    """The source network, declared once (project-level config) for both stacks."""

    hub: HubLayout
    spokes: list[SpokeLayout] = Field(min_length=1)


class Regions(Model):
    source: Region
    target: Region


class Circuit(Model):
    id: CircuitId
    peering_location: str = Field(min_length=1)
    sku_tier: Literal["Standard", "Premium", "Local"] = "Standard"
    sku_family: Literal["MeteredData", "UnlimitedData"] = "MeteredData"
    bandwidth_mbps: int = Field(default=1000, ge=50, le=100_000)
    on_prem_prefixes: list[Cidr] = Field(
        default_factory=list[Cidr],
        description="On-premises prefixes advertised over this circuit; must not overlap Azure.",
    )


class Circuits(Model):
    primary: Circuit
    secondary: Circuit | None = None


class GatewayConfig(Model):
    sku: str | None = Field(
        default=None,
        description="ExpressRoute gateway SKU; default ErGw1AZ where the region has zones.",
    )
    public_ip: Literal["auto", "always", "never"] = "auto"


class RoutingWeights(Model):
    preferred: int = Field(default=100, ge=0, le=32000)
    standby: int = Field(default=0, ge=0, le=32000)


class ResourceGroupNames(Model):
    source: Name | None = None
    target: Name | None = None


class DrillConfig(Model):
    enabled: bool = True
    address_space: Cidr = Field(
        default="172.16.0.0/16",
        description="Block the isolated drill VNets are carved from, one per source VNet.",
    )


class SiteRecoveryConfig(Model):
    enabled: bool = True
    recovery_point_history_minutes: int = Field(default=1440, ge=0, le=21600)
    app_consistent_frequency_minutes: int = Field(default=240, ge=0, le=720)
    crash_consistent_frequency_minutes: int = Field(default=5, ge=5, le=5)
    multi_vm_sync: bool = False


class BootGroup(Model):
    items: list[ProtectedItemId] = Field(
        min_length=1, description="Replicated items (replicationProtectedItems ARM IDs) booted together."
    )


class RecoveryPlanConfig(Model):
    """Site Recovery recovery plan with the network switch as its first step (components/recovery_plan.py)."""

    name: Name | None = Field(default=None, description="Recovery plan name; default erdr-<source>-to-<target>.")
    boot_groups: list[BootGroup] = Field(
        default_factory=list[BootGroup],
        description="Boot groups in boot order; without replicated items no plan is registered.",
    )
    automation_account_name: Name | None = Field(
        default=None, description="Automation account running the runbook; default aa-erdr-<target region>."
    )
    retry_attempts: int = Field(default=5, ge=1, le=20, description="ARM calls per request before giving up.")
    retry_delay_seconds: int = Field(default=10, ge=1, le=300, description="Pause between retries and polls.")

    @property
    def items(self) -> list[str]:
        return [item for group in self.boot_groups for item in group.items]


class AdoptedVnet(Model):
    id: VnetId
    subnets: dict[str, SubnetId] = Field(
        default_factory=dict[str, SubnetId],
        description="Subnet name -> resource ID, for subnets Site Recovery already created.",
    )


class StackConfig(Model):
    """Everything under the ``expressroute-dr`` namespace, after project and stack merge."""

    role: Role
    topology: Topology
    addressing: Addressing = Addressing.SAME
    phase: Phase = Phase.STANDBY
    regions: Regions
    layout: Layout
    circuits: Circuits
    target_address_plan: dict[str, list[Cidr]] = Field(default_factory=dict[str, list[Cidr]])
    gateway: GatewayConfig = GatewayConfig()
    routing_weights: RoutingWeights = RoutingWeights()
    pre_connect_target: bool | None = None
    cross_connect: bool = False
    peer_stack: str | None = Field(
        default=None,
        description="The other stack (org/project/stack) read by StackReference; gates the "
        "single-circuit same-IP connection on the peer having dropped its own.",
    )
    source_region_unreachable: bool = False
    resource_group_names: ResourceGroupNames = ResourceGroupNames()
    drill: DrillConfig = DrillConfig()
    site_recovery: SiteRecoveryConfig = SiteRecoveryConfig()
    protect: bool = True
    tags: dict[str, str] = Field(default_factory=dict[str, str])
    adopt: dict[str, AdoptedVnet] = Field(default_factory=dict[str, AdoptedVnet])
    recovery_plan: RecoveryPlanConfig | None = None

    @property
    def region(self) -> str:
        return self.regions.source if self.role is Role.SOURCE else self.regions.target

    @property
    def two_circuits(self) -> bool:
        return self.topology is not Topology.SINGLE_CIRCUIT

    @property
    def target_pre_connected(self) -> bool:
        if self.pre_connect_target is not None:
            return self.pre_connect_target
        return not (self.topology is Topology.SINGLE_CIRCUIT and self.addressing is Addressing.SAME)

    @property
    def gateway_sku(self) -> str:
        if self.gateway.sku:
            return self.gateway.sku
        return "ErGw1AZ" if azure_facts.region_has_zones(self.region) else "Standard"

    @property
    def adopted_resource_group_id(self) -> str | None:
        """The target resource group's ID when adopted VNets already live in it (so it exists too)."""
        if self.role is not Role.TARGET or not self.adopt:
            return None
        subscription = next(iter(self.adopt.values())).id.split("/")[2]
        return f"/subscriptions/{subscription}/resourceGroups/{self.resource_group_name(Role.TARGET)}"

    def resource_tags(self, role: Role) -> dict[str, str]:
        """The tags ``role``'s stack puts on every resource."""
        return {"project": NAMESPACE, "role": role.value, **self.tags}

    def resource_group_name(self, role: Role) -> str:
        explicit = self.resource_group_names.source if role is Role.SOURCE else self.resource_group_names.target
        region = self.regions.source if role is Role.SOURCE else self.regions.target
        return explicit or f"rg-{NAMESPACE}-{region}"


def _loc_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(raw: Mapping[str, Any], loc: tuple[int | str, ...]) -> object:
    node: Any = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at ``loc`` (for spelling hints), if there is one."""
    node: Any = StackConfig
    for part in (*loc, None):
        while get_origin(node) in (Union, types.UnionType, Annotated):
            args = [a for a in get_args(node) if a is not type(None)]
            node = args[0] if args else None
        if part is None:
            break
        if isinstance(node, type) and issubclass(node, BaseModel) and isinstance(part, str):
            fields = {(f.alias or n): f for n, f in node.model_fields.items()}
            node = fields[part].annotation if part in fields else None
        elif get_origin(node) in (list, dict):
            node = get_args(node)[-1]
        else:
            return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    model = _model_at(loc)
    return [f.alias or n for n, f in model.model_fields.items()] if model else []


def _pydantic_issues(raw: Mapping[str, Any], exc: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic adds the validator's name to unions and annotated types; keep the user's path.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc[:-1]), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown key ({hint}check the spelling against README.md's config reference)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        value: object = err.get("input") if err["type"] != "missing" else None
        if err["type"] != "missing":
            value = _lookup(raw, loc) if _lookup(raw, loc) is not None else value
        if loc and loc[-1] in SECRET_KEYS:
            value = HiddenValue()
        issues.append(Issue(_loc_path(loc), value, msg))
    return issues


def _normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pulumi hands object-valued config to programs as JSON text; decode it once here."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        out[key] = value
    return out


def load(stack: str, raw: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()) -> StackConfig:
    """Validate the merged config of one stack; raise :class:`ConfigError` on any problem.

    ``raw`` maps keys without the namespace to values; ``secret_keys`` names the keys that
    Pulumi holds as secrets (``pulumi config set --secret``).
    """
    data = _normalise(raw)
    plain_secrets = [
        Issue(
            key,
            HiddenValue(),
            f"authorization keys must be secrets: run `pulumi config set --secret {NAMESPACE}:{key} <key>`",
        )
        for key in SECRET_KEYS
        if key in data and key not in secret_keys
    ]
    if plain_secrets:
        raise ConfigError(stack, plain_secrets)
    for key in SECRET_KEYS:
        data.pop(key, None)  # read by the program as Pulumi secrets, never held in the model
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(stack, _pydantic_issues(data, exc)) from None
    issues = list(semantic_issues(cfg))
    if issues:
        raise ConfigError(stack, issues)
    return cfg


# --- cross-field rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class VnetPrefixes:
    """A VNet's prefixes with the key path of each, for overlap messages."""

    name: str
    path: str
    prefixes: list[tuple[str, Network]]


def _layout_vnets(layout: Layout) -> list[VnetPrefixes]:
    vnets = [
        VnetPrefixes(
            layout.hub.name,
            "layout.hub",
            [(f"layout.hub.addressSpace[{i}]", parse_prefix(p)) for i, p in enumerate(layout.hub.address_space)],
        )
    ]
    for s, spoke in enumerate(layout.spokes):
        vnets.append(
            VnetPrefixes(
                spoke.name,
                f"layout.spokes[{s}]",
                [(f"layout.spokes[{s}].addressSpace[{i}]", parse_prefix(p)) for i, p in enumerate(spoke.address_space)],
            )
        )
    return vnets


def _overlap_issues(entries: list[tuple[tuple[str, str], Network]], what: str) -> Iterator[Issue]:
    """entries: ((owner, path), prefix). Reports the inner prefix's path for each overlap."""
    for ov in find_overlaps(entries):
        (outer_owner, outer_path), (inner_owner, inner_path) = ov.outer_key, ov.inner_key
        where = "itself" if outer_owner == inner_owner else f"{outer_owner!r}"
        yield Issue(
            inner_path,
            str(ov.inner),
            f"{what} overlaps {ov.outer} of {where} at {outer_path}; give each a distinct range",
        )


def _subnet_issues(
    vnet_path: str, vnet_prefixes: list[Network], subnets: list[tuple[str, str, str, str]]
) -> Iterator[Issue]:
    """subnets: (name, path-of-name, path-of-prefix, prefix text)."""
    seen: dict[str, str] = {}
    entries: list[tuple[tuple[str, str], Network]] = []
    for name, name_path, path, text in subnets:
        # Azure subnet names ignore case: 'App' and 'app' would be one subnet written twice.
        if name.lower() in seen:
            yield Issue(name_path, name, f"duplicate subnet name (also at {seen[name.lower()]})")
        seen[name.lower()] = name_path
        net = parse_prefix(text)
        if not any(contains(v, net) for v in vnet_prefixes):
            yield Issue(
                path,
                text,
                f"subnet lies outside its VNet ({', '.join(map(str, vnet_prefixes))} at {vnet_path})",
            )
        entries.append(((name, path), net))
    yield from _overlap_issues(entries, "subnet")


def _hub_subnets(hub: HubLayout) -> list[tuple[str, str, str, str]]:
    # GatewaySubnet first, so another hub subnet given its name is the one reported.
    gateway = "layout.hub.gatewaySubnetPrefix"
    subnets = [
        (GATEWAY_SUBNET, gateway, gateway, hub.gateway_subnet_prefix),
        (hub.nva_subnet.name, "layout.hub.nvaSubnet.name", "layout.hub.nvaSubnet.prefix", hub.nva_subnet.prefix),
    ]
    subnets += [
        (s.name, f"layout.hub.extraSubnets[{i}].name", f"layout.hub.extraSubnets[{i}].prefix", s.prefix)
        for i, s in enumerate(hub.extra_subnets)
    ]
    return subnets


def layout_issues(layout: Layout) -> Iterator[Issue]:
    vnets = _layout_vnets(layout)
    names: dict[str, str] = {}
    for vnet in vnets:
        if vnet.name.lower() in names:
            yield Issue(f"{vnet.path}.name", vnet.name, f"duplicate VNet name (also at {names[vnet.name.lower()]})")
        names[vnet.name.lower()] = f"{vnet.path}.name"
    # Every spoke is peered to the hub, so all of them form one routing domain.
    yield from _overlap_issues([((v.name, path), net) for v in vnets for path, net in v.prefixes], "address space")
    hub = layout.hub
    hub_prefixes = [net for _, net in vnets[0].prefixes]
    yield from _subnet_issues("layout.hub.addressSpace", hub_prefixes, _hub_subnets(hub))
    gw = parse_prefix(hub.gateway_subnet_prefix)
    if gw.version == 4 and gw.prefixlen > 27:
        yield Issue(
            "layout.hub.gatewaySubnetPrefix",
            hub.gateway_subnet_prefix,
            "GatewaySubnet must be /27 or larger for an ExpressRoute gateway",
        )
    nva_net = parse_prefix(hub.nva_subnet.prefix)
    nva = parse_address(hub.nva_address)
    if nva not in nva_net:
        yield Issue("layout.hub.nvaAddress", hub.nva_address, f"NVA address is outside the NVA subnet {nva_net}")
    elif nva in reserved_addresses(nva_net):
        yield Issue(
            "layout.hub.nvaAddress",
            hub.nva_address,
            f"Azure reserves this address in {nva_net} (first four and last); pick another",
        )
    for s, spoke in enumerate(layout.spokes):
        if spoke.name.lower() == hub.name.lower():
            continue
        prefixes = [parse_prefix(p) for p in spoke.address_space]
        for i, sub in enumerate(spoke.subnets):
            if sub.name.lower() == GATEWAY_SUBNET.lower():
                yield Issue(
                    f"layout.spokes[{s}].subnets[{i}].name",
                    sub.name,
                    "a spoke may not have a GatewaySubnet: it uses the hub's gateway",
                )
        yield from _subnet_issues(
            f"layout.spokes[{s}].addressSpace",
            prefixes,
            [
                (
                    sub.name,
                    f"layout.spokes[{s}].subnets[{i}].name",
                    f"layout.spokes[{s}].subnets[{i}].prefix",
                    sub.prefix,
                )
                for i, sub in enumerate(spoke.subnets)
            ],
        )


def _plan_issues(cfg: StackConfig) -> Iterator[Issue]:
    vnets = _layout_vnets(cfg.layout)
    if cfg.addressing is Addressing.SAME:
        if cfg.target_address_plan:
            yield Issue("targetAddressPlan", cfg.target_address_plan, "only used with addressing 'translated'")
        return
    plan = cfg.target_address_plan
    if cfg.role is Role.SOURCE and not plan:
        return  # only the target stack builds from the plan
    known = {v.name for v in vnets}
    for name in plan:
        if name not in known:
            yield Issue(
                f"targetAddressPlan.{name}",
                plan[name],
                f"no VNet of that name in the layout ({', '.join(sorted(known))})",
            )
    entries: list[tuple[tuple[str, str], Network]] = []
    for vnet in vnets:
        path = f"targetAddressPlan.{vnet.name}"
        if vnet.name not in plan:
            yield Issue(path, None, f"addressing is 'translated' but VNet {vnet.name!r} has no target prefixes")
            continue
        targets = plan[vnet.name]
        if len(targets) != len(vnet.prefixes):
            yield Issue(
                path,
                targets,
                f"needs exactly {len(vnet.prefixes)} prefix(es), one per source prefix "
                f"({', '.join(str(n) for _, n in vnet.prefixes)})",
            )
            continue
        for i, (text, (_, src)) in enumerate(zip(targets, vnet.prefixes, strict=True)):
            tgt = parse_prefix(text)
            if tgt.prefixlen != src.prefixlen or tgt.version != src.version:
                yield Issue(f"{path}[{i}]", text, f"must have the same length as the source prefix {src}")
            entries.append(((f"target {vnet.name}", f"{path}[{i}]"), tgt))
    for vnet in vnets:
        for path, net in vnet.prefixes:
            entries.append(((f"source {vnet.name}", path), net))
    for ov in find_overlaps(entries):
        (a_owner, a_path), (b_owner, b_path) = ov.outer_key, ov.inner_key
        if a_owner.startswith("source") and b_owner.startswith("source"):
            continue  # reported by layout_issues
        target_path, other_owner, other_path, net = (
            (b_path, a_owner, a_path, ov.inner) if b_owner.startswith("target") else (a_path, b_owner, b_path, ov.outer)
        )
        yield Issue(
            target_path, str(net), f"target prefix overlaps {other_owner} at {other_path}; choose an unused range"
        )


def _circuit_issues(cfg: StackConfig) -> Iterator[Issue]:
    primary, secondary = cfg.circuits.primary, cfg.circuits.secondary
    if cfg.two_circuits and secondary is None:
        yield Issue("circuits.secondary", None, f"topology {cfg.topology.value!r} needs a secondary circuit")
        return
    if not cfg.two_circuits and secondary is not None:
        yield Issue(
            "circuits.secondary",
            secondary.id,
            "topology 'single-circuit' takes only circuits.primary; remove the secondary or pick a two-circuit topology",
        )
        return
    for label, circuit in (("primary", primary), ("secondary", secondary)):
        if circuit is None:
            continue
        if azure_facts.geopolitical_region_of_peering_location(circuit.peering_location) is None:
            yield Issue(
                f"circuits.{label}.peeringLocation",
                circuit.peering_location,
                "unknown ExpressRoute peering location (see policies/azure_facts.py)",
            )
    if secondary is not None:
        if secondary.id.lower() == primary.id.lower():
            yield Issue("circuits.secondary.id", secondary.id, "the secondary circuit must differ from the primary")
        same_place = secondary.peering_location.lower() == primary.peering_location.lower()
        if cfg.topology is Topology.TWO_CIRCUITS_TWO_LOCATIONS and same_place:
            yield Issue(
                "circuits.secondary.peeringLocation",
                secondary.peering_location,
                "same as the primary's: use topology 'two-circuits-one-location' or a second peering location",
            )
        if cfg.topology is Topology.TWO_CIRCUITS_ONE_LOCATION and not same_place:
            yield Issue(
                "circuits.secondary.peeringLocation",
                secondary.peering_location,
                f"differs from the primary's ({primary.peering_location}): use topology 'two-circuits-two-locations'",
            )
    # A Standard circuit reaches only VNets in its own geopolitical region.
    reach: list[tuple[str, Circuit, list[str]]] = [("primary", primary, [cfg.regions.source])]
    if secondary is None:
        reach[0][2].append(cfg.regions.target)
    else:
        reach.append(("secondary", secondary, [cfg.regions.target]))
        if cfg.cross_connect:
            reach[0][2].append(cfg.regions.target)
            reach[1][2].append(cfg.regions.source)
    for label, circuit, regions in reach:
        geo = azure_facts.geopolitical_region_of_peering_location(circuit.peering_location)
        if geo is None or circuit.sku_tier == "Premium":
            continue
        for region in regions:
            region_geo = azure_facts.geopolitical_region_of_location(region)
            if region_geo != geo:
                yield Issue(
                    f"circuits.{label}.skuTier",
                    circuit.sku_tier,
                    f"{region} ({region_geo}) is outside the geopolitical region of peering location "
                    f"{circuit.peering_location} ({geo}): the circuit needs skuTier 'Premium'",
                )
                break
    # On-premises prefixes share the routing domain of every VNet linked to the circuit.
    domain_prefixes = [((f"VNet {v.name}", path), net) for v in _layout_vnets(cfg.layout) for path, net in v.prefixes]
    for label, circuit in (("primary", primary), ("secondary", secondary)):
        if circuit is None:
            continue
        entries = list(domain_prefixes)
        entries += [
            ((f"on-prem of {label}", f"circuits.{label}.onPremPrefixes[{i}]"), parse_prefix(p))
            for i, p in enumerate(circuit.on_prem_prefixes)
        ]
        for ov in find_overlaps(entries):
            (a_owner, a_path), (b_owner, b_path) = ov.outer_key, ov.inner_key
            if a_owner.startswith("VNet") and b_owner.startswith("VNet"):
                continue
            path, other = (a_path, b_path) if a_owner.startswith("on-prem") else (b_path, a_path)
            net = ov.outer if a_owner.startswith("on-prem") else ov.inner
            yield Issue(path, str(net), f"on-premises prefix overlaps {other}; the circuit could not route both")


def _topology_issues(cfg: StackConfig) -> Iterator[Issue]:
    single_same = cfg.topology is Topology.SINGLE_CIRCUIT and cfg.addressing is Addressing.SAME
    if cfg.regions.source == cfg.regions.target:
        yield Issue("regions.target", cfg.regions.target, "the target region must differ from the source region")
    if single_same and cfg.pre_connect_target:
        yield Issue(
            "preConnectTarget",
            True,
            "with a single circuit and the same IPs the target cannot be connected before failover "
            "(two VNets with one address space on one circuit); use addressing 'translated' or leave it false",
        )
    if cfg.cross_connect and cfg.topology is not Topology.TWO_CIRCUITS_TWO_LOCATIONS:
        yield Issue(
            "crossConnect",
            True,
            "connecting one VNet to both circuits is only allowed with circuits at two peering locations",
        )
    if cfg.cross_connect and cfg.addressing is Addressing.SAME:
        yield Issue(
            "crossConnect",
            True,
            "with the same IPs, two hubs with one address space would share each circuit; use addressing 'translated'",
        )
    if cfg.source_region_unreachable and (cfg.role is not Role.TARGET or cfg.phase is not Phase.FAILOVER):
        yield Issue("sourceRegionUnreachable", True, "only meaningful on the target stack in phase 'failover'")
    if (
        single_same
        and cfg.role is Role.TARGET
        and cfg.phase is Phase.FAILOVER
        and not cfg.peer_stack
        and not cfg.source_region_unreachable
    ):
        yield Issue(
            "phase",
            cfg.phase.value,
            "single circuit with the same IPs: set peerStack so the target connection waits for the "
            "source connection to be gone, or sourceRegionUnreachable: true if the source region is down",
        )
    if single_same and cfg.role is Role.SOURCE and cfg.phase is Phase.FAILBACK and not cfg.peer_stack:
        yield Issue(
            "phase",
            cfg.phase.value,
            "single circuit with the same IPs: set peerStack so the source connection waits for the "
            "target connection to be gone before it reconnects",
        )
    if cfg.adopt and cfg.role is not Role.TARGET:
        yield Issue(
            "adopt",
            sorted(cfg.adopt),
            "adoption is for target VNets that Site Recovery created; only on the target stack",
        )
    known = {cfg.layout.hub.name, *(s.name for s in cfg.layout.spokes)}
    for name in cfg.adopt:
        if name not in known:
            yield Issue(f"adopt.{name}", name, f"no VNet of that name in the layout ({', '.join(sorted(known))})")
    yield from _adopt_issues(cfg, known)
    sku = cfg.gateway_sku
    if sku not in azure_facts.ALL_GATEWAY_SKUS:
        yield Issue(
            "gateway.sku", sku, f"not an ExpressRoute gateway SKU ({', '.join(sorted(azure_facts.ALL_GATEWAY_SKUS))})"
        )
    if cfg.routing_weights.preferred <= cfg.routing_weights.standby:
        yield Issue(
            "routingWeights.preferred",
            cfg.routing_weights.preferred,
            f"must be higher than routingWeights.standby ({cfg.routing_weights.standby}): Azure prefers the higher weight",
        )
    freq = cfg.site_recovery.app_consistent_frequency_minutes
    if freq and freq % 60:
        yield Issue(
            "siteRecovery.appConsistentFrequencyMinutes", freq, "must be 0 (off) or a whole number of hours (60..720)"
        )
    if freq and freq > cfg.site_recovery.recovery_point_history_minutes:
        yield Issue("siteRecovery.appConsistentFrequencyMinutes", freq, "must not exceed recoveryPointHistoryMinutes")


def _layout_subnet_names(layout: Layout, vnet: str) -> list[str]:
    if vnet == layout.hub.name:
        return [GATEWAY_SUBNET, layout.hub.nva_subnet.name, *(s.name for s in layout.hub.extra_subnets)]
    return [sub.name for spoke in layout.spokes if spoke.name == vnet for sub in spoke.subnets]


def _adopt_issues(cfg: StackConfig, known: set[str]) -> Iterator[Issue]:
    """An import only adopts what the program would declare: same group, same names.

    The program puts every target VNet in the target resource group under the name taken from
    the adopted ID; a VNet in another group would be planned as a replacement, not an import.
    """
    target_rg = cfg.resource_group_name(Role.TARGET)
    subscriptions: dict[str, str] = {}
    for name, adopted in cfg.adopt.items():
        if name not in known:
            continue
        parts = adopted.id.split("/")
        subscription, group = parts[2].lower(), parts[4]
        if subscriptions and subscription not in subscriptions:
            first = next(iter(subscriptions.values()))
            yield Issue(
                f"adopt.{name}.id", adopted.id, f"is in another subscription than {first}; one stack, one subscription"
            )
        subscriptions.setdefault(subscription, f"adopt.{name}.id")
        if group.lower() != target_rg.lower():
            yield Issue(
                f"adopt.{name}.id",
                adopted.id,
                f"lives in resource group {group!r}, not in the target stack's {target_rg!r}: "
                f"set resourceGroupNames.target to {group!r} so the VNet is imported where it is",
            )
        names = _layout_subnet_names(cfg.layout, name)
        for sub_name, sub_id in adopted.subnets.items():
            path = f"adopt.{name}.subnets.{sub_name}"
            if sub_name not in names:
                yield Issue(path, sub_id, f"no subnet of that name in {name} ({', '.join(names)})")
                continue
            expected = f"{adopted.id}/subnets/{sub_name}"
            if sub_id.lower() != expected.lower():
                yield Issue(
                    path, sub_id, f"is not a subnet of adopt.{name}.id named {sub_name!r} (expected {expected})"
                )


def _drill_issues(cfg: StackConfig) -> Iterator[Issue]:
    if not cfg.drill.enabled or cfg.role is not Role.TARGET:
        return  # the drill network lives in the target stack only
    from components.replica import drill_plan  # local import: replica depends on this module

    base = parse_prefix(cfg.drill.address_space)
    try:
        drill_plan(cfg)
    except ValueError as exc:
        yield Issue("drill.addressSpace", cfg.drill.address_space, str(exc))
        return
    used = [((v.name, path), net) for v in _layout_vnets(cfg.layout) for path, net in v.prefixes]
    for name, prefixes in cfg.target_address_plan.items():
        used += [((name, f"targetAddressPlan.{name}[{i}]"), parse_prefix(p)) for i, p in enumerate(prefixes)]
    overlapped: list[str] = []
    for ov in find_overlaps([*used, (("drill", "drill.addressSpace"), base)]):
        keys = {ov.outer_key[0], ov.inner_key[0]}
        if "drill" in keys:
            other = ov.inner_key if ov.outer_key[0] == "drill" else ov.outer_key
            overlapped.append(other[1])
    if overlapped:  # one problem, one line, however many prefixes it covers
        yield Issue(
            "drill.addressSpace",
            cfg.drill.address_space,
            f"drill network overlaps {', '.join(overlapped)}; a drill must use different addresses",
        )


def _recovery_plan_issues(cfg: StackConfig) -> Iterator[Issue]:
    plan = cfg.recovery_plan
    if plan is None or not plan.items:
        return
    if cfg.role is not Role.TARGET:
        yield Issue(
            "recoveryPlan", plan.items, "the recovery plan lives in the target stack's vault; set it on dr only"
        )
    if not cfg.site_recovery.enabled:
        yield Issue("recoveryPlan", plan.items, "needs siteRecovery.enabled: the plan is registered in its vault")
    seen: dict[str, str] = {}
    vaults: dict[str, str] = {}
    for g, group in enumerate(plan.boot_groups):
        for i, item in enumerate(group.items):
            path = f"recoveryPlan.bootGroups[{g}].items[{i}]"
            if item.lower() in seen:
                yield Issue(path, item, f"listed twice (also at {seen[item.lower()]}); a VM boots in one group")
            seen[item.lower()] = path
            match = _PROTECTED_ITEM_ID.match(item)
            vault = match.group("vault").lower() if match else ""
            if vaults and vault not in vaults:
                first = next(iter(vaults.values()))
                yield Issue(path, item, f"belongs to vault {vault!r}, not to the vault of {first}; one plan, one vault")
            vaults.setdefault(vault, path)


def semantic_issues(cfg: StackConfig) -> Iterator[Issue]:
    yield from layout_issues(cfg.layout)
    yield from _plan_issues(cfg)
    yield from _circuit_issues(cfg)
    yield from _topology_issues(cfg)
    yield from _drill_issues(cfg)
    yield from _recovery_plan_issues(cfg)


def json_schema() -> dict[str, Any]:
    schema = StackConfig.model_json_schema(by_alias=True)
    schema["title"] = f"{NAMESPACE} stack config (keys under the '{NAMESPACE}:' namespace)"
    return schema
