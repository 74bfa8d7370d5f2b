"""Small readers over a SimResult, so tests say what they check rather than how to dig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from erdr.simulate import UNKNOWN, Registration, SimResult

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (PROJECT / "examples").iterdir() if p.is_dir())
T = "azure-native:network:"
VNET, SUBNET, PEERING = T + "VirtualNetwork", T + "Subnet", T + "VirtualNetworkPeering"
ROUTES, GATEWAY, CONNECTION = T + "RouteTable", T + "VirtualNetworkGateway", T + "VirtualNetworkGatewayConnection"
PIP = T + "PublicIPAddress"


def short(urn: str) -> str:
    """The logical name at the end of a URN."""
    return urn.rsplit("::", 1)[-1]


def deps(reg: Registration) -> set[str]:
    """Every resource name this one waits for (explicit and through its inputs)."""
    names = {short(u) for u in reg.dependencies}
    for urns in reg.property_dependencies.values():
        names |= {short(u) for u in urns}
    return names


def by_physical_name(result: SimResult, type_: str, key: str) -> dict[str, Registration]:
    return {str(r.plain_inputs[key]): r for r in result.of_type(type_)}


def connections(result: SimResult) -> dict[str, dict[str, Any]]:
    """Connection name -> {circuit id, routing weight} as registered."""
    out: dict[str, dict[str, Any]] = {}
    for r in result.of_type(CONNECTION):
        i = r.plain_inputs
        out[i["virtualNetworkGatewayConnectionName"]] = {
            "circuit": i["peer"]["id"],
            "weight": i.get("routingWeight"),
        }
    return out


def known(value: Any) -> bool:
    return value != UNKNOWN
