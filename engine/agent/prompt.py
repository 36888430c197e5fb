"""What the scout agent is told: system prompt, tools, reminders, summary request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MAX_ROUNDS = 7
MAX_PAGES = 5
DEFAULT_RESULTS = 5
MAX_RESULTS = 10
REMIND_EVERY = 3
SUMMARY_MAX_CHARS = 150

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "searchWeb",
            "description": "Search the web. Returns titles, URLs, snippets and dates.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to search for"},
                    "limit": {"type": "integer", "description": "results wanted (1-10, default 5)"},
                    "tbs": {
                        "type": "string",
                        "description": "freshness: qdr:d (past day), qdr:w (past week), "
                        "qdr:m (past month)",
                    },
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "scrapeWebsite",
            "description": "Read one web page and return its main text as markdown.",
            "parameters": {
                "type": "object",
                "properties": {"url": {"type": "string", "description": "http(s) URL"}},
                "required": ["url"],
            },
        },
    },
]


def _location_line(location: dict[str, Any] | None) -> str:
    city = (location or {}).get("city")
    if not city or city.lower() == "any":
        return "Location: not location-specific."
    return f"Location: {city} (focus on this area)."


def _findings(earlier: list[tuple[str, int]]) -> str:
    if not earlier:
        return "No earlier findings yet."
    lines = [f"- {text} ({days} day{'s' if days != 1 else ''} ago)" for text, days in earlier]
    return (
        "Earlier findings (already reported to the user; do not report them again, only "
        "what is new since):\n" + "\n".join(lines)
    )


def system_prompt(
    scout: dict[str, Any], earlier: list[tuple[str, int]], today: datetime
) -> str:
    queries = "\n".join(f"- {q}" for q in scout.get("search_queries") or [])
    return f"""You are a research agent monitoring the web for one person.
Today is {today.strftime('%A, %d %B %Y')}.

Scout: {scout.get('title')}
Goal: {scout.get('goal')}
Details: {scout.get('description')}
{_location_line(scout.get('location'))}
Configured searches:
{queries}

{_findings(earlier)}

How to work:
1. Run one searchWeb call for each configured search.
2. Read two or three of the most relevant results with scrapeWebsite. Verify facts on the
   page itself, never from a search snippet alone.
3. If needed, run one or two follow-up searches, then stop and answer.
Prefer primary sources (official announcements, openings, launches, press releases) over
reviews and commentary. Never repeat a search you already ran. You have at most
{MAX_ROUNDS} rounds of tool use and may read at most {MAX_PAGES} pages.

When you are done, reply with only this JSON object and nothing else:
{{"taskCompleted": true or false, "taskStatus": "completed" | "partial" | "not_found" |
"insufficient_data", "response": "<markdown report>"}}
taskCompleted is true only when you found something new that matches the goal.
The response is a short news brief in markdown: a "## " title saying what was found, one or
two opening sentences, then bullets with dates, places and links. Do not describe your
process or the tools. Do not use em dashes."""


def kickoff_message() -> str:
    return "Run the scout now and report what is new."


def reminder(round_number: int) -> str:
    left = MAX_ROUNDS - round_number
    return (
        f"Progress check: you have used {round_number} of {MAX_ROUNDS} rounds; {left} left. "
        "Wrap up soon and give the JSON answer."
    )


def final_round_message() -> str:
    return (
        "This is your last round: no more tools are available. Answer now with the JSON "
        "object, using what you have found."
    )


def summary_messages(report: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "Summarise the report in one plain sentence of at most "
            f"{SUMMARY_MAX_CHARS} characters that names the concrete finding. "
            "Reply with the sentence only.",
        },
        {"role": "user", "content": report},
    ]
