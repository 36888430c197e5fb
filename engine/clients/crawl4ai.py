"""Client for the Crawl4AI Docker server's ``POST /crawl`` (protocols.md §3, esp. §3.5).

One URL per call: the server's dispatcher adds seconds per extra URL, and a one-URL call
makes failures unambiguous. Failure mapping:

* result ``success: false`` or a page status >= 400 (a 404 page is HTTP 200 on the wire)
  -> ``ToolError`` the agent sees;
* HTTP 500 -> ``PageFailed`` at once, no retry: since 0.9 every 500 has the same generic
  body (slow page, anti-bot, unreachable, or a dead browser), and retrying a dead page only
  burns the run's time. Whether a row of them means the *service* is broken is decided by
  the caller with :meth:`Crawl4AIClient.health`;
* HTTP 400 "URL blocked" (the server's own SSRF guard) -> ``BlockedURL``;
* HTTP 401 -> ``ServiceError`` (wrong or missing token);
* 429 / 502 / 503 / 504 / connection errors -> retried, then ``ServiceBusy``.

The page text is ``fit_markdown`` (the main content, as cut by the pruning filter sent
with every request), falling back to ``raw_markdown``; links and menus are taken out
before the budget is applied, so the characters go to the article.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from engine.agent.page_text import readable_text, trim_text
from engine.clients._http import error_message, join_url
from engine.clients.errors import BlockedURL, ServiceError, ToolError
from engine.clients.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retry,
    http_failure,
)
from engine.clients.ssrf import Resolver, ensure_public_url

SERVICE = "crawl4ai"
__all__ = ["Crawl4AIClient", "PageFailed", "ScrapePage", "ScraperHealth", "trim_text"]

# Time the server needs around the page load itself (browser start, its per-domain delay).
SERVER_OVERHEAD_SECONDS = 10.0
# Below this a page load is hopeless; the caller should not start one.
MIN_PAGE_SECONDS = 5.0
HEALTH_TIMEOUT_SECONDS = 5.0
# Playwright's words when the browser under a page is gone ("Target page, context or
# browser has been closed", "Browser has been closed", "Target crashed", "disconnected").
_BROWSER_GONE = re.compile(
    r"(browser|context) has been closed|target crashed|browser has disconnected", re.I)


@dataclass(frozen=True)
class ScrapePage:
    url: str
    title: str
    markdown: str
    status_code: int | None


class PageFailed(ToolError):
    """HTTP 500 for a one-URL crawl: Crawl4AI could not produce this page."""


@dataclass(frozen=True)
class ScraperHealth:
    ok: bool
    # For the operator's log and the doctor; never shown to owners.
    detail: str


def _markdown_of(result: dict[str, Any]) -> str:
    markdown = result.get("markdown")
    if isinstance(markdown, str):
        return markdown
    if isinstance(markdown, dict):
        # fit_markdown is the article; raw_markdown starts with the site's navigation.
        for key in ("fit_markdown", "raw_markdown"):
            value = markdown.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return ""


class Crawl4AIClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str | None,
        allow_hosts: frozenset[str] = frozenset(),
        timeout: float = 60.0,
        retry: RetryPolicy = DEFAULT_POLICY,
        resolver: Resolver | None = None,
        page_timeout_ms: int = 30_000,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._token = token or None
        self._allow_hosts = allow_hosts
        self._timeout = timeout
        self._retry = retry
        self._resolver = resolver
        self._page_timeout_ms = page_timeout_ms

    def timeouts(self, time_left: float | None) -> tuple[int, float]:
        """(page_timeout in ms for the server, our own timeout in s) for a run with
        ``time_left`` seconds before its deadline: a page never outlives its run."""
        page = self._page_timeout_ms / 1000
        total = self._timeout
        if time_left is not None:
            total = max(MIN_PAGE_SECONDS, min(total, time_left))
            page = max(MIN_PAGE_SECONDS / 2, min(page, total - SERVER_OVERHEAD_SECONDS))
        return int(page * 1000), total

    def _body(self, url: str, page_timeout_ms: int) -> dict[str, Any]:
        return {
            "urls": [url],
            "browser_config": {
                "type": "BrowserConfig",
                "params": {"headless": True, "text_mode": True},
            },
            "crawler_config": {
                "type": "CrawlerRunConfig",
                "params": {
                    "cache_mode": "bypass",
                    "page_timeout": page_timeout_ms,
                    "markdown_generator": {
                        "type": "DefaultMarkdownGenerator",
                        "params": {
                            "content_filter": {"type": "PruningContentFilter", "params": {}}
                        },
                    },
                },
            },
        }

    async def scrape(
        self, url: str, max_chars: int = 2000, time_left: float | None = None
    ) -> ScrapePage:
        """Read one page as text for the model, at most ``max_chars`` characters.

        ``time_left`` (seconds before the run's deadline) shortens the page timeout and
        ours so a slow page cannot carry the run past its deadline.
        """
        await ensure_public_url(url, self._allow_hosts, self._resolver)
        page_timeout_ms, timeout = self.timeouts(time_left)
        body = self._body(url, page_timeout_ms)

        async def attempt() -> dict[str, Any]:
            async with self._session.post(
                join_url(self._base_url, "/crawl"),
                json=body,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                await self._raise_for_status(resp, url)
                try:
                    data = await resp.json(content_type=None)
                except ValueError as exc:
                    raise ServiceError(
                        SERVICE, "Crawl4AI sent a body that is not JSON", 200
                    ) from exc
                if not isinstance(data, dict):
                    raise ServiceError(SERVICE, "Crawl4AI sent JSON that is not an object", 200)
                return data

        data = await call_with_retry(SERVICE, attempt, self._retry)
        return self._page_from(data, url, max_chars)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    async def health(self, failed_urls: Sequence[str] = ()) -> ScraperHealth:
        """Is the service itself working? ``/health`` must answer; where the server reports
        its browser pool (``/monitor/health``, 0.7.7+) a browser must exist; and its error
        log (``/monitor/logs/errors``) must not say the browser was closed while it failed
        ``failed_urls`` (``/health`` stays 200 after Chromium died).

        A server that cannot report these (older image, monitor off) counts as working:
        only a plain sign of trouble makes pages wait instead of failing.
        """
        timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_SECONDS)
        try:
            async with self._session.get(
                join_url(self._base_url, "/health"), timeout=timeout
            ) as resp:
                if resp.status != 200:
                    return ScraperHealth(False, f"/health answered HTTP {resp.status}")
            async with self._session.get(
                join_url(self._base_url, "/monitor/health"), headers=self._headers(),
                timeout=timeout,
            ) as resp:
                if resp.status == 500:
                    return ScraperHealth(False, "/monitor/health answered HTTP 500")
                if resp.status != 200:
                    return ScraperHealth(True, f"pool not reported (HTTP {resp.status})")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return ScraperHealth(False, f"unreachable ({type(exc).__name__})")
        except ValueError:
            return ScraperHealth(True, "pool report is not JSON")
        pool = ScraperHealth(*_pool_state(data))
        if not pool.ok or not failed_urls:
            return pool
        return await self._browser_errors(failed_urls) or pool

    async def _browser_errors(self, failed_urls: Sequence[str]) -> ScraperHealth | None:
        """Unhealthy when the server logged a closed browser for one of ``failed_urls``."""
        try:
            async with self._session.get(
                join_url(self._base_url, "/monitor/logs/errors"), params={"limit": "50"},
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_SECONDS),
            ) as resp:
                if resp.status != 200:
                    return None
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        errors = data.get("errors") if isinstance(data, dict) else None
        # The server logs the first 100 characters of the URL, HTML-escaped.
        wanted = {url[:100] for url in failed_urls}
        for entry in errors if isinstance(errors, list) else []:
            if not isinstance(entry, dict) or html.unescape(str(entry.get("url"))) not in wanted:
                continue
            if _BROWSER_GONE.search(html.unescape(str(entry.get("error", "")))):
                return ScraperHealth(False, "its browser was closed or crashed")
        return None

    @staticmethod
    def _page_from(data: dict[str, Any], url: str, max_chars: int) -> ScrapePage:
        results = data.get("results")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise ToolError(f"Could not read {url}: the scraper returned no result", url)
        result = results[0]
        status = result.get("status_code")
        status = status if isinstance(status, int) else None
        if result.get("success") is False or data.get("success") is False:
            reason = result.get("error_message") or "the scraper reported a failure"
            raise ToolError(f"Could not read {url}: {reason}", url)
        if status is not None and status >= 400:
            raise ToolError(f"Could not read {url}: the page answered HTTP {status}", url)
        metadata = result.get("metadata")
        title = metadata.get("title") if isinstance(metadata, dict) else None
        return ScrapePage(
            url=url,
            title=title.strip() if isinstance(title, str) else "",
            markdown=trim_text(readable_text(_markdown_of(result), enough=max_chars),
                               max_chars),
            status_code=status,
        )

    async def _raise_for_status(self, resp: aiohttp.ClientResponse, url: str) -> None:
        if resp.status < 400:
            return
        message = await error_message(resp)
        if resp.status == 500:
            raise PageFailed(f"Could not read {url}: the scraper failed on this page", url)
        if resp.status == 401:
            raise ServiceError(
                SERVICE,
                "Crawl4AI refused the request (HTTP 401): check CRAWL4AI_TOKEN; it must equal "
                "the CRAWL4AI_API_TOKEN the Crawl4AI container runs with",
                resp.status,
            )
        if resp.status == 400 and "url blocked" in message.lower():
            raise BlockedURL(f"Could not read {url}: the scraper blocked this address", url)
        raise http_failure(SERVICE, "Crawl4AI", resp.status, message,
                           resp.headers.get("Retry-After"))


def _pool_state(data: Any) -> tuple[bool, str]:
    """(has a browser, detail) from ``/monitor/health``'s ``pool`` section."""
    pool = data.get("pool") if isinstance(data, dict) else None
    if not isinstance(pool, dict):
        return True, "pool not reported"
    permanent = pool.get("permanent")
    active = isinstance(permanent, dict) and permanent.get("active") is True
    counts = [pool.get(k, {}).get("count") if isinstance(pool.get(k), dict) else None
              for k in ("hot", "cold")]
    pooled = sum(c for c in counts if isinstance(c, int))
    if active or pooled:
        return True, f"browsers running (permanent: {active}, pooled: {pooled})"
    return False, "no browser is running"
