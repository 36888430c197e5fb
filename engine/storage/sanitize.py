"""Text from the outside world made storable.

PostgreSQL refuses NUL in text and ``\\u0000`` in JSONB, and no driver can encode a lone
surrogate. Models, search engines and scraped pages produce both now and then; a run whose
result the database refuses could never be saved, so such text is cleaned before any write.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson

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


# What orjson writes for a NUL; a text that merely spells it out (a backslash typed
# before "u0000") also contains it, and is then only walked for nothing.
_NUL_ESCAPED = b"\\u0000"


def storable_json(value: T) -> tuple[T, str]:
    """``value`` made storable, and its JSON text (orjson, non-string keys allowed, as
    engine.db encodes JSON columns).

    The common case costs one encoding and no walk: orjson refuses lone surrogates and
    writes NUL as an escape, so only data that trips either is cleaned and encoded again."""
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        encoded = b""
    if not encoded or _NUL_ESCAPED in encoded:
        value = clean(value)
        encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    return value, encoded.decode()
