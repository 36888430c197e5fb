"""Client for SearXNG's JSON search API (protocols.md §2) plus the social-site filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from engine.clients._http import error_message, join_url
from engine.clients.errors import ServiceError
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

        data = await call_with_retry(SERVICE, attempt, self._retry)
        raw_results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(raw_results, list):
            raise ServiceError(SERVICE, "SearXNG sent a reply without a results list", 200)
        return self._select(raw_results, limit)

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
