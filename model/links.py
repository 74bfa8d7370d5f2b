"""Which circuits each hub holds in each phase, before names, IDs and weights: the rules of the
source article, as a function of :class:`~model.config.Design` alone (so :mod:`model.identity` can
name every connection a hub may hold without the procedures of :mod:`model.phases`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from model.config import Design, Phase, Role

# A connection's routing weight only chooses among the connections of one gateway, for traffic
# from the VNet to on-premises ("Optimize ExpressRoute routing",
# https://learn.microsoft.com/azure/expressroute/expressroute-optimize-routing). A gateway that
# holds one connection has nothing to choose: it keeps Azure's default weight in every phase, so a
# phase change never rewrites it.
SINGLE_CONNECTION_WEIGHT = 0


class Weight(StrEnum):
    """Which routing weight a connection carries in a phase."""

    PREFERRED = "preferred"  # routingWeights.preferred: the circuit on-premises uses in this phase
    STANDBY = "standby"  # routingWeights.standby: the other circuit on the same gateway
    SINGLE = "single"  # the gateway's only connection: SINGLE_CONNECTION_WEIGHT, never changed


@dataclass(frozen=True)
class Link:
    """One gateway->circuit connection of a hub in a phase, before names and IDs."""

    circuit: str  # "primary" | "secondary"
    weight: Weight
    always: bool  # present in every phase (so it can be protected)
    exclusive: bool  # single circuit, same IPs: must never coexist with the peer's connection
    # On-premises traffic flows over it in this phase: the hub running the workloads (the source,
    # the target after failover) on the circuit on-premises uses (the secondary after failover).
    carries_traffic: bool = False


def links(design: Design, role: Role, phase: Phase) -> list[Link]:
    """Which circuits ``role``'s hub is connected to in ``phase`` (rules of the source article).

    - two circuits: source hub on the primary, target hub on the secondary (pre-connected in
      standby unless preConnectTarget is false);
    - single circuit, new IPs: both hubs on the one circuit, always;
    - single circuit, same IPs: never both; the source holds it except in failover, the target
      only in failover;
    - crossConnect: each hub also on the other circuit. Only then does a gateway hold several
      connections, and only then do weights choose: the connection to the circuit on-premises
      uses in the phase (the primary, the secondary after failover) is preferred.
    """
    active = phase is Phase.FAILOVER
    own = "primary" if role is Role.SOURCE or not design.two_circuits else "secondary"
    other = "secondary" if own == "primary" else "primary"
    if role is Role.SOURCE:
        present = not (design.exclusive and active)
        always = not design.exclusive
    else:
        present = active or design.target_pre_connected
        always = design.target_pre_connected
    held = ([(own, always, design.exclusive)] if present else []) + (
        [(other, True, False)] if design.cross_connect else []
    )
    in_use = "secondary" if active and design.two_circuits else "primary"
    serving = role is (Role.TARGET if active else Role.SOURCE)
    out: list[Link] = []
    for circuit, permanent, exclusive in held:
        weight = Weight.SINGLE if len(held) == 1 else Weight.PREFERRED if circuit == in_use else Weight.STANDBY
        out.append(Link(circuit, weight, permanent, exclusive, serving and circuit == in_use))
    return out
