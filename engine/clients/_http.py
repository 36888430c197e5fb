"""Small HTTP helpers shared by the clients (error bodies, URLs, NDJSON)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

_MAX_ERROR_CHARS = 300


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def message_from_body(raw: str) -> str:
    """The human part of an error body: ``{"error": ...}``, ``{"detail": ...}`` or text."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _shorten(raw) or "(empty body)"
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return _shorten(value)
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return _shorten(value["message"])
            if isinstance(value, list) and value:
                # FastAPI-style validation errors: [{"msg": ...}, ...]
                parts = [str(v.get("msg", v)) if isinstance(v, dict) else str(v) for v in value]
                return _shorten("; ".join(parts))
    return _shorten(raw)


async def error_message(resp: aiohttp.ClientResponse) -> str:
    try:
        raw = await resp.text(errors="replace")
    except (aiohttp.ClientError, UnicodeDecodeError):
        return "(unreadable body)"
    return message_from_body(raw)


async def iter_ndjson(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Yield each JSON object of an NDJSON body; the last line may lack its newline.

    Reads raw chunks rather than ``readline()`` so very long lines (a big tool call) are
    not cut off by aiohttp's line-length limit.
    """
    buffer = b""
    async for piece in resp.content.iter_any():
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            obj = _decode_line(line)
            if obj is not None:
                yield obj
    obj = _decode_line(buffer)
    if obj is not None:
        yield obj


def _decode_line(line: bytes) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"invalid NDJSON line: {line[:80]!r}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"NDJSON line is not an object: {line[:80]!r}")
    return obj
