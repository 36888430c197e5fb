"""Dispatch: 10,000 due scouts become 10,000 runs, on PostgreSQL and on SQLite.

One `Scheduler.dispatch` call, timed in this process (the work is one INSERT … SELECT in
the database, so the client's share is negligible).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import sqlalchemy as sa

from bench.common import Result, postgres, seed_due_scouts, sqlite
from engine.clock import utcnow
from engine.db import Database
from engine.storage import runs as run_store
from engine.tables import scout_executions

SCOUTS = 10_000


async def dispatch_all(url: str) -> tuple[float, int]:
    await seed_due_scouts(url, SCOUTS)
    db = Database(url)
    try:
        async with db.read() as conn:  # a warm connection, as a running worker has
            await conn.execute(sa.select(1))
        start = time.perf_counter()
        async with db.transaction() as conn:
            started = await run_store.dispatch_due(conn, utcnow(), timedelta(minutes=10))
        elapsed = time.perf_counter() - start
        async with db.read() as conn:
            runs = (await conn.execute(sa.select(sa.func.count())
                                       .select_from(scout_executions))).scalar_one()
    finally:
        await db.close()
    assert started == runs == SCOUTS, (started, runs)
    return elapsed, started


def main() -> list[Result]:
    with postgres() as pg:
        pg_seconds, _ = asyncio.run(dispatch_all(pg.url))
    with sqlite() as url:
        lite_seconds, _ = asyncio.run(dispatch_all(url))
    return [
        Result("10,000 due scouts -> executions, PostgreSQL", f"{pg_seconds:.2f} s", "<= 1 s",
               pg_seconds <= 1),
        Result("10,000 due scouts -> executions, SQLite", f"{lite_seconds:.2f} s", "<= 2 s",
               lite_seconds <= 2),
    ]
