"""GET /api/events: live changes over Server-Sent Events, on SQLite and PostgreSQL.

The worker in these tests is a separate ScoutEngine on its own Database (its own pool),
as a `scouts worker` process would be: its commits reach the API's streams only through
the database (NOTIFY on PostgreSQL, the change poll on SQLite).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.context import Services
from engine.config import Settings
from engine.db import Database
from engine.live import store
from engine.live.changes import CHANNEL
from engine.live.pg_listener import asyncpg_dsn
from engine.storage.scouts import create_scout, update_scout
from engine.storage.users import create_user
from engine.tables import live_events
from tests.conftest import EMBEDDING_DIM
from tests.engine_support import World, world_for
from tests.live_support import EventReader
from tests.support import COMPLETE_SCOUT, User, signup


@pytest.fixture
def settings(database_url: str) -> Settings:
    base = Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
    })
    # Quick heartbeats and polls keep the tests short; caps small enough to reach.
    return dataclasses.replace(base, live_heartbeat_seconds=0.1, live_poll_seconds=0.2,
                               live_max_streams=3, live_max_streams_per_user=2)


@asynccontextmanager
async def events(user: User, last_event_id: str | None = None) -> AsyncIterator[EventReader]:
    headers = dict(user.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with user.client.get("/api/events", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        reader = EventReader(resp)
        first = await reader.frame()
        assert first is not None and first.retry  # the stream is open and registered
        yield reader


@asynccontextmanager
async def separate_worker(database_url: str, clock) -> AsyncIterator[World]:
    worker_db = Database(database_url, pool_size=2)
    try:
        async with world_for(worker_db, database_url, clock) as world:
            yield world
    finally:
        await worker_db.close()


async def active_scout(user: User) -> dict:
    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}",
                                      json={"is_active": True})
    assert status == 200, body
    return body["scout"]


async def no_events_for(reader: EventReader, seconds: float) -> None:
    """Only heartbeats arrive for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        frame = await reader.frame(within=2)
        assert frame is not None
        assert not frame.is_event, (frame.event, frame.data)


async def test_a_separate_workers_run_reaches_its_owner_and_nobody_else(
    client: TestClient, database_url: str, clock
) -> None:
    owner = await signup(client, "owner@example.com")
    other = await signup(client, "other@example.com")
    scout = await active_scout(owner)
    async with events(owner) as mine, events(other) as theirs, \
            separate_worker(database_url, clock) as worker:
        worker.script_happy_path()
        states = []
        for _ in range(6):
            await worker.engine.tick()
            run = await worker.run_of(uuid.UUID(scout["id"]))
            # Each transition arrives, carrying the run as the executions list shows it.
            frames = await mine.events_until(
                lambda f, s=run["state"]: f.event == "execution" and f.data["state"] == s)
            states.append(frames[-1].data["state"])
        assert states == ["searching", "planning", "reading", "planning", "summarizing", "done"]
        last = frames[-1]
        status, listed = await owner.request("GET", f"/api/scouts/{scout['id']}/executions")
        assert status == 200
        assert last.data == listed["executions"][0]
        assert last.data["status"] == "completed" and last.data["scout_id"] == scout["id"]

        # The finished run also changed the scout (last run time): a scout event follows.
        scout_frame = await mine.event()
        assert scout_frame.event == "scout"
        status, fetched = await owner.request("GET", f"/api/scouts/{scout['id']}")
        assert scout_frame.data == fetched["scout"]
        assert scout_frame.data["last_run_at"] is not None
        assert int(scout_frame.id) > int(last.id)

        await no_events_for(theirs, 0.6)


async def test_an_edit_in_the_api_is_an_event_with_the_scout_as_get_returns_it(
    client: TestClient,
) -> None:
    owner = await signup(client, "owner@example.com")
    scout = await owner.create_scout(title="Ramen")
    async with events(owner) as reader:
        status, _ = await owner.request("PATCH", f"/api/scouts/{scout['id']}",
                                        json={"title": "Ramen bars"})
        assert status == 200
        frame = (await reader.events_until(lambda f: f.data.get("title") == "Ramen bars"))[-1]
        status, fetched = await owner.request("GET", f"/api/scouts/{scout['id']}")
        assert frame.event == "scout" and frame.data == fetched["scout"]
        assert frame.data["title"] == "Ramen bars"


async def test_run_now_and_cancel_in_the_api_are_events_of_the_run_and_its_scout(
    client: TestClient,
) -> None:
    owner = await signup(client, "owner@example.com")
    scout = await owner.create_scout(**COMPLETE_SCOUT)
    async with events(owner) as reader:
        status, body = await owner.request("POST", f"/api/scouts/{scout['id']}/run")
        assert status == 202
        run_id = body["execution"]["id"]
        started = (await reader.events_until(lambda f: f.event == "execution"))[-1]
        assert started.data["id"] == run_id
        assert started.data["state"] == "planning" and started.data["status"] == "running"

        status, _ = await owner.request("POST", f"/api/executions/{run_id}/cancel")
        assert status == 200
        cancelled = await reader.event()
        assert cancelled.event == "execution" and cancelled.data["status"] == "cancelled"
        touched = await reader.event()  # a cancelled run still sets the scout's last run
        assert touched.event == "scout" and touched.data["last_run_at"] is not None


# A stream may also bring a change committed just before it opened (the client's first
# load has it already): the tests below wait for the event they are about, not the first.


async def test_reconnecting_with_last_event_id_replays_what_was_missed(
    client: TestClient, db: Database
) -> None:
    owner = await signup(client, "owner@example.com")
    scout = await owner.create_scout(title="One")
    path = f"/api/scouts/{scout['id']}"
    async with events(owner) as reader:
        await owner.request("PATCH", path, json={"title": "Two"})
        seen = (await reader.events_until(lambda f: f.data.get("title") == "Two"))[-1]
    # Missed while disconnected:
    await owner.request("PATCH", path, json={"title": "Three"})
    await owner.request("PATCH", path, json={"goal": "Find ramen"})
    async with events(owner, last_event_id=seen.id) as reader:
        first, second = await reader.event(), await reader.event()
        assert [first.event, second.event] == ["scout", "scout"]
        assert int(seen.id) < int(first.id) < int(second.id)
        # Replay sends the scout as it is now.
        assert second.data["title"] == "Three" and second.data["goal"] == "Find ramen"
        # Afterwards the stream goes on live, without repeating the replayed events.
        await owner.request("PATCH", path, json={"title": "Four"})
        live = await reader.event()
        assert live.data["title"] == "Four" and int(live.id) > int(second.id)


@pytest.mark.parametrize("last_event_id", ["pruned", "not-a-number", "999999999"])
async def test_a_gap_that_cannot_be_replayed_asks_the_client_to_resync(
    client: TestClient, db: Database, last_event_id: str
) -> None:
    owner = await signup(client, "owner@example.com")
    scout = await owner.create_scout(title="One")
    path = f"/api/scouts/{scout['id']}"
    async with events(owner) as reader:
        await owner.request("PATCH", path, json={"title": "Two"})
        seen = (await reader.events_until(lambda f: f.data.get("title") == "Two"))[-1]
    await owner.request("PATCH", path, json={"title": "Three"})
    await owner.request("PATCH", path, json={"title": "Four"})
    if last_event_id == "pruned":
        async with db.transaction() as conn:  # the replay window passed
            await store.prune(conn, before=_far_future())
        last_event_id = seen.id
    async with events(owner, last_event_id=last_event_id) as reader:
        frame = await reader.event()
        assert frame.event == "resync" and frame.id
        await owner.request("PATCH", path, json={"title": "Five"})
        frame = await reader.event()
        assert frame.event == "scout" and frame.data["title"] == "Five"


def _far_future():
    from datetime import UTC, datetime

    return datetime(2999, 1, 1, tzinfo=UTC)


async def test_heartbeat_comments_keep_an_idle_stream_open(client: TestClient) -> None:
    owner = await signup(client, "owner@example.com")
    async with events(owner) as reader:
        frame = await reader.frame(within=5)
        assert frame is not None and frame.comments == ["heartbeat"] and not frame.is_event


async def test_the_stream_ends_when_the_access_token_expires(client: TestClient, clock) -> None:
    owner = await signup(client, "owner@example.com")
    async with events(owner) as reader:
        await reader.frame(within=5)  # a heartbeat: still open
        clock.advance(seconds=3601)
        assert await reader.ended(within=5)
    async with client.get("/api/events", headers=owner.headers) as resp:
        assert resp.status == 401  # the client has to come back with a fresh token


async def test_logout_ends_the_stream(client: TestClient) -> None:
    owner = await signup(client, "owner@example.com")
    async with events(owner) as reader:
        async with client.post("/api/auth/logout",
                               json={"refresh_token": owner.session["refresh_token"]}) as r:
            assert r.status == 204
        assert await reader.ended(within=5)


async def test_the_token_is_taken_from_the_header_only(client: TestClient) -> None:
    owner = await signup(client, "owner@example.com")
    async with client.get("/api/events", params={"access_token": owner.token}) as resp:
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "unauthorized"


async def test_open_streams_are_capped_per_user_and_in_total(client: TestClient) -> None:
    first = await signup(client, "first@example.com")
    second = await signup(client, "second@example.com")
    async with events(first), events(first):
        async with client.get("/api/events", headers=first.headers) as resp:
            assert resp.status == 429
            body = await resp.json()
            assert body["error"]["code"] == "too_many_streams"
            assert "per account" in body["error"]["message"]
            assert int(resp.headers["Retry-After"]) > 0
        async with events(second):  # the third stream in total: the global cap
            async with client.get("/api/events", headers=second.headers) as resp:
                assert resp.status == 429
                assert "too many open event streams" in (await resp.json())["error"]["message"]
    async with events(second):  # closed streams free their places
        pass


async def test_shutdown_ends_open_streams_promptly(services: Services) -> None:
    server = TestServer(create_app(services, own_database=False))
    await server.start_server()
    closed = False
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(server.make_url("/api/auth/signup"),
                                    json={"email": "a@example.com",
                                          "password": "correct horse"}) as r:
                token = (await r.json())["access_token"]
            async with session.get(server.make_url("/api/events"),
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
                reader = EventReader(resp)
                assert (await reader.frame()) is not None
                started = time.monotonic()
                closing = asyncio.create_task(server.close())
                assert await reader.ended(within=10)
                await asyncio.wait_for(closing, timeout=10)
                closed = True
                assert time.monotonic() - started < 5
    finally:
        if not closed:
            await server.close()


async def test_a_rolled_back_change_is_never_announced(db: Database, clock) -> None:
    async with db.transaction() as conn:
        user = await create_user(conn, "owner@example.com", "x", clock.now)
        scout = await create_scout(conn, user["id"], {"title": "t"}, clock.now)
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await update_scout(conn, user["id"], scout["id"], {"title": "u"}, clock.now)
            raise RuntimeError("changed my mind")
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(live_events.c.kind, live_events.c.scout_id))).all()
    assert [tuple(r) for r in rows] == [("scout", scout["id"])]  # only the creation


async def test_postgres_sends_one_notify_per_committed_transition(
    db: Database, database_url: str, clock
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    import asyncpg

    heard: list[str] = []
    arrived = asyncio.Event()

    def hear(*args: object) -> None:
        heard.append(str(args[3]))
        arrived.set()

    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await listener.add_listener(CHANNEL, hear)
        async with world_for(db, database_url, clock) as world:
            scout = await world.add_scout()
            world.script_happy_path()
            for _ in range(6):
                await world.engine.tick()
            assert (await world.run_of(scout["id"]))["state"] == "done"
        async with db.read() as conn:
            newest = await store.newest_id(conn)
            kinds = (await conn.execute(sa.select(live_events.c.kind))).scalars().all()
        async with asyncio.timeout(5):
            while str(newest) not in heard:
                arrived.clear()
                await arrived.wait()
    finally:
        await listener.close()
    # Scout created, run dispatched, six transitions: eight transactions, eight NOTIFYs,
    # although the last transition announced two changes (the run and its scout).
    assert len(heard) == 8 and heard[-1] == str(newest)
    assert kinds.count("execution") == 7 and kinds.count("scout") == 2


@pytest.mark.parametrize("env,message", [
    ({"LIVE_POLL_SECONDS": "0.2"}, "LIVE_POLL_SECONDS must be at least 1"),
    ({"LIVE_HEARTBEAT_SECONDS": "often"}, "LIVE_HEARTBEAT_SECONDS must be a number"),
    ({"LIVE_MAX_STREAMS_PER_USER": "0"}, "LIVE_MAX_STREAMS_PER_USER must be at least 1"),
])
def test_live_settings_refuse_bad_values(env: dict[str, str], message: str) -> None:
    from engine.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


async def test_a_browser_on_another_allowed_origin_may_send_last_event_id(
    settings: Settings, db: Database, clock
) -> None:
    from api.app import build_services

    origin = "https://scouts.example.com"
    services = build_services(dataclasses.replace(settings, cors_origins=(origin,)), db=db,
                              clock=clock, bcrypt_rounds=4)
    try:
        async with TestClient(TestServer(create_app(services, own_database=False))) as client:
            async with client.options("/api/events", headers={
                    "Origin": origin, "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization, last-event-id"}) as resp:
                assert resp.status == 204
                allowed = resp.headers["Access-Control-Allow-Headers"].lower()
                assert "last-event-id" in allowed and "authorization" in allowed
    finally:
        await services.engine.close()


async def test_an_event_committed_out_of_id_order_is_still_delivered(
    db: Database, settings: Settings, clock
) -> None:
    """PostgreSQL hands out ids when rows are inserted, but transactions commit in their own
    order: an id read as missing is looked for again on the next reads."""
    from engine.live.hub import LiveHub

    async with db.transaction() as conn:
        user = await create_user(conn, "owner@example.com", "x", clock.now)
        scout = await create_scout(conn, user["id"], {"title": "t"}, clock.now)
    hub = LiveHub(db, settings, clock)
    async with db.read() as conn:
        hub.cursor = await store.newest_id(conn)
    stream = await hub.open(user["id"])

    def row(event_id: int) -> dict:
        return {"id": event_id, "user_id": user["id"], "kind": "scout",
                "scout_id": scout["id"], "execution_id": None, "created_at": clock.now}

    base = hub.cursor
    async with db.transaction() as conn:  # the later id commits first
        await conn.execute(live_events.insert().values(**row(base + 2)))
    await hub.drain()
    assert (await stream.next(0)).id == base + 2
    async with db.transaction() as conn:  # then the earlier one
        await conn.execute(live_events.insert().values(**row(base + 1)))
    await hub.drain()
    late = await stream.next(0)
    assert late is not None and late.id == base + 1 and late.data["id"] == scout["id"]


async def test_a_client_that_cannot_keep_up_is_told_to_resync() -> None:
    from engine.live.streams import LiveEvent, Stream

    stream = Stream(uuid.uuid4(), capacity=3)
    for event_id in range(1, 5):
        stream.push(LiveEvent(event_id, "scout", {}))
    assert stream.closed == "resync"
    assert [(await stream.next(0)).id for _ in range(3)] == [1, 2, 3]  # what fitted
    assert await stream.next(0) is None


async def test_stopping_is_not_held_up_by_a_swallowed_cancellation(
    db: Database, settings: Settings, clock
) -> None:
    """A driver may turn the cancellation of a query into an ordinary error; the hub's loop
    must still end, or the server's shutdown would wait forever."""
    from engine.live.hub import LiveHub

    hub = LiveHub(db, settings, clock)
    await hub.start()
    entered = asyncio.Event()

    async def stubborn_drain() -> None:
        entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("the query was interrupted") from None

    hub.drain = stubborn_drain  # type: ignore[method-assign]
    hub.wake()
    await asyncio.wait_for(entered.wait(), timeout=5)
    started = time.monotonic()
    await asyncio.wait_for(hub.stop(), timeout=20)
    assert time.monotonic() - started < 8


async def test_the_change_log_is_read_once_per_interval_however_many_streams(
    db: Database, settings: Settings, clock
) -> None:
    """SQLite: one shared poll per LIVE_POLL_SECONDS (0.2 s here), not one per stream.
    PostgreSQL: no timer at all, reads happen when NOTIFY (or a stream opening) wakes it."""
    from engine.live.hub import LiveHub

    hub = LiveHub(db, settings, clock)
    await hub.start()
    try:
        for _ in range(settings.live_max_streams):
            await hub.open(uuid.uuid4())
        await asyncio.sleep(1.0)  # a rate over real time is what is measured
        if db.dialect == "sqlite":
            assert 1 <= hub.polls <= 1.0 / settings.live_poll_seconds + 2
        else:
            assert hub.polls <= 2
    finally:
        await hub.stop()
