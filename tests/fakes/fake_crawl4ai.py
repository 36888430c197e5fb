"""A fake Crawl4AI 0.9 Docker server (protocols.md §3, behaviour from §3.5).

    async with FakeCrawl4AI(token="t") as crawl:
        crawl.add_page("https://a.example/x", "# Title\n\ntext", title="A")
        crawl.add_failed("https://b.example/", "Blocked by anti-bot protection")
        crawl.fail(503, times=2)

Unknown URLs behave like unreachable ones on the real server: a one-URL crawl answers the
generic 500, as do pages with too little text (:meth:`add_tiny_page`). Pages registered
with :meth:`add_demo_page` are also served as HTML at ``/pages/<slug>`` so the URLs in demo
search results open in a browser.

As on the real server, ``raw_markdown`` is the whole page (menus and footer included) and
``fit_markdown`` only the main content when a content filter was sent: :meth:`add_article`
builds such a navigation-heavy page. ``browser_dead`` makes every crawl a generic 500 while
``/health`` stays 200 and ``/monitor/health`` still lists the permanent browser (the server
keeps its object after Chromium died); only ``/monitor/logs/errors`` tells, with
Playwright's "browser has been closed" for each failed URL. ``pool_empty`` makes
``/monitor/health`` report no browser at all; ``health_status`` changes what ``/health``
answers. ``allow_internal=False`` refuses loopback and private
targets with the server's own SSRF 400, as without ``CRAWL4AI_ALLOW_INTERNAL_URLS=true``.
"""

from __future__ import annotations

import html
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes._server import FailureQueue, FakeServer, json_failure


@dataclass
class FakePage:
    markdown: str
    title: str = ""
    status_code: int = 200
    success: bool = True
    error_message: str | None = None
    # The whole page as markdown; None means the page is nothing but its content.
    raw_markdown: str | None = None
    # Too little text: the real server's anti-bot check fails it with the generic 500.
    tiny: bool = False


def navigation(site: str, entries: int = 60) -> str:
    """A site menu as Crawl4AI renders it: a long list of links."""
    sections = ["World", "Politics", "Business", "Tech", "Science", "Health", "Sports",
                "Arts", "Food", "Travel", "Opinion", "Weather"]
    lines = [f"[![{site} logo](https://{site}/logo.png)](https://{site}/)", ""]
    for i in range(entries):
        name = sections[i % len(sections)]
        lines.append(f"  * [{name} {i // len(sections) or ''}".rstrip()
                     + f"](https://{site}/{name.lower()}/{i})")
    lines += ["", f"[Subscribe](https://{site}/subscribe) | [Sign in](https://{site}/login)"]
    return "\n".join(lines)


def footer(site: str) -> str:
    links = ["About us", "Contact", "Careers", "Privacy", "Terms", "Cookie settings"]
    return "\n".join(f"  * [{name}](https://{site}/{name.lower().replace(' ', '-')})"
                     for name in links) + "\n\n© 2026 " + site


class FakeCrawl4AI(FakeServer):
    def __init__(self, token: str | None = "test-token", host: str = "127.0.0.1", port: int = 0,
                 allow_internal: bool = True):
        super().__init__(host, port)
        self.token = token
        self.pages: dict[str, FakePage] = {}
        self.failures = FailureQueue()
        self.allow_internal = allow_internal
        self.browser_dead = False
        self.pool_empty = False
        self.health_status = 200
        self.errors_log: list[dict[str, Any]] = []

    # ---- scripting ----------------------------------------------------------------------

    def add_page(self, url: str, markdown: str, title: str = "", status_code: int = 200,
                 raw_markdown: str | None = None) -> None:
        self.pages[url] = FakePage(markdown, title, status_code, raw_markdown=raw_markdown)

    def add_article(self, url: str, article: str, title: str = "") -> None:
        """A news page: ``raw_markdown`` is menu, then the article, then the footer;
        ``fit_markdown`` is the article alone (with its inline links, as the real filter
        leaves them)."""
        site = urlsplit(url).hostname or "news.example"
        raw = f"{navigation(site)}\n\n# {title}\n\n{article}\n\n{footer(site)}"
        self.pages[url] = FakePage(f"# {title}\n\n{article}", title, raw_markdown=raw)

    def add_tiny_page(self, url: str) -> None:
        self.pages[url] = FakePage("Hi", tiny=True)

    def add_failed(
        self,
        url: str,
        error_message: str = "Blocked by anti-bot protection",
        status_code: int = 403,
    ) -> None:
        self.pages[url] = FakePage("URL blocked", "", status_code, False, error_message)

    def local_url(self, slug: str) -> str:
        """A page address on this server, which the tests' SCRAPE_ALLOW_HOSTS lets through."""
        return f"{self.url}/pages/{slug}"

    def add_demo_page(self, slug: str, markdown: str, title: str) -> str:
        """Register a page whose URL lives on this server; returns the URL."""
        url = f"{self.url}/pages/{slug}"
        self.add_page(url, markdown, title)
        return url

    def fail(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        detail: str | None = None,
    ) -> None:
        if status == 500:
            payload: dict[str, Any] = {
                "error": "Internal server error",
                "correlation_id": secrets.token_hex(8),
            }
        else:
            payload = {"detail": detail or f"fake crawl4ai error {status}"}
        self.failures.add(json_failure(status, payload, retry_after), times)

    # ---- recorded requests --------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of every /crawl request."""
        return [r.body for r in self.requests_to("/crawl", "POST")]

    @property
    def crawled_urls(self) -> list[str]:
        return [u for body in self.requests if isinstance(body, dict) for u in body.get("urls", [])]

    # ---- server -------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/monitor/health", self._monitor_health)
        app.router.add_get("/monitor/logs/errors", self._monitor_errors)
        app.router.add_post("/crawl", self._crawl)
        app.router.add_get("/pages/{slug}", self._page_html)

    async def _health(self, request: web.Request) -> web.Response:
        if self.health_status != 200:
            return web.json_response({"detail": "unhealthy"}, status=self.health_status)
        return web.json_response({"status": "ok", "timestamp": time.time(), "version": "0.9.2"})

    async def _monitor_health(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        alive = not self.pool_empty
        return web.json_response({
            "container": {"memory_percent": 21.5, "cpu_percent": 3.0, "network_sent_mb": 1.0,
                          "network_recv_mb": 2.0, "uptime_seconds": 120},
            "pool": {"permanent": {"active": alive, "memory_mb": 270 if alive else 0},
                     "hot": {"count": 0, "memory_mb": 0},
                     "cold": {"count": 0, "memory_mb": 0},
                     "total_memory_mb": 270 if alive else 0},
            "janitor": {"next_cleanup_estimate": "adaptive", "memory_pressure": "LOW"},
        })

    async def _monitor_errors(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        limit = int(request.query.get("limit", "100"))
        return web.json_response({"errors": self.errors_log[-limit:]})

    def _record_error(self, url: str, error: str) -> None:
        # As the real monitor: the URL cut to 100 characters and HTML-escaped.
        self.errors_log.append({"timestamp": time.time(), "endpoint": "/crawl",
                                "url": html.escape(url[:100]),
                                "error": html.escape(error),
                                "request_id": secrets.token_hex(4)})

    @staticmethod
    def _internal_target(url: str) -> bool:
        host = urlsplit(url).hostname or ""
        if host == "localhost":
            return True
        try:
            return not ipaddress.ip_address(host).is_global
        except ValueError:
            return False

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.token is None:
            return None
        if request.headers.get("Authorization") == f"Bearer {self.token}":
            return None
        return web.json_response(
            {"detail": "Authentication required"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @staticmethod
    def _internal_error() -> web.Response:
        return web.json_response(
            {"error": "Internal server error", "correlation_id": secrets.token_hex(8)}, status=500
        )

    @staticmethod
    def _wants_fit(body: dict[str, Any]) -> bool:
        # fit_markdown is only filled when a content filter is configured.
        return "PruningContentFilter" in str(body.get("crawler_config", ""))

    def _result(self, url: str, page: FakePage, fit: bool) -> dict[str, Any]:
        raw = page.raw_markdown if page.raw_markdown is not None else page.markdown
        body_html = f"<html><body><pre>{html.escape(raw)}</pre></body></html>"
        return {
            "url": url,
            "html": body_html,
            "cleaned_html": body_html,
            "fit_html": body_html if fit else "",
            "success": page.success,
            "error_message": page.error_message or "",
            "status_code": page.status_code,
            "redirected_url": url,
            "response_headers": {"content-type": "text/html"},
            "markdown": {
                "raw_markdown": raw,
                "markdown_with_citations": raw,
                "references_markdown": "",
                "fit_markdown": page.markdown if fit and page.success else "",
                "fit_html": body_html if fit else "",
            },
            "metadata": {
                "title": page.title or None,
                "description": None,
                "keywords": None,
                "author": None,
            },
            "links": {"internal": [], "external": []},
            "media": {"images": [], "videos": [], "audios": []},
            "tables": [],
            "screenshot": None,
            "pdf": None,
            "extracted_content": None,
            "cache_status": "bypass",
        }

    async def _crawl(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        if (failure := self.failures.pop()) is not None:
            return failure.response()
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                {
                    "detail": [
                        {
                            "type": "json_invalid",
                            "loc": ["body"],
                            "msg": "JSON decode error",
                            "input": {},
                        }
                    ]
                },
                status=422,
            )
        urls = body.get("urls") if isinstance(body, dict) else None
        if (
            not isinstance(urls, list)
            or not 1 <= len(urls) <= 100
            or not all(isinstance(u, str) for u in urls)
        ):
            return web.json_response(
                {
                    "detail": [
                        {
                            "type": "value_error",
                            "loc": ["body", "urls"],
                            "msg": "urls must hold 1 to 100 strings",
                            "input": urls,
                        }
                    ]
                },
                status=422,
            )
        urls = [u if "://" in u else "https://" + u for u in urls]
        if not self.allow_internal:
            for url in urls:
                if self._internal_target(url):
                    return web.json_response(
                        {"detail": f"URL blocked (SSRF protection): {url} resolves to a "
                                   "non-public address"}, status=400)
        if self.browser_dead:
            for url in urls:
                self._record_error(url, "BrowserContext.new_page: Target page, context or "
                                        "browser has been closed")
            return self._internal_error()
        known = [u for u in urls if u in self.pages and not self.pages[u].tiny]
        if not known:
            return self._internal_error()  # every URL failed -> generic 500
        fit = self._wants_fit(body)
        results = []
        for url in urls:
            page = self.pages.get(url) or FakePage(
                "", success=False, status_code=0, error_message="net::ERR_NAME_NOT_RESOLVED"
            )
            results.append(self._result(url, page, fit))
        return web.json_response(
            {
                "success": True,
                "results": results,
                "server_processing_time_s": 0.42,
                "server_memory_delta_mb": 1.5,
                "server_peak_memory_mb": 310.0,
            }
        )

    async def _page_html(self, request: web.Request) -> web.Response:
        page = self.pages.get(f"{self.url}/pages/{request.match_info['slug']}")
        if page is None:
            raise web.HTTPNotFound()
        return web.Response(
            text=f"<!doctype html><title>{html.escape(page.title)}</title>"
            f"<pre>{html.escape(page.markdown)}</pre>",
            content_type="text/html",
        )
