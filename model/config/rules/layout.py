"""Rules of the declared source network: names, overlap, subnets inside their VNet,
GatewaySubnet size, the NVA address."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from model.config.errors import Issue
from model.config.models import HubLayout, Layout
from policies.shared import azure_facts
from policies.shared.addrspace import Network, contains, find_overlaps, parse_address, parse_prefix, reserved_addresses
from policies.shared.names import AZURE_FIREWALL_SUBNET, GATEWAY_SUBNET
from policies.shared.service_subnets import service_subnet


@dataclass(frozen=True)
class VnetPrefixes:
    """A VNet's prefixes with the key path of each, for overlap messages."""

    name: str
    path: str
    prefixes: list[tuple[str, Network]]


def layout_vnets(layout: Layout) -> list[VnetPrefixes]:
    vnets = [
        VnetPrefixes(
            layout.hub.name,
            "layout.hub",
            [(f"layout.hub.addressSpace[{i}]", parse_prefix(p)) for i, p in enumerate(layout.hub.address_space)],
        )
    ]
    for s, spoke in enumerate(layout.spokes):
        vnets.append(
            VnetPrefixes(
                spoke.name,
                f"layout.spokes[{s}]",
                [(f"layout.spokes[{s}].addressSpace[{i}]", parse_prefix(p)) for i, p in enumerate(spoke.address_space)],
            )
        )
    return vnets


def _overlap_issues(entries: list[tuple[tuple[str, str], Network]], what: str) -> Iterator[Issue]:
    """entries: ((owner, path), prefix). Reports the inner prefix's path for each overlap."""
    for ov in find_overlaps(entries):
        (outer_owner, outer_path), (inner_owner, inner_path) = ov.outer_key, ov.inner_key
        where = "itself" if outer_owner == inner_owner else f"{outer_owner!r}"
        yield Issue(
            inner_path,
            str(ov.inner),
            f"{what} overlaps {ov.outer} of {where} at {outer_path}; give each a distinct range",
        )


def _subnet_issues(
    vnet_path: str, vnet_prefixes: list[Network], subnets: list[tuple[str, str, str, str]]
) -> Iterator[Issue]:
    """subnets: (name, path-of-name, path-of-prefix, prefix text)."""
    seen: dict[str, str] = {}
    entries: list[tuple[tuple[str, str], Network]] = []
    for name, name_path, path, text in subnets:
        # Azure subnet names ignore case: 'App' and 'app' would be one subnet written twice.
        if name.lower() in seen:
            yield Issue(name_path, name, f"duplicate subnet name (also at {seen[name.lower()]})")
        seen[name.lower()] = name_path
        net = parse_prefix(text)
        if not any(contains(v, net) for v in vnet_prefixes):
            yield Issue(
                path,
                text,
                f"subnet lies outside its VNet ({', '.join(map(str, vnet_prefixes))} at {vnet_path})",
            )
        entries.append(((name, path), net))
    yield from _overlap_issues(entries, "subnet")


def _hub_subnets(hub: HubLayout) -> list[tuple[str, str, str, str]]:
    # GatewaySubnet first, so another hub subnet given its name is the one reported.
    gateway = "layout.hub.gatewaySubnetPrefix"
    subnets = [
        (GATEWAY_SUBNET, gateway, gateway, hub.gateway_subnet_prefix),
        (hub.nva_subnet.name, "layout.hub.nvaSubnet.name", "layout.hub.nvaSubnet.prefix", hub.nva_subnet.prefix),
    ]
    subnets += [
        (s.name, f"layout.hub.extraSubnets[{i}].name", f"layout.hub.extraSubnets[{i}].prefix", s.prefix)
        for i, s in enumerate(hub.extra_subnets)
    ]
    return subnets


def _service_subnet_issues(layout: Layout) -> Iterator[Issue]:
    """What Azure refuses of its service subnets (policies/shared/service_subnets.py): a size below
    the service's minimum, and an NVA placed in a subnet reserved for another service. The
    GatewaySubnet and AzureFirewallSubnet sizes have rules of their own."""
    hub = layout.hub
    subnets = [("layout.hub.nvaSubnet", hub.nva_subnet)]
    subnets += [(f"layout.hub.extraSubnets[{i}]", s) for i, s in enumerate(hub.extra_subnets)]
    subnets += [
        (f"layout.spokes[{v}].subnets[{i}]", s)
        for v, spoke in enumerate(layout.spokes)
        for i, s in enumerate(spoke.subnets)
    ]
    for path, sub in subnets:
        rule = service_subnet(sub.name)
        if rule is None or rule.name in (GATEWAY_SUBNET, AZURE_FIREWALL_SUBNET):
            continue
        if sub is hub.nva_subnet:
            yield Issue(
                f"{path}.name",
                sub.name,
                f"Azure reserves this subnet for {rule.service} ({rule.url}); give the NVA a subnet of its own",
            )
            continue
        net = parse_prefix(sub.prefix)
        if rule.max_prefixlen is not None and net.version == 4 and net.prefixlen > rule.max_prefixlen:
            yield Issue(
                f"{path}.prefix",
                sub.prefix,
                f"{rule.name} must be /{rule.max_prefixlen} or larger for {rule.service} ({rule.url})",
            )


def layout_issues(layout: Layout) -> Iterator[Issue]:
    vnets = layout_vnets(layout)
    names: dict[str, str] = {}
    for vnet in vnets:
        if vnet.name.lower() in names:
            yield Issue(f"{vnet.path}.name", vnet.name, f"duplicate VNet name (also at {names[vnet.name.lower()]})")
        names[vnet.name.lower()] = f"{vnet.path}.name"
    # Every spoke is peered to the hub, so all of them form one routing domain.
    yield from _overlap_issues([((v.name, path), net) for v in vnets for path, net in v.prefixes], "address space")
    hub = layout.hub
    hub_prefixes = [net for _, net in vnets[0].prefixes]
    yield from _subnet_issues("layout.hub.addressSpace", hub_prefixes, _hub_subnets(hub))
    gw = parse_prefix(hub.gateway_subnet_prefix)
    longest = azure_facts.GATEWAY_SUBNET_MAX_PREFIXLEN
    if gw.version == 4 and gw.prefixlen > longest:
        yield Issue(
            "layout.hub.gatewaySubnetPrefix",
            hub.gateway_subnet_prefix,
            f"GatewaySubnet must be /{longest} or larger for an ExpressRoute gateway",
        )
    nva_net = parse_prefix(hub.nva_subnet.prefix)
    nva = parse_address(hub.nva_address)
    if nva not in nva_net:
        yield Issue("layout.hub.nvaAddress", hub.nva_address, f"NVA address is outside the NVA subnet {nva_net}")
    elif nva in reserved_addresses(nva_net):
        yield Issue(
            "layout.hub.nvaAddress",
            hub.nva_address,
            f"Azure reserves this address in {nva_net} (first four and last); pick another",
        )
    yield from _service_subnet_issues(layout)
    for s, spoke in enumerate(layout.spokes):
        if spoke.name.lower() == hub.name.lower():
            continue
        prefixes = [parse_prefix(p) for p in spoke.address_space]
        for i, sub in enumerate(spoke.subnets):
            if sub.name.lower() == GATEWAY_SUBNET.lower():
                yield Issue(
                    f"layout.spokes[{s}].subnets[{i}].name",
                    sub.name,
                    "a spoke may not have a GatewaySubnet: it uses the hub's gateway",
                )
        yield from _subnet_issues(
            f"layout.spokes[{s}].addressSpace",
            prefixes,
            [
                (
                    sub.name,
                    f"layout.spokes[{s}].subnets[{i}].name",
                    f"layout.spokes[{s}].subnets[{i}].prefix",
                    sub.prefix,
                )
                for i, sub in enumerate(spoke.subnets)
            ],
        )


def layout_subnet_names(layout: Layout, vnet: str) -> list[str]:
    if vnet == layout.hub.name:
        return [GATEWAY_SUBNET, layout.hub.nva_subnet.name, *(s.name for s in layout.hub.extra_subnets)]
    return [sub.name for spoke in layout.spokes if spoke.name == vnet for sub in spoke.subnets]
