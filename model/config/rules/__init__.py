"""Cross-field rules, by concern; :func:`semantic_issues` runs them in a fixed order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from model.config.errors import Issue
from model.config.models import StackConfig
from model.config.rules.addressing import plan_issues
from model.config.rules.circuits import circuit_issues
from model.config.rules.drill import drill_issues, recovery_plan_issues
from model.config.rules.layout import layout_issues
from model.config.rules.placement import nva_issues, source_mode_issues, subscription_issues
from model.config.rules.subnets import subnet_issues
from model.config.rules.topology import topology_issues


def semantic_issues(cfg: StackConfig, foreign: Mapping[str, object] | None = None) -> Iterator[Issue]:
    yield from subscription_issues(cfg, foreign)
    yield from layout_issues(cfg.layout)
    yield from subnet_issues(cfg)
    yield from plan_issues(cfg)
    yield from circuit_issues(cfg)
    yield from topology_issues(cfg)
    yield from drill_issues(cfg)
    yield from recovery_plan_issues(cfg)
    yield from nva_issues(cfg)
    yield from source_mode_issues(cfg)
