"""A fake SearXNG answering ``/search`` like the real one (protocols.md §2).

async with FakeSearxng() as searx:
    searx.add("indian restaurants denver", result("https://a.example/x", "A"))
    searx.json_enabled = False     # -> 403 HTML, as with the default settings.yml
    searx.fail(503, times=2)
    searx.engines_failing(("google", "timeout"), ("bing", "Suspended: too many requests"))
                                   # -> 200, results [], every engine in unresponsive_engines
    searx.engines_failing(("brave", "HTTP connection error"), some=True)
                                   # -> results as usual, brave listed as unresponsive
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes._server import FailureQueue, FakeServer, ScriptedFailure, json_failure

TIME_RANGES = {"", "day", "week", "month", "year"}

_FORBIDDEN_HTML = (
    "<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n<h1>Forbidden</h1>\n"
    "<p>You don't have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server.</p>\n"
)


def result(
    url: str,
    title: str,
    content: str = "",
    published: str | None = None,
    engine: str = "duckduckgo",
    score: float | None = None,
) -> dict[str, Any]:
    """One result in SearXNG's JSON shape (``score`` is filled in by position if omitted)."""
    parts = urlsplit(url)
    return {
        "url": url,
        "title": title,
        "content": content,
        "engine": engine,
        "engines": [engine],
        "score": score,
        "category": "general",
        "publishedDate": published,
        "template": "default.html",
        "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
        "positions": [1],
        "thumbnail": "",
        "img_src": "",
        "priority": "",
    }


class FakeSearxng(FakeServer):
    def __init__(self, json_enabled: bool = True, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.json_enabled = json_enabled
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.default_results: list[dict[str, Any]] = []
        # Results for a query nothing was scripted for, made from the query itself (the demo).
        self.default_for: Callable[[str], list[dict[str, Any]]] | None = None
        self.failures = FailureQueue()
        self.unresponsive: list[list[str]] = []
        # True: every engine failed, so there are no results (what the real server sends
        # without outbound access or with CAPTCHA-blocked engines).
        self.all_engines_down = False

    # ---- scripting ----------------------------------------------------------------------

    def add(self, query: str, *results: dict[str, Any]) -> None:
        self.results.setdefault(query, []).extend(results)

    def set_default(self, *results: dict[str, Any]) -> None:
        self.default_results = list(results)

    def engines_failing(self, *engines: tuple[str, str], some: bool = False) -> None:
        # The real server lists them sorted by engine name.
        self.unresponsive = sorted([name, message] for name, message in engines)
        self.all_engines_down = bool(engines) and not some

    def engines_recovered(self) -> None:
        self.engines_failing()

    def fail(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        error: str = "search error",
    ) -> None:
        self.failures.add(json_failure(status, {"error": error}, retry_after), times)

    # ---- recorded requests --------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, str]]:
        """Parameters of every /search request (query string merged with form body)."""
        out = []
        for r in self.requests_to("/search"):
            params = dict(r.query)
            if isinstance(r.body, dict):
                params.update({k: str(v) for k, v in r.body.items()})
            out.append(params)
        return out

    @property
    def queries(self) -> list[str]:
        return [p.get("q", "") for p in self.requests]

    # ---- server -------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/search", self._search)
        app.router.add_route("POST", "/search", self._search)
        app.router.add_get("/healthz", self._healthz)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    def _ranked(self, query: str) -> list[dict[str, Any]]:
        chosen = self.results.get(query)
        if chosen is None:
            chosen = self.default_for(query) if self.default_for else self.default_results
        ranked = []
        for position, item in enumerate(chosen):
            item = dict(item)
            if item.get("score") is None:
                item["score"] = round(10.0 / (position + 1), 3)
            ranked.append(item)
        # The real server sorts by score, highest first.
        return sorted(ranked, key=lambda r: -float(r["score"]))

    async def _search(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        if (failure := self.failures.pop()) is not None:
            return failure.response()
        fmt = params.get("format", "html")
        if fmt == "json" and not self.json_enabled:
            return ScriptedFailure(403, _FORBIDDEN_HTML, content_type="text/html").response()
        if fmt != "json":
            return web.Response(
                text="<!doctype html><title>SearXNG</title>", content_type="text/html"
            )
        query = params.get("q", "")
        if not query:
            return web.json_response({"error": "No query"}, status=400)
        time_range = params.get("time_range", "")
        if time_range not in TIME_RANGES:
            return web.json_response(
                {"error": f"Invalid value {time_range!r} for parameter time_range"}, status=400
            )
        return web.Response(
            text=json.dumps(
                {
                    "query": query,
                    "results": [] if self.all_engines_down else self._ranked(query),
                    "answers": [],
                    "corrections": [],
                    "infoboxes": [],
                    "suggestions": [],
                    "unresponsive_engines": self.unresponsive,
                }
            ),
            content_type="application/json",
        )


def results(items: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Shorthand: ``results([(url, title, content), ...])``."""
    return [result(url, title, content) for url, title, content in items]
