"""Rules of what a subnet carries beyond its prefix (layout ``routeTable``, ``nsg``,
``delegations``): what Azure refuses on its service subnets (policies/shared/service_subnets.py,
with the learn.microsoft.com pages), and an NSG the target would otherwise silently lack."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Role, StackConfig, SubnetLayout
from policies.shared.service_subnets import NsgRule, service_subnet


def _layout_subnets(cfg: StackConfig) -> Iterator[tuple[str, SubnetLayout]]:
    hub = cfg.layout.hub
    yield "layout.hub.nvaSubnet", hub.nva_subnet
    yield from ((f"layout.hub.extraSubnets[{i}]", s) for i, s in enumerate(hub.extra_subnets))
    for v, spoke in enumerate(cfg.layout.spokes):
        yield from ((f"layout.spokes[{v}].subnets[{i}]", s) for i, s in enumerate(spoke.subnets))


def subnet_issues(cfg: StackConfig) -> Iterator[Issue]:
    for path, sub in _layout_subnets(cfg):
        rule = service_subnet(sub.name)
        if rule is not None:
            if sub.route_table == "nva":
                yield Issue(
                    f"{path}.routeTable",
                    sub.route_table,
                    f"{rule.name} is never routed through the NVA: {rule.service} has its own routing rule "
                    f"({rule.url}); remove the key",
                )
            if sub.nsg is not None and rule.nsg is NsgRule.REFUSED:
                yield Issue(
                    f"{path}.nsg",
                    sub.nsg.model_dump(by_alias=True, exclude_none=True),
                    f"Azure does not support a network security group on {rule.name} ({rule.url}); remove it",
                )
            if sub.delegations:
                yield Issue(
                    f"{path}.delegations",
                    sub.delegations,
                    f"{rule.name} is reserved for {rule.service} and cannot be delegated ({rule.url})",
                )
        nsg = sub.nsg
        if cfg.role is Role.TARGET and nsg is not None and nsg.source and nsg.target is None and nsg.rules is None:
            yield Issue(
                f"{path}.nsg",
                nsg.model_dump(by_alias=True, exclude_none=True),
                "the source subnet has an NSG but the target would get none: give nsg.target (an NSG in the "
                "target region) or nsg.rules (run `python -m erdr.discover` to copy the source's)",
            )
