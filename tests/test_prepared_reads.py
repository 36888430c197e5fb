"""The scout list read at the driver level returns what SQLAlchemy itself would."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from engine.db import Database
from engine.storage.runs import insert_execution
from engine.storage.scouts import LIST_SCOUTS, create_scout, list_scouts
from engine.storage.users import create_user
from engine.tables import scout_executions
from tests.support import COMPLETE_SCOUT, FakeClock


async def _owner_with_history(db: Database, clock: FakeClock) -> uuid.UUID:
    """Scouts with every kind of value the list carries: JSON, NULLs, booleans, times,
    a finished run, a cancelled one, a scout that never ran."""
    now = clock.now
    async with db.transaction() as conn:
        user = await create_user(conn, "rows@example.com", "x", now)
        assert user is not None
        empty = await create_scout(conn, user["id"], {"title": "Empty"}, now)
        full = await create_scout(conn, user["id"], {**COMPLETE_SCOUT, "is_active": True,
                                                     "last_manual_run_at": now},
                                  now + timedelta(seconds=1))
        cancelled = await create_scout(conn, user["id"], dict(COMPLETE_SCOUT),
                                       now + timedelta(seconds=2))
        for scout, state, extra in ((full, "done", {"summary_text": "Found one",
                                                    "completed_at": now}),
                                    (cancelled, "failed", {"cancelled_at": now})):
            run = await insert_execution(conn, scout["id"], "manual", now,
                                         timedelta(minutes=10))
            assert run is not None
            await conn.execute(scout_executions.update()
                               .where(scout_executions.c.id == run["id"])
                               .values(state=state, **extra))
        assert empty["id"]
    return user["id"]


async def test_driver_rows_equal_sqlalchemys_rows(db: Database, clock: FakeClock) -> None:
    user_id = await _owner_with_history(db, clock)
    read = LIST_SCOUTS[db.dialect]
    async with db.single() as conn:
        expected = [dict(row._mapping) for row in
                    await conn.execute(read.statement, {"user_id": user_id})]
    rows = await db.fetch_prepared(read, user_id=user_id)
    assert len(rows) == 3
    assert rows == expected
    for got, want in zip(rows, expected, strict=True):
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}
    cancelled = next(row for row in rows if row["latest_cancelled_at"] is not None)
    assert cancelled["latest_state"] == "failed"
    # Times come back aware and in UTC on both databases, as written.
    assert all(row["updated_at"].tzinfo is UTC for row in rows)
    full = next(row for row in rows if row["is_active"])
    assert full["last_manual_run_at"] == clock.now and full["latest_completed_at"] == clock.now


async def test_an_unknown_user_has_no_list(db: Database) -> None:
    assert await list_scouts(db, uuid.uuid4()) is None


async def test_a_list_read_beside_a_writer_sees_whole_transactions(
    db: Database, clock: FakeClock
) -> None:
    """Reads on their own connections never see half of a writer's transaction."""
    user_id = await _owner_with_history(db, clock)
    seen: list[int] = []
    stop = asyncio.Event()

    async def writer() -> None:
        for i in range(15):
            async with db.transaction() as conn:
                await create_scout(conn, user_id, {"title": f"a{i}"}, clock.now)
                await asyncio.sleep(0)
                await create_scout(conn, user_id, {"title": f"b{i}"}, clock.now)
        stop.set()

    async def reader() -> None:
        while not stop.is_set():
            rows = await list_scouts(db, user_id)
            assert rows is not None
            seen.append(len(rows))
            await asyncio.sleep(0)

    await asyncio.gather(writer(), reader(), reader())
    assert seen and all(count % 2 == 1 for count in seen)  # 3 to start, then pairs


async def test_sqlite_keeps_its_pooled_connections_under_load(tmp_path: Any) -> None:
    """Sixty concurrent reads reuse the pool instead of opening (and closing) a
    connection, a thread and their PRAGMAs per request past the fifth."""
    from engine import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}"
    await asyncio.to_thread(migrate.upgrade, url, 8)
    db = Database(url, pool_size=4)
    opened = 0

    def count(*_args: Any) -> None:
        nonlocal opened
        opened += 1

    for engine in db.engines:
        event.listen(engine.sync_engine, "connect", count)
    try:
        async def read() -> None:
            async with db.single() as conn:
                await conn.execute(sa.text("SELECT 1"))
                await asyncio.sleep(0.01)

        for _ in range(3):
            await asyncio.gather(*(read() for _ in range(60)))
            await asyncio.gather(*(list_scouts(db, uuid.uuid4()) for _ in range(60)))
    finally:
        await db.close()
    assert opened <= 4


async def test_times_read_back_as_written_in_utc(db: Database) -> None:
    from datetime import datetime, timezone

    from engine.tables import users

    written = {
        "micro@example.com": datetime(2026, 3, 1, 9, 0, 5, 123456, tzinfo=UTC),
        "whole@example.com": datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
        "east@example.com": datetime(2026, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
    }
    async with db.transaction() as conn:
        for email, at in written.items():
            await create_user(conn, email, "x", at)
        if db.dialect == "sqlite":  # text another tool may have written: no fraction
            await conn.execute(sa.text(
                "INSERT INTO users (id, email, created_at) "
                "VALUES ('0123456789abcdef0123456789abcdef', 'raw@example.com', "
                "'2026-03-01 09:00:00')"))
            written["raw@example.com"] = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    async with db.read() as conn:
        read = dict((await conn.execute(sa.select(users.c.email, users.c.created_at))).all())
    assert read == written
    assert all(at.tzinfo is UTC for at in read.values())


def test_the_inline_reader_never_waits_for_a_lock(tmp_path: Any) -> None:
    """Held up by a lock, the loop-thread reader gives up at once (None: take the
    thread path, which may wait) instead of blocking the event loop."""
    import sqlite3
    import time

    from engine.storage.sqlite_reader import InlineReader

    path = tmp_path / "plain.db"  # a rollback journal: an exclusive writer blocks readers
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("INSERT INTO t VALUES (1)")
    reader = InlineReader(str(path))
    try:
        assert reader.fetch("SELECT x FROM t", []) == [(1,)]
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO t VALUES (2)")
        started = time.monotonic()
        assert reader.fetch("SELECT x FROM t", []) is None
        assert time.monotonic() - started < 0.5
        holder.execute("COMMIT")
        assert reader.fetch("SELECT x FROM t ORDER BY x", []) == [(1,), (2,)]
        with pytest.raises(sqlite3.OperationalError):
            reader.fetch("SELECT nothing FROM t", [])
        with pytest.raises(sqlite3.OperationalError):  # it only reads
            reader.fetch("INSERT INTO t VALUES (3)", [])
    finally:
        reader.close()
        holder.close()


async def test_a_read_the_inline_reader_gives_up_on_is_served_by_aiosqlite(
    tmp_path: Any, clock: FakeClock
) -> None:
    from engine import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'fallback.db'}"
    await asyncio.to_thread(migrate.upgrade, url, 8)
    db = Database(url, pool_size=2)
    try:
        user_id = await _owner_with_history(db, clock)
        inline = await list_scouts(db, user_id)
        assert db._inline is not None
        asked: list[str] = []

        def busy(sql: str, arguments: list[Any]) -> None:
            asked.append(sql)
            return None

        db._inline.fetch = busy  # type: ignore[method-assign,assignment]
        assert await list_scouts(db, user_id) == inline
        assert len(asked) == 1
    finally:
        await db.close()


async def test_a_transaction_cancelled_mid_statement_ends_as_cancelled(db: Database) -> None:
    """Shutdown cancels the scheduler in the middle of a statement: the task ends with
    CancelledError (not a connection error logged with a traceback), and reads go on.
    (On SQLite the interrupted transaction's write lock outlives it for a while; only
    reads are checked here.)"""
    slow = ("SELECT pg_sleep(2)" if db.dialect == "postgresql" else
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)"
            " SELECT count(*) FROM n")

    async def work() -> None:
        async with db.transaction() as conn:
            await conn.execute(sa.text(slow))

    task = asyncio.create_task(work())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.single() as conn:
        assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1


async def test_numbers_read_back_as_sqlalchemy_reads_them(db: Database) -> None:
    """Float and Numeric columns: SQLAlchemy's conversions on asyncpg ask for the column's
    type, which a read at the driver has no description to give; the declared type
    stands in for it."""
    from engine.storage.prepared import PreparedRead

    statement = sa.select(
        sa.cast(sa.bindparam("f", type_=sa.Float), sa.Float).label("f"),
        sa.cast(sa.bindparam("n", type_=sa.Numeric(10, 2)), sa.Numeric(10, 2)).label("n"),
        sa.cast(sa.bindparam("i", type_=sa.Integer), sa.Integer).label("i"),
    )
    values = {"f": 0.125, "n": Decimal("2.25"), "i": 7}
    async with db.single() as conn:
        expected = [dict(row._mapping) for row in await conn.execute(statement, values)]
    rows = await db.fetch_prepared(PreparedRead(statement), **values)
    assert rows == expected == [{"f": 0.125, "n": Decimal("2.25"), "i": 7}]
    assert [type(v) for v in rows[0].values()] == [type(v) for v in expected[0].values()]
