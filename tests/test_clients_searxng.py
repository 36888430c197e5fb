"""SearxngClient against the fake SearXNG."""

from __future__ import annotations

import pytest

from engine.clients.errors import ServiceBusy, ServiceError
from engine.clients.retry import RetryPolicy
from engine.clients.searxng import SearxngClient, failed_engines, is_blocked_domain
from tests.fakes.fake_searxng import result
from tests.fakes.fixtures import fake_searxng, http_session  # noqa: F401

FAST = RetryPolicy(
    attempts=3, initial_wait=0.001, max_wait=0.01, jitter=0.001, max_retry_after=0.01
)


def client(session, fake) -> SearxngClient:  # type: ignore[no-untyped-def]
    return SearxngClient(session, fake.url, retry=FAST)


async def test_search_maps_results_and_sends_json_format(http_session, fake_searxng):
    fake_searxng.add(
        "ramen denver",
        result(
            "https://eater.example/ramen",
            "New ramen spot",
            "Opened on Friday",
            published="2026-11-20T00:00:00",
        ),
        result("https://news.example/food", "Food news", "Weekly roundup"),
    )
    found = await client(http_session, fake_searxng).search("ramen denver", time_range="week")

    assert [(r.title, r.url, r.description) for r in found] == [
        ("New ramen spot", "https://eater.example/ramen", "Opened on Friday"),
        ("Food news", "https://news.example/food", "Weekly roundup"),
    ]
    assert found[0].published_date == "2026-11-20T00:00:00"
    assert found[1].published_date is None
    sent = fake_searxng.requests[0]
    assert sent["format"] == "json" and sent["q"] == "ramen denver" and sent["time_range"] == "week"


async def test_no_time_range_is_not_sent(http_session, fake_searxng):
    await client(http_session, fake_searxng).search("anything")
    assert "time_range" not in fake_searxng.requests[0]


async def test_invalid_time_range_is_refused_before_any_request(http_session, fake_searxng):
    with pytest.raises(ValueError):
        await client(http_session, fake_searxng).search("x", time_range="decade")  # type: ignore[arg-type]
    assert fake_searxng.requests == []


async def test_social_sites_dropped_duplicates_removed_limit_applied(http_session, fake_searxng):
    fake_searxng.add(
        "launches",
        result("https://www.reddit.com/r/x/comments/1", "Reddit thread", score=9),
        result("https://blog.example/launch", "Launch post", score=8),
        result("https://m.facebook.com/page", "FB page", score=7.5),
        result("https://blog.example/launch/#comments", "Launch post again", score=7),
        result("https://x.com/someone/status/1", "Tweet", score=6),
        result("https://one.example/a", "One", score=5),
        result("https://two.example/b", "Two", score=4),
        result("https://three.example/c", "Three", score=3),
    )
    found = await client(http_session, fake_searxng).search("launches", limit=3)
    assert [r.url for r in found] == [
        "https://blog.example/launch",
        "https://one.example/a",
        "https://two.example/b",
    ]


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://facebook.com/x", True),
        ("https://www.youtube.com/watch?v=1", True),
        ("https://old.reddit.com/r/a", True),
        ("https://X.COM/a", True),
        ("https://discord.com./invite", True),
        ("https://telegram.org", True),
        ("twitch.tv", True),
        ("https://notfacebook.com/", False),
        ("https://x.com.evil.example/", False),
        ("https://example.com/facebook.com", False),
    ],
)
def test_is_blocked_domain(url, blocked):
    assert is_blocked_domain(url) is blocked


async def test_json_format_disabled_explains_the_setting(http_session, fake_searxng):
    fake_searxng.json_enabled = False
    with pytest.raises(ServiceError) as caught:
        await client(http_session, fake_searxng).search("x")
    assert caught.value.status == 403
    assert "formats: [html, json]" in caught.value.message
    assert len(fake_searxng.requests) == 1


async def test_transient_failures_are_retried(http_session, fake_searxng):
    fake_searxng.fail(502, times=2)
    fake_searxng.set_default(result("https://ok.example/", "OK"))
    found = await client(http_session, fake_searxng).search("x")
    assert [r.url for r in found] == ["https://ok.example/"]
    assert len(fake_searxng.requests) == 3


async def test_persistent_rate_limit_is_busy_with_retry_after(http_session, fake_searxng):
    fake_searxng.fail(429, times=3, retry_after=30)
    with pytest.raises(ServiceBusy) as caught:
        await client(http_session, fake_searxng).search("x")
    assert caught.value.retry_after == 30


async def test_bad_request_is_a_service_error_not_retried(http_session, fake_searxng):
    fake_searxng.fail(400, error="Invalid value 'zz' for parameter language")
    with pytest.raises(ServiceError, match="language"):
        await client(http_session, fake_searxng).search("x")
    assert len(fake_searxng.requests) == 1


async def test_every_engine_failing_is_busy_naming_the_engines(http_session, fake_searxng):
    fake_searxng.add("ramen denver", result("https://eater.example/ramen", "New ramen spot"))
    fake_searxng.engines_failing(
        ("google", "timeout"),
        ("bing", "Suspended: too many requests"),
        ("duckduckgo", "HTTP connection error to 10.0.0.7: ConnectError(...)"),
    )
    with pytest.raises(ServiceBusy) as caught:
        await client(http_session, fake_searxng).search("ramen denver")
    busy = caught.value
    assert busy.service == "searxng"
    assert busy.hint == ("all its search engines failed: bing (suspended), "
                         "duckduckgo (connection error), google (timeout)")
    assert "10.0.0.7" not in busy.hint and "SearXNG" in busy.message
    assert len(fake_searxng.requests) == 1  # suspended engines do not heal within seconds


async def test_some_engines_failing_still_gives_results_and_names_the_failures(
    http_session, fake_searxng
):
    fake_searxng.add("ramen denver", result("https://eater.example/ramen", "New ramen spot"))
    fake_searxng.engines_failing(("brave", "HTTP connection error"), some=True)
    reply = await client(http_session, fake_searxng).search_reply("ramen denver")
    assert [r.url for r in reply.results] == ["https://eater.example/ramen"]
    assert [str(f) for f in reply.failed_engines] == ["brave (connection error)"]


async def test_no_results_with_every_engine_answering_is_just_no_results(
    http_session, fake_searxng
):
    reply = await client(http_session, fake_searxng).search_reply("nothing matches this")
    assert reply.results == [] and reply.failed_engines == []


def test_odd_unresponsive_entries_are_skipped_and_names_cleaned():
    failures = failed_engines([["go<o>gle", "CAPTCHA"], "x", [], [3, "y"], ["wiki"],
                               ["bing", "HTTP error"], ["qwant", "unexpected crash"]])
    assert [str(f) for f in failures] == ["google (CAPTCHA)", "wiki (error)", "bing (HTTP error)",
                                          "qwant (crashed)"]
