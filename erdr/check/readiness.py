"""What a ready estate looks like, held against what ARM says now.

Every identity is the resolved estate's (:mod:`model.identity`); what each side holds in its stack's
phase is :func:`model.phases.connection_plan`; the networks, routes and peering flags are
:mod:`model.spec`'s. The checks only read (:mod:`erdr.check.reads`), then judge the bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from erdr.arm import Clients, body_of
from erdr.bench.critical_path import CONNECTION_MINUTES, DEFAULT_MINUTES, GATEWAY_MINUTES
from erdr.check.reads import Outcome, Read, role_for
from model import identity, naming
from model.config import Phase, Role, StackConfig
from model.identity import ResourceId
from model.phases import STACK_OF_ROLE, connection_plan
from model.spec import (
    GATEWAY_ROUTES_DISABLE_BGP,
    HUB_TO_SPOKE,
    SPOKE_TO_HUB,
    WORKLOAD_ROUTES_DISABLE_BGP,
    PeeringFlags,
    firewall_present,
    network_for,
)
from policies.shared.azure_facts import FIREWALL_CREATE_MINUTES
from policies.shared.names import DEFAULT_ROUTE, GATEWAY_SUBNET

PRIVATE_PEERING = "AzurePrivatePeering"


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # could not be read: access, deadline, an ARM error


@dataclass(frozen=True)
class Finding:
    status: Status
    area: str  # network | site-recovery | access
    side: str  # source | target | drill | circuit | vault | subscription
    resource: str  # ARM ID (or subscription)
    check: str
    detail: str = ""
    fix: str = ""
    # Minutes a failover starting now would wait for this to be put right (target side only).
    minutes: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class Stacks:
    """Both stacks' validated config: each side is read in its own stack's phase."""

    prod: StackConfig
    dr: StackConfig

    def of(self, role: Role) -> StackConfig:
        return self.prod if role is Role.SOURCE else self.dr


def _p(body: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((body or {}).get("properties") or {})


def _ref(value: object) -> str:
    return str(value.get("id", "")) if isinstance(value, Mapping) else ""


def _same(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _az(rid: ResourceId) -> str:
    return f"-g {rid.resource_group} --subscription {rid.subscription}"


def _up(role: Role) -> str:
    return f"pulumi refresh --stack {STACK_OF_ROLE[role]} && pulumi up --stack {STACK_OF_ROLE[role]}"


# --- the reads ------------------------------------------------------------------------------------


def _get(rid: ResourceId) -> Read:
    g, n = rid.resource_group, rid.name
    kind = rid.type.lower()

    def fetch(c: Clients) -> Any:
        net = c.network(rid.subscription)
        if kind == "microsoft.network/virtualnetworks":
            return body_of(net.virtual_networks.get(g, n))
        if kind == "microsoft.network/routetables":
            return body_of(net.route_tables.get(g, n))
        if kind == "microsoft.network/virtualnetworkgateways":
            return body_of(net.virtual_network_gateways.get(g, n))
        if kind == "microsoft.network/connections":
            return body_of(net.virtual_network_gateway_connections.get(g, n))
        if kind == "microsoft.network/expressroutecircuits":
            return body_of(net.express_route_circuits.get(g, n))
        if kind == "microsoft.network/azurefirewalls":
            return body_of(net.azure_firewalls.get(g, n))
        raise ValueError(f"{rid.id}: not a type erdr.check reads")

    return Read(rid.id.lower(), rid.subscription, fetch)


def _learned_routes(gateway: ResourceId) -> Read:
    def fetch(c: Clients) -> Any:
        poller = c.network(gateway.subscription).virtual_network_gateways.begin_get_learned_routes(
            gateway.resource_group, gateway.name
        )
        return body_of(poller.result())

    return Read(gateway.id.lower() + "#learnedroutes", gateway.subscription, fetch)


def _routes_table(circuit: ResourceId) -> Read:
    """The routes the circuit's primary device holds on its private peering (long-running POST
    ``ExpressRouteCircuits_ListRoutesTable``)."""

    def fetch(c: Clients) -> Any:
        poller = c.network(circuit.subscription).express_route_circuits.begin_list_routes_table(
            circuit.resource_group, circuit.name, PRIVATE_PEERING, "primary"
        )
        return body_of(poller.result())

    return Read(circuit.id.lower() + "#routestable", circuit.subscription, fetch)


def _target_circuits(stacks: Stacks, estate: identity.Estate) -> list[ResourceId]:
    """The circuits the target hub holds in its phase (pre-connected, or after failover)."""
    held = {c.circuit_id.lower() for c in connection_plan(stacks.dr, Role.TARGET, stacks.dr.phase)}
    return [rid for rid in estate.circuits.values() if rid.id.lower() in held]


def _sr_get(sr: identity.SiteRecoveryIds, rid: ResourceId) -> Read:
    vault = sr.vault

    def fetch(c: Clients) -> Any:
        if rid == vault:
            return body_of(c.vaults(vault.subscription).vaults.get(vault.resource_group, vault.name))
        client = c.site_recovery(vault.subscription, vault.resource_group, vault.name)
        kind = rid.type.rsplit("/", 1)[-1].lower()
        chain: list[str] = []
        cur: ResourceId | None = rid
        while cur is not None and cur != vault:
            chain.insert(0, cur.name)
            cur = cur.parent
        if kind == "replicationfabrics":
            return body_of(client.replication_fabrics.get(*chain))
        if kind == "replicationprotectioncontainers":
            return body_of(client.replication_protection_containers.get(*chain))
        if kind == "replicationprotectioncontainermappings":
            return body_of(client.replication_protection_container_mappings.get(*chain))
        if kind == "replicationnetworkmappings":
            return body_of(client.replication_network_mappings.get(*chain))
        raise ValueError(f"{rid.id}: not a Site Recovery type erdr.check reads")

    return Read(rid.id.lower(), vault.subscription, fetch)


def _protected_items(vault: ResourceId) -> Read:
    def fetch(c: Clients) -> Any:
        client = c.site_recovery(vault.subscription, vault.resource_group, vault.name)
        return [body_of(x) for x in client.replication_protected_items.list()]

    return Read(vault.id.lower() + "#protecteditems", vault.subscription, fetch)


def reads(stacks: Stacks, estate: identity.Estate) -> list[Read]:
    out: dict[str, Read] = {}

    def add(read: Read) -> None:
        out.setdefault(read.key, read)

    for role in Role:
        side = estate.side(role)
        for v in side.vnets:
            add(_get(v.vnet))
            if v.route_table is not None:
                add(_get(v.route_table))
        add(_get(side.gateway_routes))
        add(_get(side.gateway))
        for conn in side.connections.values():
            add(_get(conn))
        if side.firewall is not None and firewall_present(
            network_for(stacks.of(role), role).nva, stacks.of(role).phase
        ):
            add(_get(side.firewall.firewall))
    for circuit in estate.circuits.values():
        add(_get(circuit))
    if connection_plan(stacks.dr, Role.TARGET, stacks.dr.phase):
        add(_learned_routes(estate.target.gateway))
    for circuit in _target_circuits(stacks, estate):
        add(_routes_table(circuit))
    for v in estate.drill.values():
        add(_get(v.vnet))
    sr = estate.site_recovery
    if sr is not None:
        for rid in (
            sr.vault,
            *sr.fabrics.values(),
            *sr.containers.values(),
            *sr.container_mappings.values(),
            *sr.network_mappings.values(),
        ):
            add(_sr_get(sr, rid))
        add(_protected_items(sr.vault))
    return list(out.values())


# --- judging --------------------------------------------------------------------------------------


@dataclass
class Judge:
    stacks: Stacks
    estate: identity.Estate
    found: Mapping[str, Outcome]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    out: list[Finding] = field(default_factory=list[Finding])

    def add(self, status: Status, area: str, side: str, resource: str, check: str, **kw: Any) -> None:
        self.out.append(Finding(status, area, side, resource, check, **kw))

    def body(
        self, rid: ResourceId, area: str, side: str, what: str, fix: str, minutes: float = 0.0, suffix: str = ""
    ) -> Any:
        """The resource's body, or a finding saying why there is none (missing: fail; unread: error)."""
        got = self.found.get(rid.id.lower() + suffix)
        if got is None or got.ok:
            return got.value if got is not None else None
        if got.missing:
            made = f"{fix} (creates {rid.name} in {_az(rid)})" if fix.startswith("pulumi") else fix
            self.add(
                Status.FAIL, area, side, rid.id, f"{what} exists", detail="not found (404)", fix=made, minutes=minutes
            )
        elif got.forbidden_action is not None:
            self.add(
                Status.ERROR,
                area,
                side,
                rid.id,
                f"{what} readable",
                detail=f"403: may not perform {got.forbidden_action} (see {identity.subscription_scope(rid.subscription)})",
            )
        else:
            self.add(Status.ERROR, area, side, rid.id, f"{what} readable", detail=got.error or "")
        return None

    # --- network ---

    def network(self) -> None:
        circuits_in_use: set[str] = set()
        for role in Role:
            cfg = self.stacks.of(role)
            side = self.estate.side(role)
            label = role.value
            target = role is Role.TARGET
            phase = cfg.phase
            gw_minutes = GATEWAY_MINUTES + CONNECTION_MINUTES if target else 0.0
            gw = self.body(side.gateway, "network", label, "ExpressRoute gateway", _up(role), minutes=gw_minutes)
            if gw is not None:
                state = _p(gw).get("provisioningState")
                ok = state == "Succeeded"
                self.add(
                    Status.PASS if ok else Status.FAIL,
                    "network",
                    label,
                    side.gateway.id,
                    "gateway provisioningState Succeeded",
                    detail=f"provisioningState {state}",
                    fix=""
                    if ok
                    else f"az network vnet-gateway show -n {side.gateway.name} {_az(side.gateway)}; then {_up(role)}",
                    minutes=0.0 if ok else gw_minutes,
                )
            planned = {c.circuit: c for c in connection_plan(cfg, role, phase)}
            for circuit, conn_id in side.connections.items():
                spec = planned.get(circuit)
                got = self.found.get(conn_id.id.lower())
                if spec is None:
                    if got is not None and got.ok:
                        exclusive = any(
                            c.exclusive for p in Phase for c in connection_plan(cfg, role, p) if c.circuit == circuit
                        )
                        self.add(
                            Status.FAIL if exclusive else Status.WARN,
                            "network",
                            label,
                            conn_id.id,
                            f"no connection to the {circuit} circuit in phase {phase.value}",
                            detail="exists; "
                            + ("the one circuit must never be held by both hubs" if exclusive else "not in the design"),
                            fix=f"az network vpn-connection delete -n {conn_id.name} {_az(conn_id)}",
                        )
                    continue
                circuits_in_use.add(spec.circuit_id.lower())
                body = self.body(
                    conn_id,
                    "network",
                    label,
                    f"connection to the {circuit} circuit",
                    _up(role),
                    minutes=CONNECTION_MINUTES if target else 0.0,
                )
                if body is None:
                    continue
                props = _p(body)
                problems: list[str] = []
                if props.get("provisioningState") != "Succeeded":
                    problems.append(f"provisioningState {props.get('provisioningState')}")
                if props.get("connectionStatus") != "Connected":
                    problems.append(f"connectionStatus {props.get('connectionStatus')}")
                if not _same(_ref(props.get("peer")), spec.circuit_id):
                    problems.append(f"on circuit {_ref(props.get('peer')) or 'none'}, designed {spec.circuit_id}")
                if not _same(_ref(props.get("virtualNetworkGateway1")), side.gateway.id):
                    problems.append(f"on gateway {_ref(props.get('virtualNetworkGateway1'))}")
                weight = props.get("routingWeight")
                fix = f"{_up(role)} (recreates it; az network vpn-connection show -n {conn_id.name} {_az(conn_id)})"
                if not problems and weight != spec.routing_weight:
                    problems.append(f"routingWeight {weight}, designed {spec.routing_weight}")
                    fix = f"az network vpn-connection update -n {conn_id.name} {_az(conn_id)} --routing-weight {spec.routing_weight}"
                self.add(
                    Status.FAIL if problems else Status.PASS,
                    "network",
                    label,
                    conn_id.id,
                    f"connection to the {circuit} circuit Connected with weight {spec.routing_weight}",
                    detail="; ".join(problems),
                    fix=fix if problems else "",
                    minutes=CONNECTION_MINUTES if problems and target else 0.0,
                )
            self._peerings_and_routes(role, cfg)
            self._firewall(role, cfg)
        self._circuits(circuits_in_use)
        self._learned_routes()
        self._circuit_carries_target()
        self._drill()

    def _peering(
        self, role: Role, vnet_body: dict[str, Any] | None, rid: ResourceId, remote: str, flags: PeeringFlags
    ) -> None:
        if vnet_body is None:
            return
        label = role.value
        peerings = {str(p.get("name", "")).lower(): p for p in _p(vnet_body).get("virtualNetworkPeerings") or []}
        body = peerings.get(rid.name.lower())
        fix_up = f"{_up(role)} (recreates the peering pair)"
        if body is None:
            self.add(
                Status.FAIL,
                "network",
                label,
                rid.id,
                "peering exists",
                detail="not found",
                fix=fix_up,
                minutes=DEFAULT_MINUTES if role is Role.TARGET else 0.0,
            )
            return
        props = _p(body)
        problems: list[str] = []
        fix = fix_up
        if props.get("peeringState") != "Connected":
            problems.append(f"peeringState {props.get('peeringState')}")
        elif props.get("peeringSyncLevel") != "FullyInSync":
            problems.append(f"peeringSyncLevel {props.get('peeringSyncLevel')}")
            fix = f"az network vnet peering sync -n {rid.name} --vnet-name {rid.parent.name if rid.parent else ''} {_az(rid)}"
        if not _same(_ref(props.get("remoteVirtualNetwork")), remote):
            problems.append(f"remote {_ref(props.get('remoteVirtualNetwork'))}, designed {remote}")
        wrong = {k: v for k, v in flags.arm().items() if props.get(k) is not v}
        if wrong and not problems:
            problems.append(", ".join(f"{k} {props.get(k)} (designed {v})" for k, v in wrong.items()))
            sets = " ".join(f"--set {k}={str(v).lower()}" for k, v in wrong.items())
            fix = f"az network vnet peering update -n {rid.name} --vnet-name {rid.parent.name if rid.parent else ''} {_az(rid)} {sets}"
        self.add(
            Status.FAIL if problems else Status.PASS,
            "network",
            label,
            rid.id,
            "peering Connected, FullyInSync, designed flags",
            detail="; ".join(problems),
            fix=fix if problems else "",
            minutes=DEFAULT_MINUTES if problems and role is Role.TARGET else 0.0,
        )

    def _table(self, role: Role, rid: ResourceId, routes: list[tuple[str, str]], disable_bgp: bool) -> None:
        label = role.value
        minutes = DEFAULT_MINUTES if role is Role.TARGET else 0.0
        body = self.body(rid, "network", label, "route table", _up(role), minutes=minutes)
        if body is None:
            return
        props = _p(body)
        have = {
            str(_p(r).get("addressPrefix")): (str(_p(r).get("nextHopType")), str(_p(r).get("nextHopIpAddress")))
            for r in props.get("routes") or []
        }
        for prefix, hop in routes:
            got = have.get(prefix)
            ok = got == ("VirtualAppliance", hop)
            self.add(
                Status.PASS if ok else Status.FAIL,
                "network",
                label,
                rid.id,
                f"route {prefix} -> {hop}",
                detail="" if ok else (f"next hop {got[0]} {got[1]}" if got else "route missing"),
                fix=""
                if ok
                else f"az network route-table route create --route-table-name {rid.name} {_az(rid)} -n "
                f"{naming.route_name(prefix)} --address-prefix {prefix} "
                f"--next-hop-type VirtualAppliance --next-hop-ip-address {hop}",
                minutes=0.0 if ok else minutes,
            )
        bgp = props.get("disableBgpRoutePropagation")
        if bool(bgp) is not disable_bgp:
            self.add(
                Status.FAIL,
                "network",
                label,
                rid.id,
                f"disableBgpRoutePropagation {str(disable_bgp).lower()}",
                detail=f"is {bgp}",
                fix=f"az network route-table update -n {rid.name} {_az(rid)} --disable-bgp-route-propagation {str(disable_bgp).lower()}",
                minutes=minutes,
            )

    def _associations(
        self, role: Role, vnet: identity.VnetIds, body: dict[str, Any] | None, tables: Mapping[str, ResourceId]
    ) -> None:
        if body is None:
            return
        subnets = {str(s.get("name", "")).lower(): s for s in _p(body).get("subnets") or []}
        for name, table in tables.items():
            rid = vnet.subnet(name)
            got = subnets.get(name.lower())
            have = _ref(_p(got).get("routeTable")) if got is not None else ""
            ok = got is not None and _same(have, table.id)
            self.add(
                Status.PASS if ok else Status.FAIL,
                "network",
                role.value,
                rid.id,
                f"subnet uses route table {table.name}",
                detail="" if ok else ("subnet missing" if got is None else f"route table {have or 'none'}"),
                fix=""
                if ok
                else f"az network vnet subnet update -n {name} --vnet-name {vnet.vnet.name} {_az(rid)} --route-table {table.id}",
                minutes=DEFAULT_MINUTES if not ok and role is Role.TARGET else 0.0,
            )

    def _addresses(
        self,
        role: Role,
        vnet: identity.VnetIds,
        space: tuple[str, ...],
        subnets: Mapping[str, str],
        body: dict[str, Any] | None,
    ) -> None:
        """Drift of what addresses the replica: the VNet's address space and each subnet's prefix."""
        if body is None:
            return
        props = _p(body)
        have = list((props.get("addressSpace") or {}).get("addressPrefixes") or [])
        live = {str(s.get("name", "")): _p(s).get("addressPrefix") for s in props.get("subnets") or []}
        problems = [] if sorted(have) == sorted(space) else [f"address space {have}, designed {list(space)}"]
        problems += [
            f"subnet {name} {live.get(name)}, designed {prefix}"
            for name, prefix in subnets.items()
            if name in live and live[name] != prefix
        ]
        self.add(
            Status.FAIL if problems else Status.PASS,
            "network",
            role.value,
            vnet.vnet.id,
            "address space and subnet prefixes as designed",
            detail="; ".join(problems),
            fix=f"{_up(role)} (az network vnet show -n {vnet.vnet.name} {_az(vnet.vnet)})" if problems else "",
        )

    def _peerings_and_routes(self, role: Role, cfg: StackConfig) -> None:
        side = self.estate.side(role)
        spec = network_for(cfg, role)
        minutes = DEFAULT_MINUTES if role is Role.TARGET else 0.0
        bodies = {
            v.key: self.body(v.vnet, "network", role.value, "VNet", _up(role), minutes=minutes) for v in side.vnets
        }
        for vnet_spec, ids in zip(spec.vnets, side.vnets, strict=True):
            self._addresses(
                role, ids, vnet_spec.address_space, {s.name: s.prefix for s in vnet_spec.subnets}, bodies[ids.key]
            )
        for spoke in side.spokes:
            to_spoke, to_hub = side.peerings[spoke.key]
            self._peering(role, bodies[side.hub.key], to_spoke, spoke.vnet.id, HUB_TO_SPOKE)
            self._peering(role, bodies[spoke.key], to_hub, side.hub.vnet.id, SPOKE_TO_HUB)
        self._table(
            role, side.gateway_routes, [(p, spec.nva_address) for p in spec.spoke_prefixes], GATEWAY_ROUTES_DISABLE_BGP
        )
        self._associations(role, side.hub, bodies[side.hub.key], {GATEWAY_SUBNET: side.gateway_routes})
        for vnet_spec, ids in zip(spec.vnets, side.vnets, strict=True):
            if ids.route_table is None:
                continue
            routed = {s.name: ids.route_table for s in vnet_spec.subnets if s.routed_to_nva}
            if not routed:
                continue
            self._table(role, ids.route_table, [(DEFAULT_ROUTE, spec.nva_address)], WORKLOAD_ROUTES_DISABLE_BGP)
            self._associations(role, ids, bodies[ids.key], routed)

    def _firewall(self, role: Role, cfg: StackConfig) -> None:
        side = self.estate.side(role)
        if side.firewall is None or not firewall_present(network_for(cfg, role).nva, cfg.phase):
            return
        rid = side.firewall.firewall
        minutes = float(FIREWALL_CREATE_MINUTES) if role is Role.TARGET else 0.0
        body = self.body(rid, "network", role.value, "Azure Firewall", _up(role), minutes=minutes)
        if body is None:
            return
        state = _p(body).get("provisioningState")
        ok = state == "Succeeded"
        self.add(
            Status.PASS if ok else Status.FAIL,
            "network",
            role.value,
            rid.id,
            "firewall provisioningState Succeeded",
            detail=f"provisioningState {state}",
            fix="" if ok else f"az network firewall show -n {rid.name} {_az(rid)}; then {_up(role)}",
            minutes=0.0 if ok else minutes,
        )

    def _circuits(self, in_use: set[str]) -> None:
        for name, rid in self.estate.circuits.items():
            if rid.id.lower() not in in_use:
                continue
            fix = f"az network express-route show -n {rid.name} {_az(rid)} (ask the provider to provision it)"
            body = self.body(rid, "network", "circuit", f"{name} circuit", fix)
            if body is None:
                continue
            props = _p(body)
            provider = props.get("serviceProviderProvisioningState")
            peering = next(
                (
                    p
                    for p in props.get("peerings") or []
                    if str(p.get("name")) == PRIVATE_PEERING or _p(p).get("peeringType") == PRIVATE_PEERING
                ),
                None,
            )
            state = _p(peering).get("state") if peering is not None else None
            problems = []
            if provider != "Provisioned":
                problems.append(f"serviceProviderProvisioningState {provider}")
            if state != "Enabled":
                problems.append(f"{PRIVATE_PEERING} {'missing' if peering is None else state}")
            self.add(
                Status.FAIL if problems else Status.PASS,
                "network",
                "circuit",
                rid.id,
                f"{name} circuit provisioned, private peering enabled",
                detail="; ".join(problems),
                fix=f"az network express-route peering show --circuit-name {rid.name} -n {PRIVATE_PEERING} {_az(rid)}"
                if problems
                else "",
            )

    def _learned_routes(self) -> None:
        cfg = self.stacks.dr
        gateway = self.estate.target.gateway
        held = connection_plan(cfg, Role.TARGET, cfg.phase)
        if not held:
            return
        circuits = {cfg.circuits.primary.id.lower(): cfg.circuits.primary}
        if cfg.circuits.secondary is not None:
            circuits[cfg.circuits.secondary.id.lower()] = cfg.circuits.secondary
        expected = sorted({p for c in held for p in circuits[c.circuit_id.lower()].on_prem_prefixes})
        fix = f"az network vnet-gateway list-learned-routes -n {gateway.name} {_az(gateway)}"
        if not expected:
            self.add(
                Status.WARN,
                "network",
                "target",
                gateway.id,
                "target gateway learns the on-premises prefixes",
                detail="circuits.*.onPremPrefixes is empty: nothing to compare the learned routes with",
            )
            return
        body = self.body(gateway, "network", "target", "learned routes", fix, suffix="#learnedroutes")
        if body is None:
            return
        learned = {
            str(r.get("network")) for r in body.get("value") or [] if str(r.get("origin", "")).lower() != "network"
        }
        missing = [p for p in expected if p not in learned]
        self.add(
            Status.FAIL if missing else Status.PASS,
            "network",
            "target",
            gateway.id,
            "target gateway learns the on-premises prefixes over BGP",
            detail=f"not learned: {', '.join(missing)}" if missing else "",
            fix=f"{fix}; then check on-premises advertises them over the circuit's {PRIVATE_PEERING}"
            if missing
            else "",
        )

    def _circuit_carries_target(self) -> None:
        prefixes = [p for v in network_for(self.stacks.dr, Role.TARGET).vnets for p in v.address_space]
        for circuit in _target_circuits(self.stacks, self.estate):
            fix = (
                f"az network express-route list-route-tables --path primary --peering-name {PRIVATE_PEERING} "
                f"-n {circuit.name} {_az(circuit)}"
            )
            body = self.body(circuit, "network", "circuit", "circuit routes table", fix, suffix="#routestable")
            if body is None:
                continue
            carried = {str(r.get("network")) for r in body.get("value") or []}
            missing = [p for p in prefixes if p not in carried]
            self.add(
                Status.FAIL if missing else Status.PASS,
                "network",
                "circuit",
                circuit.id,
                "circuit carries the target's prefixes",
                detail=f"not carried: {', '.join(missing)}" if missing else "",
                fix=f"{fix}; then check the target gateway's connection and its BGP session" if missing else "",
            )

    def _drill(self) -> None:
        for v in self.estate.drill.values():
            body = self.body(v.vnet, "network", "drill", "drill VNet", _up(Role.TARGET))
            if body is None:
                continue
            peerings = _p(body).get("virtualNetworkPeerings") or []
            if not peerings:
                self.add(Status.PASS, "network", "drill", v.vnet.id, "drill VNet isolated (no peerings)")
            for p in peerings:
                self.add(
                    Status.FAIL,
                    "network",
                    "drill",
                    v.vnet.id,
                    "drill VNet isolated (no peerings)",
                    detail=f"peered to {_ref(_p(p).get('remoteVirtualNetwork'))} by {p.get('name')}",
                    fix=f"az network vnet peering delete -n {p.get('name')} --vnet-name {v.vnet.name} {_az(v.vnet)}",
                )

    # --- Site Recovery ---

    def site_recovery(self) -> None:
        sr = self.estate.site_recovery
        if sr is None:
            return
        cfg = self.stacks.dr.site_recovery
        vault = sr.vault
        named = [
            (vault, "vault"),
            *((r, f"{k} fabric") for k, r in sr.fabrics.items()),
            *((r, f"{k} protection container") for k, r in sr.containers.items()),
            *((r, f"container mapping {k}") for k, r in sr.container_mappings.items()),
            *((r, f"network mapping {k}") for k, r in sr.network_mappings.items()),
        ]
        for rid, what in named:
            if self.body(rid, "site-recovery", "vault", what, _up(Role.TARGET)) is not None:
                self.add(Status.PASS, "site-recovery", "vault", rid.id, f"{what} present")
        found = self.body(vault, "site-recovery", "vault", "replicated items", "", suffix="#protecteditems")
        if found is None:
            return
        items: list[dict[str, Any]] = list(found)
        listed = {str(i.get("id", "")).lower(): i for i in items}
        wanted = self.stacks.dr.recovery_plan.items if self.stacks.dr.recovery_plan is not None else []
        for item in wanted:
            if item.lower() not in listed:
                self.add(
                    Status.FAIL,
                    "site-recovery",
                    "vault",
                    item,
                    "replicated item of the recovery plan is protected",
                    detail="not in the vault's replicated items",
                    fix="enable replication for the VM again (docs/recovery-plan.md)",
                )
        if not items:
            self.add(
                Status.WARN, "site-recovery", "vault", vault.id, "replicated items", detail="the vault protects no VM"
            )
        for item in items:
            self._item(item, cfg.max_rpo_minutes, cfg.max_days_since_test_failover)

    def _item(self, item: Mapping[str, Any], max_rpo: int, max_days: int) -> None:
        props = _p(item)
        rid = str(item.get("id"))
        try:
            parsed: ResourceId | None = ResourceId.parse(rid)
        except ValueError:
            parsed = None
        vault = self.estate.site_recovery.vault if self.estate.site_recovery else None
        # The core CLI's generic read, not `az site-recovery` (an extension the operator's CLI may
        # not have, and cannot install without the internet at the worst moment).
        show = (
            f"az resource show --ids {rid} --subscription {vault.subscription}"
            if vault is not None and parsed is not None
            else ""
        )
        health = props.get("replicationHealth")
        self.add(
            Status.PASS if health == "Normal" else Status.WARN if health == "Warning" else Status.FAIL,
            "site-recovery",
            "vault",
            rid,
            "replication health Normal",
            detail=""
            if health == "Normal"
            else f"replicationHealth {health}; {props.get('replicationHealthErrors') or ''}".rstrip("; "),
            fix="" if health == "Normal" else show,
        )
        details = props.get("providerSpecificDetails") or {}
        received = _time(details.get("lastRecoveryPointReceived"))
        rpo_s = details.get("rpoInSeconds")
        age = (self.now - received).total_seconds() if received is not None else rpo_s
        if age is None:
            self.add(Status.WARN, "site-recovery", "vault", rid, f"RPO within {max_rpo} min", detail="no RPO reported")
        else:
            minutes = float(age) / 60
            ok = minutes <= max_rpo
            self.add(
                Status.PASS if ok else Status.FAIL,
                "site-recovery",
                "vault",
                rid,
                f"RPO within {max_rpo} min (siteRecovery.maxRpoMinutes)",
                detail=f"last recovery point {minutes:.1f} min old",
                fix="" if ok else show,
            )
        tested = _time(props.get("lastSuccessfulTestFailoverTime"))
        days = (self.now - tested).total_seconds() / 86400 if tested is not None else None
        ok = days is not None and days <= max_days
        self.add(
            Status.PASS if ok else Status.FAIL,
            "site-recovery",
            "vault",
            rid,
            f"successful test failover within {max_days} days (siteRecovery.maxDaysSinceTestFailover)",
            detail="never tested" if days is None else f"last {days:.0f} days ago",
            fix=""
            if ok
            else "python -m erdr.failover drill (a test failover into the drill network, docs/operations.md)",
        )

    # --- access ---

    def access(self) -> None:
        by_sub: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        for key, got in self.found.items():
            if got.forbidden_action is None:
                continue
            parts = key.split("/")
            sub = parts[2] if len(parts) > 2 else "?"
            by_sub.setdefault(sub, set()).add(got.forbidden_action)
            counts[sub] = counts.get(sub, 0) + 1
        for sub, actions in sorted(by_sub.items()):
            roles = sorted({role_for(a) for a in actions})
            self.add(
                Status.ERROR,
                "access",
                "subscription",
                identity.subscription_scope(sub),
                "the identity may read the subscription",
                detail=f"403 on {counts[sub]} reads ({', '.join(sorted(actions))}); the rest was checked",
                fix=" or ".join(
                    f'az role assignment create --assignee <identity> --role "{r.split(",")[0]}" --scope {identity.subscription_scope(sub)}'
                    for r in roles
                ),
            )


def _time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def judge(
    stacks: Stacks, estate: identity.Estate, found: Mapping[str, Outcome], now: datetime | None = None
) -> list[Finding]:
    j = Judge(stacks, estate, found, now or datetime.now(UTC))
    j.network()
    j.site_recovery()
    j.access()
    return j.out


def rto_minutes(findings: list[Finding]) -> float:
    """Network RTO if a failover started now: what must be put right first, the gateway (and the
    connection that waits for it) on the critical path, everything else beside it (one ``pulumi up``
    runs independent changes in parallel: erdr/bench/failover.py)."""
    return max((f.minutes for f in findings if f.status is Status.FAIL), default=0.0)


def estate_of(stacks: Stacks) -> identity.Estate:
    """The dr stack's resolved estate, with the source side as the prod stack resolves it (a side's
    gateway IP is its own stack's business)."""
    dr = identity.resolve(stacks.dr)
    prod = identity.resolve(stacks.prod)
    return identity.Estate(prod.source, dr.target, dr.circuits, dr.drill, dr.site_recovery, dr.recovery_plan)


def disagreements(stacks: Stacks) -> list[str]:
    """Where the two stacks' configs resolve one resource to different identities (each stack
    resolves both sides): the check would hold one side to the wrong names, so it stops instead."""
    prod, dr = identity.resolve(stacks.prod), identity.resolve(stacks.dr)
    out: list[str] = []
    for role in Role:
        a, b = prod.side(role).by_logical(), dr.side(role).by_logical()
        for logical in sorted(a.keys() & b.keys()):
            if a[logical].id.lower() != b[logical].id.lower():
                out.append(f"{role.value} {logical}: prod resolves {a[logical].id}, dr {b[logical].id}")
    for name in sorted(prod.circuits.keys() & dr.circuits.keys()):
        if prod.circuits[name].id.lower() != dr.circuits[name].id.lower():
            out.append(f"circuits.{name}.id: prod {prod.circuits[name].id}, dr {dr.circuits[name].id}")
    return out
