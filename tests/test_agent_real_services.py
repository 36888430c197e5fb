"""Runs against services behaving like the real ones: nav-heavy pages, failing search
engines, a scraper whose browser died, models that write tool calls as text."""

from __future__ import annotations

import json

import pytest

from tests.engine_support import World, final_answer
from tests.fakes.fake_searxng import result

ARTICLE = (
    "The Spice Route, a family-run Indian restaurant, opens on March 3 at 1200 Larimer "
    "Street. Chef Asha Rao will serve Kerala dishes from a wood-fired oven."
)


async def tick(world: World, times: int = 1) -> None:
    for _ in range(times):
        await world.engine.tick()
        world.clock.advance(seconds=1)


def tool_results(world: World, request: int = -1) -> list[str]:
    """The tool messages the model saw in one of its requests (the latest by default)."""
    messages = world.ollama.chat_requests[request]["messages"]
    return [m["content"] for m in messages if m["role"] == "tool"]


async def test_the_model_reads_the_article_not_the_menu(world: World) -> None:
    scout = await world.add_scout()
    url = world.crawl4ai.local_url("spice-route")
    world.crawl4ai.add_article(url, ARTICLE, title="Spice Route opens")
    world.ollama.reply_tool_call("scrapeWebsite", {"url": url})
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="x"))
    await tick(world, 3)  # plan, read, plan

    page = json.loads(tool_results(world)[-1])
    assert "opens on March 3 at 1200 Larimer Street" in page["markdown"]
    assert "Politics" not in page["markdown"] and "https://" not in page["markdown"]
    assert (await world.run_of(scout["id"]))["state"] == "summarizing"


async def test_search_waits_while_every_engine_fails_then_completes(world: World) -> None:
    scout = await world.add_scout()
    world.searxng.add("new Indian restaurant Denver",
                      result("https://eater.example/spice", "Spice Route opens"))
    world.searxng.engines_failing(("google", "timeout"), ("bing", "Suspended: CAPTCHA"))
    world.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
    world.ollama.reply_text(final_answer())
    world.ollama.reply_text("Spice Route opens on March 3.")
    await tick(world, 2)

    run = await world.run_of(scout["id"])
    assert run["state"] == "searching" and run["next_run_at"] is not None
    assert "SearXNG" in run["wait_reason"]
    assert "google (timeout)" in run["wait_reason"] and "bing (suspended)" in run["wait_reason"]
    assert len(world.ollama.chat_requests) == 1  # the model was not told "no results"

    world.searxng.engines_recovered()
    world.clock.advance(seconds=120)
    await tick(world, 4)
    run = await world.run_of(scout["id"])
    assert run["state"] == "done" and run["results_summary"]["taskCompleted"] is True
    assert "Spice Route opens" in tool_results(world, request=1)[0]


async def test_some_engines_failing_is_noted_in_the_step(world: World) -> None:
    scout = await world.add_scout()
    world.searxng.add("new Indian restaurant Denver",
                      result("https://eater.example/spice", "Spice Route opens"))
    world.searxng.engines_failing(("brave", "HTTP connection error"), some=True)
    world.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
    await tick(world, 2)
    run = await world.run_of(scout["id"])
    search_step = (await world.steps_of(run["id"]))[-1]
    assert search_step["step_type"] == "search"
    assert search_step["output_data"][0]["failed_engines"] == "brave (connection error)"
    assert search_step["output_data"][0]["results"][0]["title"] == "Spice Route opens"


async def test_queries_name_the_scouts_city(world: World) -> None:
    await world.add_scout()  # located in Denver
    world.ollama.reply_tool_calls(("searchWeb", {"query": "new Indian restaurants"}),
                                  ("searchWeb", {"query": "Denver food openings"}))
    await tick(world, 2)
    assert world.searxng.queries == ["new Indian restaurants Denver", "Denver food openings"]
    assert all(p["time_range"] == "day" for p in world.searxng.requests)  # daily scout


async def test_a_scout_without_a_place_searches_as_asked(world: World) -> None:
    await world.add_scout(location={"city": "any", "latitude": None, "longitude": None},
                          frequency="weekly")
    world.ollama.reply_tool_call("searchWeb", {"query": "AI coding tool launches"})
    await tick(world, 2)
    assert world.searxng.queries == ["AI coding tool launches"]
    assert world.searxng.requests[0]["time_range"] == "week"


@pytest.mark.parametrize("written", [
    '{"name": "searchWeb", "arguments": {"query": "Spice Route Denver"}}',
    'Let me search.\n<tool_call>\n{"name": "searchWeb", "arguments": '
    '"{\\"query\\": \\"Spice Route Denver\\"}"}\n</tool_call>',
])
async def test_a_search_written_as_text_is_still_run(world: World, written: str) -> None:
    scout = await world.add_scout()
    world.ollama.reply_text(written)
    await tick(world, 2)
    assert world.searxng.queries == ["Spice Route Denver"]
    run = await world.run_of(scout["id"])
    assert run["state"] == "planning"
    plan_step = (await world.steps_of(run["id"]))[0]
    assert plan_step["output_data"]["recovered_from_text"] is True
    assert "wrote its calls as text" in plan_step["description"]
    # Its next round shows the call as a real one, answered by the search results.
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="x"))
    await tick(world, 1)
    messages = world.ollama.chat_requests[-1]["messages"]
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "searchWeb"
    assert messages[-1]["role"] == "tool"


async def test_text_that_only_mentions_a_tool_is_the_answer(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.reply_text("I could use searchWeb for this, but there is nothing new.")
    await tick(world, 1)
    run = await world.run_of(scout["id"])
    assert run["state"] == "summarizing" and world.searxng.queries == []


async def test_refused_addresses_are_not_errors_toward_the_limit(world: World) -> None:
    scout = await world.add_scout()
    world.crawl4ai.allow_internal = False  # the server's own SSRF guard answers 400
    world.ollama.reply_tool_calls(
        ("scrapeWebsite", {"url": "https://www.facebook.com/spice"}),
        ("scrapeWebsite", {"url": "http://10.1.2.3/admin"}))
    blocked_by_server = world.crawl4ai.add_demo_page("local", "Local page", "Local")
    world.ollama.reply_tool_call("scrapeWebsite", {"url": blocked_by_server})
    world.ollama.reply_tool_call("scrapeWebsite", {"url": "http://192.168.0.1/"})
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="x"))
    await tick(world, 10)
    run = await world.run_of(scout["id"])
    assert run["state"] == "done", run["error_message"]
    assert run["checkpoint"]["consecutive_tool_errors"] == 0
    said = "\n".join(tool_results(world))
    assert "Social media sites cannot be read" in said
    assert said.count("Not read:") == 3


async def test_a_dead_browser_makes_the_run_wait_not_fail(world: World) -> None:
    scout = await world.add_scout()
    urls = [world.crawl4ai.local_url(f"story-{i}") for i in range(3)]
    for url in urls:
        world.crawl4ai.add_article(url, ARTICLE, title="Spice Route opens")
    world.crawl4ai.browser_dead = True
    world.ollama.reply_tool_calls(*[("scrapeWebsite", {"url": u}) for u in urls])
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="x"))
    await tick(world, 2)

    run = await world.run_of(scout["id"])
    assert run["state"] == "reading" and run["next_run_at"] is not None
    assert "crawl4ai" in run["wait_reason"].lower()
    assert (await world.scout(scout["id"]))["consecutive_failures"] == 0

    world.crawl4ai.browser_dead = False
    world.clock.advance(seconds=120)
    await tick(world, 2)
    run = await world.run_of(scout["id"])
    assert run["state"] == "summarizing"
    assert all("opens on March 3" in json.loads(t)["markdown"] for t in tool_results(world))


async def test_pages_failing_on_a_healthy_scraper_are_page_errors(world: World) -> None:
    scout = await world.add_scout()
    urls = [world.crawl4ai.local_url(f"tiny-{i}") for i in range(3)]
    for url in urls:
        world.crawl4ai.add_tiny_page(url)
    world.ollama.reply_tool_calls(*[("scrapeWebsite", {"url": url}) for url in urls])
    await tick(world, 2)
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed" and "3 tool calls in a row failed" in run["error_message"]
    assert world.crawl4ai.crawled_urls == urls  # each tried once, no blind retry


async def test_a_search_outage_that_outlasts_the_deadline_fails_with_its_reason(
    world: World,
) -> None:
    scout = await world.add_scout()
    world.searxng.engines_failing(("google", "timeout"))
    world.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
    await tick(world, 2)
    for _ in range(8):
        world.clock.advance(seconds=120)
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed"
    assert "deadline" in run["error_message"] and "SearXNG" in run["error_message"]
    assert "google (timeout)" in run["error_message"]


async def test_scrapes_never_outlive_the_runs_deadline(world: World) -> None:
    scout = await world.add_scout()
    first = world.crawl4ai.add_demo_page("first", "First page text", "First")
    second = world.crawl4ai.add_demo_page("second", "Second page text", "Second")
    world.ollama.reply_tool_call("scrapeWebsite", {"url": first})
    world.ollama.reply_tool_call("scrapeWebsite", {"url": second})
    await world.engine.tick()  # plan: the run started now, its deadline is 600 s away
    world.clock.advance(seconds=575)
    await world.engine.tick()  # read with 25 s left
    page_timeout = world.crawl4ai.requests[-1]["crawler_config"]["params"]["page_timeout"]
    assert 14_000 < page_timeout <= 15_000

    await world.engine.tick()  # plan
    world.clock.advance(seconds=15)
    await world.engine.tick()  # read with 10 s left: not even started
    assert world.crawl4ai.crawled_urls == [first]
    run = await world.run_of(scout["id"])
    assert run["state"] == "planning" and run["checkpoint"]["consecutive_tool_errors"] == 0
    assert "out of time" in run["checkpoint"]["messages"][-1]["content"]
