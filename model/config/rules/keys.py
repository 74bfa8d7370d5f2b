"""Rules of the circuit authorization keys: one key, one connection, one stack.

An authorization key of a circuit in another subscription is redeemed by exactly one connection
("Connect a virtual network to an ExpressRoute circuit", circuits in another subscription:
https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-arm). Each stack sets
the keys of its own connections (``primaryAuthorizationKey``, ``secondaryAuthorizationKey``); the
dr stack's recovery-plan runbook also rewrites prod's connections and so holds prod's keys
(``sourcePrimaryAuthorizationKey``, ``sourceSecondaryAuthorizationKey``). Values are never shown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from model.config.errors import HiddenValue, Issue
from model.config.models import Role, StackConfig

CIRCUITS = ("primary", "secondary")


def own_key(circuit: str) -> str:
    return f"{circuit}AuthorizationKey"


def source_key(circuit: str) -> str:
    return f"source{circuit.capitalize()}AuthorizationKey"


def circuits_of(cfg: StackConfig, role: Role) -> set[str]:
    """The circuits ``role``'s hub connects to in some phase (model/phases.py connection_plan)."""
    own = "primary" if role is Role.SOURCE or not cfg.two_circuits else "secondary"
    other = "secondary" if own == "primary" else "primary"
    return {own, other} if cfg.cross_connect else {own}


def key_issues(cfg: StackConfig, keys: Mapping[str, str]) -> Iterator[Issue]:
    """``keys``: the authorization keys this stack sets, config key -> value (secrets)."""
    mine = circuits_of(cfg, cfg.role)
    source = circuits_of(cfg, Role.SOURCE)
    has_plan = cfg.role is Role.TARGET and cfg.recovery_plan is not None and bool(cfg.recovery_plan.items)
    for circuit in CIRCUITS:
        own, theirs = own_key(circuit), source_key(circuit)
        if own in keys and circuit not in mine:
            yield Issue(
                own,
                HiddenValue(),
                f"this stack's hub never connects to the {circuit} circuit, so no connection would redeem the key; "
                "set it on the stack whose hub does",
            )
        if theirs in keys and not has_plan:
            yield Issue(
                theirs,
                HiddenValue(),
                "is read only by the dr stack's recovery-plan runbook, which rewrites prod's connections; "
                "set it on dr together with recoveryPlan.bootGroups, or remove it",
            )
            continue
        if theirs in keys and circuit not in source:
            yield Issue(theirs, HiddenValue(), f"prod's hub never connects to the {circuit} circuit; remove it")
            continue
        if own in keys and theirs in keys and keys[own] == keys[theirs]:
            yield Issue(
                own,
                HiddenValue(),
                f"is the same key as {theirs}: an authorization is redeemed by one connection; "
                "ask the circuit owner for a second authorization for this stack",
            )
        if not has_plan or circuit not in source or circuit not in mine:
            continue
        if own in keys and theirs not in keys:
            yield Issue(
                theirs,
                None,
                f"required with {own} and a recovery plan: the circuit is reached by key, and the runbook "
                f"rewrites prod's {circuit} connection, which only prod's own key authorizes",
            )
        if theirs in keys and own not in keys:
            yield Issue(
                own,
                None,
                f"required with {theirs}: dr's hub connects to the {circuit} circuit too and needs its own "
                "authorization (each key is redeemed by one connection)",
            )
