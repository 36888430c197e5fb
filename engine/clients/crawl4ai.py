"""Client for the Crawl4AI Docker server's ``POST /crawl`` (protocols.md §3, esp. §3.5).

One URL per call: the server's dispatcher adds seconds per extra URL, and a one-URL call
makes failures unambiguous. Failure mapping:

* result ``success: false`` or a page status >= 400 (a 404 page is HTTP 200 on the wire)
  -> ``ToolError`` the agent sees;
* HTTP 500 (what the server answers when the single URL cannot be fetched) -> one quick
  retry, then ``ToolError``; retrying a dead page forever would only burn the run's time;
* HTTP 400 "URL blocked" (the server's own SSRF guard) -> ``BlockedURL``;
* HTTP 401 -> ``ServiceError`` (wrong or missing token);
* 429 / 502 / 503 / 504 / connection errors -> retried, then ``ServiceBusy``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

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


@dataclass(frozen=True)
class ScrapePage:
    url: str
    title: str
    markdown: str
    status_code: int | None


class _PageFailed(Exception):
    """HTTP 500 for a one-URL crawl: the page, not the service, failed."""


def trim_text(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut at a whitespace boundary when one is near."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    # Only back off to the boundary when it does not throw away most of the text.
    if boundary >= max_chars // 2:
        cut = cut[:boundary]
    return cut.rstrip()


def _markdown_of(result: dict[str, Any]) -> str:
    markdown = result.get("markdown")
    if isinstance(markdown, str):
        return markdown
    if isinstance(markdown, dict):
        for key in ("raw_markdown", "fit_markdown"):
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
        page_retry_wait: float = 0.5,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._token = token or None
        self._allow_hosts = allow_hosts
        self._timeout = timeout
        self._retry = retry
        self._resolver = resolver
        self._page_timeout_ms = page_timeout_ms
        self._page_retry_wait = page_retry_wait

    def _body(self, url: str) -> dict[str, Any]:
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
                    "page_timeout": self._page_timeout_ms,
                    "markdown_generator": {
                        "type": "DefaultMarkdownGenerator",
                        "params": {
                            "content_filter": {"type": "PruningContentFilter", "params": {}}
                        },
                    },
                },
            },
        }

    async def scrape(self, url: str, max_chars: int = 2000) -> ScrapePage:
        """Read one page as markdown, trimmed to ``max_chars``."""
        await ensure_public_url(url, self._allow_hosts, self._resolver)
        body = self._body(url)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}

        async def attempt() -> dict[str, Any]:
            async with self._session.post(
                join_url(self._base_url, "/crawl"),
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
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

        data: dict[str, Any] | None = None
        for tries_left in (1, 0):
            try:
                data = await call_with_retry(SERVICE, attempt, self._retry)
                break
            except _PageFailed as exc:
                if not tries_left:
                    raise ToolError(
                        f"Could not read {url}: the scraper failed on this page", url
                    ) from exc
                await asyncio.sleep(self._page_retry_wait)
        assert data is not None
        return self._page_from(data, url, max_chars)

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
            markdown=trim_text(_markdown_of(result), max_chars),
            status_code=status,
        )

    async def _raise_for_status(self, resp: aiohttp.ClientResponse, url: str) -> None:
        if resp.status < 400:
            return
        message = await error_message(resp)
        if resp.status == 500:
            raise _PageFailed(message)
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
