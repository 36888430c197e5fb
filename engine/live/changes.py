"""Announcing changes, inside the transaction that makes them.

Storage functions call `execution_changed` / `scout_changed` / `signed_out` next to the
write; the calls only collect ids on the connection. `Database.transaction` then calls
`flush` once, just before it commits: ONE statement writes the live_events rows (the owner
is looked up in SQL) and, on PostgreSQL, issues ONE pg_notify carrying only the newest event
id. A transaction that rolls back announces nothing, and a listener never hears of a row it
cannot read yet.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.clock import utcnow
from engine.tables import live_events, refresh_tokens, scout_executions, scouts
from engine.types import UTCDateTime

CHANNEL = "scouts_live"
_KEY = "scouts_live_changes"
_COLUMNS = ["user_id", "kind", "scout_id", "execution_id", "created_at"]


class _Pending:
    """What one transaction changed, in the order it was announced, without repeats."""

    def __init__(self) -> None:
        self.executions: dict[uuid.UUID, None] = {}
        self.scouts: dict[uuid.UUID, None] = {}
        self.families: dict[uuid.UUID, None] = {}

    def __bool__(self) -> bool:
        return bool(self.executions or self.scouts or self.families)


def begin(conn: AsyncConnection) -> None:
    conn.info[_KEY] = _Pending()


def discard(conn: AsyncConnection) -> bool:
    """Forget the transaction's announcements; True if there were any."""
    return bool(conn.info.pop(_KEY, None))


def _pending(conn: AsyncConnection) -> _Pending | None:
    return conn.info.get(_KEY)


def execution_changed(conn: AsyncConnection, execution_id: uuid.UUID) -> None:
    pending = _pending(conn)
    if pending is not None:
        pending.executions[execution_id] = None


def scout_changed(conn: AsyncConnection, scout_id: uuid.UUID) -> None:
    pending = _pending(conn)
    if pending is not None:
        pending.scouts[scout_id] = None


def signed_out(conn: AsyncConnection, family_id: uuid.UUID) -> None:
    """A login session ended: its owner's streams close (they reconnect if still allowed)."""
    pending = _pending(conn)
    if pending is not None:
        pending.families[family_id] = None


def _rows(pending: _Pending) -> sa.Select[Any] | sa.CompoundSelect:
    now = sa.literal(utcnow(), UTCDateTime)
    no_id = sa.cast(sa.null(), sa.Uuid)
    parts: list[sa.Select[Any]] = []
    if pending.executions:
        parts.append(
            sa.select(scouts.c.user_id, sa.literal("execution", sa.String),
                      scout_executions.c.scout_id, scout_executions.c.id, now)
            .join_from(scout_executions, scouts, scouts.c.id == scout_executions.c.scout_id)
            .where(scout_executions.c.id.in_(list(pending.executions)))
        )
    if pending.scouts:
        parts.append(
            sa.select(scouts.c.user_id, sa.literal("scout", sa.String), scouts.c.id, no_id, now)
            .where(scouts.c.id.in_(list(pending.scouts)))
        )
    if pending.families:
        parts.append(
            sa.select(refresh_tokens.c.user_id, sa.literal("logout", sa.String), no_id, no_id,
                      now)
            .where(refresh_tokens.c.family_id.in_(list(pending.families)))
            .distinct()
        )
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


async def flush(conn: AsyncConnection) -> None:
    """Write the transaction's announcements: one statement, called right before commit."""
    pending = conn.info.get(_KEY)
    if not pending:
        return
    insert = live_events.insert().from_select(_COLUMNS, _rows(pending))
    if conn.dialect.name == "postgresql":
        written = insert.returning(live_events.c.id).cte("written")
        notify = (
            sa.select(sa.func.pg_notify(CHANNEL, sa.cast(sa.func.max(written.c.id), sa.Text)))
            .select_from(written)
            .having(sa.func.count() > 0)
        )
        await conn.execute(notify)
    else:
        await conn.execute(insert)
