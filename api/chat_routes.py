"""POST /api/chat: the configurator's answer as an AI SDK UI message stream or plain text.

engine/chat/configurator.py runs the conversation and yields neutral events; this module
only encodes them (protocols.md §4) and writes each chunk as soon as it exists. Only the chunk types
and fields that ai v5, v6 and v7 all accept are sent, since older clients reject unknown
fields and types.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiohttp import web

from api.auth_routes import authenticated
from api.context import services
from api.jsonio import error_body, json_response, read_object
from engine.chat.configurator import (
    AssistantUnavailable,
    ChatAssistant,
    ChatEvent,
    ErrorEvent,
    Finished,
    StepFinished,
    StepStarted,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    parse_chat_request,
)

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

UI_STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "x-vercel-ai-ui-message-stream": "v1",
    "X-Accel-Buffering": "no",
}
TEXT_STREAM_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
# Unreachable or missing model: the operator can fix it, the request may work later (503).
# A model that refused the request (no tool support...) is a bad upstream answer (502).
UNAVAILABLE_STATUS = {"unreachable": 503, "model_missing": 503, "rejected": 502}
INTERRUPTED = "The answer was interrupted by an internal error. Please try again."


class UIMessageStreamEncoder:
    """Turns engine events into UI message stream chunks, keeping text parts well formed:
    every text-delta follows a text-start of its id, and every started text part ends."""

    def __init__(self) -> None:
        self._text_id: str | None = None
        self._parts = 0

    def start(self) -> list[dict[str, Any]]:
        return [{"type": "start", "messageId": f"msg_{uuid.uuid4().hex}"}]

    def _end_text(self) -> list[dict[str, Any]]:
        if self._text_id is None:
            return []
        chunk = {"type": "text-end", "id": self._text_id}
        self._text_id = None
        return [chunk]

    def encode(self, event: ChatEvent) -> list[dict[str, Any]]:
        match event:
            case StepStarted():
                return [{"type": "start-step"}]
            case TextDelta(text=text):
                chunks: list[dict[str, Any]] = []
                if self._text_id is None:
                    self._parts += 1
                    self._text_id = f"text_{self._parts}"
                    chunks.append({"type": "text-start", "id": self._text_id})
                chunks.append({"type": "text-delta", "id": self._text_id, "delta": text})
                return chunks
            case ToolCallEvent(call_id=call_id, name=name, arguments=arguments):
                return [*self._end_text(), {
                    "type": "tool-input-available", "toolCallId": call_id,
                    "toolName": name, "input": arguments,
                }]
            case ToolResultEvent(call_id=call_id, error=None, output=output):
                return [{"type": "tool-output-available", "toolCallId": call_id, "output": output}]
            case ToolResultEvent(call_id=call_id, error=error):
                return [{"type": "tool-output-error", "toolCallId": call_id, "errorText": error}]
            case StepFinished():
                return [*self._end_text(), {"type": "finish-step"}]
            case Finished():
                # No finishReason: ai before 5.0.92 rejects the field.
                return [*self._end_text(), {"type": "finish"}]
            case ErrorEvent(message=message):
                return [{"type": "error", "errorText": message}]
        raise TypeError(f"unknown chat event {event!r}")  # pragma: no cover


def sse(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def wants_plain_text(request: web.Request) -> bool:
    if request.query.get("format") == "text":
        return True
    accept = request.headers.get("Accept", "")
    return "text/plain" in accept and "text/event-stream" not in accept


async def _write_ui_stream(
    response: web.StreamResponse, first: ChatEvent, events: AsyncIterator[ChatEvent]
) -> None:
    encoder = UIMessageStreamEncoder()
    chunks = encoder.start() + encoder.encode(first)
    await response.write(b"".join(sse(c) for c in chunks))
    try:
        async for event in events:
            await response.write(b"".join(sse(c) for c in encoder.encode(event)))
    except ConnectionError:
        raise
    except Exception:
        log.exception("chat stream failed")
        await response.write(sse({"type": "error", "errorText": INTERRUPTED}))
    await response.write(SSE_DONE)


async def _write_text_stream(
    response: web.StreamResponse, first: ChatEvent, events: AsyncIterator[ChatEvent]
) -> None:
    async def emit(event: ChatEvent) -> None:
        # Plain text has no error channel: say it in the text, where the person reads it.
        if isinstance(event, TextDelta):
            await response.write(event.text.encode())
        elif isinstance(event, ErrorEvent):
            await response.write(f"\n\n[{event.message}]".encode())

    await emit(first)
    try:
        async for event in events:
            await emit(event)
    except ConnectionError:
        raise
    except Exception:
        log.exception("chat stream failed")
        await response.write(f"\n\n[{INTERRUPTED}]".encode())


@routes.post("/api/chat")
@authenticated
async def chat(request: web.Request, user_id: uuid.UUID) -> web.StreamResponse:
    chat_request = parse_chat_request(await read_object(request))
    svc = services(request)
    assistant = ChatAssistant(svc.db, svc.scouts, svc.chat_ollama, svc.clock)
    turn = await assistant.start(user_id, chat_request)  # NotFound → 404 before streaming

    plain = wants_plain_text(request)
    async with aclosing(turn.events()) as events:
        try:
            first = await anext(events)
        except AssistantUnavailable as exc:
            return json_response(
                error_body("assistant_unavailable", exc.message, reason=exc.reason),
                UNAVAILABLE_STATUS[exc.reason],
            )
        response = web.StreamResponse(
            headers=TEXT_STREAM_HEADERS if plain else UI_STREAM_HEADERS
        )
        await response.prepare(request)
        writer = _write_text_stream if plain else _write_ui_stream
        try:
            await writer(response, first, events)
            await response.write_eof()
        except ConnectionError:
            # The browser went away. Leaving the `async with` closes the engine's iterator,
            # which closes the Ollama request, so the model stops generating.
            log.info("chat client disconnected; upstream request cancelled")
    return response
