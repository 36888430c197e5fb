"""Base for the HTTP fakes: an aiohttp.web server on 127.0.0.1 with an OS-assigned port."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, form dict, raw text, or None


@dataclass
class ScriptedFailure:
    status: int
    body: str
    content_type: str = "application/json"
    retry_after: str | None = None

    def response(self) -> web.Response:
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else None
        return web.Response(
            status=self.status, text=self.body, content_type=self.content_type, headers=headers
        )


class FailureQueue:
    """Failures to answer with, in order, before normal service resumes."""

    def __init__(self) -> None:
        self._queue: deque[ScriptedFailure] = deque()

    def add(self, failure: ScriptedFailure, times: int = 1) -> None:
        self._queue.extend(failure for _ in range(times))

    def pop(self) -> ScriptedFailure | None:
        return self._queue.popleft() if self._queue else None


def json_failure(
    status: int, payload: dict[str, Any], retry_after: float | str | None
) -> ScriptedFailure:
    return ScriptedFailure(
        status, json.dumps(payload), retry_after=None if retry_after is None else str(retry_after)
    )


class FakeServer:
    """Subclasses add routes in ``setup_routes``; ``log`` keeps every request seen."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        # Seconds every answer waits, like a real service (benchmarks set it).
        self.latency = 0.0
        self.log: list[RecordedRequest] = []
        self._runner: web.AppRunner | None = None

    def setup_routes(self, app: web.Application) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()  # cached: handlers can read the body again
        body: Any = None
        if raw:
            text = raw.decode("utf-8", "replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = (
                    dict(await request.post())
                    if request.content_type.endswith("x-www-form-urlencoded")
                    else text
                )
        self.log.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), dict(request.headers), body
            )
        )
        if self.latency:
            await asyncio.sleep(self.latency)
        return await handler(request)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record])
        self.setup_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.log if r.path == path and (method is None or r.method == method)]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
