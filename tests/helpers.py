"""Test helpers: run the real program under Pulumi's mock runtime (once per distinct input),
and small readers over a SimResult, so tests say what they check rather than how to dig."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from erdr.simulate import UNKNOWN, Registration, SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack
from tests import session_cache

EXAMPLES = sorted(p for p in (PROJECT_DIR / "examples").iterdir() if p.is_dir())
T = "azure-native:network:"
VNET, SUBNET, PEERING = T + "VirtualNetwork", T + "Subnet", T + "VirtualNetworkPeering"
ROUTES, GATEWAY, CONNECTION = T + "RouteTable", T + "VirtualNetworkGateway", T + "VirtualNetworkGatewayConnection"
PIP = T + "PublicIPAddress"

# A replicated item of the default dr stack's vault ({} is its name): what recovery plans list.
REPLICATED_ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/{}"
)
# A recovery plan of two boot groups for the dr stack's `recoveryPlan` config.
RECOVERY_PLAN = {
    "bootGroups": [
        {"items": [REPLICATED_ITEM.format("db")]},
        {"items": [REPLICATED_ITEM.format("app"), REPLICATED_ITEM.format("web")]},
    ]
}
# Peer stacks' outputs for the single-circuit gate: neither stack holds the circuit.
NO_PEER_CONNECTIONS = {f"organization/expressroute-dr/{s}": {"circuitConnections": []} for s in ("prod", "dr")}


_CACHE: dict[str, SimResult] = {}

Run = Callable[..., SimResult]


def run_stack(
    stack: str,
    *,
    preview: bool = False,
    overrides: Mapping[str, Any] | None = None,
    peer_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> SimResult:
    """Simulate ``stack`` with dotted-key overrides; identical calls share one run, across the
    xdist workers too (tests/session_cache.py). A run that raises is not kept: each caller sees
    the error in its own test."""
    key = json.dumps([stack, preview, overrides or {}, peer_outputs or {}], sort_keys=True, default=str)
    if key not in _CACHE:

        def run() -> SimResult:
            return simulate(
                load_stack(stack, overrides=dict(overrides or {})), preview=preview, peer_outputs=peer_outputs
            )

        _CACHE[key] = session_cache.once_per("run-stack", key, run)
    return _CACHE[key]


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


def connection_name(example: Path, stack: str, circuit: str) -> str:
    """A hub's connection to ``circuit``: ``<hub VNet>-to-<circuit>``, the hub VNet being named
    by its placement or ``<layout name>-<region>``; an adopted production connection keeps its name."""
    cfg: dict[str, Any] = yaml.safe_load((example / f"Pulumi.{stack}.yaml").read_text())["config"]
    side = "source" if stack == "prod" else "target"
    layout: dict[str, Any] = cfg.get("expressroute-dr:layout") or {"hub": {"name": "hub"}}
    region = "eastasia" if stack == "prod" else "southeastasia"
    source = cfg.get("expressroute-dr:source") or {}
    if side == "source" and source.get("mode") == "adopted":
        return source["imports"][f"{layout['hub']['name']}-{circuit}-connection"].rsplit("/", 1)[-1]
    placement: dict[str, Any] = layout["hub"].get("placement") or {}
    placed = (placement.get(side) or {}).get("name")
    return f"{placed or layout['hub']['name'] + '-' + region}-to-{circuit}"


def clone_files(*pathspec: str) -> list[str]:
    """What `git clone` of this working tree would hold (tracked and new files, nothing ignored),
    as paths relative to the project, optionally limited to git pathspecs ("*.py")."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspec],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [rel for rel in listed.split("\0") if rel and (PROJECT_DIR / rel).is_file()]
