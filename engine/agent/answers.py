"""Model output is input: the final answer and tool arguments are validated here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from engine.agent.prompt import DEFAULT_RESULTS, MAX_RESULTS, SUMMARY_MAX_CHARS

TASK_STATUSES = ("completed", "partial", "not_found", "insufficient_data")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_TBS = {"qdr:d": "day", "qdr:w": "week", "qdr:m": "month", "qdr:y": "year"}


def parse_answer(raw: str) -> dict[str, Any]:
    """The agent's final JSON answer, or the raw text marked as insufficient data."""
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    candidates = [text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if (
            isinstance(data, dict)
            and isinstance(data.get("taskCompleted"), bool)
            and data.get("taskStatus") in TASK_STATUSES
            and isinstance(data.get("response"), str)
            and data["response"].strip()
        ):
            return {
                "taskCompleted": data["taskCompleted"],
                "taskStatus": data["taskStatus"],
                "response": data["response"].strip(),
            }
    return {"taskCompleted": False, "taskStatus": "insufficient_data", "response": raw.strip()}


def clean_summary(raw: str) -> str:
    """One line, no quotes or em dashes, at most SUMMARY_MAX_CHARS characters."""
    text = " ".join(raw.split()).strip().strip('"').replace("\u2014", ", ")
    if len(text) <= SUMMARY_MAX_CHARS:
        return text
    cut = text[: SUMMARY_MAX_CHARS - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


@dataclass(frozen=True)
class SearchCall:
    query: str
    limit: int
    time_range: str | None


class BadToolCall(ValueError):
    pass


def normalise_query(query: str) -> str:
    return " ".join(query.lower().split())


def search_call(arguments: dict[str, Any], default_range: str) -> SearchCall:
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadToolCall("searchWeb needs a non-empty 'query' string")
    if len(query) > 300:
        raise BadToolCall("searchWeb query is too long (300 characters at most)")
    limit = arguments.get("limit", DEFAULT_RESULTS)
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int):
        limit = DEFAULT_RESULTS
    limit = max(1, min(MAX_RESULTS, limit))
    tbs = arguments.get("tbs")
    time_range = _TBS.get(tbs, default_range) if isinstance(tbs, str) else default_range
    return SearchCall(" ".join(query.split()), limit, time_range)


def scrape_url(arguments: dict[str, Any]) -> str:
    url = arguments.get("url")
    if not isinstance(url, str) or not url.strip():
        raise BadToolCall("scrapeWebsite needs a 'url' string")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadToolCall(f"scrapeWebsite needs an http(s) URL, got {url[:100]!r}")
    return url
