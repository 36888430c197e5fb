"""Client for SearXNG's JSON search API (protocols.md §2) plus the social-site filter.

SearXNG answers 200 even when its engines failed; ``unresponsive_engines`` says which
(``[[name, message], ...]``). No results with failing engines is an outage, not "nothing
found": it raises ``ServiceBusy`` so the run waits. Results despite some failures are used,
and the failures are reported with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from engine.clients._http import error_message, join_url
from engine.clients.errors import ServiceBusy, ServiceError
from engine.clients.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retry,
    http_failure,
)

SERVICE = "searxng"

TimeRange = Literal["day", "week", "month", "year"]
TIME_RANGES: frozenset[str] = frozenset({"day", "week", "month", "year"})

# Sites that cannot be scraped usefully (login walls, scripts only); dropped from search
# results and never scraped. Subdomains are covered too (m.facebook.com, old.reddit.com).
BLOCKED_DOMAINS: frozenset[str] = frozenset(
    {
        "facebook.com",
        "twitter.com",
        "x.com",
        "instagram.com",
        "linkedin.com",
        "tiktok.com",
        "youtube.com",
        "reddit.com",
        "pinterest.com",
        "snapchat.com",
        "whatsapp.com",
        "telegram.org",
        "discord.com",
        "twitch.tv",
    }
)


def _host_of(url: str) -> str:
    parts = urlsplit(url if "//" in url else "//" + url)
    return (parts.hostname or "").rstrip(".").lower()


def is_blocked_domain(url: str) -> bool:
    """True for URLs (or bare host names) on a blacklisted social site or its subdomains."""
    host = _host_of(url)
    return any(host == d or host.endswith("." + d) for d in BLOCKED_DOMAINS)


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    description: str
    published_date: str | None


@dataclass(frozen=True)
class EngineFailure:
    engine: str
    # A short plain word or two ("timeout", "suspended"), safe to show owners.
    reason: str

    def __str__(self) -> str:
        return f"{self.engine} ({self.reason})"


@dataclass(frozen=True)
class SearchReply:
    results: list[SearchResult]
    failed_engines: list[EngineFailure] = field(default_factory=list)


# SearXNG sends fixed (possibly translated) phrases such as "HTTP connection error" or
# "Suspended: CAPTCHA" (searx/webutils.py); owners get a known short word, never raw text.
_REASONS = (
    ("suspend", "suspended"),
    ("captcha", "CAPTCHA"),
    ("too many requests", "rate limited"),
    ("access denied", "access denied"),
    ("timeout", "timeout"),
    ("connection", "connection error"),
    ("ssl", "TLS error"),
    ("parsing", "unreadable answer"),
    ("proxy", "proxy error"),
    ("network", "network error"),
    ("api error", "API error"),
    ("http", "HTTP error"),
    ("crash", "crashed"),
)
_ENGINE_NAME = re.compile(r"[^\w .-]+")


def _reason(message: str) -> str:
    lowered = message.lower()
    return next((word for key, word in _REASONS if key in lowered), "error")


def failed_engines(raw: Any) -> list[EngineFailure]:
    """``unresponsive_engines`` as plain (engine, reason) pairs; odd items are skipped."""
    failures: list[EngineFailure] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, (list, tuple)) or not item or not isinstance(item[0], str):
            continue
        name = _ENGINE_NAME.sub("", item[0]).strip()[:40] or "an engine"
        message = item[1] if len(item) > 1 and isinstance(item[1], str) else ""
        failures.append(EngineFailure(name, _reason(message)))
    return failures


def describe_failures(failures: list[EngineFailure]) -> str:
    return ", ".join(str(f) for f in failures)


def _dedupe_key(url: str) -> str:
    # The same page often comes back with and without a fragment or trailing slash.
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


class SearxngClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout: float = 60.0,
        retry: RetryPolicy = DEFAULT_POLICY,
        categories: str | None = None,
        language: str | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._timeout = timeout
        self._retry = retry
        self._categories = categories
        self._language = language

    async def search(
        self, query: str, limit: int = 5, time_range: TimeRange | None = None
    ) -> list[SearchResult]:
        """Up to ``limit`` results in SearXNG's score order, social sites and repeats removed."""
        return (await self.search_reply(query, limit, time_range)).results

    async def search_reply(
        self, query: str, limit: int = 5, time_range: TimeRange | None = None
    ) -> SearchReply:
        """Like :meth:`search`, with the engines that failed on the way.

        Raises ``ServiceBusy`` when there are no results because the engines failed.
        """
        data = await self._raw(query, time_range)
        raw_results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(raw_results, list):
            raise ServiceError(SERVICE, "SearXNG sent a reply without a results list", 200)
        failures = failed_engines(data.get("unresponsive_engines"))
        if not raw_results and failures:
            listed = describe_failures(failures)
            raise ServiceBusy(
                SERVICE, f"SearXNG found nothing because its search engines failed: {listed}",
                hint=f"all its search engines failed: {listed}",
            )
        return SearchReply(self._select(raw_results, limit), failures)

    async def _raw(self, query: str, time_range: TimeRange | None) -> Any:
        if time_range is not None and time_range not in TIME_RANGES:
            raise ValueError(f"time_range must be one of {sorted(TIME_RANGES)} or None")
        params: dict[str, str] = {"q": query, "format": "json"}
        if time_range:
            params["time_range"] = time_range
        if self._categories:
            params["categories"] = self._categories
        if self._language:
            params["language"] = self._language

        async def attempt() -> Any:
            async with self._session.get(
                join_url(self._base_url, "/search"),
                params=params,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as resp:
                await self._raise_for_status(resp)
                try:
                    return await resp.json(content_type=None)
                except ValueError as exc:
                    raise ServiceError(
                        SERVICE, "SearXNG sent a body that is not JSON", 200
                    ) from exc

        return await call_with_retry(SERVICE, attempt, self._retry)

    @staticmethod
    def _select(raw_results: list[Any], limit: int) -> list[SearchResult]:
        seen: set[str] = set()
        selected: list[SearchResult] = []
        for item in raw_results:
            if len(selected) >= limit:
                break
            if not isinstance(item, dict):
                continue
            url = item.get("url")
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                continue
            if is_blocked_domain(url):
                continue
            key = _dedupe_key(url)
            if key in seen:
                continue
            seen.add(key)
            published = item.get("publishedDate")
            selected.append(
                SearchResult(
                    title=str(item.get("title") or ""),
                    url=url,
                    description=str(item.get("content") or ""),
                    published_date=published if isinstance(published, str) and published else None,
                )
            )
        return selected

    async def _raise_for_status(self, resp: aiohttp.ClientResponse) -> None:
        if resp.status < 400:
            return
        if resp.status == 403:
            raise ServiceError(
                SERVICE,
                "SearXNG refused the JSON format (HTTP 403): enable it in SearXNG's settings.yml "
                "with `search: formats: [html, json]` and restart SearXNG",
                resp.status,
            )
        message = await error_message(resp)
        raise http_failure(SERVICE, "SearXNG", resp.status, message,
                           resp.headers.get("Retry-After"), what="search")
