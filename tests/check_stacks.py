"""The stacks the readiness check is measured against: the repository's stack files with test
subscriptions, two circuits with their on-premises prefixes, a recovery plan over the replicated
items and, on request, N spokes. Read by tests/tooling/test_check.py (and the tests built on it)
and by the timing script tests/check_timings.py, so both check the same design."""

from __future__ import annotations

from typing import Any

from erdr.check.readiness import Stacks, estate_of
from erdr.stackfiles import load_stack, stack_config

SOURCE_SUB = "5a000000-0000-4000-8000-000000000001"
TARGET_SUB = "7a000000-0000-4000-8000-000000000002"
CIRCUIT_SUB = "c1000000-0000-4000-8000-000000000003"
ON_PREM = {"primary": ["192.168.0.0/16"], "secondary": ["192.168.0.0/16", "172.20.0.0/16"]}


def _circuit(name: str) -> str:
    return (
        f"/subscriptions/{CIRCUIT_SUB}/resourceGroups/rg-expressroute/providers/Microsoft.Network/"
        f"expressRouteCircuits/{name}"
    )


def overrides(spokes: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subscriptions": {"source": SOURCE_SUB, "target": TARGET_SUB},
        "circuits.primary.id": _circuit("er-hongkong"),
        "circuits.primary.onPremPrefixes": ON_PREM["primary"],
        "circuits.secondary.id": _circuit("er-singapore"),
        "circuits.secondary.onPremPrefixes": ON_PREM["secondary"],
    }
    if spokes:
        out["layout.spokes"] = [
            {
                "name": f"s{i:02d}",
                "addressSpace": [f"10.{i + 20}.0.0/24"],
                "subnets": [{"name": "app", "prefix": f"10.{i + 20}.0.0/24"}],
            }
            for i in range(spokes)
        ]
    return out


def stacks(spokes: int = 0, **extra: Any) -> Stacks:
    base = {**overrides(spokes), **extra}
    prod = stack_config(load_stack("prod", overrides=base))
    dr_plain = stack_config(load_stack("dr", overrides=base))
    sr = estate_of(Stacks(prod, dr_plain)).site_recovery
    assert sr is not None
    item = sr.containers["source"].child("replicationProtectedItems", "{}").id
    plan = {"bootGroups": [{"items": [item.format("db")]}, {"items": [item.format("app"), item.format("web")]}]}
    dr = stack_config(load_stack("dr", overrides={**base, "recoveryPlan": plan}))
    return Stacks(prod, dr)
