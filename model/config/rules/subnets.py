"""Rules of what a subnet carries beyond its prefix (layout ``routeTable``, ``nsg``,
``delegations``): what Azure refuses on its service subnets (policies/shared/service_subnets.py,
with the learn.microsoft.com pages), and an NSG the target would otherwise silently lack."""

from __future__ import annotations

from collections.abc import Iterator

from model.config.errors import Issue
from model.config.models import Role, StackConfig, SubnetLayout
from policies.shared.service_subnets import BASTION_NSG_DOC, NsgRule, missing_bastion_rules, service_subnet


def _layout_subnets(cfg: StackConfig) -> Iterator[tuple[str, SubnetLayout]]:
    hub = cfg.layout.hub
    yield "layout.hub.nvaSubnet", hub.nva_subnet
    yield from ((f"layout.hub.extraSubnets[{i}]", s) for i, s in enumerate(hub.extra_subnets))
    for v, spoke in enumerate(cfg.layout.spokes):
        yield from ((f"layout.spokes[{v}].subnets[{i}]", s) for i, s in enumerate(spoke.subnets))


def subnet_issues(cfg: StackConfig) -> Iterator[Issue]:
    for path, sub in _layout_subnets(cfg):
        if sub is cfg.layout.hub.nva_subnet and sub.route_table == "nva":
            yield Issue(
                f"{path}.routeTable",
                sub.route_table,
                "the NVA's own subnet is never routed to the NVA (its traffic would loop); remove the key",
            )
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
            if sub.nsg is not None and sub.nsg.rules is not None and rule.nsg is NsgRule.BASTION_RULES:
                shaped: list[dict[str, object]] = [
                    {
                        "direction": r.direction,
                        "access": r.access,
                        "peers": r.source_address_prefixes
                        if r.direction == "Inbound"
                        else r.destination_address_prefixes,
                        "ports": r.destination_port_ranges,
                    }
                    for r in sub.nsg.rules
                ]
                missing = missing_bastion_rules(shaped)
                if missing:
                    yield Issue(
                        f"{path}.nsg.rules",
                        [r.name for r in sub.nsg.rules],
                        f"an NSG on AzureBastionSubnet needs the rules of {BASTION_NSG_DOC}; missing: {', '.join(missing)}",
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
