"""Reading and pruning the change log (live_events), and re-reading what it points at."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.executions import LISTED_COLUMNS
from engine.storage.rows import as_dicts
from engine.tables import live_events, scout_executions, scouts

DELIVERED_KINDS = ("execution", "scout")
_EVENT_COLUMNS = (live_events.c.id, live_events.c.user_id, live_events.c.kind,
                  live_events.c.scout_id, live_events.c.execution_id)


async def newest_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.max(live_events.c.id)))).scalar() or 0)


async def bounds(conn: AsyncConnection) -> tuple[int, int] | None:
    """Oldest and newest retained ids; None when nothing was ever announced."""
    row = (await conn.execute(
        sa.select(sa.func.min(live_events.c.id), sa.func.max(live_events.c.id)))).one()
    return None if row[1] is None else (int(row[0]), int(row[1]))


async def after(conn: AsyncConnection, cursor: int, limit: int) -> list[dict[str, Any]]:
    """Events newer than ``cursor``, oldest first (a range scan of the primary key)."""
    query = (sa.select(*_EVENT_COLUMNS).where(live_events.c.id > cursor)
             .order_by(live_events.c.id).limit(limit))
    return as_dicts(await conn.execute(query))


async def by_ids(conn: AsyncConnection, ids: Iterable[int]) -> list[dict[str, Any]]:
    query = (sa.select(*_EVENT_COLUMNS).where(live_events.c.id.in_(list(ids)))
             .order_by(live_events.c.id))
    return as_dicts(await conn.execute(query))


async def for_user_after(
    conn: AsyncConnection, user_id: uuid.UUID, cursor: int, limit: int
) -> list[dict[str, Any]]:
    query = (
        sa.select(*_EVENT_COLUMNS)
        .where(live_events.c.user_id == user_id, live_events.c.id > cursor,
               live_events.c.kind.in_(DELIVERED_KINDS))
        .order_by(live_events.c.id).limit(limit)
    )
    return as_dicts(await conn.execute(query))


async def executions_by_id(
    conn: AsyncConnection, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    wanted = list(ids)
    if not wanted:
        return {}
    query = sa.select(*LISTED_COLUMNS).where(scout_executions.c.id.in_(wanted))
    return {row["id"]: row for row in as_dicts(await conn.execute(query))}


async def scouts_by_id(
    conn: AsyncConnection, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    wanted = list(ids)
    if not wanted:
        return {}
    query = sa.select(scouts).where(scouts.c.id.in_(wanted))
    return {row["id"]: row for row in as_dicts(await conn.execute(query))}


async def prune(conn: AsyncConnection, before: datetime) -> int:
    """Drop events older than ``before``, always keeping the newest one: the ids then never
    restart, and a client's Last-Event-ID can be told apart from one that is too old."""
    newest = sa.select(sa.func.max(live_events.c.id)).scalar_subquery()
    result = await conn.execute(
        live_events.delete().where(live_events.c.created_at < before, live_events.c.id < newest)
    )
    return int(result.rowcount or 0)
