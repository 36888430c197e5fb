"""Crashes, leases, races, cancel/resume and dispatch rules."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from engine.engine import ScoutEngine
from engine.storage import runs as run_store
from tests.engine_support import World, final_answer


def hold_model_calls(world: World, monkeypatch) -> asyncio.Event:
    """Make the engine's model calls wait until the returned event is set (a slow step)."""
    gate = asyncio.Event()
    original = world.engine.tools.ollama.chat

    async def slow_chat(*args, **kwargs):
        await gate.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(world.engine.tools.ollama, "chat", slow_chat)
    return gate


async def test_crash_before_commit_repeats_the_transition_once(world: World, monkeypatch) -> None:
    scout = await world.add_scout()
    world.script_happy_path()
    await world.engine.tick()  # planning -> searching
    run = await world.run_of(scout["id"])
    assert run["state"] == "searching"

    # The search happens (side effect), then the worker dies before its commit lands.
    real_add_step = run_store.add_step
    real_advance = run_store.advance_working

    class WorkerDied(Exception):
        pass

    async def die(*args, **kwargs):
        raise WorkerDied("killed between the side effect and the commit")

    monkeypatch.setattr(run_store, "add_step", die)
    monkeypatch.setattr(run_store, "advance_working", die)  # PostgreSQL's one-statement save
    # A dead process records nothing, not even that its save failed.
    monkeypatch.setattr(world.engine.runner, "_commit_failed", die)
    report = await world.engine.tick()
    assert report.advanced == {str(run["id"]): "error"}
    monkeypatch.setattr(run_store, "add_step", real_add_step)
    monkeypatch.setattr(run_store, "advance_working", real_advance)
    assert len(world.searxng.queries) == 1
    crashed = await world.run_of(scout["id"])
    assert crashed["state"] == "searching" and crashed["lease_owner"] == "worker-1"

    # Another worker cannot take it while the dead worker's lease looks alive...
    other = world.make_engine("worker-2")
    try:
        report = await other.tick()
        assert report.advanced == {}
        # ...and takes it over once the lease has lapsed, from the last checkpoint.
        world.clock.advance(seconds=91)
        report = await other.tick()
        assert report.advanced == {str(run["id"]): "searched"}
    finally:
        await other.close()
    assert len(world.searxng.queries) == 2  # the search ran again
    steps = await world.steps_of(run["id"])
    assert [s["step_type"] for s in steps] == ["analyze", "search"]  # one committed row each
    for _ in range(4):
        await world.engine.tick()
    assert (await world.run_of(scout["id"]))["state"] == "done"


async def test_two_workers_never_advance_the_same_run(world: World) -> None:
    scouts = [await world.add_scout(email=f"u{i}@example.com") for i in range(6)]
    for _ in scouts:
        # Slow answers keep every claimed run leased while the other worker claims.
        world.ollama.reply_text(final_answer(completed=False, status="not_found",
                                             response="None"), delay=0.3)
    second = world.make_engine("worker-2")
    try:
        await world.engine.scheduler.dispatch(world.clock.now)
        reports = await asyncio.gather(world.engine.tick(), second.tick())
    finally:
        await second.close()
    first_ids = set(reports[0].advanced)
    second_ids = set(reports[1].advanced)
    assert not first_ids & second_ids
    # WORKER_CONCURRENCY is 4: between them the two workers take every run once.
    assert len(first_ids | second_ids) == 6
    for scout in scouts:
        run = await world.run_of(scout["id"])
        steps = await world.steps_of(run["id"])
        if str(run["id"]) in first_ids | second_ids:
            assert run["transitions"] == 1 and len(steps) == 1
        else:
            assert run["transitions"] == 0 and steps == []


async def test_a_scout_never_gets_two_runs_in_flight(world: World) -> None:
    scout = await world.add_scout()
    second = world.make_engine("worker-2")
    try:
        counts = await asyncio.gather(world.engine.scheduler.dispatch(world.clock.now),
                                      second.scheduler.dispatch(world.clock.now))
    finally:
        await second.close()
    assert sorted(counts) == [0, 1]
    world.clock.advance(days=3)
    assert await world.engine.scheduler.dispatch(world.clock.now) == 0  # still in flight
    assert (await world.run_of(scout["id"]))["state"] == "planning"


@pytest.mark.parametrize("frequency,hours", [("daily", 24), ("every_3_days", 72), ("weekly", 168)])
async def test_due_dispatch_follows_frequency(world: World, frequency: str, hours: int) -> None:
    scout = await world.add_scout(frequency=frequency, last_run_at=world.clock.now)
    world.clock.advance(hours=hours - 1)
    assert await world.engine.scheduler.dispatch(world.clock.now) == 0
    world.clock.advance(hours=1)
    assert await world.engine.scheduler.dispatch(world.clock.now) == 1
    assert (await world.run_of(scout["id"]))["trigger"] == "schedule"


async def test_inactive_or_incomplete_scouts_are_not_dispatched(world: World) -> None:
    await world.add_scout(email="a@example.com", is_active=False)
    await world.add_scout(email="b@example.com", search_queries=[])
    await world.add_scout(email="c@example.com", location=None)
    assert await world.engine.scheduler.dispatch(world.clock.now) == 0


async def test_cancel_then_resume_continues_from_checkpoint(world: World) -> None:
    scout = await world.add_scout()
    world.script_happy_path()
    await world.engine.tick()
    await world.engine.tick()  # searching -> planning, search results in checkpoint
    run = await world.run_of(scout["id"])
    controls = world.engine.controls
    cancelled = await controls.cancel(run["id"], world.clock.now)
    assert cancelled["status"] == "cancelled" and cancelled["actions"] == ["resume"]
    report = await world.engine.tick()
    assert report.advanced == {}  # nothing to do for a cancelled run
    after_cancel = await world.scout(scout["id"])
    assert after_cancel["consecutive_failures"] == 0

    resumed = await controls.resume(run["id"], world.clock.now)
    assert resumed["state"] == "planning" and resumed["status"] == "running"
    for _ in range(4):
        await world.engine.tick()
    done = await world.run_of(scout["id"])
    assert done["state"] == "done"
    assert len(world.searxng.queries) == 1  # the search was not redone
    steps = await world.steps_of(run["id"])
    assert any(s["description"] == "Run cancelled" for s in steps)


async def test_cancel_while_a_worker_holds_the_run_drops_its_work(world: World, monkeypatch) -> None:
    scout = await world.add_scout()
    world.ollama.reply_tool_call("searchWeb", {"query": "slow"})
    gate = hold_model_calls(world, monkeypatch)
    tick = asyncio.create_task(world.engine.tick())
    # The tick dispatches and claims concurrently with this poll: wait for the lease.
    run = None
    while run is None or not run["lease_owner"]:
        await asyncio.sleep(0.01)
        run = await world.find_run(scout["id"])
    await world.engine.controls.cancel(run["id"], world.clock.now)
    gate.set()
    report = await tick
    assert report.advanced == {str(run["id"]): "lost"}
    final = await world.run_of(scout["id"])
    assert final["state"] == "failed" and final["cancelled_at"] is not None
    assert [s["description"] for s in await world.steps_of(run["id"])] == ["Run cancelled"]


async def test_scrape_of_a_private_address_is_refused(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.reply_tool_call("scrapeWebsite", {"url": "http://169.254.169.254/latest/meta-data"})
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="None"))
    # The production setting: no host is exempt from the private-address guard.
    guarded = ScoutEngine(replace(world.settings, scrape_allow_hosts=frozenset()), world.db,
                          clock=world.clock, worker_id="guarded")
    try:
        for _ in range(4):
            await guarded.tick()
    finally:
        await guarded.close()
    run = await world.run_of(scout["id"])
    steps = await world.steps_of(run["id"])
    scrape = next(s for s in steps if s["step_type"] == "scrape")
    assert "refused" in scrape["output_data"][0]  # a result for the model, not an error
    assert world.crawl4ai.crawled_urls == []
    assert run["state"] == "done"


async def test_resume_of_a_waiting_run_retries_now(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.fail(503, times=2)
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="None"))
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["next_run_at"] > world.clock.now
    view = await world.engine.executions.get(run["id"], world.clock.now)
    assert "resume" in view["actions"] and "retrying at" in view["wait_reason"]
    await world.engine.controls.resume(run["id"], world.clock.now)
    await world.engine.tick()
    assert (await world.run_of(scout["id"]))["state"] == "summarizing"


async def test_deadline_is_checked_against_the_injected_clock(world: World) -> None:
    scout = await world.add_scout()
    await world.engine.scheduler.dispatch(world.clock.now)
    world.clock.advance(seconds=599)
    assert await world.engine.scheduler.expire(world.clock.now) == 0
    world.clock.advance(seconds=1)
    assert await world.engine.scheduler.expire(world.clock.now) == 1
    assert (await world.run_of(scout["id"]))["state"] == "failed"


async def test_worker_loop_runs_a_scout_to_the_end_and_stops(world: World) -> None:
    scout = await world.add_scout()
    world.script_happy_path()
    stop = asyncio.Event()
    beats: list[int] = []

    async def watch() -> None:
        while len(world.smtp.messages) == 0:  # noqa: ASYNC110 (the SMTP sink runs in a thread)
            await asyncio.sleep(0.02)
        stop.set()

    watcher = asyncio.create_task(watch())
    # Busy ticks follow each other at once: six transitions need no 5-second waits.
    await asyncio.wait_for(world.engine.run_forever(stop, lambda: beats.append(1)), 20)
    await watcher
    assert len(beats) >= 6
    assert (await world.run_of(scout["id"]))["state"] == "done"
    assert len(world.smtp.messages) == 1


async def test_a_live_worker_keeps_its_lease_during_a_slow_step(
    world: World, monkeypatch
) -> None:
    from datetime import timedelta

    lease = timedelta(seconds=0.3)
    monkeypatch.setattr(world.engine.runner, "lease", lease)
    scout = await world.add_scout()
    world.ollama.reply_tool_call("searchWeb", {"query": "slow news"})
    gate = hold_model_calls(world, monkeypatch)
    first = asyncio.create_task(world.engine.tick())
    claimed_until = None
    while claimed_until is None:
        await asyncio.sleep(0.01)
        claimed_until = ((await world.find_run(scout["id"])) or {}).get("lease_expires_at")

    world.clock.advance(seconds=0.25)
    await asyncio.sleep(0.25)  # a heartbeat (every lease/3) extends from the new time
    world.clock.advance(seconds=0.2)  # past the first lease
    assert world.clock.now > claimed_until
    other = world.make_engine("worker-2")
    try:
        report = await other.tick()
    finally:
        await other.close()
    assert report.advanced == {}, "the run was taken from a live worker"
    gate.set()
    report = await first
    assert list(report.advanced.values()) == ["search"]
