"""The stacks the benchmarks run: the example pairs, scaled layouts, and one cache of simulations.

Every section of ``make bench`` reads the same simulated registrations, so a stack in a phase is
run once per bench, the way ``erdr.plan`` runs them (the single-circuit gate reads the peer
stack's outputs in the same phase).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erdr.plan import needs_peer, stack_config, with_phase
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack
from model.config import Phase

EXAMPLES_DIR = PROJECT_DIR / "examples"
STACKS = ("prod", "dr")
# Spoke blocks for scaled layouts: 10.100.0.0/16 upwards, clear of the default hub and spokes
# (10.10.10.0/24, 10.1.0.0/24, 10.2.0.0/24); the drill block (172.16.0.0/16) holds 256 /24s.
_SCALED_FIRST_OCTET2 = 100
# The dr stack with a recovery plan (its Automation runbook, storage and roles): registered only
# when replicated items are listed, so the project's stacks alone never show it.
_ITEM = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-expressroute-dr-southeastasia/providers/"
    "Microsoft.RecoveryServices/vaults/rsv-asr-southeastasia/replicationFabrics/asr-a2a-eastasia/"
    "replicationProtectionContainers/asr-a2a-container-eastasia/replicationProtectedItems/{}"
)
VARIANTS: dict[str, dict[str, Any]] = {
    "recovery-plan": {
        "recoveryPlan": {"bootGroups": [{"items": [_ITEM.format("db")]}, {"items": [_ITEM.format("app")]}]}
    }
}


def examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES_DIR.iterdir() if (p / "Pulumi.prod.yaml").is_file())


def scaled_layout(base: dict[str, Any], spokes: int) -> dict[str, Any]:
    """The default hub with ``spokes`` one-subnet /24 spokes (the shape of the default spokes)."""
    if spokes > 255 * 56:
        raise ValueError(f"{spokes} spokes do not fit in 10.100.0.0/16 - 10.155.255.0/24")
    layout = copy.deepcopy(base)
    layout["spokes"] = []
    for i in range(spokes):
        prefix = f"10.{_SCALED_FIRST_OCTET2 + i // 256}.{i % 256}.0/24"
        layout["spokes"].append(
            {"name": f"spoke{i:04d}", "addressSpace": [prefix], "subnets": [{"name": "workload", "prefix": prefix}]}
        )
    return layout


def stack_settings(
    stack: str, example: str | None = None, spokes: int | None = None, variant: str | None = None
) -> StackSettings:
    """A stack of the project (``example`` None) or of an example pair, optionally scaled."""
    stack_file = EXAMPLES_DIR / example / f"Pulumi.{stack}.yaml" if example else None
    overrides = dict(VARIANTS[variant]) if variant else {}
    if spokes is not None:
        base = load_stack(stack, stack_file=stack_file).config["layout"]
        overrides["layout"] = scaled_layout(base, spokes)
    return load_stack(stack, stack_file=stack_file, overrides=overrides)


@dataclass
class Simulations:
    """``up`` runs (known IDs) keyed by (example, stack, phase); the peer stack is run as needed."""

    runs: dict[tuple[str | None, str, Phase, str | None], SimResult] = field(
        default_factory=dict[tuple[str | None, str, Phase, str | None], SimResult]
    )

    def get(self, example: str | None, stack: str, phase: Phase, variant: str | None = None) -> SimResult:
        key = (example, stack, phase, variant)
        if key not in self.runs:
            settings = with_phase(stack_settings(stack, example, variant=variant), phase)
            cfg = stack_config(settings)
            peers: dict[str, Any] = {}
            if needs_peer(cfg):
                assert cfg.peer_stack is not None
                peer = self.get(example, cfg.peer_stack.rsplit("/", 1)[-1], phase)
                peers = {cfg.peer_stack: peer.outputs}
            result = simulate(settings, peer_outputs=peers)
            if result.error:
                where = f"{example or 'project'}/{stack}{'+' + variant if variant else ''} ({phase.value})"
                raise RuntimeError(f"{where}: the program failed: {result.error}")
            self.runs[key] = result
        return self.runs[key]


def example_path(example: str) -> Path:
    return EXAMPLES_DIR / example
