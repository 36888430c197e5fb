"""Runs stepped one transition per tick with a frozen clock, on both databases."""

from __future__ import annotations

from engine.runs.steps import copy_checkpoint
from tests.engine_support import World, final_answer


async def test_happy_path_walks_every_state(world: World) -> None:
    scout = await world.add_scout()
    url = world.script_happy_path()

    expected = ["searching", "planning", "reading", "planning", "summarizing", "done"]
    seen = []
    for _ in expected:
        await world.engine.tick()
        seen.append((await world.run_of(scout["id"]))["state"])
        world.clock.advance(seconds=2)
    assert seen == expected

    run = await world.run_of(scout["id"])
    assert run["results_summary"]["taskCompleted"] is True
    assert run["results_summary"]["response"].startswith("## Ramen Bar opens")
    assert run["summary_text"] == "Ramen Bar opens on March 3 at 1200 Larimer St."
    assert len(run["summary_embedding"]) == 8
    assert run["is_duplicate"] is False and run["completed_at"] is not None

    steps = await world.steps_of(run["id"])
    assert [s["step_type"] for s in steps] == ["analyze", "search", "analyze", "scrape",
                                               "analyze", "summarize"]
    assert [s["step_number"] for s in steps] == [1, 2, 3, 4, 5, 6]
    # the social result was dropped before the agent saw it
    assert "facebook" not in str(steps[1]["output_data"])
    assert world.crawl4ai.crawled_urls == [url]

    messages = world.smtp.messages
    assert len(messages) == 1
    assert messages[0]["To"] == "owner@example.com"
    assert f"http://scouts.test/scout/{scout['id']}" in messages[0].get_body(("html",)).get_content()

    after = await world.scout(scout["id"])
    assert after["last_run_at"] == run["completed_at"] and after["consecutive_failures"] == 0

    # Nothing is due any more: further ticks do nothing and send nothing.
    report = await world.engine.tick()
    assert not report.busy and len(world.smtp.messages) == 1


async def test_prompt_carries_scout_and_freshness(world: World) -> None:
    scout = await world.add_scout(frequency="daily")
    world.script_happy_path()
    for _ in range(2):
        await world.engine.tick()
    system = world.ollama.chat_requests[0]["messages"][0]["content"]
    assert "Denver Indian food" in system and "new Indian restaurant Denver" in system
    assert "Sunday, 01 March 2026" in system
    assert world.searxng.requests[0]["time_range"] == "day"
    assert {t["function"]["name"] for t in world.ollama.chat_requests[0]["tools"]} == {
        "searchWeb", "scrapeWebsite"}
    assert (await world.run_of(scout["id"]))["state"] == "planning"


async def test_invalid_json_answer_is_kept_as_insufficient_data(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.reply_text("I could not find anything, sorry!")
    for _ in range(2):
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "done"
    assert run["results_summary"] == {"taskCompleted": False, "taskStatus": "insufficient_data",
                                      "response": "I could not find anything, sorry!"}
    assert run["summary_text"] is None and world.smtp.messages == []


async def test_three_tool_errors_in_a_row_fail_the_run(world: World) -> None:
    scout = await world.add_scout()
    for i in range(3):
        world.ollama.reply_tool_call("scrapeWebsite", {"url": f"ftp://nowhere/{i}"})
    for _ in range(3):
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed"
    assert "3 tool calls in a row failed" in run["error_message"]
    after = await world.scout(scout["id"])
    assert after["consecutive_failures"] == 1 and after["is_active"] is True


async def test_seven_round_limit(world: World) -> None:
    scout = await world.add_scout()
    for i in range(6):
        world.ollama.reply_tool_call("searchWeb", {"query": f"query number {i}"})
    # The seventh round has no tools; a model that still calls one has used up its budget.
    world.ollama.reply_tool_call("searchWeb", {"query": "one more"})
    for _ in range(13):
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed"
    assert "7 planning rounds" in run["error_message"]
    requests = world.ollama.chat_requests
    assert len(requests) == 7
    assert "tools" not in requests[-1] or not requests[-1]["tools"]
    # a progress reminder went out after rounds 3 and 6
    reminders = [m["content"] for m in requests[-1]["messages"] if "Progress check" in m.get("content", "")]
    assert len(reminders) == 2 and "used 6 of 7" in reminders[-1]


async def test_repeated_search_is_not_run_twice(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.reply_tool_call("searchWeb", {"query": "Denver openings"})
    world.ollama.reply_tool_call("searchWeb", {"query": "  denver   OPENINGS "})
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="Nothing."))
    for _ in range(5):
        await world.engine.tick()
    assert world.searxng.queries == ["Denver openings"]
    run = await world.run_of(scout["id"])
    assert run["state"] == "done"


async def test_duplicate_finding_sends_no_email(world: World) -> None:
    scout = await world.add_scout()
    world.script_happy_path()
    for _ in range(6):
        await world.engine.tick()
    first = await world.run_of(scout["id"])
    assert len(world.smtp.messages) == 1

    world.clock.advance(hours=25)  # daily scout is due again
    world.ollama.reply_text(final_answer("## Ramen Bar opens\n\nSame news again."))
    world.ollama.reply_text("The Ramen Bar opens March 3 on Larimer Street.")
    world.ollama.make_similar("The Ramen Bar opens March 3 on Larimer Street.",
                              like="Ramen Bar opens on March 3 at 1200 Larimer St.")
    for _ in range(3):
        await world.engine.tick()
    second = await world.run_of(scout["id"])
    assert second["id"] != first["id"] and second["state"] == "done"
    assert second["is_duplicate"] is True
    assert "Already reported" in second["results_summary"]["response"]
    assert len(world.smtp.messages) == 1
    # the earlier finding was in the second run's prompt, with its age
    system = world.ollama.chat_requests[-2]["messages"][0]["content"]
    assert "Ramen Bar opens on March 3 at 1200 Larimer St. (1 day ago)" in system


async def test_rate_limited_run_waits_then_resumes(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.fail(429, retry_after=120, times=2)  # both attempts inside one step
    world.script_happy_path()
    report = await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert report.advanced == {str(run["id"]): "waiting"}
    assert run["state"] == "planning" and run["attempts"] == 1
    assert (run["next_run_at"] - world.clock.now).total_seconds() == 120
    assert run["wait_reason"] == "Ollama is busy"

    world.clock.advance(seconds=60)
    report = await world.engine.tick()
    assert not report.advanced  # still waiting
    world.clock.advance(seconds=61)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "searching" and run["attempts"] == 0 and run["next_run_at"] is None
    for _ in range(5):
        world.clock.advance(seconds=1)
        await world.engine.tick()
    assert (await world.run_of(scout["id"]))["state"] == "done"


async def test_deadline_expiry_fails_a_waiting_run(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.fail(503, times=50)
    await world.engine.tick()
    for _ in range(6):
        world.clock.advance(minutes=2)
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed" and "deadline" in run["error_message"]
    steps = await world.steps_of(run["id"])
    assert steps[-1]["status"] == "failed"


async def test_three_failed_runs_deactivate_the_scout_and_tell_the_owner(world: World) -> None:
    scout = await world.add_scout()
    for day in range(3):
        for i in range(3):
            world.ollama.reply_tool_call("scrapeWebsite", {"url": f"gopher://x/{day}{i}"})
        for _ in range(3):
            await world.engine.tick()
        assert (await world.run_of(scout["id"]))["state"] == "failed"
        world.clock.advance(hours=25)
    after = await world.scout(scout["id"])
    assert after["is_active"] is False and after["consecutive_failures"] == 3
    await world.engine.tick()
    assert [m["Subject"] for m in world.smtp.messages] == ["Scout paused: Denver Indian food"]
    # an inactive scout is not dispatched again
    report = await world.engine.tick()
    assert report.dispatched == 0


async def test_model_missing_fails_with_the_fix(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.models.clear()
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed" and "ollama pull qwen2.5:7b" in run["error_message"]


def test_a_step_changes_its_own_copy_of_the_checkpoint_never_the_committed_one() -> None:
    committed = {"messages": [{"role": "user", "content": "hi", "calls": [{"q": "a"}]}],
                 "pending": [], "pair": ({"k": 1}, 2), "round": 1, "none": None}
    copied = copy_checkpoint(committed)
    assert copied == committed
    copied["messages"][0]["calls"][0]["q"] = "changed"
    copied["messages"].append({"role": "assistant"})
    copied["pair"][0]["k"] = 2
    copied["pending"].append("x")
    assert committed == {"messages": [{"role": "user", "content": "hi", "calls": [{"q": "a"}]}],
                         "pending": [], "pair": ({"k": 1}, 2), "round": 1, "none": None}
    assert copy_checkpoint(None) is None
