"""The demo services follow the scout being run: a newcomer's report is about their goal.

Real engine, real clients, the fakes over HTTP with the demo script installed, frozen clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.engine_support import World, world_for
from tests.fakes.demo import install_demo

AI_TOOLS = {
    "title": "AI Coding Tools",
    "goal": "Find launches of AI coding tools",
    "description": "Watches the web for new AI coding assistants and their releases.",
    "search_queries": ["AI coding tool launches", "AI coding assistant release"],
    "location": {"city": "any", "latitude": None, "longitude": None},
    "frequency": "weekly",
}


@pytest.fixture
async def world(db, database_url, clock) -> AsyncIterator[World]:
    async with world_for(db, database_url, clock) as w:
        install_demo(w.ollama, w.searxng, w.crawl4ai)
        yield w


async def run_to_the_end(world: World, scout: dict[str, Any]) -> dict[str, Any]:
    for _ in range(12):
        await world.engine.tick()
        world.clock.advance(seconds=2)
        run = await world.find_run(scout["id"])
        if run is not None and run["state"] in ("done", "failed"):
            return run
    raise AssertionError("the demo run did not finish")


async def test_a_demo_run_reports_on_the_scouts_own_goal(world: World) -> None:
    scout = await world.add_scout(**AI_TOOLS)
    run = await run_to_the_end(world, scout)
    assert run["state"] == "done"
    # It searched what the scout is set up to search, and read a page that search found.
    assert world.searxng.queries == ["AI coding tool launches"]
    steps = await world.steps_of(run["id"])
    found = [r["url"] for s in steps if s["step_type"] == "search"
             for r in s["output_data"][0]["results"]]
    assert len(found) == 2 and world.crawl4ai.crawled_urls == found[:1]
    page = next(s for s in steps if s["step_type"] == "scrape")["output_data"][0]
    assert page["title"] == "AI coding tool launches: what is new this week"
    assert page["chars"] > 200
    report = run["results_summary"]["response"]
    assert run["results_summary"]["taskCompleted"] is True
    assert report.startswith("## AI Coding Tools: 2 new finds")
    assert "find launches of AI coding tools" in report
    assert all(f"]({url})" in report for url in found)
    assert "ramen" not in report.lower() and "Denver" not in report
    assert run["summary_text"] == "AI Coding Tools: 2 new finds."


async def test_two_scouts_get_two_different_reports(world: World) -> None:
    tools = await world.add_scout(email="a@example.com", **AI_TOOLS)
    markets = await world.add_scout(
        email="b@example.com", title="Farmers Markets", goal="Find farmers markets opening",
        search_queries=["farmers markets opening"],
        location={"city": "Boulder, Colorado", "latitude": 40.01, "longitude": -105.27})
    first = await run_to_the_end(world, tools)
    second = await run_to_the_end(world, markets)
    assert second["results_summary"]["response"].startswith(
        "## Farmers Markets: 2 new finds in Boulder, Colorado")
    assert first["results_summary"]["response"] != second["results_summary"]["response"]
    # The city is added to the search, as for any scout tied to a place.
    assert any("farmers markets opening" in q and "Boulder" in q for q in world.searxng.queries)


async def test_the_canned_ramen_scout_still_reads_the_canned_pages(world: World) -> None:
    scout = await world.add_scout(search_queries=["new ramen restaurant Denver"])
    run = await run_to_the_end(world, scout)
    assert "Menya Kotori" in run["results_summary"]["response"]
    assert world.crawl4ai.crawled_urls == [world.crawl4ai.local_url("menya-kotori-opens")]
