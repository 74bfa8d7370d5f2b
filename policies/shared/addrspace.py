"""Address-space logic shared by the program's config validation and the policy pack.

Pure standard library, so the policy pack can import it from its own directory and the program
can import it as ``policies.addrspace``. Every overlap check in the project goes through
:func:`find_overlaps`, one sort-and-sweep pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

K = TypeVar("K", bound=Hashable)

# Azure keeps the network address, the next three (gateway, two DNS) and the broadcast address of
# every IPv4 subnet; IPv6 subnets lose the first four.
AZURE_RESERVED_LEADING = 4


class PrefixError(ValueError):
    """A prefix string that Azure would refuse, with a message that says how to fix it."""


def parse_prefix(text: object) -> Network:
    """Parse a CIDR string strictly: a prefix length is required and host bits must be clear."""
    if not isinstance(text, str):
        raise PrefixError(f"expected a CIDR string such as 10.1.0.0/24, got {type(text).__name__}")
    value = text.strip()
    if "/" not in value:
        raise PrefixError("missing prefix length; write it as a.b.c.d/len")
    address_part, _, length_part = value.partition("/")
    if not length_part.isdigit():
        raise PrefixError(f"prefix length {length_part!r} is not a number")
    try:
        address = ipaddress.ip_address(address_part)
    except ValueError:
        raise PrefixError(f"{address_part!r} is not an IPv4 or IPv6 address") from None
    max_len = address.max_prefixlen
    if int(length_part) > max_len:
        raise PrefixError(f"prefix length /{length_part} is longer than /{max_len}")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        fixed = ipaddress.ip_network(value, strict=False)
        raise PrefixError(f"host bits set; did you mean {fixed}?") from None


def parse_address(text: object) -> Address:
    if not isinstance(text, str):
        raise PrefixError(f"expected an IP address, got {type(text).__name__}")
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise PrefixError(f"{text!r} is not an IPv4 or IPv6 address") from None


def reserved_addresses(subnet: Network) -> list[Address]:
    """The addresses Azure keeps for itself in a subnet (five for IPv4, four for IPv6)."""
    first = int(subnet.network_address)
    leading = min(AZURE_RESERVED_LEADING, subnet.num_addresses)
    result: list[Address] = [ipaddress.ip_address(first + i) for i in range(leading)]
    if subnet.version == 4 and subnet.num_addresses > leading:
        result.append(subnet.broadcast_address)
    if subnet.version == 4:
        return [ipaddress.IPv4Address(int(a)) for a in result]
    return [ipaddress.IPv6Address(int(a)) for a in result]


def contains(outer: Network, inner: Network) -> bool:
    return outer.version == inner.version and (
        int(outer.network_address) <= int(inner.network_address)
        and int(inner.broadcast_address) <= int(outer.broadcast_address)
    )


@dataclass(frozen=True)
class Overlap(Generic[K]):
    """Two prefixes that share addresses; ``outer`` contains or equals ``inner``."""

    outer_key: K
    outer: Network
    inner_key: K
    inner: Network


def find_overlaps(items: Iterable[tuple[K, Network]]) -> list[Overlap[K]]:
    """Every pair of overlapping prefixes, in O(n log n + n * depth).

    CIDR blocks are either nested or disjoint, so after sorting by (start, widest first) a
    stack of the blocks still open at the current start holds exactly the blocks that contain
    the current one. The stack is never deeper than the address length (33 or 129), which keeps
    the sweep linear after the sort.
    """
    ordered = sorted(
        items,
        key=lambda kn: (kn[1].version, int(kn[1].network_address), kn[1].prefixlen),
    )
    found: list[Overlap[K]] = []
    open_blocks: list[tuple[K, Network]] = []
    for key, net in ordered:
        start = int(net.network_address)
        while open_blocks and (
            open_blocks[-1][1].version != net.version or int(open_blocks[-1][1].broadcast_address) < start
        ):
            open_blocks.pop()
        for outer_key, outer in open_blocks:
            found.append(Overlap(outer_key, outer, key, net))
        open_blocks.append((key, net))
    return found


def overlaps_between_groups(groups: Sequence[tuple[K, Sequence[Network]]]) -> list[Overlap[K]]:
    """Overlaps where each group (a VNet, say) owns several prefixes; includes a group's own."""
    return find_overlaps((key, net) for key, nets in groups for net in nets)


def translate_address(address: Address, source: Network, target: Network) -> Address:
    """Move an address from ``source`` to ``target`` keeping its offset (same prefix length)."""
    offset = int(address) - int(source.network_address)
    moved = int(target.network_address) + offset
    if target.version == 4:
        return ipaddress.IPv4Address(moved)
    return ipaddress.IPv6Address(moved)


def translate_prefix(prefix: Network, source: Network, target: Network) -> Network:
    base = translate_address(prefix.network_address, source, target)
    return ipaddress.ip_network(f"{base}/{prefix.prefixlen}")


def carve(items: Iterable[tuple[K, Network]], block: Network) -> list[tuple[K, Network]]:
    """One block of each item's length from ``block``, in order, each aligned to its size.

    Raises :class:`PrefixError` naming the item when it is of another IP version than ``block``
    or when ``block`` has no room left for it.
    """
    cursor = int(block.network_address)
    end = int(block.broadcast_address)
    out: list[tuple[K, Network]] = []
    for key, src in items:
        if src.version != block.version:
            raise PrefixError(f"drill block is IPv{block.version} but {key} has {src}")
        size = src.num_addresses
        cursor = (cursor + size - 1) // size * size  # align to the block size
        if cursor + size - 1 > end:
            raise PrefixError(f"drill block {block} is too small for every VNet ({key} {src} does not fit)")
        out.append((key, ipaddress.ip_network(f"{ipaddress.ip_address(cursor)}/{src.prefixlen}")))
        cursor += size
    return out
