"""The default "demo" script for the fakes, used by ``serve.py`` and end-to-end tests.

What it does (simple on purpose; refine as the engine and UI grow):

* The demo follows the scout being run: SearXNG answers a query nobody scripted with two
  pages written about that query (``topic_results``), registered on the fake Crawl4AI so
  they can be read, and the run's report is written from the scout's goal (taken from the
  run's system prompt) and the pages found. A newcomer's first report is about what they
  asked for, through the same wire protocols as ever.
* The canned Denver ramen queries (``SCOUT_CONFIG``) still answer with the two canned
  ramen pages (plus a reddit link the client drops), as do runs without a system prompt.
* Every demo page lives on the fake Crawl4AI itself (``<crawl4ai>/pages/<slug>``), so
  scraping it needs ``SCRAPE_ALLOW_HOSTS=127.0.0.1``.
* Ollama follows a plausible agent run, chosen from the request itself:
  - tools offered include ``update_scout_config`` (the chat configurator): when the last
    message is a tool result, a short plain text reply; otherwise one tool call filling
    title, goal, description, search_queries, location and frequency from what the user
    typed (``demo_config``: the topic, a city after "in"/"near", "weekly" and so on);
  - tools ``searchWeb`` / ``scrapeWebsite`` (a scout run): no tool result yet → a
    ``searchWeb`` call for the scout's first configured search; last tool result came from
    ``searchWeb`` → ``scrapeWebsite`` of the first demo URL found in it; otherwise → the
    final JSON answer ``{taskCompleted, taskStatus, response}`` about the scout's goal;
  - no tools: a one-sentence summary of the report it is given (as JSON
    ``{"summary": ...}`` when ``format`` is set).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama, Responder, ScriptedReply
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

CANNED_QUERIES: list[str] = SCOUT_CONFIG["search_queries"]  # type: ignore[assignment]

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
    # The topic as typed, less a leading "new"/"find me"/…, as a person would name it.
    words = re.findall(r"[\w'-]+", topic)
    while words and words[0].lower() in STOPWORDS:
        words.pop(0)
    title = " ".join(words[:6]) or "Web news"
    title = title[:1].upper() + title[1:]
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


@dataclass(frozen=True)
class Brief:
    """What a run's system prompt (engine/agent/prompt.py) says the scout is about."""

    title: str
    goal: str
    city: str | None
    queries: list[str]


def scout_brief(messages: list[dict[str, Any]]) -> Brief | None:
    system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
    goal = re.search(r"^Goal: (.+)$", system, re.M)
    if goal is None:
        return None
    title = re.search(r"^Scout: (.+)$", system, re.M)
    city = re.search(r"^Location: (.+?) \(focus on this area\)\.$", system, re.M)
    block = re.search(r"^Configured searches:\n((?:- .*\n?)+)", system, re.M)
    queries = [line[2:].strip() for line in block.group(1).splitlines()] if block else []
    return Brief(
        title=(title.group(1).strip() if title else "") or "Your scout",
        goal=goal.group(1).strip(),
        city=city.group(1).strip() if city else None,
        queries=[q for q in queries if q],
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"


def _headline(text: str) -> str:
    return text[:1].upper() + text[1:]


def topic_pages(query: str, today: datetime) -> list[tuple[str, str, str, str]]:
    """Two pages about ``query``: (slug, title, snippet, markdown), newest first."""
    topic = _headline(re.sub(r"\s+", " ", query).strip(" .,!?") or "Your topic")
    first, second = today - timedelta(days=1), today - timedelta(days=3)
    day = "%d %B %Y"
    return [
        (
            f"{_slug(query)}-latest",
            f"{topic}: what is new this week",
            f"A fresh announcement about {_lower_first(topic)}, published {first:{day}}.",
            f"# {topic}: what is new this week\n\nPublished {first:{day}}.\n\n"
            f"A new announcement about {_lower_first(topic)} came out this week. It names "
            "a date, a place and the people behind it, and says more details follow soon. "
            "Readers who follow the subject called it the most notable news in a month.",
        ),
        (
            f"{_slug(query)}-roundup",
            f"Roundup: {_lower_first(topic)}",
            f"Three smaller updates on {_lower_first(topic)} from the past week.",
            f"# Roundup: {_lower_first(topic)}\n\nPublished {second:{day}}.\n\n"
            f"Three smaller updates on {_lower_first(topic)}: one plan was confirmed, one "
            "was postponed to next month, and one is still only a rumour.",
        ),
    ]


def topic_results(crawl4ai: FakeCrawl4AI, query: str, today: datetime) -> list[dict[str, Any]]:
    """SearXNG results for ``query``, each a page the fake Crawl4AI can then serve."""
    found = []
    for position, (slug, title, snippet, markdown) in enumerate(topic_pages(query, today)):
        url = crawl4ai.local_url(slug)
        if url not in crawl4ai.pages:
            crawl4ai.add_demo_page(slug, markdown, title)
        published = (today - timedelta(days=1 + 2 * position)).strftime("%Y-%m-%dT%H:%M:%S")
        found.append(result(url, title, snippet, published=published))
    return found


def _found_pages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Title and URL of every search result the run was given."""
    pages: dict[str, dict[str, str]] = {}
    for message in messages:
        if message.get("role") != "tool":
            continue
        try:
            items = json.loads(str(message.get("content", "")))
        except ValueError:
            continue
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("url"), str):
                pages.setdefault(item["url"], {"url": item["url"],
                                               "title": str(item.get("title") or item["url"])})
    return list(pages.values())


def topic_report(brief: Brief, pages: list[dict[str, str]]) -> dict[str, Any]:
    """The final answer of a run, about the scout's goal and the pages it found."""
    where = f" in {brief.city}" if brief.city else ""
    if not pages:
        return {"taskCompleted": False, "taskStatus": "not_found",
                "response": f"## Nothing new on {brief.title}{where}\n\nThe searches for "
                            f"this scout found nothing new today."}
    bullets = "\n".join(f"- **{p['title']}** ([source]({p['url']}))" for p in pages[:3])
    return {
        "taskCompleted": True,
        "taskStatus": "completed",
        "response": (
            f"## {brief.title}: {len(pages[:3])} new finds{where}\n\n"
            f"The scout looked for what you asked: {_lower_first(brief.goal)}. "
            "These pages are new since the last run.\n\n"
            f"{bullets}\n\n"
            "_Demo mode: these pages were written by the demo services from your scout's "
            "setup._\n"
        ),
    }


def summary_of(report: str) -> str:
    """One sentence from a report: its title, or the canned demo summary."""
    heading = re.search(r"^## (.+)$", report, re.M)
    if heading is None or "ramen shops open in Denver" in heading.group(1):
        return SUMMARY
    return heading.group(1).strip().rstrip(".") + "."


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


def demo_responder(
    page_urls: list[str], agent_delay: float = 0.0, page_prefix: str = ""
) -> Responder:
    """``agent_delay`` slows each step of a scout run, so a person (or a test) can watch it;
    URLs under ``page_prefix`` are demo pages the run may read."""
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
            brief = scout_brief(messages)
            if not any(m.get("role") == "tool" for m in messages):
                query = brief.queries[0] if brief and brief.queries else CANNED_QUERIES[0]
                return ScriptedReply(
                    tool_calls=[("searchWeb", {"query": query, "limit": 5})],
                    delay=agent_delay,
                )
            if last == "searchWeb":
                content = str(messages[-1].get("content", ""))
                found = [u for u in re.findall(r"https?://[^\s\"')\]]+", content)
                         if u in page_urls or (page_prefix and u.startswith(page_prefix))]
                if not found and brief is not None:
                    return ScriptedReply(content=json.dumps(topic_report(brief, [])),
                                         delay=agent_delay)
                return ScriptedReply(
                    tool_calls=[("scrapeWebsite", {"url": (found or page_urls)[0]})],
                    delay=agent_delay,
                )
            pages = _found_pages(messages)
            if brief is not None and pages and not any(p["url"] in page_urls for p in pages):
                return ScriptedReply(content=json.dumps(topic_report(brief, pages)),
                                     delay=agent_delay)
            return ScriptedReply(content=final_answer, delay=agent_delay)
        report = next((str(m.get("content")) for m in reversed(messages)
                       if m.get("role") == "user"), "")
        if body.get("format") is not None:
            return ScriptedReply(content=json.dumps({"summary": summary_of(report)}))
        return ScriptedReply(content=summary_of(report))

    return respond


def install_demo(
    ollama: FakeOllama, searxng: FakeSearxng, crawl4ai: FakeCrawl4AI, agent_delay: float = 0.0
) -> list[str]:
    """Script all three (already started) fakes; returns the demo page URLs."""
    urls = [crawl4ai.add_demo_page(slug, text, title) for slug, (title, text) in PAGES.items()]
    canned = [
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
    ]
    for query in CANNED_QUERIES:
        searxng.add(query, *canned)
    searxng.set_default(*canned)
    searxng.default_for = lambda query: topic_results(crawl4ai, query, datetime.now(UTC))
    ollama.responder = demo_responder(urls, agent_delay, crawl4ai.local_url(""))
    return urls
