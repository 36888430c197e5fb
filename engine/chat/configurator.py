"""The chat configurator: one user turn, streamed as neutral events.

The API layer turns the events into an AI SDK UI message stream or plain text; nothing
here knows about HTTP. A turn is at most ``MAX_ROUNDS`` model calls: each call may end in
calls of the one tool, whose results go back to the model for the next round.

Storage rules: the user's message is stored before the model is called; the assistant's
text only once the whole turn finished, so a failed or abandoned stream never leaves half
an answer behind.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.agent.textcalls import Recovered, recover_tool_calls
from engine.chat.prompt import (
    MISSING_WORDS,
    TOOL_NAME,
    UPDATE_SCOUT_TOOL,
    DetectedLocation,
    system_prompt,
)
from engine.clients.errors import ClientFailure, ModelMissing, ServiceBusy, ToolError
from engine.clients.ollama import Message, OllamaClient, ToolCall, tool_result_message
from engine.clients.retry import RetryPolicy
from engine.db import Database
from engine.errors import NotFound, ValidationFailed
from engine.scouts import Scouts
from engine.storage import messages as message_store
from engine.validation import MAX_CITY, SCOUT_FIELDS, missing_fields

log = logging.getLogger(__name__)

MAX_ROUNDS = 5
HISTORY_LIMIT = 10
MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 8000
# A person is waiting: two quick attempts, then tell them, rather than minutes of backoff.
CHAT_RETRY = RetryPolicy(attempts=2, initial_wait=0.3, max_wait=2.0, max_retry_after=3.0)

ROLES = ("user", "assistant")
# Where text may turn into a tool call written as text; from there on the answer is held
# back until it is complete, so the person never sees raw JSON. A bare call is the whole
# answer, so only a leading brace counts; tags and fences count anywhere.
_LEADING_JSON = re.compile(r"\s*[{\[]")
_OPENERS = ("<tool_call>", "```")


def hold_from(text: str, start: int) -> int | None:
    """The first index at or after ``start`` where a call written as text may begin (also
    a partial opener at the very end, such as ``<tool``), or None."""
    if start == 0 and _LEADING_JSON.match(text):
        return 0
    for index in range(start, len(text)):
        if text[index] in "<`":
            rest = text[index:]
            if any(rest.startswith(o) or o.startswith(rest) for o in _OPENERS):
                return index
    return None


# ---- the request ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    scout_id: uuid.UUID
    messages: list[ChatMessage]
    location: DetectedLocation | None

    @property
    def user_text(self) -> str:
        return self.messages[-1].content


def _message_text(index: int, raw: Any) -> tuple[str, str]:
    where = f"messages[{index}]"
    if not isinstance(raw, Mapping):
        raise ValidationFailed(f"{where} must be an object", field=where)
    role = raw.get("role")
    if role not in ROLES:
        raise ValidationFailed(f"{where}.role must be user or assistant", field=where)
    parts = raw.get("parts")
    content = raw.get("content")
    if parts is None and isinstance(content, list):
        parts = content  # some clients send content as a list of typed parts
    if parts is not None:
        if not isinstance(parts, list):
            raise ValidationFailed(f"{where}.parts must be a list", field=where)
        # Tool, reasoning, file and step parts are the UI's business; only text is said.
        texts = [
            p["text"].strip()
            for p in parts
            if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
        text = "\n\n".join(t for t in texts if t)
    elif isinstance(content, str):
        text = content.strip()
    else:
        raise ValidationFailed(
            f"{where} needs text: either parts (AI SDK) or a content string", field=where
        )
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            f"{where} is too long (at most {MAX_MESSAGE_CHARS} characters)", field=where
        )
    return role, text


def _coordinate(name: str, value: Any, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationFailed(f"location.{name} must be a number or null", field="location")
    if abs(value) > limit:
        raise ValidationFailed(
            f"location.{name} must be between {-limit:g} and {limit:g}", field="location"
        )
    return float(value)


def parse_detected_location(raw: Any) -> DetectedLocation | None:
    """The browser's guess; extra keys (state, country...) are tolerated and ignored."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValidationFailed("location must be an object or null", field="location")
    city = raw.get("city")
    if city is not None and (not isinstance(city, str) or len(city) > MAX_CITY):
        raise ValidationFailed("location.city must be a short string or null", field="location")
    location = DetectedLocation(
        city=(city or "").strip() or None,
        latitude=_coordinate("latitude", raw.get("latitude"), 90),
        longitude=_coordinate("longitude", raw.get("longitude"), 180),
    )
    if location.city is None and location.latitude is None:
        return None
    return location


def parse_chat_request(body: Mapping[str, Any]) -> ChatRequest:
    """Validate ``{scoutId, messages, location}``; other keys (useChat's id, trigger) pass."""
    raw_id = body.get("scoutId")
    try:
        scout_id = uuid.UUID(raw_id) if isinstance(raw_id, str) else None
    except ValueError:
        scout_id = None
    if scout_id is None:
        raise ValidationFailed("scoutId must be the id of one of your scouts", field="scoutId")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise ValidationFailed("messages must be a non-empty list", field="messages")
    if len(raw_messages) > MAX_MESSAGES:
        raise ValidationFailed(
            f"messages may hold at most {MAX_MESSAGES} messages", field="messages"
        )
    parsed = [_message_text(i, m) for i, m in enumerate(raw_messages)]
    last_role, last_text = parsed[-1]
    if last_role != "user" or not last_text:
        raise ValidationFailed(
            "the last message must be the user's and contain some text", field="messages"
        )
    # Messages without text (an assistant turn that only used the tool) tell the model nothing.
    messages = [ChatMessage(role, text) for role, text in parsed if text]
    return ChatRequest(scout_id, messages, parse_detected_location(body.get("location")))


# ---- what a turn yields -----------------------------------------------------------------


@dataclass(frozen=True)
class StepStarted:
    """A model round began producing output."""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallEvent:
    call_id: str
    name: str
    arguments: dict[str, Any]
    # The model wrote the call in its text instead of as a tool call.
    recovered_from_text: bool = False


@dataclass(frozen=True)
class ToolResultEvent:
    """Exactly one of ``output`` (the scout's new configuration) and ``error`` is set."""

    call_id: str
    output: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class StepFinished:
    pass


@dataclass(frozen=True)
class Finished:
    text: str


@dataclass(frozen=True)
class ErrorEvent:
    message: str


ChatEvent = (
    StepStarted | TextDelta | ToolCallEvent | ToolResultEvent | StepFinished | Finished | ErrorEvent
)


class AssistantUnavailable(Exception):
    """The model could not be reached or refused before any output: nothing was streamed.

    ``reason`` is ``unreachable`` (try again later), ``model_missing`` or ``rejected``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def _unavailable(exc: ClientFailure | ToolError) -> AssistantUnavailable:
    if isinstance(exc, ModelMissing):
        return AssistantUnavailable(f"The assistant is unavailable: {exc.message}", "model_missing")
    if isinstance(exc, ServiceBusy):
        return AssistantUnavailable(
            "The assistant is unavailable: Ollama did not answer. Check that it is running "
            f"and that OLLAMA_URL points at it ({exc.message}).",
            "unreachable",
        )
    return AssistantUnavailable(f"The assistant is unavailable: {exc.message}", "rejected")


# ---- the tool ---------------------------------------------------------------------------

CONFIG_KEYS = (*SCOUT_FIELDS, "is_active", "is_complete")


def scout_config(scout: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a scout the chat shows (JSON-safe: no ids or timestamps)."""
    return {key: scout.get(key) for key in CONFIG_KEYS}


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def tool_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty values: small models often send every property, most of them null, and
    "leave it as it is" must not wipe what is already saved."""
    return {key: value for key, value in arguments.items() if not _blank(value)}


# ---- one turn ---------------------------------------------------------------------------


@dataclass
class ChatTurn:
    """A prepared turn (the user's message is already stored); iterate :meth:`events` once."""

    assistant: ChatAssistant
    user_id: uuid.UUID
    scout_id: uuid.UUID
    conversation: list[Message]
    asked_at: datetime
    _started: bool = field(default=False, init=False)

    async def events(self) -> AsyncGenerator[ChatEvent, None]:
        """Stream the answer.

        Raises AssistantUnavailable if the model fails before the first event, so the
        caller can still answer with a plain error; later failures become an ErrorEvent
        and end the stream. Closing the iterator early closes the upstream request.
        """
        texts: list[str] = []
        for round_number in range(1, MAX_ROUNDS + 1):
            last_round = round_number == MAX_ROUNDS
            content: list[str] = []
            calls: list[ToolCall] = []
            in_step = False
            done = False
            shown = 0  # characters of this round's content already streamed
            # On the last round the model gets no tool, so it has to answer in words.
            stream = self.assistant.ollama.stream_chat(
                self.conversation, tools=None if last_round else [UPDATE_SCOUT_TOOL]
            )
            try:
                async with aclosing(stream):
                    async for chunk in stream:
                        if not in_step:
                            in_step = self._started = True
                            yield StepStarted()
                        if chunk.content:
                            content.append(chunk.content)
                            so_far = "".join(content)
                            held = hold_from(so_far, shown)
                            end = len(so_far) if held is None else held
                            if end > shown:
                                yield TextDelta(so_far[shown:end])
                                shown = end
                        calls.extend(chunk.tool_calls)
                        if chunk.done:
                            done = True
                            break
                if not done:
                    raise ServiceBusy("ollama", "the answer broke off before it was complete")
            except (ClientFailure, ToolError) as exc:
                if not self._started:
                    raise _unavailable(exc) from exc
                log.warning("chat answer failed: %s", exc)
                yield ErrorEvent(f"The assistant stopped answering: {exc.message}")
                return

            text = "".join(content)
            from_text = False
            if not calls and not last_round:
                recovered = _text_calls(text)
                if recovered is not None:
                    calls, text, from_text = recovered.calls, recovered.text, True
                    log.info("chat: recovered %d tool call(s) the model wrote as text",
                             len(calls))
            unshown = _unshown(text, "".join(content)[:shown]) if from_text else text[shown:]
            if unshown.strip():
                yield TextDelta(unshown)
            if text.strip():
                texts.append(text.strip())
            turn: Message = {"role": "assistant", "content": text}
            if calls:
                turn["tool_calls"] = [call.to_wire(i) for i, call in enumerate(calls)]
            self.conversation.append(turn)
            for call in calls:
                yield ToolCallEvent(call.id, call.name, call.arguments, from_text)
                if last_round:
                    result = ToolResultEvent(call.id, error="Too many steps in one answer.")
                    for_model: dict[str, Any] = {"saved": False, "error": result.error}
                else:
                    result, for_model = await self._run_tool(call)
                self.conversation.append(tool_result_message(call, for_model))
                yield result
            yield StepFinished()
            if not calls:
                break

        answer = "\n\n".join(texts)
        if answer:
            await self.assistant.store_message(
                self.scout_id, "assistant", answer, after=self.asked_at
            )
        yield Finished(answer)

    async def _run_tool(self, call: ToolCall) -> tuple[ToolResultEvent, dict[str, Any]]:
        """Apply a tool call exactly like a PATCH from the user, minus ``is_active``."""
        if call.name != TOOL_NAME:
            error = f"There is no tool named {call.name}; use {TOOL_NAME}."
            return ToolResultEvent(call.id, error=error), {"saved": False, "error": error}
        try:
            scout = await self.assistant.scouts.update(
                self.user_id,
                self.scout_id,
                tool_arguments(call.arguments),
                self.assistant.clock(),
                allowed=SCOUT_FIELDS,
            )
        except (ValidationFailed, NotFound) as exc:
            return ToolResultEvent(call.id, error=exc.message), {
                "saved": False, "error": exc.message,
            }
        config = scout_config(scout)
        still_missing = [MISSING_WORDS[m] for m in missing_fields(scout)]
        return ToolResultEvent(call.id, output=config), {
            "saved": True, "scout": config, "still_missing": still_missing,
        }


def _text_calls(text: str) -> Recovered | None:
    """Calls of the configurator's tool written as text; a call with unreadable arguments
    stays text (the person sees it) rather than failing the whole answer."""
    try:
        return recover_tool_calls(text, [TOOL_NAME])
    except ToolError:
        return None


def _unshown(remaining: str, shown: str) -> str:
    """What is left of the words around recovered calls once ``shown`` was streamed."""
    shown = shown.strip()
    return remaining[len(shown):] if remaining.startswith(shown) else ""


class ChatAssistant:
    """Prepares turns for one scout of one user; shared by all requests."""

    def __init__(
        self,
        db: Database,
        scouts: Scouts,
        ollama: OllamaClient,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.scouts = scouts
        self.ollama = ollama
        self.clock = clock

    async def start(self, user_id: uuid.UUID, request: ChatRequest) -> ChatTurn:
        """Check ownership (NotFound), store the user's message, build the conversation."""
        scout = await self.scouts.get(user_id, request.scout_id)
        asked_at = await self.store_message(
            request.scout_id, "user", request.user_text, skip_repeat=True
        )
        prompt = system_prompt(scout, request.location, self.clock().date())
        history = request.messages[-HISTORY_LIMIT:]
        conversation: list[Message] = [{"role": "system", "content": prompt}]
        conversation += [{"role": m.role, "content": m.content} for m in history]
        return ChatTurn(self, user_id, request.scout_id, conversation, asked_at)

    async def store_message(
        self,
        scout_id: uuid.UUID,
        role: str,
        content: str,
        *,
        after: datetime | None = None,
        skip_repeat: bool = False,
    ) -> datetime:
        """Store a message and return its time.

        ``after`` keeps an answer strictly later than its question even when the clock has
        not moved (the history is ordered by time). With ``skip_repeat``, a message
        identical to the newest stored one is not stored again: that is the browser
        retrying after a failed answer, not a new message.
        """
        at = self.clock()
        if after is not None and at <= after:
            at = after + timedelta(microseconds=1)
        async with self.db.transaction() as conn:
            if skip_repeat:
                newest = await message_store.list_messages(conn, scout_id, limit=1)
                if newest and newest[0]["role"] == role and newest[0]["content"] == content:
                    return newest[0]["created_at"]
            row = await message_store.add_message(conn, scout_id, role, content, at)
        return row["created_at"]
