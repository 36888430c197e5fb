"""A short plain-text excerpt of a markdown report, around the words searched for."""

from __future__ import annotations

import re
from collections.abc import Sequence

EXCERPT_CHARS = 240

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"<?https?://\S+>?")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)[\s#]*$", re.MULTILINE)
_MARKUP = re.compile(r"^\s{0,3}([-*+]\s+|\d+[.)]\s+|>\s?)", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)")
_SPACE = re.compile(r"\s+")


def plain_text(markdown: str) -> str:
    text = _LINK.sub(r"\1", markdown)
    text = _URL.sub("", text)
    # A heading runs into the sentence after it once lines are joined; a colon keeps them apart.
    text = _HEADING.sub(lambda m: m.group(1) + ("" if m.group(1)[-1:] in ".:!?" else ":"), text)
    text = _MARKUP.sub("", text)
    text = _EMPHASIS.sub("", text)
    return _SPACE.sub(" ", text).strip()


def excerpt(markdown: str, words: Sequence[str] = (), size: int = EXCERPT_CHARS) -> str:
    """At most about ``size`` characters; starts near the first searched word when the
    report mentions one, so the reader sees why the finding matched."""
    text = plain_text(markdown)
    if len(text) <= size:
        return text
    lowered = text.lower()
    positions = [p for p in (lowered.find(w) for w in words) if p >= 0]
    start = 0
    if positions:
        # A little context before the word, begun at a word boundary.
        start = max(0, min(positions) - size // 4)
        if start:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < min(positions) else start
    start = min(start, max(0, len(text) - size))
    end = start + size
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    body = text[start:end].strip()
    return ("…" if start else "") + body + ("…" if end < len(text) else "")
