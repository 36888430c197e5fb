"""Exactly one email per finding, text the database would refuse, failed saves, and waits
explained to owners without the operator's internals."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine import migrate
from engine.clients.errors import ServiceBusy, ServiceError
from engine.clients.mailer import Mailer
from engine.clock import utcnow
from engine.db import Database
from engine.storage import messages as message_store
from engine.storage import outbox
from engine.storage import runs as run_store
from engine.storage.sanitize import clean, clean_text, storable_json
from engine.tables import notifications, scout_executions, users
from engine.views import owner_text
from tests.conftest import EMBEDDING_DIM
from tests.engine_support import FAST_RETRY, World, final_answer
from tests.fakes.smtp_sink import _free_port
from tests.support import kill_client_connections
from tests.test_cli import scouts, seed_run


async def queue_emails(world: World, count: int) -> list[str]:
    """``count`` emails waiting in the outbox, one per owner; returns their Message-IDs."""
    for i in range(count):
        scout = await world.add_scout(email=f"owner{i}@example.com")
        async with world.db.transaction() as conn:
            assert await world.engine.notifier.scout_disabled(conn, scout, "boom",
                                                              world.clock.now)
    async with world.db.read() as conn:
        return list((await conn.execute(sa.select(notifications.c.message_id))).scalars())


def delivered_ids(world: World) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in world.smtp.messages)


async def test_three_senders_at_once_deliver_every_email_exactly_once(world: World) -> None:
    ids = await queue_emails(world, 12)
    assert len(set(ids)) == 12
    engines = [world.make_engine(f"worker-{n}") for n in (2, 3)]
    try:
        counts = await asyncio.gather(world.engine.notifier.send_due(world.clock.now),
                                      *(e.notifier.send_due(world.clock.now) for e in engines))
    finally:
        for e in engines:
            await e.close()
    assert sum(counts) == 12
    assert delivered_ids(world) == Counter({message_id: 1 for message_id in ids})
    async with world.db.read() as conn:
        rows = (await conn.execute(sa.select(notifications))).mappings().all()
    assert all(r["sent_at"] is not None and r["claimed_until"] is None for r in rows)


async def test_a_retry_carries_the_message_id_of_the_first_attempt(
    world: World, monkeypatch
) -> None:
    [message_id] = await queue_emails(world, 1)
    mailer = world.engine.tools.mailer
    real_send = mailer.send
    tried: list[str | None] = []

    async def down_once(*args: Any, message_id: str | None = None, **kwargs: Any) -> None:
        tried.append(message_id)
        if len(tried) == 1:
            raise ServiceBusy("smtp", "SMTP server not reachable")
        await real_send(*args, message_id=message_id, **kwargs)

    monkeypatch.setattr(mailer, "send", down_once)
    assert await world.engine.notifier.send_due(world.clock.now) == 0
    world.clock.advance(minutes=3)  # the first retry comes after two minutes
    assert await world.engine.notifier.send_due(world.clock.now) == 1
    assert tried == [message_id, message_id]
    assert delivered_ids(world) == Counter({message_id: 1})


async def test_an_email_claimed_by_a_sender_that_died_goes_out_once_after_its_claim(
    world: World,
) -> None:
    [message_id] = await queue_emails(world, 1)
    claim = timedelta(seconds=world.settings.mail_claim_seconds)
    async with world.db.transaction() as conn:  # a sender claims it, then is killed
        assert len(await outbox.claim(conn, "dead-worker", world.clock.now,
                                      world.clock.now + claim)) == 1
    world.clock.advance(seconds=claim.total_seconds() - 1)
    assert await world.engine.notifier.send_due(world.clock.now) == 0
    world.clock.advance(seconds=2)
    assert await world.engine.notifier.send_due(world.clock.now) == 1
    assert await world.engine.notifier.send_due(world.clock.now) == 0
    assert delivered_ids(world) == Counter({message_id: 1})


def test_clean_drops_nul_and_replaces_lone_surrogates() -> None:
    assert clean_text("a\x00b") == "ab"
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("emoji \U0001f35c stays") == "emoji \U0001f35c stays"
    data = {"k\x00": ["v\x00", ("t\udfff", 1)], "n": None, "f": 1.5}
    assert clean(data) == {"k": ["v", ("t\ufffd", 1)], "n": None, "f": 1.5}


def test_clean_finds_bad_text_deep_in_a_conversation_whatever_else_it_holds() -> None:
    """The fast check over a whole checkpoint must not let anything through: a NUL or a
    lone surrogate deep inside, beside values JSON cannot hold, or in a key."""
    turns = [{"role": "tool", "content": f"page {i} " * 50} for i in range(200)]
    assert clean({"messages": turns}) == {"messages": turns}
    turns[150] = {"role": "tool", "content": "bad\x00 page", "extra": ["x\udc80"]}
    cleaned = clean({"messages": turns})
    assert cleaned["messages"][150] == {"role": "tool", "content": "bad page",
                                        "extra": ["x\ufffd"]}
    assert clean({"huge": 2 ** 70, "text": "a\x00b"}) == {"huge": 2 ** 70, "text": "ab"}
    assert clean([{"k\ud800": 1}]) == [{"k\ufffd": 1}]
    assert clean({"literal": "\\u0000 as typed"}) == {"literal": "\\u0000 as typed"}


def test_storable_json_cleans_only_what_the_database_would_refuse() -> None:
    checkpoint = {"messages": [{"role": "tool", "content": f"page {i}"} for i in range(50)],
                  "round": 2}
    stored, text = storable_json(checkpoint)
    assert stored is checkpoint  # nothing to clean: the value itself, encoded once
    assert orjson.loads(text) == checkpoint
    checkpoint["messages"][40] = {"role": "tool", "content": "bad\x00 page", "k\ud800": ["x"]}
    stored, text = storable_json(checkpoint)
    assert stored["messages"][40] == {"role": "tool", "content": "bad page", "k\ufffd": ["x"]}
    assert orjson.loads(text) == stored and "\\u0000" not in text
    assert storable_json({"typed": "\\u0000 as text", 1: None}) == (
        {"typed": "\\u0000 as text", 1: None}, '{"typed":"\\\\u0000 as text","1":null}')


async def test_a_connection_dropped_under_a_transition_makes_the_run_wait(
    world: World, database_url: str, monkeypatch
) -> None:
    """The connections die under a working transition (a database restart): the run
    waits and retries instead of failing, and no dead connection is used again."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only a server can drop a connection")
    scout = await world.add_scout()
    for _ in range(3):  # the failed save is redone, model call included
        world.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
    await world.engine.tick()  # planning -> searching: the pool now holds connections
    run = await world.run_of(scout["id"])
    assert run["state"] == "searching"
    async with world.db.engine.connect() as one, world.db.engine.connect() as two:
        for conn in (one, two):  # more than one pooled connection to die
            await conn.execute(sa.text("SELECT 1"))
    original = world.engine.runner._run_step

    async def step_then_restart(ctx: Any) -> Any:
        outcome = await original(ctx)
        # As a database restart would: every pooled connection dies under the worker.
        killed = await kill_client_connections(database_url)
        assert killed >= 1
        return outcome

    monkeypatch.setattr(world.engine.runner, "_run_step", step_then_restart)
    report = await world.engine.tick()
    assert report.advanced == {str(run["id"]): "waiting"}
    waiting = await world.run_of(scout["id"])
    assert waiting["state"] == "searching" and waiting["lease_owner"] is None
    assert waiting["transitions"] == 1 and len(await world.steps_of(run["id"])) == 1
    assert waiting["next_run_at"] == world.clock.now + timedelta(seconds=15)
    monkeypatch.setattr(world.engine.runner, "_run_step", original)
    world.clock.advance(seconds=16)
    report = await world.engine.tick()
    assert report.advanced == {str(run["id"]): "searched"}
    moved = await world.run_of(scout["id"])
    assert moved["state"] == "planning" and moved["transitions"] == 2


async def test_a_nul_in_the_model_answer_still_finishes_the_run(world: World) -> None:
    scout = await world.add_scout()
    world.ollama.reply_text(final_answer("## Ramen\x00 Bar opens\n\nOn March 3.\ud800"))
    world.ollama.reply_text("Ramen Bar\x00 opens on March 3.")
    for _ in range(3):
        await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "done", run["error_message"]
    assert run["results_summary"]["response"] == "## Ramen Bar opens\n\nOn March 3.\ufffd"
    assert run["summary_text"] == "Ramen Bar opens on March 3."
    assert len(world.ollama.chat_requests) == 2  # no step was redone
    assert len(world.smtp.messages) == 1


async def test_a_save_the_database_refuses_fails_the_run_at_once(
    world: World, monkeypatch
) -> None:
    scout = await world.add_scout()
    world.script_happy_path()
    real_add_step = run_store.add_step
    real_advance = run_store.advance_working

    async def refuse(conn: Any, execution_id: Any, step: dict[str, Any], number: int) -> None:
        if step["description"].startswith("Round 1"):  # the step's result, not the failure
            raise sa.exc.DataError("INSERT ...", {}, ValueError("invalid byte sequence"))
        await real_add_step(conn, execution_id, step, number)

    async def refuse_in_one_statement(*args: Any, **kwargs: Any) -> Any:
        if kwargs["step"]["description"].startswith("Round 1"):
            raise sa.exc.DataError("WITH moved AS ...", {}, ValueError("invalid byte sequence"))
        return await real_advance(*args, **kwargs)

    monkeypatch.setattr(run_store, "add_step", refuse)
    monkeypatch.setattr(run_store, "advance_working", refuse_in_one_statement)
    report = await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert report.advanced == {str(run["id"]): "fail"}
    assert run["state"] == "failed" and run["lease_owner"] is None
    assert run["error_message"] == "the run's progress could not be saved"
    assert "DataError" in run["error_detail"] and "worker-1" in run["error_detail"]
    assert (await world.scout(scout["id"]))["consecutive_failures"] == 1


async def test_a_save_that_meets_a_busy_database_releases_the_run_to_wait(
    world: World, monkeypatch
) -> None:
    scout = await world.add_scout()
    for _ in range(2):  # the failed save is redone, model call included
        world.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
    real_add_step = run_store.add_step
    real_advance = run_store.advance_working

    async def locked(*args: Any, **kwargs: Any) -> None:
        raise sa.exc.OperationalError("INSERT ...", {}, RuntimeError("database is locked"))

    monkeypatch.setattr(run_store, "add_step", locked)
    monkeypatch.setattr(run_store, "advance_working", locked)  # PostgreSQL's one statement
    report = await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert report.advanced == {str(run["id"]): "waiting"}
    assert run["state"] == "planning" and run["lease_owner"] is None
    assert run["next_run_at"] == world.clock.now + timedelta(seconds=15)
    assert "database is locked" in run["error_detail"]

    owner, _ = await owner_and_operator_views(world, run, scout["user_id"])
    assert owner["wait_reason"] == ("the run's progress could not be saved; trying again in "
                                    "less than a minute")

    monkeypatch.setattr(run_store, "add_step", real_add_step)
    monkeypatch.setattr(run_store, "advance_working", real_advance)
    world.clock.advance(seconds=16)  # no lease to wait out: the next try comes on time
    report = await world.engine.tick()
    assert report.advanced == {str(run["id"]): "search"}
    moved = await world.run_of(scout["id"])
    assert moved["wait_reason"] is None and moved["error_detail"] is None


def slow_then_busy(world: World, monkeypatch, exc: ServiceBusy, minutes: float) -> None:
    """The model call hangs for ``minutes`` (on the frozen clock), then gives up."""

    async def hang(*args: Any, **kwargs: Any) -> None:
        world.clock.advance(minutes=minutes)
        raise exc

    monkeypatch.setattr(world.engine.tools.ollama, "chat", hang)


async def test_the_wait_counts_from_when_the_step_gave_up(world: World, monkeypatch) -> None:
    scout = await world.add_scout()
    started = world.clock.now
    slow_then_busy(world, monkeypatch, ServiceBusy("ollama", "timed out"), minutes=5)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    # Tick start + 15 s would lie five minutes in the past: a hung service retried at once.
    assert run["next_run_at"] == started + timedelta(minutes=5, seconds=15)
    assert run["next_run_at"] > world.clock.now


async def owner_and_operator_views(world: World, run: dict[str, Any], owner: Any
                                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    executions = world.engine.executions
    return (await executions.get(run["id"], world.clock.now, owner),
            await executions.get(run["id"], world.clock.now))


async def test_owners_read_plain_words_and_operators_get_the_internals(
    world: World, monkeypatch
) -> None:
    scout = await world.add_scout()
    slow_then_busy(world, monkeypatch, ServiceBusy(
        "searxng", "Cannot connect to host 127.0.0.1:19001 ssl:default [Connect call failed]"),
        minutes=0)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    owner, operator = await owner_and_operator_views(world, run, scout["user_id"])
    assert owner["wait_reason"] == "SearXNG did not answer; trying again in less than a minute"
    assert "127.0.0.1" in operator["wait_reason"] and "worker-1" in operator["wait_reason"]
    assert "127.0.0.1" in operator["error_detail"]
    assert "error_detail" not in owner

    world.clock.advance(seconds=16)
    slow_then_busy(world, monkeypatch, ServiceBusy(
        "searxng", "HTTP 502 from 10.0.0.5", hint="all its search engines failed: google "
        "(timeout)"), minutes=0)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    owner, _ = await owner_and_operator_views(world, run, scout["user_id"])
    assert owner["wait_reason"] == ("SearXNG had a problem: all its search engines failed: "
                                    "google (timeout); trying again in less than a minute")
    world.clock.advance(seconds=1)
    slow_then_busy(world, monkeypatch, ServiceBusy("ollama", "HTTP 503"), minutes=0)
    world.clock.advance(seconds=30)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    owner, _ = await owner_and_operator_views(world, run, scout["user_id"])
    assert owner["wait_reason"] == "Ollama did not answer; trying again in about 1 minute"


async def test_owners_do_not_see_which_worker_holds_their_run(
    world: World, monkeypatch
) -> None:
    scout = await world.add_scout()
    gate = asyncio.Event()

    async def slow(*args: Any, **kwargs: Any) -> None:
        await gate.wait()
        raise ServiceBusy("ollama", "timed out")

    monkeypatch.setattr(world.engine.tools.ollama, "chat", slow)
    tick = asyncio.create_task(world.engine.tick())
    run = None
    while run is None or run["lease_owner"] is None:
        await asyncio.sleep(0.01)
        run = await world.find_run(scout["id"])
    owner, operator = await owner_and_operator_views(world, run, scout["user_id"])
    gate.set()
    await tick
    assert owner["wait_reason"] == "working on it now"
    assert owner["lease_owner"] is None and owner["lease_expires_at"] is None
    assert operator["lease_owner"] == "worker-1"
    assert "worker-1" in operator["wait_reason"]


async def test_emails_queued_before_the_upgrade_get_a_message_id_once(
    fresh_database_url: str, clock
) -> None:
    url = fresh_database_url
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM, "0002")
    database = Database(url)
    row_id = uuid.uuid4()
    try:
        async with database.transaction() as conn:
            user_id = uuid.uuid4()
            await conn.execute(users.insert().values(id=user_id, email="old@example.com",
                                                     password_hash="x", created_at=clock.now))
            # Only the columns revision 0002 has.
            await conn.execute(notifications.insert().values(
                id=row_id, user_id=user_id, kind="findings", to_address="old@example.com",
                subject="s", text_body="t", html_body="h", created_at=clock.now,
                next_attempt_at=clock.now, attempts=0))
        await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
        async with database.transaction() as conn:
            [claimed] = await outbox.claim(conn, "worker-1", clock.now,
                                           clock.now + timedelta(minutes=5))
        assert claimed["id"] == row_id
        assert claimed["message_id"] == f"<{row_id.hex}@open-scouts.outbox>"
    finally:
        await database.close()


async def test_a_failed_run_shows_its_owner_no_internal_addresses(
    world: World, monkeypatch
) -> None:
    scout = await world.add_scout()
    error = ("Cannot connect to host 127.0.0.1:19001 ssl:default "
             "[Connect call failed ('127.0.0.1', 19001)] while asking http://ollama:11434/api")

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ServiceError("ollama", error)

    monkeypatch.setattr(world.engine.tools.ollama, "chat", broken)
    await world.engine.tick()
    run = await world.run_of(scout["id"])
    assert run["state"] == "failed"
    owner, operator = await owner_and_operator_views(world, run, scout["user_id"])
    for text in (owner["error_message"], owner["steps"][-1]["error_message"]):
        assert text == "ollama: could not connect while asking (internal address)"
    assert "127.0.0.1:19001" in operator["error_message"]
    assert "127.0.0.1:19001" in operator["steps"][-1]["error_message"]


def test_owner_text_keeps_public_pages_and_drops_internal_addresses() -> None:
    assert owner_text("could not read https://example.com/news/1") == (
        "could not read https://example.com/news/1")
    assert owner_text("HTTP 502 from 10.0.0.5:8080 and [::1]:80") == (
        "HTTP 502 from (internal address) and (internal address)")
    assert owner_text(None) is None


async def test_the_mailer_returns_once_the_message_is_accepted_not_after_quit() -> None:
    """The window in which a crash repeats an email ends at "250"; QUIT is not in it."""
    events: list[str] = []
    quit_may_answer = threading.Event()

    class SlowGoodbye:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            events.append("accepted")
            return "250 OK"

        async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.to_thread(quit_may_answer.wait, 10)
            events.append("quit answered")
            return "221 Bye"

    port = _free_port("127.0.0.1")
    controller = Controller(SlowGoodbye(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = Mailer(f"smtp://127.0.0.1:{port}", "scouts@example.com", retry=FAST_RETRY)
        await mailer.send("owner@example.com", "s", "t", "<p>t</p>", message_id="<a@b>")
        events.append("send returned")
        quit_may_answer.set()
        await mailer.close()
    finally:
        controller.stop()
    assert events == ["accepted", "send returned", "quit answered"]


async def test_the_operator_sees_the_error_behind_a_wait(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "EMBEDDING_DIM": "8", "APP_ENV": "test", "LOG_LEVEL": "WARNING"}
    await asyncio.to_thread(migrate.upgrade, env["DATABASE_URL"], EMBEDDING_DIM)
    run_id = await seed_run(env["DATABASE_URL"])
    database = Database(env["DATABASE_URL"])
    try:
        async with database.transaction() as conn:
            await conn.execute(scout_executions.update().values(
                attempts=1, next_run_at=utcnow() + timedelta(minutes=2),
                wait_reason="SearXNG did not answer",
                error_detail="searxng: Cannot connect to host 127.0.0.1:19001 (worker w:12:ab)"))
    finally:
        await database.close()
    shown = await asyncio.to_thread(scouts, "executions", "show", str(run_id), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "SearXNG did not answer; retrying at" in shown.stdout
    assert "detail  searxng: Cannot connect to host 127.0.0.1:19001 (worker w:12:ab)" in (
        shown.stdout)


async def test_a_chat_reply_with_a_nul_is_stored_without_it(world: World) -> None:
    scout = await world.add_scout()
    async with world.db.transaction() as conn:
        await message_store.add_message(conn, scout["id"], "assistant",
                                        "Saved\x00 your scout \ud83d.", world.clock.now)
    async with world.db.read() as conn:
        [message] = await message_store.list_messages(conn, scout["id"])
    assert message["content"] == "Saved your scout \ufffd."
