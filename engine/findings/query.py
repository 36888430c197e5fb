"""The search request as the caller sent it, checked before anything is embedded."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import ValidationFailed

MAX_QUERY_CHARS = 500
DEFAULT_LIMIT = 20
MAX_LIMIT = 50


@dataclass(frozen=True)
class FindingsQuery:
    text: str
    limit: int = DEFAULT_LIMIT
    scout_id: uuid.UUID | None = None


def _text(raw: str | None) -> str:
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed("q is required: the words to search for", field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationFailed(f"q must be at most {MAX_QUERY_CHARS} characters", field="q")
    # PostgreSQL refuses NUL in text and a lone surrogate cannot be encoded for the model:
    # both would otherwise surface as a server error.
    if "\x00" in text:
        raise ValidationFailed("q must not contain NUL characters", field="q")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed("q must be valid text", field="q") from None
    return text


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise ValidationFailed("limit must be a whole number", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def _scout_id(raw: str | None) -> uuid.UUID | None:
    if raw is None or raw == "":
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed("scout_id must be a scout's id", field="scout_id") from None


def parse_query(params: Mapping[str, str]) -> FindingsQuery:
    """``params`` are the request's query parameters."""
    return FindingsQuery(
        text=_text(params.get("q")),
        limit=_limit(params.get("limit")),
        scout_id=_scout_id(params.get("scout_id")),
    )
