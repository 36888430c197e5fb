"""The default "demo" script for the fakes, used by ``serve.py`` and end-to-end tests.

What it does (simple on purpose; refine as the engine and UI grow):

* Crawl4AI serves two pages that live on the fake itself (``<crawl4ai>/pages/<slug>``),
  so scraping them needs ``SCRAPE_ALLOW_HOSTS=127.0.0.1``.
* SearXNG answers every query with those two pages (plus a reddit link the client drops).
* Ollama follows a plausible agent run, chosen from the request itself:
  - tools offered include ``update_scout_config`` (the chat configurator): when the last
    message is a tool result, a short plain text reply; otherwise one tool call filling
    title, goal, description, search_queries, location and frequency from what the user
    typed (``demo_config``: the topic, a city after "in"/"near", "weekly" and so on);
  - tools ``searchWeb`` / ``scrapeWebsite`` (a scout run): no tool result yet → a
    ``searchWeb`` call; last tool result came from ``searchWeb`` → ``scrapeWebsite`` of the
    first demo URL found in it; otherwise → the final JSON answer
    ``{taskCompleted, taskStatus, response}``;
  - no tools: a one-sentence summary (as JSON ``{"summary": ...}`` when ``format`` is set).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama, ScriptedReply
from tests.fakes.fake_searxng import FakeSearxng, result

SUMMARY = "Two new ramen shops opened in Denver this week, Menya Kotori and Hoshi Ramen."

SCOUT_CONFIG = {
    "title": "Denver ramen openings",
    "goal": "Find newly opened ramen restaurants in Denver",
    "description": (
        "Watches local food news for ramen shops that have just opened "
        "or announced an opening date in Denver."
    ),
    "search_queries": [
        "new ramen restaurant Denver",
        "Denver ramen opening",
        "ramen shop opens Denver Colorado",
    ],
    "location": {"city": "Denver", "latitude": 39.7392, "longitude": -104.9903},
    "frequency": "daily",
}

PAGES = {
    "menya-kotori-opens": (
        "Menya Kotori opens on Colfax",
        "# Menya Kotori opens on Colfax\n\nThe chicken-broth ramen shop Menya Kotori opened "
        "on November 20 at 3100 E Colfax Ave, Denver. It serves paitan ramen and gyoza.",
    ),
    "hoshi-ramen-lohi": (
        "Hoshi Ramen comes to LoHi",
        "# Hoshi Ramen comes to LoHi\n\nHoshi Ramen opened its second location in Lower "
        "Highland on November 22, with a late-night menu on weekends.",
    ),
}


STOPWORDS = {
    "a", "about", "an", "and", "any", "for", "find", "i", "in", "latest", "me", "new", "of",
    "on", "please", "tell", "the", "to", "track", "want", "watch", "when", "with",
}
CITY_RE = re.compile(r"\b(?:in|near|around)\s+([A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*)")
FREQUENCY_WORDS = {"daily": "every day", "every_3_days": "every three days",
                   "weekly": "every week"}


def _user_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m["content"]).strip() for m in messages
            if m.get("role") == "user" and isinstance(m.get("content"), str)
            and str(m["content"]).strip()]


def _lower_first(text: str) -> str:
    # "New shops" -> "new shops", but "AI tools" stays.
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def demo_config(texts: list[str]) -> dict[str, Any]:
    """A scout configuration that follows what the user typed, as a model would fill it."""
    topic_text = texts[0] if texts else "news worth knowing"
    everything = " ".join(texts)
    # Each message on its own: a city at the end of one must not run into the next.
    found = next((m for m in map(CITY_RE.search, texts) if m), None)
    city = found.group(1) if found else None
    if city is None and "denver" in everything.lower():
        city = "Denver"
    topic = topic_text
    if found and found.group(0) in topic:
        topic = topic.replace(found.group(0), "")
    topic = re.sub(r"\s+", " ", topic).strip(" .,!?") or topic_text
    words = [w for w in re.findall(r"[\w'-]+", topic) if w.lower() not in STOPWORDS]
    title = " ".join(w if w.isupper() else w.capitalize() for w in (words or ["Web"])[:3])
    where = f" in {city}" if city else ""
    lower = everything.lower()
    frequency = ("weekly" if "week" in lower
                 else "every_3_days" if re.search(r"\b(3|three) days\b", lower) else "daily")
    queries = [topic, f"{topic}{where}", f"{topic} news", f"{topic} announcement"]
    unique = list(dict.fromkeys(q[:200] for q in queries))[:5]
    location: dict[str, Any] = {"city": city or "any", "latitude": None, "longitude": None}
    if city == "Denver":
        location.update(latitude=39.7392, longitude=-104.9903)
    return {
        "title": title[:100],
        "goal": f"Find {_lower_first(topic)}{where}"[:2000],
        "description": (f"Watches the web for {_lower_first(topic)}{where} and reports "
                        "what is new since the last run.")[:2000],
        "search_queries": unique,
        "location": location,
        "frequency": frequency,
    }


def demo_reply(config: dict[str, Any]) -> str:
    anywhere = ", anywhere" if config["location"]["city"] == "any" else ""
    return (f"I set up your scout to {_lower_first(config['goal'])}{anywhere}, checking "
            f"{FREQUENCY_WORDS[config['frequency']]}. Change anything in the setup list, "
            "or turn the scout on whenever you are ready.")


def _tool_names(body: dict[str, Any]) -> set[str]:
    names = set()
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.add(function["name"])
    return names


def _last_tool_name(messages: list[dict[str, Any]]) -> str | None:
    """Name of the tool whose result is the latest message (via tool_name or the call id)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    last = messages[-1]
    if isinstance(last.get("tool_name"), str):
        return last["tool_name"]
    for message in reversed(messages):
        for call in message.get("tool_calls") or []:
            if call.get("id") == last.get("tool_call_id"):
                return call.get("function", {}).get("name")
    return None


def demo_responder(page_urls: list[str], agent_delay: float = 0.0):  # type: ignore[no-untyped-def]
    """``agent_delay`` slows each step of a scout run, so a person (or a test) can watch it."""
    final_answer = json.dumps(
        {
            "taskCompleted": True,
            "taskStatus": "completed",
            "response": (
                "## Two new ramen shops open in Denver\n\n"
                "Denver gained two ramen counters this week.\n\n"
                f"- **Menya Kotori** opened Nov 20 on East Colfax ([source]({page_urls[0]}))\n"
                f"- **Hoshi Ramen** opened Nov 22 in Lower Highland ([source]({page_urls[1]}))\n"
            ),
        }
    )

    def respond(body: dict[str, Any]) -> ScriptedReply:
        tools = _tool_names(body)
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        if "update_scout_config" in tools:
            config = demo_config(_user_texts(messages))
            if messages and messages[-1].get("role") == "tool":
                return ScriptedReply(content=demo_reply(config))
            return ScriptedReply(tool_calls=[("update_scout_config", config)])
        if tools & {"searchWeb", "scrapeWebsite"}:
            last = _last_tool_name(messages)
            if not any(m.get("role") == "tool" for m in messages):
                return ScriptedReply(
                    tool_calls=[
                        ("searchWeb", {"query": SCOUT_CONFIG["search_queries"][0], "limit": 5})
                    ],
                    delay=agent_delay,
                )
            if last == "searchWeb":
                content = str(messages[-1].get("content", ""))
                found = [u for u in re.findall(r"https?://[^\s\"')\]]+", content) if u in page_urls]
                return ScriptedReply(
                    tool_calls=[("scrapeWebsite", {"url": (found or page_urls)[0]})],
                    delay=agent_delay,
                )
            return ScriptedReply(content=final_answer, delay=agent_delay)
        if body.get("format") is not None:
            return ScriptedReply(content=json.dumps({"summary": SUMMARY}))
        return ScriptedReply(content=SUMMARY)

    return respond


def install_demo(
    ollama: FakeOllama, searxng: FakeSearxng, crawl4ai: FakeCrawl4AI, agent_delay: float = 0.0
) -> list[str]:
    """Script all three (already started) fakes; returns the demo page URLs."""
    urls = [crawl4ai.add_demo_page(slug, text, title) for slug, (title, text) in PAGES.items()]
    searxng.set_default(
        result(
            urls[0],
            PAGES["menya-kotori-opens"][0],
            "Chicken paitan ramen arrives on Colfax.",
            published="2026-11-20T09:00:00",
        ),
        result("https://www.reddit.com/r/denverfood/comments/abc", "Any new ramen?", "Thread"),
        result(
            urls[1],
            PAGES["hoshi-ramen-lohi"][0],
            "A second Hoshi location opens in LoHi.",
            published="2026-11-22T12:00:00",
        ),
    )
    ollama.responder = demo_responder(urls, agent_delay)
    return urls
