"""Guard against server-side request forgery for URLs chosen by a model.

The scraper fetches pages picked from search results, i.e. chosen by model output, so a
URL must never lead to this machine, the private network or a cloud metadata endpoint.
Every address a host name resolves to is checked (one bad address is enough to refuse):
DNS can return several and the fetcher may use any of them. Hosts named in the
allow-list (``SCRAPE_ALLOW_HOSTS``, e.g. ``127.0.0.1`` in tests) skip the address check;
an entry with a port (``host:port``) exempts that port only.

IPv6 has several ways to carry an IPv4 address inside it (6to4, Teredo, NAT64,
IPv4-mapped and -compatible). A gateway on the path may unwrap them, so the embedded
address is judged as if it had been given directly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from engine.clients.errors import BlockedURL, ToolError
from engine.clients.searxng import is_blocked_domain

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the IP address strings it resolves to
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# RFC 8215 local-use NAT64: the IPv4 address may sit at several offsets and the prefix
# never leads anywhere public, so the whole range is refused.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the loop's getaddrinfo, which runs in the default executor thread."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # sockaddr[0] may carry an IPv6 zone ("fe80::1%eth0"); the zone is not part of the address.
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by any of the standard wrappings."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return [ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)]
    if address in _TEREDO:
        # Teredo carries its server in clear and the client's address bit-inverted.
        return [ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF),
                ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF)]
    if address in _NAT64:
        return [low32]
    # IPv4-compatible (::a.b.c.d); :: and ::1 are judged as IPv6 themselves.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return [low32]
    return []


def is_forbidden_address(address: IPAddress) -> bool:
    """True for every address that is not plainly public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return True
        inner = embedded_ipv4(address)
        if any(_is_forbidden_plain(ip) for ip in inner):
            return True
        # These stand for their IPv4 address (DNS64 synthesises NAT64 ones for every
        # IPv4-only site), so a public embedded address is as fine as the address itself.
        if address.ipv4_mapped is not None or address in _NAT64 or address in _SIX_TO_FOUR:
            return False
    return _is_forbidden_plain(address)


def _is_forbidden_plain(address: IPAddress) -> bool:
    return (
        address in _METADATA
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT)
        # Catch-all for special ranges not named above (documentation, 6to4 relays, ...).
        or not address.is_global
    )


def is_allow_listed(host: str, port: int, allow_hosts: frozenset[str]) -> bool:
    """A bare host entry exempts every port; ``host:port`` (``[v6]:port``) only that one."""
    return (host in allow_hosts or f"{host}:{port}" in allow_hosts
            or f"[{host}]:{port}" in allow_hosts)


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def ensure_public_url(
    url: str, allow_hosts: frozenset[str] = frozenset(), resolver: Resolver | None = None
) -> None:
    """Raise ``BlockedURL`` unless ``url`` is http(s) to a public host (or allow-listed).

    A host that does not resolve raises a plain ``ToolError``.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"Not a valid URL: {url}", url) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedURL(f"Only http and https URLs can be read, not {url}", url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedURL(f"The URL has no host: {url}", url)
    if is_blocked_domain(url):
        raise BlockedURL(f"Social media sites cannot be read: {url}", url)
    default_port = 443 if parts.scheme.lower() == "https" else 80
    if is_allow_listed(host, port or default_port, allow_hosts):
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedURL(f"Local addresses cannot be read: {url}", url)

    literal = _literal_ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        resolve = resolver or system_resolver
        try:
            resolved = await resolve(host, port or default_port)
        except OSError as exc:
            raise ToolError(f"The host {host} could not be resolved", url) from exc
        addresses = []
        for text in resolved:
            ip = _literal_ip(text)
            if ip is None:
                raise BlockedURL(f"The host {host} resolved to something odd: {text}", url)
            addresses.append(ip)
        if not addresses:
            raise ToolError(f"The host {host} could not be resolved", url)

    for address in addresses:
        if is_forbidden_address(address):
            raise BlockedURL(f"Private, local and metadata addresses cannot be read: {url}", url)
