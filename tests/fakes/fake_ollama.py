"""A fake Ollama speaking the native API (protocols.md §1) with scripted replies.

Each ``POST /api/chat`` takes the next scripted reply from a queue (or asks ``responder``
when the queue is empty). Streaming requests (the default, as in Ollama) get NDJSON token
by token: thinking, then content, then all tool calls whole in one chunk, then a final
``done`` line with metrics; ``"stream": false`` gets one JSON object.

    async with FakeOllama() as ollama:
        ollama.fail(429, retry_after=1, times=2)       # two 429s, then...
        ollama.reply_tool_call("searchWeb", {"query": "x"})
        ollama.reply_text("All done.")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import secrets
import string
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes._server import FailureQueue, FakeServer, json_failure

CREATED_AT = "2026-01-01T00:00:00.000000Z"


@dataclass
class ScriptedReply:
    """One answer to one /api/chat request."""

    content: str = ""
    thinking: str = ""
    # (name, arguments) pairs; arguments may be a dict or (to mimic odd builds) a JSON string
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"
    # An HTTP error instead of an answer
    error_status: int | None = None
    error: str | None = None
    retry_after: float | str | None = None
    # Streamed: send the content, then this error line under status 200
    midstream_error: str | None = None
    chunk_delay: float | None = None
    # Seconds to wait before answering at all (to test timeouts)
    delay: float = 0.0


Responder = Callable[[dict[str, Any]], ScriptedReply]


def normalize_model(name: str) -> str:
    return name if ":" in name else name + ":latest"


def tokens(text: str) -> list[str]:
    """Split into word-sized pieces whose concatenation is the text."""
    return [t for t in re.findall(r"\s*\S+\s*|\s+", text) if t]


def seeded_vector(text: str, dim: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
    return normalize([rng.gauss(0.0, 1.0) for _ in range(dim)])


def normalize(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _call_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "call_" + "".join(secrets.choice(alphabet) for _ in range(8))


class FakeOllama(FakeServer):
    def __init__(
        self,
        models: Iterable[str] = ("qwen2.5:7b", "nomic-embed-text"),
        embed_dim: int = 768,
        no_tools_models: Iterable[str] = (),
        chunk_delay: float = 0.0,
        with_call_ids: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.models = {normalize_model(m) for m in models}
        self.no_tools_models = {normalize_model(m) for m in no_tools_models}
        self.embed_dim = embed_dim
        self.chunk_delay = chunk_delay
        self.with_call_ids = with_call_ids
        self.replies: deque[ScriptedReply] = deque()
        self.responder: Responder | None = None
        self.embed_failures = FailureQueue()
        self.vectors: dict[str, list[float]] = {}
        self.disconnects = 0
        self.disconnected = asyncio.Event()

    # ---- scripting ----------------------------------------------------------------------

    def reply(self, reply: ScriptedReply) -> None:
        self.replies.append(reply)

    def reply_text(self, content: str, thinking: str = "", **kw: Any) -> None:
        self.reply(ScriptedReply(content=content, thinking=thinking, **kw))

    def reply_tool_call(self, name: str, arguments: Any, **kw: Any) -> None:
        self.reply(ScriptedReply(tool_calls=[(name, arguments)], **kw))

    def reply_tool_calls(self, *calls: tuple[str, Any], content: str = "", **kw: Any) -> None:
        self.reply(ScriptedReply(content=content, tool_calls=list(calls), **kw))

    def fail(
        self,
        status: int,
        error: str | None = None,
        retry_after: float | str | None = None,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self.reply(
                ScriptedReply(
                    error_status=status,
                    error=error or f"fake ollama error {status}",
                    retry_after=retry_after,
                )
            )

    def fail_midstream(self, partial_content: str, error: str, **kw: Any) -> None:
        self.reply(ScriptedReply(content=partial_content, midstream_error=error, **kw))

    def fail_embed(
        self,
        status: int,
        error: str = "embed failed",
        retry_after: float | str | None = None,
        times: int = 1,
    ) -> None:
        self.embed_failures.add(json_failure(status, {"error": error}, retry_after), times)

    def set_embedding(self, text: str, vector: Sequence[float]) -> None:
        """Answer exactly this (normalised) vector for ``text``."""
        self.vectors[text] = normalize(vector)

    def make_similar(self, text: str, like: str, noise: float = 0.01) -> None:
        """Give ``text`` a vector nearly identical to ``like``'s ("same meaning")."""
        base = self.vector_for(like)
        rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
        self.set_embedding(text, [x + rng.gauss(0.0, noise / math.sqrt(len(base))) for x in base])

    def vector_for(self, text: str) -> list[float]:
        return self.vectors.get(text) or seeded_vector(text, self.embed_dim)

    # ---- recorded requests --------------------------------------------------------------

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests_to("/api/chat", "POST")]

    @property
    def embed_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests_to("/api/embed", "POST")]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of every chat and embed request, in order."""
        return [r.body for r in self.log if r.path in ("/api/chat", "/api/embed")]

    # ---- server -------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._root)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/embed", self._embed)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "0.13.0"})

    async def _tags(self, request: web.Request) -> web.Response:
        models = [
            {
                "name": m,
                "model": m,
                "modified_at": CREATED_AT,
                "size": 4_000_000_000,
                "digest": hashlib.sha256(m.encode()).hexdigest(),
                "details": {"format": "gguf", "family": m.split(":")[0]},
            }
            for m in sorted(self.models)
        ]
        return web.json_response({"models": models})

    @staticmethod
    def _error(status: int, message: str, retry_after: float | str | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response({"error": message}, status=status, headers=headers)

    async def _read_json(self, request: web.Request) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "invalid character in request body")
        if not isinstance(body, dict):
            return self._error(400, "invalid request body")
        return body

    def _model_error(self, body: dict[str, Any]) -> web.Response | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error(400, "model is required")
        if normalize_model(model) not in self.models:
            return self._error(404, f"model '{model}' not found")
        return None

    def _next_reply(self, body: dict[str, Any]) -> ScriptedReply:
        if self.replies:
            return self.replies.popleft()
        if self.responder is not None:
            return self.responder(body)
        return ScriptedReply(error_status=400, error="fake ollama: no scripted reply left")

    def _wire_calls(self, calls: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        wire = []
        for index, (name, arguments) in enumerate(calls):
            call: dict[str, Any] = {
                "function": {"index": index, "name": name, "arguments": arguments}
            }
            if self.with_call_ids:
                call["id"] = _call_id()
            wire.append(call)
        return wire

    def _line(
        self, model: str, message: dict[str, Any], done: bool, **extra: Any
    ) -> dict[str, Any]:
        return {"model": model, "created_at": CREATED_AT, "message": message, "done": done, **extra}

    @staticmethod
    def _metrics(body: dict[str, Any], reply: ScriptedReply) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages") or [])
        return {
            "done_reason": reply.done_reason,
            "total_duration": 2_100_000_000,
            "load_duration": 1_200_000,
            "prompt_eval_count": max(1, prompt_chars // 4),
            "prompt_eval_duration": 250_000_000,
            "eval_count": max(1, len(tokens(reply.content + reply.thinking))),
            "eval_duration": 1_800_000_000,
        }

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._read_json(request)
        if isinstance(body, web.Response):
            return body
        if (problem := self._model_error(body)) is not None:
            return problem
        model = body["model"]
        if body.get("tools") and normalize_model(model) in self.no_tools_models:
            return self._error(400, f"registry.ollama.ai/library/{model} does not support tools")
        reply = self._next_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.error_status is not None:
            return self._error(reply.error_status, reply.error or "error", reply.retry_after)
        if body.get("stream", True) is False:
            if reply.midstream_error is not None:
                return self._error(500, reply.midstream_error)
            message: dict[str, Any] = {"role": "assistant", "content": reply.content}
            if reply.thinking:
                message["thinking"] = reply.thinking
            if reply.tool_calls:
                message["tool_calls"] = self._wire_calls(reply.tool_calls)
            return web.json_response(self._line(model, message, True, **self._metrics(body, reply)))
        return await self._stream(request, body, reply)

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: ScriptedReply
    ) -> web.StreamResponse:
        model = body["model"]
        lines: list[dict[str, Any]] = []
        for piece in tokens(reply.thinking):
            lines.append(
                self._line(model, {"role": "assistant", "content": "", "thinking": piece}, False)
            )
        for piece in tokens(reply.content):
            lines.append(self._line(model, {"role": "assistant", "content": piece}, False))
        if reply.midstream_error is not None:
            lines.append({"error": reply.midstream_error})
        else:
            if reply.tool_calls:
                message = {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": self._wire_calls(reply.tool_calls),
                }
                lines.append(self._line(model, message, False))
            lines.append(
                self._line(
                    model, {"role": "assistant", "content": ""}, True, **self._metrics(body, reply)
                )
            )
        delay = reply.chunk_delay if reply.chunk_delay is not None else self.chunk_delay
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        try:
            for line in lines:
                await response.write(json.dumps(line).encode() + b"\n")
                if delay:
                    await asyncio.sleep(delay)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            # The client went away (e.g. the consumer cancelled); what a test checks for.
            self.disconnects += 1
            self.disconnected.set()
            raise
        return response

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        if isinstance(body, web.Response):
            return body
        if (failure := self.embed_failures.pop()) is not None:
            return failure.response()
        if (problem := self._model_error(body)) is not None:
            return problem
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if texts is None:
            texts = []
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self._error(400, "invalid input type")
        vectors = [self.vector_for(t) for t in texts]
        dims = body.get("dimensions")
        if isinstance(dims, int) and 0 < dims < self.embed_dim:
            vectors = [normalize(v[:dims]) for v in vectors]
        return web.json_response(
            {
                "model": body["model"],
                "embeddings": vectors,
                "total_duration": 14_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(len(tokens(t)) for t in texts),
            }
        )
