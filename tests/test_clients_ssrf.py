"""The SSRF guard used before scraping. A fake resolver stands in for DNS (no network)."""

from __future__ import annotations

import socket

import pytest

from engine.clients.errors import BlockedURL, ToolError
from engine.clients.ssrf import ensure_public_url, system_resolver

PUBLIC = "93.184.215.14"

DNS = {
    "news.example": [PUBLIC],
    "intranet.example": ["10.1.2.3"],
    "sneaky.example": [PUBLIC, "127.0.0.1"],  # one bad address is enough
    "meta.example": ["169.254.169.254"],
    "v6meta.example": ["fd00:ec2::254"],
    "cgnat.example": ["100.64.0.1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "v6.example": ["2606:4700:4700::1111"],
    "sixtofour.example": ["2002:7f00:1::"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
}


async def resolver(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return DNS[host]


async def check(url: str, allow: frozenset[str] = frozenset()) -> None:
    await ensure_public_url(url, allow, resolver=resolver)


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/story",
        "http://93.184.215.14:8080/x",
        "https://v6.example/",
        "https://[2606:4700:4700::1111]/",
        "http://[2002:808:808::1]/",  # 6to4 around 8.8.8.8
        "http://[64:ff9b::808:808]/",  # NAT64 of 8.8.8.8
        "http://[::ffff:8.8.8.8]/",  # IPv4-mapped public
    ],
)
async def test_public_urls_pass(url):
    await check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.1:9000/admin",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.1.1/",
        "http://localhost:8000/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "https://intranet.example/",
        "https://sneaky.example/",
        "https://meta.example/",
        "https://v6meta.example/",
        "https://cgnat.example/",
        "https://mapped.example/",
        # IPv4 addresses wrapped in IPv6: a gateway on the way unwraps them.
        "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
        "http://[2002:a00:1::]/",  # 6to4 around 10.0.0.1
        "http://[2002:a9fe:a9fe::]/",  # 6to4 around the metadata address
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "http://[2001:0:7f00:1::]/",  # Teredo, server 127.0.0.1
        "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "http://[64:ff9b::c0a8:101]/",  # NAT64 of 192.168.1.1
        "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[::10.0.0.1]/",
        "http://[::ffff:7f00:1]/",  # IPv4-mapped, hex spelling
        "https://sixtofour.example/",
        "https://nat64.example/",
        "file:///etc/passwd",
        "ftp://news.example/file",
        "gopher://news.example/",
        "javascript:alert(1)",
        "https:///nohost",
        "https://www.facebook.com/page",
        "https://m.youtube.com/watch?v=1",
    ],
)
async def test_forbidden_urls_are_blocked(url):
    with pytest.raises(BlockedURL):
        await check(url)


async def test_unresolvable_host_is_a_tool_error_not_a_block():
    with pytest.raises(ToolError) as caught:
        await check("https://does-not-exist.example/")
    assert not isinstance(caught.value, BlockedURL)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:11235/pages/demo", frozenset({"127.0.0.1"})),
        ("http://intranet.example/wiki", frozenset({"intranet.example"})),
        ("http://[::1]:8080/", frozenset({"::1"})),
    ],
)
async def test_allow_list_skips_the_address_check(url, allow):
    await check(url, allow)


async def test_allow_list_entry_with_a_port_allows_only_that_port():
    allow = frozenset({"127.0.0.1:11235", "[::1]:8080", "intranet.example:443"})
    await check("http://127.0.0.1:11235/pages/demo", allow)
    await check("http://[::1]:8080/", allow)
    await check("https://intranet.example/wiki", allow)  # 443 is https' default
    for url in ("http://127.0.0.1:6379/", "http://127.0.0.1/", "http://[::1]:22/",
                "http://intranet.example/wiki", "https://intranet.example:8443/"):
        with pytest.raises(BlockedURL):
            await check(url, allow)


def test_settings_keep_port_entries(monkeypatch):
    from engine.config import Settings

    settings = Settings.from_env({"SCRAPE_ALLOW_HOSTS": "127.0.0.1:11235, Wiki.Example:8080"})
    assert settings.scrape_allow_hosts == frozenset({"127.0.0.1:11235", "wiki.example:8080"})


async def test_allow_list_is_exact():
    # Allowing 127.0.0.1 does not open other loopback addresses or names.
    with pytest.raises(BlockedURL):
        await check("http://127.0.0.2/", frozenset({"127.0.0.1"}))
    with pytest.raises(BlockedURL):
        await check("http://localhost/", frozenset({"127.0.0.1"}))


async def test_allow_list_does_not_unblock_social_sites():
    with pytest.raises(BlockedURL):
        await check("https://reddit.com/r/x", frozenset({"reddit.com"}))


async def test_default_path_blocks_names_and_literals_without_lookup():
    with pytest.raises(BlockedURL):
        await ensure_public_url("http://localhost/", frozenset())
    with pytest.raises(BlockedURL):
        await ensure_public_url("http://[::ffff:169.254.169.254]/", frozenset())


async def test_system_resolver_returns_plain_addresses():
    # A numeric host is answered locally by getaddrinfo (no DNS traffic).
    assert set(await system_resolver("127.0.0.1", 80)) == {"127.0.0.1"}
