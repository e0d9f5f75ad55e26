"""The client address of a request: the TCP peer, unless that peer is a trusted proxy."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ip_address(address.strip())
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in proxies)


def client_ip(peer: str, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """The address to log for a request from ``peer`` carrying ``X-Forwarded-For``.

    ``X-Forwarded-For`` is read only when ``peer`` is a trusted proxy; its entries are then walked
    from the right (the nearest hop) and the first one that is not itself a trusted proxy is the
    client. A header from any other peer is ignored, so a caller cannot choose its logged address.
    """
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
