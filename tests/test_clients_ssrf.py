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
