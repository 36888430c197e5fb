"""A fake Crawl4AI 0.9 Docker server (protocols.md §3, behaviour from §3.5).

    async with FakeCrawl4AI(token="t") as crawl:
        crawl.add_page("https://a.example/x", "# Title\n\ntext", title="A")
        crawl.add_failed("https://b.example/", "Blocked by anti-bot protection")
        crawl.fail(503, times=2)

Unknown URLs behave like unreachable ones on the real server: a one-URL crawl answers the
generic 500. Pages registered with :meth:`add_demo_page` are also served as HTML at
``/pages/<slug>`` so the URLs in demo search results open in a browser.
"""

from __future__ import annotations

import html
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes._server import FailureQueue, FakeServer, json_failure


@dataclass
class FakePage:
    markdown: str
    title: str = ""
    status_code: int = 200
    success: bool = True
    error_message: str | None = None


class FakeCrawl4AI(FakeServer):
    def __init__(self, token: str | None = "test-token", host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.token = token
        self.pages: dict[str, FakePage] = {}
        self.failures = FailureQueue()

    # ---- scripting ----------------------------------------------------------------------

    def add_page(self, url: str, markdown: str, title: str = "", status_code: int = 200) -> None:
        self.pages[url] = FakePage(markdown, title, status_code)

    def add_failed(
        self,
        url: str,
        error_message: str = "Blocked by anti-bot protection",
        status_code: int = 403,
    ) -> None:
        self.pages[url] = FakePage("URL blocked", "", status_code, False, error_message)

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
        app.router.add_post("/crawl", self._crawl)
        app.router.add_get("/pages/{slug}", self._page_html)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "timestamp": time.time(), "version": "0.9.2"})

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
        body_html = f"<html><body><pre>{html.escape(page.markdown)}</pre></body></html>"
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
                "raw_markdown": page.markdown,
                "markdown_with_citations": page.markdown,
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
        known = [u for u in urls if u in self.pages]
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
