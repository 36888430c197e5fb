"""Client for Ollama's native API: ``/api/chat`` (plain and NDJSON streaming) and ``/api/embed``.

See protocols.md §1. Tool calls arrive whole (never as deltas); arguments are normally a JSON
object but some builds and proxies send a JSON string, so both are accepted. Missing call ids
(Ollama before v0.12.10) are generated so tool results can always be paired with their call.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from engine.clients._http import error_message, iter_ndjson, join_url
from engine.clients.errors import ModelMissing, ServiceBusy, ServiceError, ToolError
from engine.clients.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
    call_with_retry,
    describe,
    http_failure,
)

SERVICE = "ollama"
_ID_ALPHABET = string.ascii_lowercase + string.digits

Message = dict[str, Any]


def new_call_id() -> str:
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def to_wire(self, index: int = 0) -> dict[str, Any]:
        """The shape Ollama expects when the assistant turn is sent back."""
        return {
            "id": self.id,
            "function": {"index": index, "name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class ChatResult:
    content: str
    thinking: str
    tool_calls: list[ToolCall]
    done_reason: str | None
    prompt_tokens: int | None
    eval_tokens: int | None

    def assistant_message(self) -> Message:
        """The assistant turn to append to the conversation before sending tool results."""
        message: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [c.to_wire(i) for i, c in enumerate(self.tool_calls)]
        return message


@dataclass(frozen=True)
class ChatChunk:
    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: bool = False
    done_reason: str | None = None
    prompt_tokens: int | None = None
    eval_tokens: int | None = None


def tool_result_message(call: ToolCall, result: Any) -> Message:
    """A ``tool`` message answering ``call``; non-string results are JSON-encoded."""
    content = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return {"role": "tool", "tool_name": call.name, "tool_call_id": call.id, "content": content}


def parse_arguments(name: str, raw: Any) -> dict[str, Any]:
    """A tool call's arguments, given as an object or a JSON string (models do both)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ToolError(f"The model called {name} with arguments that are not JSON") from exc
    if not isinstance(raw, dict):
        raise ToolError(f"The model called {name} with arguments that are not a JSON object")
    return raw


def parse_tool_calls(raw: Any) -> list[ToolCall]:
    """Parse ``message.tool_calls``. Malformed arguments raise ToolError (model mistake)."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise ServiceError(SERVICE, "Ollama sent tool_calls that are not a list")
    calls: list[ToolCall] = []
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ServiceError(SERVICE, "Ollama sent a tool call without a function name")
        name = function["name"]
        call_id = item.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = new_call_id()
        calls.append(ToolCall(call_id, name, parse_arguments(name, function.get("arguments"))))
    return calls


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chunk_from_line(line: dict[str, Any]) -> ChatChunk:
    message = line.get("message") or {}
    return ChatChunk(
        content=message.get("content") or "",
        thinking=message.get("thinking") or "",
        tool_calls=parse_tool_calls(message.get("tool_calls")),
        done=bool(line.get("done")),
        done_reason=line.get("done_reason"),
        prompt_tokens=_int_or_none(line.get("prompt_eval_count")),
        eval_tokens=_int_or_none(line.get("eval_count")),
    )


class OllamaClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        chat_model: str,
        embed_model: str,
        timeout: float = 60.0,
        retry: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self.chat_model = chat_model
        self.embed_model = embed_model
        self._timeout = timeout
        self._retry = retry

    # ---- errors -------------------------------------------------------------------------

    async def _raise_for_status(self, resp: aiohttp.ClientResponse, model: str) -> None:
        if resp.status < 400:
            return
        message = await error_message(resp)
        if resp.status == 404:
            # Ollama's 404 text varies between code paths; the status is what counts.
            raise ModelMissing(model, resp.status)
        if "does not support tools" in message:
            raise ServiceError(
                SERVICE,
                f"The Ollama model '{model}' does not support tool calling; set "
                "OLLAMA_CHAT_MODEL to a tool-capable model such as qwen2.5:7b or llama3.1",
                resp.status,
            )
        raise http_failure(SERVICE, "Ollama", resp.status, message,
                           resp.headers.get("Retry-After"))

    # ---- chat ---------------------------------------------------------------------------

    def _chat_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None,
        format: str | dict[str, Any] | None,
        options: dict[str, Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.chat_model,
            "messages": list(messages),
            "stream": stream,
        }
        if tools:
            body["tools"] = list(tools)
        if format is not None:
            body["format"] = format
        if options:
            body["options"] = options
        return body

    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        format: str | dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> ChatResult:
        """One non-streaming chat turn."""
        body = self._chat_body(messages, tools, format, options, stream=False)

        async def attempt() -> dict[str, Any]:
            async with self._session.post(
                join_url(self._base_url, "/api/chat"),
                json=body,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as resp:
                await self._raise_for_status(resp, self.chat_model)
                return await self._json(resp)

        data = await call_with_retry(SERVICE, attempt, self._retry)
        if isinstance(data.get("error"), str):
            raise ServiceError(SERVICE, f"Ollama failed: {data['error']}", 200)
        message = data.get("message") or {}
        return ChatResult(
            content=message.get("content") or "",
            thinking=message.get("thinking") or "",
            tool_calls=parse_tool_calls(message.get("tool_calls")),
            done_reason=data.get("done_reason"),
            prompt_tokens=_int_or_none(data.get("prompt_eval_count")),
            eval_tokens=_int_or_none(data.get("eval_count")),
        )

    async def stream_chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream one chat turn as chunks.

        Retries happen only while opening the stream; once a chunk has been yielded a
        failure is final: an ``{"error"}`` line raises ``ServiceError``, a dropped
        connection or read timeout raises ``ServiceBusy``. The timeout applies per read.
        Stopping early (``break``, cancellation, ``aclose()``) closes the upstream
        connection so Ollama stops generating.
        """
        body = self._chat_body(messages, tools, None, options, stream=True)
        # A long answer may take minutes in total; the timeout applies per read instead.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout, sock_read=self._timeout
        )

        async def open_stream() -> aiohttp.ClientResponse:
            resp = await self._session.post(
                join_url(self._base_url, "/api/chat"), json=body, timeout=timeout
            )
            try:
                await self._raise_for_status(resp, self.chat_model)
            except BaseException:
                resp.release()
                raise
            return resp

        resp = await call_with_retry(SERVICE, open_stream, self._retry)
        try:
            try:
                async for line in iter_ndjson(resp):
                    if "error" in line:
                        raise ServiceError(
                            SERVICE, f"Ollama failed mid-answer: {line['error']}", resp.status
                        )
                    yield _chunk_from_line(line)
            except ValueError as exc:
                raise ServiceError(SERVICE, f"Ollama sent a malformed stream: {exc}") from exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                # Output may already be on its way to the user, so no silent retry here;
                # the caller may run the whole turn again later.
                raise ServiceBusy(SERVICE, f"Ollama's answer broke off: {describe(exc)}") from exc
        finally:
            # close(), not release(): drop the connection rather than drain the rest.
            resp.close()

    # ---- embeddings ---------------------------------------------------------------------

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order."""
        if not texts:
            return []
        body = {"model": self.embed_model, "input": list(texts)}

        async def attempt() -> dict[str, Any]:
            async with self._session.post(
                join_url(self._base_url, "/api/embed"),
                json=body,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as resp:
                await self._raise_for_status(resp, self.embed_model)
                return await self._json(resp)

        data = await call_with_retry(SERVICE, attempt, self._retry)
        vectors = data.get("embeddings")
        if (
            not isinstance(vectors, list)
            or len(vectors) != len(texts)
            or not all(isinstance(v, list) and v for v in vectors)
        ):
            raise ServiceError(SERVICE, "Ollama sent embeddings of an unexpected shape", 200)
        return [[float(x) for x in v] for v in vectors]

    @staticmethod
    async def _json(resp: aiohttp.ClientResponse) -> dict[str, Any]:
        try:
            data = await resp.json(content_type=None)
        except ValueError as exc:
            raise ServiceError(SERVICE, "Ollama sent a body that is not JSON", resp.status) from exc
        if not isinstance(data, dict):
            raise ServiceError(SERVICE, "Ollama sent JSON that is not an object", resp.status)
        return data
