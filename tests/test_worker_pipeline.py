"""The worker pipeline: runs move independently, and the hot paths stay within their
statement budgets (counted with a SQLAlchemy event listener)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import asyncpg.introspection
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from api.live_routes import LIVE_HUB
from engine.db import SINGLE_STATEMENT, Database
from engine.engine import ScoutEngine
from engine.storage import runs as run_store
from engine.tables import live_events, scout_executions, scouts
from tests.engine_support import FAST_RETRY, World, world_for
from tests.fakes.demo import install_demo
from tests.support import COMPLETE_SCOUT, kill_client_connections


@pytest.fixture
async def world(db, database_url, clock) -> AsyncIterator[World]:
    async with world_for(db, database_url, clock) as w:
        install_demo(w.ollama, w.searxng, w.crawl4ai)
        yield w


DRIVER_INTROSPECTION = {asyncpg.introspection.INTRO_LOOKUP_TYPES,
                        asyncpg.introspection.INTRO_LOOKUP_TYPES_13,
                        asyncpg.introspection.TYPE_BY_NAME}


@contextmanager
def counting_statements(
    db: Database, ignore: asyncio.Task[Any] | None = None
) -> Iterator[list[str]]:
    """Every statement the database receives, transaction control included (a BEGIN
    that a single-statement connection does not send is not counted). What the task
    ``ignore`` sends meanwhile (the live hub reading the change log) is left out."""
    seen: list[str] = []

    def note(name: str) -> None:
        if ignore is None or asyncio.current_task() is not ignore:
            seen.append(name)

    def sends_transaction_control(conn: Any) -> bool:
        options = conn.get_execution_options()
        return not (options.get("isolation_level") == "AUTOCOMMIT"
                    or options.get(SINGLE_STATEMENT))

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper().startswith("BEGIN"):
            return  # SQLite's BEGIN is issued as SQL from the begin hook; counted below
        note(statement.split(None, 1)[0].upper())

    def on_begin(conn: Any) -> None:
        if sends_transaction_control(conn):
            note("BEGIN")

    def on_end(name: str) -> Any:
        def listener(conn: Any) -> None:
            if sends_transaction_control(conn):
                note(name)
        return listener

    def on_driver_query(record: Any) -> None:
        # Statements sent past SQLAlchemy, straight through asyncpg (the run's working
        # transition); asyncpg also logs the BEGIN/COMMIT it sends for SQLAlchemy, which
        # the events above count already, and its own type lookups on a new connection,
        # which those never counted either.
        if record.query in reported:
            return  # a prepared read, counted by the database's own hook
        if record.query in DRIVER_INTROSPECTION or "'jit'" in record.query:
            return  # the lookups, and the jit setting asyncpg switches off around them
        if not record.query.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            note(record.query.split(None, 1)[0].upper())

    def on_checkout(_dbapi: Any, _record: Any, proxy: Any) -> None:
        driver = proxy.driver_connection
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(on_driver_query)
            checked_out.append(driver)

    checked_out: list[Any] = []
    reported: set[str] = set()
    listeners = [("before_cursor_execute", on_execute), ("begin", on_begin),
                 ("commit", on_end("COMMIT")), ("rollback", on_end("ROLLBACK"))]
    engines = [engine.sync_engine for engine in db.engines]
    for engine in engines:
        for name, listener in listeners:
            event.listen(engine, name, listener)
        event.listen(engine.pool, "checkout", on_checkout)

    def on_driver_statement(statement: str) -> None:  # reads sent past SQLAlchemy's events
        reported.add(statement)
        note(statement.split(None, 1)[0].upper())

    db.on_driver_statement.append(on_driver_statement)
    try:
        yield seen
    finally:
        db.on_driver_statement.remove(on_driver_statement)
        for engine in engines:
            for name, listener in listeners:
                event.remove(engine, name, listener)
            event.remove(engine.pool, "checkout", on_checkout)
        for driver in checked_out:
            driver.remove_query_logger(on_driver_query)


async def state_of(world: World, scout_id: uuid.UUID) -> str | None:
    run = await world.find_run(scout_id)
    return None if run is None else run["state"]


async def wait_for_state(world: World, scout_id: uuid.UUID, state: str) -> None:
    async def poll() -> None:
        while await state_of(world, scout_id) != state:  # noqa: ASYNC110 (polls the database)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), 20)


async def test_a_slow_call_on_one_run_does_not_hold_back_the_others(
    world: World, monkeypatch
) -> None:
    slow = await world.add_scout(email="slow@example.com")
    quick = [await world.add_scout(email=f"quick{i}@example.com") for i in range(2)]
    gate = asyncio.Event()
    original = world.engine.runner._run_step

    async def step(ctx: Any) -> Any:
        if ctx.scout["id"] == slow["id"]:
            await gate.wait()  # a service call that hangs
        return await original(ctx)

    monkeypatch.setattr(world.engine.runner, "_run_step", step)
    stop = asyncio.Event()
    worker = asyncio.create_task(world.engine.run_forever(stop))
    try:
        for scout in quick:
            await wait_for_state(world, scout["id"], "done")
        # The quick runs finished every transition while the slow one still hangs.
        assert await state_of(world, slow["id"]) == "planning"
        gate.set()
        await wait_for_state(world, slow["id"], "done")
    finally:
        gate.set()
        stop.set()
        await asyncio.wait_for(worker, 20)
    for scout in [slow, *quick]:
        run = await world.run_of(scout["id"])
        steps = await world.steps_of(run["id"])
        assert [s["step_number"] for s in steps] == list(range(1, run["transitions"] + 1))
        assert run["lease_owner"] is None


async def test_a_freed_slot_is_refilled_at_once(world: World) -> None:
    """With one slot, three runs still finish without waiting for a tick in between."""
    settings = replace(world.settings, worker_concurrency=1, tick_seconds=30)
    engine = ScoutEngine(settings, world.db, clock=world.clock, worker_id="solo",
                         retry=FAST_RETRY)
    added = [await world.add_scout(email=f"s{i}@example.com") for i in range(3)]
    stop = asyncio.Event()
    worker = asyncio.create_task(engine.run_forever(stop))
    try:
        for scout in added:
            await wait_for_state(world, scout["id"], "done")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
        await engine.close()


async def test_stopping_hands_back_a_held_lease(world: World) -> None:
    scout = await world.add_scout()
    stop = asyncio.Event()
    original = world.engine.runner.commit

    async def commit_then_stop(*args: Any, **kwargs: Any) -> bool:
        held = await original(*args, **kwargs)
        stop.set()  # the worker is told to stop right after its first transition
        return held

    world.engine.runner.commit = commit_then_stop  # type: ignore[method-assign]
    await asyncio.wait_for(world.engine.run_forever(stop), 20)
    run = await world.run_of(scout["id"])
    assert run["transitions"] == 1
    assert run["lease_owner"] is None and run["lease_expires_at"] is None


def transactions_in(seen: list[str]) -> list[list[str]]:
    """The statements grouped by transaction; one sent without BEGIN is its own."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for name in seen:
        if name == "BEGIN":
            current = [name]
        elif current is None:
            groups.append([name])
        else:
            current.append(name)
            if name in ("COMMIT", "ROLLBACK"):
                groups.append(current)
                current = None
    assert current is None, seen
    return groups


async def test_a_transition_costs_few_statements(world: World) -> None:
    """Claim once, then per working transition ONE statement on PostgreSQL (the guarded
    UPDATE, history INSERT and change-log row with its NOTIFY, as its own transaction),
    BEGIN + those three + COMMIT on SQLite; a finished run adds its duplicate check,
    bookkeeping and email."""
    scout = await world.add_scout()
    await world.engine.scheduler.dispatch(world.clock.now)
    with counting_statements(world.db) as seen:
        claims = await world.engine.scheduler.claim(world.clock.now, 4)
        assert len(claims) == 1
        claim = claims[0]
        while claim.held:
            await world.engine.runner.advance(claim, world.clock.now, hold=True)
    run = await world.run_of(scout["id"])
    assert run["state"] == "done" and run["lease_owner"] is None
    assert not any("max(" in s.lower() for s in seen)
    claim_tx, *working, finish = transactions_in(seen)
    assert len(working) == run["transitions"] - 1
    if world.db.dialect == "postgresql":
        assert all(tx == ["WITH"] for tx in working), working
        per_transition_goal = 3.5
    else:
        assert all(tx == ["BEGIN", "UPDATE", "INSERT", "INSERT", "COMMIT"] for tx in working)
        per_transition_goal = 7
    # The claim (scout and findings read with it) and the finish cost more.
    assert claim_tx[0] == finish[0] == "BEGIN" and finish[-1] == "COMMIT"
    per_transition = len(seen) / run["transitions"]
    assert per_transition < per_transition_goal, (per_transition, claim_tx, finish)


async def test_a_working_transition_writes_its_history_and_change_rows(world: World) -> None:
    scout = await world.add_scout()
    await world.engine.scheduler.dispatch(world.clock.now)
    [claim] = await world.engine.scheduler.claim(world.clock.now, 1)
    before = await live_rows(world)
    assert await world.engine.runner.advance(claim, world.clock.now, hold=True) == "search"
    run = await world.run_of(scout["id"])
    assert run["state"] == "searching" and run["transitions"] == 1
    assert run["lease_owner"] == "worker-1" and claim.held  # kept for the next transition
    assert run["checkpoint"] == claim.execution["checkpoint"]
    [step] = await world.steps_of(run["id"])
    assert step["step_number"] == 1 and step["step_type"] == "analyze"
    assert step["status"] == "completed" and step["error_message"] is None
    # The owner's open pages hear of it: one change row for the run, with its owner.
    assert await live_rows(world) == [*before, (scout["user_id"], "execution", scout["id"],
                                                run["id"])]


async def test_a_transition_after_the_lease_was_taken_over_writes_nothing(
    world: World
) -> None:
    scout = await world.add_scout()
    await world.engine.scheduler.dispatch(world.clock.now)
    [claim] = await world.engine.scheduler.claim(world.clock.now, 1)
    await world.engine.runner.advance(claim, world.clock.now, hold=True)
    # Another worker takes the run over (this one's lease lapsed while it worked).
    async with world.db.transaction() as conn:
        await conn.execute(scout_executions.update()
                           .where(scout_executions.c.id == claim.execution["id"])
                           .values(lease_owner="worker-2"))
    before = await live_rows(world)
    assert await world.engine.runner.advance(claim, world.clock.now, hold=True) == "lost"
    run = await world.run_of(scout["id"])
    assert run["state"] == "searching" and run["transitions"] == 1
    assert run["lease_owner"] == "worker-2" and not claim.held
    assert len(await world.steps_of(run["id"])) == 1
    assert await live_rows(world) == before


async def live_rows(world: World) -> list[tuple[Any, ...]]:
    async with world.db.read() as conn:
        rows = await conn.execute(sa.select(live_events.c.user_id, live_events.c.kind,
                                            live_events.c.scout_id, live_events.c.execution_id)
                                  .order_by(live_events.c.id))
        return [tuple(row) for row in rows]


async def test_the_scout_list_is_one_statement(client, services) -> None:
    from tests.support import signup

    user = await signup(client, "list@example.com")
    for _ in range(3):
        await user.create_scout(**COMPLETE_SCOUT)
    with counting_statements(services.db, ignore=client.app[LIVE_HUB]._pump) as seen:
        async with client.get("/api/scouts", headers=user.headers) as resp:
            body = await resp.json()
    assert resp.status == 200 and len(body["scouts"]) == 3
    assert seen == ["SELECT"]


async def test_authentication_is_one_statement(client, services) -> None:
    from tests.support import signup

    user = await signup(client, "me@example.com")
    with counting_statements(services.db, ignore=client.app[LIVE_HUB]._pump) as seen:
        async with client.get("/api/auth/me", headers=user.headers) as resp:
            assert resp.status == 200
    assert seen == ["SELECT"]


async def test_the_scout_list_of_a_deleted_account_is_refused(client, services) -> None:
    from engine.tables import users
    from tests.support import signup

    user = await signup(client, "gone@example.com")
    async with services.db.transaction() as conn:
        await conn.execute(sa.delete(users).where(users.c.email == "gone@example.com"))
    async with client.get("/api/scouts", headers=user.headers) as resp:
        body = await resp.json()
    assert resp.status == 401 and body["error"]["code"] == "unauthorized"


async def test_the_scout_list_survives_a_dropped_connection(
    client, services, database_url: str
) -> None:
    from tests.support import signup

    if not database_url.startswith("postgresql"):
        pytest.skip("only a server can drop a connection")
    user = await signup(client, "dropped@example.com")
    await user.create_scout(**COMPLETE_SCOUT)
    async with client.get("/api/scouts", headers=user.headers) as resp:
        assert resp.status == 200  # the pool now holds a connection
    # As a database restart would: every pooled connection dies under the server.
    killed = await kill_client_connections(database_url)
    assert killed >= 1
    async with client.get("/api/scouts", headers=user.headers) as resp:
        body = await resp.json()
    assert resp.status == 200 and len(body["scouts"]) == 1


async def test_dispatch_starts_each_due_scout_once_under_concurrent_dispatchers(
    world: World,
) -> None:
    added = [await world.add_scout(email=f"d{i}@example.com") for i in range(30)]
    async with world.db.transaction() as conn:  # one incomplete, one already running
        await conn.execute(scouts.update().where(scouts.c.id == added[0]["id"])
                           .values(title=""))
        started = await run_store.insert_execution(
            conn, added[1]["id"], "manual", world.clock.now, world.engine.controls.deadline)
    assert started is not None
    others = [world.make_engine(f"worker-{i}") for i in range(3)]
    try:
        counts = await asyncio.gather(
            world.engine.scheduler.dispatch(world.clock.now),
            *(e.scheduler.dispatch(world.clock.now) for e in others))
    finally:
        for other in others:
            await other.close()
    assert sum(counts) == 28
    async with world.db.read() as conn:
        per_scout = dict((await conn.execute(
            sa.select(scout_executions.c.scout_id, sa.func.count())
            .group_by(scout_executions.c.scout_id))).all())
    assert added[0]["id"] not in per_scout
    assert all(per_scout[s["id"]] == 1 for s in added[1:])


async def test_stopping_lets_the_scheduler_chores_finish_their_round(
    world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker told to stop during dispatch finishes it: no cancelled transaction,
    no error in the log (a SIGTERM used to log 'scheduler chores failed')."""
    scout = await world.add_scout()
    stop = asyncio.Event()
    scheduler = world.engine.scheduler
    original = scheduler.dispatch
    finished: list[int] = []

    async def slow_dispatch(now: Any) -> int:
        stop.set()  # the stop arrives while dispatch is under way
        await asyncio.sleep(0.2)
        started = await original(now)
        finished.append(started)
        return started

    scheduler.dispatch = slow_dispatch  # type: ignore[method-assign]
    with caplog.at_level("ERROR"):
        await asyncio.wait_for(world.engine.run_forever(stop), 20)
    assert finished == [1]
    assert await world.find_run(scout["id"]) is not None
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_restarted_database_is_a_warning_and_the_run_still_finishes(
    world: World, database_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """Connections dropped under the worker (a database restart) are an outage to wait
    out: one warning line, no traceback, and the next tick carries on."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only a server can drop a connection")
    scout = await world.add_scout()
    assert await kill_client_connections(database_url) >= 1
    settings = replace(world.settings, tick_seconds=0.05)  # type: ignore[arg-type]
    engine = ScoutEngine(settings, world.db, clock=world.clock, worker_id="after-restart",
                         retry=FAST_RETRY)
    stop = asyncio.Event()
    with caplog.at_level("WARNING"):
        worker = asyncio.create_task(engine.run_forever(stop))
        try:
            await wait_for_state(world, scout["id"], "done")
        finally:
            stop.set()
            await asyncio.wait_for(worker, 20)
            await engine.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("connection lost" in w and "trying again" in w for w in warnings), warnings
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]
