"""Text from the outside world made storable.

PostgreSQL refuses NUL in text and ``\\u0000`` in JSONB, and no driver can encode a lone
surrogate. Models, search engines and scraped pages produce both now and then; a run whose
result the database refuses could never be saved, so such text is cleaned before any write.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

T = TypeVar("T")

# A decoded str holds surrogate code points only when they are unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _replace(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def clean_text(text: str) -> str:
    """Drop NUL characters; replace lone surrogates with U+FFFD."""
    if _UNSTORABLE.search(text) is None:  # the common case costs one scan
        return text
    return _UNSTORABLE.sub(_replace, text)


def clean(value: T) -> T:
    """``clean_text`` applied to every string (and key) inside JSON-like data."""
    return _clean(value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_clean(item) for item in value)
    return value
