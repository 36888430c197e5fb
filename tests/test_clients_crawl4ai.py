"""Crawl4AIClient against the fake Crawl4AI server."""

from __future__ import annotations

import pytest

from engine.clients.crawl4ai import Crawl4AIClient, trim_text
from engine.clients.errors import BlockedURL, ServiceBusy, ServiceError, ToolError
from engine.clients.retry import RetryPolicy
from tests.fakes.fixtures import CRAWL4AI_TOKEN, fake_crawl4ai, http_session  # noqa: F401

FAST = RetryPolicy(
    attempts=3, initial_wait=0.001, max_wait=0.01, jitter=0.001, max_retry_after=0.01
)
PAGE = "https://news.example/story"


async def resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]  # every name is "public"; no real DNS in tests


def client(session, fake, token: str | None = CRAWL4AI_TOKEN, **kw) -> Crawl4AIClient:  # type: ignore[no-untyped-def]
    kw.setdefault("allow_hosts", frozenset())
    return Crawl4AIClient(
        session, fake.url, token, retry=FAST, resolver=resolver, page_retry_wait=0.001, **kw
    )


async def test_scrape_returns_title_and_markdown(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(
        PAGE, "# Ramen opens\n\nThe shop opens Friday on Main St.", title="Ramen opens"
    )
    page = await client(http_session, fake_crawl4ai).scrape(PAGE)

    assert page.title == "Ramen opens"
    assert page.markdown == "# Ramen opens\n\nThe shop opens Friday on Main St."
    assert page.status_code == 200
    assert page.url == PAGE
    body = fake_crawl4ai.requests[0]
    assert body["urls"] == [PAGE]
    assert body["crawler_config"]["params"]["cache_mode"] == "bypass"
    assert "PruningContentFilter" in str(body["crawler_config"])
    assert fake_crawl4ai.log[-1].headers["Authorization"] == f"Bearer {CRAWL4AI_TOKEN}"


async def test_markdown_is_trimmed_on_a_word_boundary(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "word " * 1000, title="Long")
    page = await client(http_session, fake_crawl4ai).scrape(PAGE, max_chars=100)
    assert len(page.markdown) <= 100
    assert page.markdown.endswith("word")


def test_trim_text_keeps_short_text_and_cuts_long_words():
    assert trim_text("  short  ", 100) == "short"
    assert trim_text("x" * 50, 10) == "x" * 10


async def test_markdown_given_as_a_string_is_accepted(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "placeholder")
    original = fake_crawl4ai._result

    def flat(url, page, fit):  # type: ignore[no-untyped-def]
        result = original(url, page, fit)
        result["markdown"] = "Flat markdown body"
        return result

    fake_crawl4ai._result = flat  # type: ignore[method-assign]
    page = await client(http_session, fake_crawl4ai).scrape(PAGE)
    assert page.markdown == "Flat markdown body"


async def test_failed_result_is_a_tool_error_with_the_reason(http_session, fake_crawl4ai):
    fake_crawl4ai.add_failed(PAGE, "Blocked by anti-bot protection: captcha")
    with pytest.raises(ToolError, match="anti-bot"):
        await client(http_session, fake_crawl4ai).scrape(PAGE)


async def test_page_answering_404_is_a_tool_error(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "# Not found", title="404", status_code=404)
    with pytest.raises(ToolError, match="HTTP 404"):
        await client(http_session, fake_crawl4ai).scrape(PAGE)


async def test_unreachable_page_500_is_retried_once_then_a_tool_error(http_session, fake_crawl4ai):
    with pytest.raises(ToolError) as caught:
        await client(http_session, fake_crawl4ai).scrape("https://gone.example/")
    assert not isinstance(caught.value, (ServiceBusy, ServiceError))
    assert fake_crawl4ai.crawled_urls == ["https://gone.example/"] * 2


async def test_500_then_success_on_the_quick_retry(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "Back again")
    fake_crawl4ai.fail(500)
    page = await client(http_session, fake_crawl4ai).scrape(PAGE)
    assert page.markdown == "Back again"


async def test_wrong_token_is_a_service_error(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "text")
    with pytest.raises(ServiceError, match="CRAWL4AI_TOKEN") as caught:
        await client(http_session, fake_crawl4ai, token="wrong").scrape(PAGE)
    assert caught.value.status == 401
    with pytest.raises(ServiceError, match="CRAWL4AI_TOKEN"):
        await client(http_session, fake_crawl4ai, token=None).scrape(PAGE)
    assert "Authorization" not in fake_crawl4ai.log[-1].headers


@pytest.mark.parametrize("status", [429, 503])
async def test_busy_server_is_retried_then_succeeds(http_session, fake_crawl4ai, status):
    fake_crawl4ai.add_page(PAGE, "text")
    fake_crawl4ai.fail(status, times=2, retry_after=0)
    page = await client(http_session, fake_crawl4ai).scrape(PAGE)
    assert page.markdown == "text"
    assert len(fake_crawl4ai.requests) == 3


async def test_persistently_busy_server_raises_service_busy(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "text")
    fake_crawl4ai.fail(429, times=3, retry_after=60)
    with pytest.raises(ServiceBusy) as caught:
        await client(http_session, fake_crawl4ai).scrape(PAGE)
    assert caught.value.retry_after == 60


async def test_unreachable_service_raises_service_busy(http_session, fake_crawl4ai):
    dead = Crawl4AIClient(http_session, "http://127.0.0.1:9", "t", retry=FAST, resolver=resolver)
    with pytest.raises(ServiceBusy):
        await dead.scrape(PAGE)


async def test_server_side_ssrf_block_is_a_blocked_url(http_session, fake_crawl4ai):
    fake_crawl4ai.fail(400, detail="URL blocked (SSRF protection): resolves to 10.0.0.1")
    with pytest.raises(BlockedURL):
        await client(http_session, fake_crawl4ai).scrape(PAGE)


async def test_private_targets_are_refused_before_calling_the_server(http_session, fake_crawl4ai):
    for url in (
        "http://127.0.0.1:8000/admin",
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "https://www.instagram.com/p/1",
    ):
        with pytest.raises(BlockedURL):
            await client(http_session, fake_crawl4ai).scrape(url)
    assert fake_crawl4ai.requests == []


async def test_allow_listed_host_is_scraped(http_session, fake_crawl4ai):
    url = fake_crawl4ai.add_demo_page("local", "Local test page", "Local")
    page = await client(http_session, fake_crawl4ai, allow_hosts=frozenset({"127.0.0.1"})).scrape(
        url
    )
    assert page.title == "Local"
