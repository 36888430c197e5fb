"""Guard against server-side request forgery for URLs chosen by a model.

The scraper fetches pages picked from search results, i.e. chosen by model output, so a
URL must never lead to this machine, the private network or a cloud metadata endpoint.
Every address a host name resolves to is checked (one bad address is enough to refuse):
DNS can return several and the fetcher may use any of them. Hosts named in the
allow-list (``SCRAPE_ALLOW_HOSTS``, e.g. ``127.0.0.1`` in tests) skip the address check.
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
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the loop's getaddrinfo, which runs in the default executor thread."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # sockaddr[0] may carry an IPv6 zone ("fe80::1%eth0"); the zone is not part of the address.
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def is_forbidden_address(address: IPAddress) -> bool:
    """True for every address that is not plainly public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
    if host in allow_hosts:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedURL(f"Local addresses cannot be read: {url}", url)

    literal = _literal_ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        resolve = resolver or system_resolver
        default_port = 443 if parts.scheme.lower() == "https" else 80
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
