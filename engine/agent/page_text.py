"""What the model reads of a scraped page: the prose, without link lists, within a budget.

Crawl4AI's markdown keeps every link as ``[text](url)`` and every menu as a list of them;
on a news site that is thousands of characters before the first sentence of the article.
The model needs the words, not the addresses, so links become their text, images go, and
lines that were nothing but links (menus, footers, "related" lists) are dropped.
"""

from __future__ import annotations

import re

# ![alt](src) and [text](url "title"); nested brackets are rare enough to ignore.
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>\s]*>")
_BARE_URL = re.compile(r"https?://\S+")
# List markers, table pipes, separators and the like that surround menu entries.
_DECORATION = re.compile(r"[\s*+\-|•·>#\d.)(\[\]]*")
_BLANKS = re.compile(r"\n{3,}")


def _link_only(line: str) -> bool:
    """True for a line that holds links and decoration but no words of its own."""
    if not _LINK.search(line) and not _AUTOLINK.search(line) and not _BARE_URL.search(line):
        return False
    rest = _AUTOLINK.sub("", _LINK.sub("", _IMAGE.sub("", line)))
    rest = _BARE_URL.sub("", rest)
    return _DECORATION.fullmatch(rest) is not None


def readable_text(markdown: str, enough: int | None = None) -> str:
    """The page's markdown with link lists dropped and links reduced to their words.

    With ``enough``, stops once that many characters are kept: the rest would be cut by
    the budget anyway, and long pages are cleaned on the event loop.
    """
    kept: list[str] = []
    size = 0
    for line in markdown.splitlines():
        if enough is not None and size > enough:
            break
        if _link_only(line):
            continue
        line = _IMAGE.sub("", line)
        line = _LINK.sub(lambda m: m.group(1), line)
        line = _AUTOLINK.sub("", line)
        if line.strip() or (kept and kept[-1].strip()):
            kept.append(line.rstrip())
            size += len(line) + 1
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def trim_text(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut at a whitespace boundary when one is near."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    boundary = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    # Only back off to the boundary when it does not throw away most of the text.
    if boundary >= max_chars // 2:
        cut = cut[:boundary]
    return cut.rstrip()
