"""Peering rules: hub-and-spoke settings, both directions, remote gateways; drill isolation."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pulumi_policy import EnforcementLevel, Severity

from ..estate import Estate, OutsideVnet, Peering, Vnet
from ..framework import Context, Rule
from ..shared.names import DRILL_TAG
from ..values import UNKNOWN

# The source article's table: (allowVirtualNetworkAccess, allowForwardedTraffic,
# allowGatewayTransit, useRemoteGateways).
SETTINGS = ("allow_access", "allow_forwarded", "allow_transit", "use_remote_gateways")
PROPERTY = {
    "allow_access": "allowVirtualNetworkAccess",
    "allow_forwarded": "allowForwardedTraffic",
    "allow_transit": "allowGatewayTransit",
    "use_remote_gateways": "useRemoteGateways",
}
SPOKE_TO_HUB = {"allow_access": True, "allow_forwarded": True, "allow_transit": False, "use_remote_gateways": True}
HUB_TO_SPOKE = {"allow_access": True, "allow_forwarded": True, "allow_transit": True, "use_remote_gateways": False}


def _label(ref: object) -> str:
    return ref.label if isinstance(ref, Vnet | OutsideVnet) else "?"


def check_peerings(ctx: Context, estate: Estate) -> None:
    hubs = {id(v) for v in estate.vnets if estate.gateway_vnets.get(id(v))}
    pairs: dict[tuple[int, int], Peering] = {}
    open_ended: set[int] = set()  # VNets with a peering whose remote end is unknown yet
    for p in estate.peerings:
        if isinstance(p.local, Vnet) and isinstance(p.remote, Vnet):
            pairs[(id(p.local), id(p.remote))] = p
        elif isinstance(p.local, Vnet) and p.remote is UNKNOWN:
            open_ended.add(id(p.local))
    remote_users: dict[int, list[Peering]] = {}
    enforce_table = ctx.option("enforceArticleTable") is not False
    for p in estate.peerings:
        if p.local is UNKNOWN or p.remote is UNKNOWN:
            side = "virtualNetworkName" if p.local is UNKNOWN else "remoteVirtualNetwork.id"
            ctx.undecided(p.urn, f"peering '{p.label}'", side)
            continue
        local, remote = p.local, p.remote
        if not isinstance(local, Vnet):
            continue
        if p.use_remote_gateways is True:
            remote_users.setdefault(id(local), []).append(p)
        if not isinstance(remote, Vnet):
            continue  # the other end is another stack's: only what this side holds is checked
        reverse = pairs.get((id(remote), id(local)))
        where = f"peering '{p.label}' ({local.label} -> {remote.label})"
        if reverse is None and id(remote) not in open_ended:
            ctx.violation(
                f"{where} has no peering back from {remote.label} to {local.label}; a peering "
                "stays 'Initiated' and carries no traffic until both directions exist. Add the "
                "reverse peering.",
                p.urn,
            )
        expected, role = None, ""
        if id(remote) in hubs and id(local) not in hubs:
            expected, role = SPOKE_TO_HUB, "spoke to hub"
        elif id(local) in hubs and id(remote) not in hubs:
            expected, role = HUB_TO_SPOKE, "hub to spoke"
        if expected is not None and enforce_table:
            wrong = []
            for setting in SETTINGS:
                value = getattr(p, setting)
                if value is UNKNOWN:
                    ctx.undecided(p.urn, f"{where} settings", PROPERTY[setting])
                elif bool(value) != expected[setting]:
                    wrong.append(f"{PROPERTY[setting]} should be {str(expected[setting]).lower()}")
            if wrong:
                ctx.violation(
                    f"{where} is a {role} peering but {'; '.join(wrong)} (the hub-and-spoke table of "
                    "'Integrate ExpressRoute with disaster recovery for Azure VMs').",
                    p.urn,
                )
        if p.use_remote_gateways is True:
            if id(remote) not in hubs:
                ctx.violation(
                    f"{where} sets useRemoteGateways but {remote.label} has no virtual network gateway "
                    "(RemoteVnetHasNoGateways). Peer towards the hub that has the gateway, or turn "
                    "useRemoteGateways off.",
                    p.urn,
                )
            if reverse is not None and reverse.allow_transit is UNKNOWN:
                ctx.undecided(reverse.urn, f"gateway transit for {where}", "allowGatewayTransit")
            elif reverse is not None and reverse.allow_transit is not True:
                ctx.violation(
                    f"{where} sets useRemoteGateways but the reverse peering '{reverse.label}' does not "
                    "allow gateway transit. Set allowGatewayTransit on the hub's peering.",
                    p.urn,
                )
        elif p.use_remote_gateways is UNKNOWN:
            ctx.undecided(p.urn, f"{where} remote gateway use", "useRemoteGateways")
    for vnet_id, users in remote_users.items():
        vnet = users[0].local
        if len(users) > 1:
            names = ", ".join(f"'{u.label}'" for u in users)
            ctx.violation(
                f"VNet '{_label(vnet)}' uses remote gateways through {len(users)} peerings ({names}); "
                "Azure allows one. Keep useRemoteGateways on the peering to the hub only.",
                users[1].urn,
            )
        if vnet_id in hubs:
            ctx.violation(
                f"VNet '{_label(vnet)}' has its own gateway and also uses a remote one through "
                f"'{users[0].label}'; Azure refuses this. Turn useRemoteGateways off.",
                users[0].urn,
            )


DRILL_TAG_OPTION = "=".join(DRILL_TAG)  # the tag the program puts on its drill VNets


def _drill_matcher(ctx: Context) -> tuple[re.Pattern[str] | None, tuple[str, str] | None]:
    text_ = ctx.option("drillNamePattern")
    pattern = re.compile(str(text_)) if text_ else None
    tag = ctx.option("drillTag")
    pair = None
    if isinstance(tag, str) and "=" in tag:
        key, _, value = tag.partition("=")
        pair = (key, value)
    return pattern, pair


def is_drill(vnet: Vnet, pattern: re.Pattern[str] | None, tag: tuple[str, str] | None) -> bool:
    if pattern is not None and isinstance(vnet.name, str) and pattern.search(vnet.name):
        return True
    return tag is not None and isinstance(vnet.tags, Mapping) and vnet.tags.get(tag[0]) == tag[1]


def check_drill(ctx: Context, estate: Estate) -> None:
    """Drill VNets (tagged, or named after the pattern) have no peerings and no connections.

    Tags are known in a preview; names of VNets being created are not, so an untagged VNet
    whose name is unknown is matched against the name pattern on ``pulumi up``."""
    pattern, tag = _drill_matcher(ctx)
    drill = {id(v) for v in estate.vnets if is_drill(v, pattern, tag)}
    # Untagged VNets whose names are not known yet may still match the name pattern.
    maybe = {id(v) for v in estate.vnets if pattern is not None and v.name is UNKNOWN and id(v) not in drill}

    def touches(ref: object, ids: set[int]) -> bool:
        return isinstance(ref, Vnet) and id(ref) in ids

    unnamed: list[str] = []  # links whose VNets may match the name pattern once named

    for p in estate.peerings:
        ends = [e for e in (p.local, p.remote) if touches(e, drill)]
        if ends:
            ctx.violation(
                f"Drill VNet '{_label(ends[0])}' is peered ('{p.label}': {_label(p.local)} -> "
                f"{_label(p.remote)}); a test failover must run on an isolated network or the test "
                "VMs answer with production IPs. Remove the peering.",
                p.urn,
            )
        elif p.local is UNKNOWN or p.remote is UNKNOWN:
            side = "virtualNetworkName" if p.local is UNKNOWN else "remoteVirtualNetwork.id"
            ctx.undecided(p.urn, f"whether peering '{p.label}' touches the drill network", side)
        elif touches(p.local, maybe) or touches(p.remote, maybe):
            unnamed.append(f"peering '{p.label}'")
    for c in estate.connections:
        gw = c.gateway
        if gw is UNKNOWN or (gw is not None and gw.vnet is UNKNOWN):
            ctx.undecided(c.urn, f"whether connection '{c.label}' touches the drill network", "its gateway's VNet")
            continue
        if gw is not None and touches(gw.vnet, drill):
            ctx.violation(
                f"Drill VNet '{_label(gw.vnet)}' is connected through gateway '{gw.label}' (connection "
                f"'{c.label}'); the drill network must reach neither on-premises nor production. "
                "Remove the connection.",
                c.urn,
            )
        elif gw is not None and touches(gw.vnet, maybe):
            unnamed.append(f"connection '{c.label}'")
    if unnamed:
        unnamed.sort()  # stable whatever order the engine sends resources in
        shown = ", ".join(unnamed[:3]) + (f" and {len(unnamed) - 3} more" if len(unnamed) > 3 else "")
        ctx.undecided(None, f"whether {shown} join a VNet named like a drill VNet", "the VNets' names")


PEERING_RULE = Rule(
    name="hub-spoke-peering",
    display_name="Hub-and-spoke peerings as the DR article sets them",
    description=(
        "Peerings between a hub (a VNet with a gateway) and its spokes must exist in both "
        "directions with the article's settings (spoke to hub: access, forwarded traffic, use "
        "remote gateways; hub to spoke: access, forwarded traffic, gateway transit); "
        "useRemoteGateways only towards a VNet with a gateway that allows transit, at most once "
        "per VNet, and never from a VNet with its own gateway."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation=(
        "Create both peerings; on the spoke side set allowVirtualNetworkAccess, "
        "allowForwardedTraffic and useRemoteGateways; on the hub side allowVirtualNetworkAccess, "
        "allowForwardedTraffic and allowGatewayTransit."
    ),
    check=check_peerings,
    options={
        "enforceArticleTable": {
            "type": "boolean",
            "description": "Check each hub/spoke peering's four settings against the article's "
            "table (default true); the direction and remote-gateway checks always run.",
        }
    },
    defaults={"onUnknown": "advise", "enforceArticleTable": True},
)

DRILL_RULE = Rule(
    name="drill-network-isolated",
    display_name="Isolated drill network",
    description=(
        "The virtual networks used for disaster-recovery drills (test failover) must have no "
        "peerings and no gateway connections, so test VMs never meet production or on-premises."
    ),
    severity=Severity.HIGH,
    level=EnforcementLevel.MANDATORY,
    remediation="Remove every peering and gateway connection of the drill VNets.",
    check=check_drill,
    options={
        "drillNamePattern": {
            "type": "string",
            "description": "Regular expression matched against VNet names (default '-drill$'; '' for "
            "none). Names of VNets being created are known only on `pulumi up`.",
        },
        "drillTag": {
            "type": "string",
            "description": f"'key=value' tag that marks a VNet as part of the drill network (default "
            f"'{DRILL_TAG_OPTION}', which this project's drill VNets carry; known in previews too).",
        },
    },
    defaults={"onUnknown": "advise", "drillNamePattern": "-drill$", "drillTag": DRILL_TAG_OPTION},
)
