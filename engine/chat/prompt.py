"""What the configurator assistant is told: its system prompt and its one tool.

The prompt describes the scout as it is right now in everyday words, so the model knows
what is still missing without ever seeing a database field name it might repeat to the
person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.tables import FREQUENCIES
from engine.validation import MAX_QUERIES, missing_fields

TOOL_NAME = "update_scout_config"

UPDATE_SCOUT_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Save settings of the scout. Send only the settings that should change; "
            "leave the others out."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "title": {
                    "type": "string",
                    "description": "A short name of two to four words",
                },
                "goal": {
                    "type": "string",
                    "description": "One sentence: what the person wants to be told about",
                },
                "description": {
                    "type": "string",
                    "description": "Two or three sentences: what counts as a finding, what to skip",
                },
                "location": {
                    "type": "object",
                    "description": (
                        'Where to look. City "any" when the topic is not tied to a place.'
                    ),
                    "properties": {
                        "city": {"type": "string"},
                        "latitude": {"type": "number"},
                        "longitude": {"type": "number"},
                    },
                    "required": ["city"],
                },
                "search_queries": {
                    "type": "array",
                    "description": "Three to five different web searches that would find news",
                    "items": {"type": "string"},
                    "maxItems": MAX_QUERIES,
                },
                "frequency": {
                    "type": "string",
                    "description": "How often to check",
                    "enum": list(FREQUENCIES),
                },
            },
        },
    },
}

FREQUENCY_WORDS = {
    "daily": "every day",
    "every_3_days": "every three days",
    "weekly": "every week",
}

MISSING_WORDS = {
    "title": "a short name",
    "goal": "what to look for",
    "description": "a description",
    "location": "where to look",
    "search_queries": "web searches",
    "frequency": "how often to check",
}


@dataclass(frozen=True)
class DetectedLocation:
    """Where the browser thinks the person is; any part may be unknown."""

    city: str | None
    latitude: float | None
    longitude: float | None

    def describe(self) -> str:
        coords = (
            f" (latitude {self.latitude:.4f}, longitude {self.longitude:.4f})"
            if self.latitude is not None and self.longitude is not None
            else ""
        )
        return f"{self.city or 'an unnamed place'}{coords}"


def _place(location: Mapping[str, Any] | None) -> str:
    if not location or not location.get("city"):
        return "not set yet"
    city = str(location["city"])
    if city.strip().lower() == "any":
        return "anywhere (not tied to a place)"
    return city


def describe_scout(scout: Mapping[str, Any]) -> str:
    queries = scout.get("search_queries") or []
    frequency = scout.get("frequency")
    lines = [
        f"- Name: {scout.get('title') or 'not set yet'}",
        f"- What to look for: {scout.get('goal') or 'not set yet'}",
        f"- Description: {scout.get('description') or 'not set yet'}",
        f"- Where: {_place(scout.get('location'))}",
        "- Web searches: " + ("; ".join(queries) if queries else "none yet"),
        f"- How often: {FREQUENCY_WORDS.get(frequency or '', 'not set yet')}",
        f"- Switched on: {'yes' if scout.get('is_active') else 'no'}",
    ]
    missing = missing_fields(scout)
    lines.append(
        "Still missing: " + ", ".join(MISSING_WORDS[m] for m in missing)
        if missing
        else "Nothing is missing: the scout is ready to be switched on."
    )
    return "\n".join(lines)


def system_prompt(
    scout: Mapping[str, Any], detected: DetectedLocation | None, today: date
) -> str:
    if detected is not None:
        whereabouts = (
            f"The person's browser reports they are around {detected.describe()}. Use that "
            "place only when they say the search is about where they are (\"near me\", "
            "\"around here\", \"in my area\", \"local\" and the like), and then save its city "
            "and coordinates; otherwise ignore it."
        )
    else:
        whereabouts = (
            "The person's location is unknown. If they say \"near me\" or similar, ask which "
            "city they mean."
        )
    return f"""You help a person set up a scout. A scout watches the web for them: on a \
schedule it searches, reads what it finds and emails a short report when something new \
turns up. Today is {today.isoformat()}.

The scout right now:
{describe_scout(scout)}

How to work:
1. After the person's first request, save right away, without asking, a short name of \
two to four words, what to look for, a description, and three to five web searches that \
differ from each other (different wording, angles and sources). Use the \
{TOOL_NAME} tool to save; send only what changes.
2. Ask only about what is still missing of these two: where to look and how often to \
check (every day, every three days or every week). If the topic is not tied to a place \
(software releases, research, online news), save the city as "any" without asking.
3. {whereabouts}
4. When the person asks for a change, save it with the tool, then confirm it in a few \
words.
5. Never switch the scout on yourself. When nothing is missing, tell the person the scout \
is ready and that they can switch it on in the page.
6. If saving fails, read the reason, fix what you sent and try again once.

How to speak: short, friendly, plain sentences. Never mention tools, settings fields or \
technical names, never write words joined with underscores, and never use em dashes \
(use commas or periods instead). Ask at most one question at a time."""
