"""Crawl4AIClient against the fake Crawl4AI server."""

from __future__ import annotations

import pytest

from engine.agent.page_text import readable_text
from engine.clients.crawl4ai import Crawl4AIClient, PageFailed, trim_text
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
        session, fake.url, token, retry=FAST, resolver=resolver, **kw
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


async def test_unreachable_page_500_is_a_page_failure_without_a_blind_retry(
    http_session, fake_crawl4ai
):
    with pytest.raises(PageFailed) as caught:
        await client(http_session, fake_crawl4ai).scrape("https://gone.example/")
    assert not isinstance(caught.value, (ServiceBusy, ServiceError))
    assert "gone.example" in caught.value.message
    assert fake_crawl4ai.crawled_urls == ["https://gone.example/"]


async def test_tiny_page_gets_the_generic_500_and_is_not_retried(http_session, fake_crawl4ai):
    fake_crawl4ai.add_tiny_page(PAGE)
    with pytest.raises(PageFailed):
        await client(http_session, fake_crawl4ai).scrape(PAGE)
    assert fake_crawl4ai.crawled_urls == [PAGE]


ARTICLE = (
    "The Spice Route, a family-run Indian restaurant, opens on March 3 at 1200 Larimer "
    "Street. Chef [Asha Rao](https://news.example/people/asha) will serve Kerala dishes. "
    "Reservations open next week."
)


async def test_navigation_heavy_page_gives_the_article_not_the_menu(http_session, fake_crawl4ai):
    fake_crawl4ai.add_article(PAGE, ARTICLE, title="Spice Route opens")
    raw = fake_crawl4ai.pages[PAGE].raw_markdown
    assert raw is not None and raw.index("Spice Route, a family") > 2000  # menu first

    page = await client(http_session, fake_crawl4ai).scrape(PAGE, max_chars=2000)

    assert page.markdown.startswith("# Spice Route opens")
    assert "opens on March 3 at 1200 Larimer Street" in page.markdown
    assert "Chef Asha Rao will serve Kerala dishes" in page.markdown  # link kept as words
    assert "https://" not in page.markdown and "Subscribe" not in page.markdown


async def test_raw_markdown_is_used_without_its_link_lists_when_fit_is_empty(
    http_session, fake_crawl4ai
):
    fake_crawl4ai.add_article(PAGE, ARTICLE, title="Spice Route opens")
    original = fake_crawl4ai._result

    def no_fit(url, page, fit):  # type: ignore[no-untyped-def]
        return original(url, page, False)  # as when the server ignores the filter

    fake_crawl4ai._result = no_fit  # type: ignore[method-assign]
    page = await client(http_session, fake_crawl4ai).scrape(PAGE, max_chars=2000)
    assert "opens on March 3 at 1200 Larimer Street" in page.markdown
    assert "Politics" not in page.markdown and "https://" not in page.markdown


def test_readable_text_keeps_prose_around_links_and_drops_menus():
    text = readable_text(
        "* [Home](/)\n* [News](/news \"News\")\n[Sign in](/login) | [Subscribe](/s)\n\n"
        "![photo](https://x.example/a.jpg)\nThe [council](https://x.example/c) voted 7-2.\n"
        "<https://x.example/raw>\n1. [Next story](/n)"
    )
    assert text == "The council voted 7-2."


async def test_page_timeout_and_client_timeout_follow_the_time_left(http_session, fake_crawl4ai):
    fake_crawl4ai.add_page(PAGE, "text")
    c = client(http_session, fake_crawl4ai)
    assert c.timeouts(None) == (30_000, 60.0)
    assert c.timeouts(500) == (30_000, 60.0)
    page_ms, total = c.timeouts(25)
    assert total == 25 and page_ms == 15_000
    await c.scrape(PAGE, time_left=25)
    assert fake_crawl4ai.requests[-1]["crawler_config"]["params"]["page_timeout"] == 15_000


async def test_health_is_good_while_the_browser_runs(http_session, fake_crawl4ai):
    assert (await client(http_session, fake_crawl4ai).health()).ok


async def test_health_is_bad_when_the_pool_has_no_browser(http_session, fake_crawl4ai):
    fake_crawl4ai.pool_empty = True
    health = await client(http_session, fake_crawl4ai).health()
    assert not health.ok and "browser" in health.detail


async def test_health_is_bad_when_the_failed_pages_met_a_closed_browser(
    http_session, fake_crawl4ai
):
    fake_crawl4ai.browser_dead = True  # /health 200, the pool still lists its browser
    c = client(http_session, fake_crawl4ai)
    with pytest.raises(PageFailed):
        await c.scrape(PAGE)
    assert (await c.health()).ok  # nothing to go on without the pages that failed
    health = await c.health([PAGE])
    assert not health.ok and "closed or crashed" in health.detail
    assert (await c.health(["https://other.example/"])).ok

    long_url = "https://news.example/a?x=1&y=" + "z" * 120  # logged cut and escaped
    with pytest.raises(PageFailed):
        await c.scrape(long_url)
    assert not (await c.health([long_url])).ok


async def test_health_is_bad_when_health_fails_or_nobody_answers(http_session, fake_crawl4ai):
    fake_crawl4ai.health_status = 503
    assert not (await client(http_session, fake_crawl4ai).health()).ok
    dead = Crawl4AIClient(http_session, "http://127.0.0.1:9", "t", retry=FAST, resolver=resolver)
    assert not (await dead.health()).ok


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
