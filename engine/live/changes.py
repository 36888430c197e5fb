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


def _rows(executions: bool, scouts_: bool, families: bool) -> sa.Select[Any] | sa.CompoundSelect:
    """The rows to announce for the kinds of change present (parameters: now and one
    expanding list of ids per kind)."""
    now = sa.bindparam("now", type_=UTCDateTime)
    no_id = sa.cast(sa.null(), sa.Uuid)
    parts: list[sa.Select[Any]] = []
    if executions:
        parts.append(
            sa.select(scouts.c.user_id, sa.literal("execution", sa.String),
                      scout_executions.c.scout_id, scout_executions.c.id, now)
            .join_from(scout_executions, scouts, scouts.c.id == scout_executions.c.scout_id)
            .where(scout_executions.c.id.in_(sa.bindparam("executions", expanding=True)))
        )
    if scouts_:
        parts.append(
            sa.select(scouts.c.user_id, sa.literal("scout", sa.String), scouts.c.id, no_id, now)
            .where(scouts.c.id.in_(sa.bindparam("scouts", expanding=True)))
        )
    if families:
        parts.append(
            sa.select(refresh_tokens.c.user_id, sa.literal("logout", sa.String), no_id, no_id,
                      now)
            .where(refresh_tokens.c.family_id.in_(sa.bindparam("families", expanding=True)))
            .distinct()
        )
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def _statement(dialect: str, kinds: tuple[bool, bool, bool]) -> sa.Executable:
    insert = live_events.insert().from_select(_COLUMNS, _rows(*kinds))
    if dialect != "postgresql":
        return insert
    written = insert.returning(live_events.c.id).cte("written")
    return (
        sa.select(sa.func.pg_notify(CHANNEL, sa.cast(sa.func.max(written.c.id), sa.Text)))
        .select_from(written)
        .having(sa.func.count() > 0)
    )


def notify_runs_of(moved: sa.CTE) -> sa.CTE:
    """For one statement that changes runs in the data-modifying CTE ``moved`` (columns id
    and scout_id): a CTE that writes their live_events rows and NOTIFYs the newest id,
    as `flush` does for a transaction (PostgreSQL; parameter ``now``). Its one column
    counts the NOTIFYs sent (0 or 1): select it, or PostgreSQL never evaluates it."""
    rows = (
        sa.select(scouts.c.user_id, sa.literal("execution", sa.String), moved.c.scout_id,
                  moved.c.id, sa.bindparam("now", type_=UTCDateTime))
        .join_from(moved, scouts, scouts.c.id == moved.c.scout_id)
    )
    written = (live_events.insert().from_select(_COLUMNS, rows)
               .returning(live_events.c.id).cte("written"))
    return (
        sa.select(sa.func.pg_notify(CHANNEL, sa.cast(sa.func.max(written.c.id), sa.Text))
                  .label("notified"))
        .select_from(written)
        .having(sa.func.count() > 0)
        .cte("notified")
    )


# Built once per dialect and mix of kinds: building the statement on every commit cost
# as much CPU as sending it (SQLAlchemy constructs, then a fresh cache key each time).
_STATEMENTS = {
    (dialect, (e, s, f)): _statement(dialect, (e, s, f))
    for dialect in ("postgresql", "sqlite")
    for e in (False, True) for s in (False, True) for f in (False, True) if e or s or f
}


async def flush(conn: AsyncConnection) -> None:
    """Write the transaction's announcements: one statement, called right before commit."""
    pending = conn.info.get(_KEY)
    if not pending:
        return
    kinds = (bool(pending.executions), bool(pending.scouts), bool(pending.families))
    params: dict[str, Any] = {"now": utcnow()}
    if pending.executions:
        params["executions"] = list(pending.executions)
    if pending.scouts:
        params["scouts"] = list(pending.scouts)
    if pending.families:
        params["families"] = list(pending.families)
    await conn.execute(_STATEMENTS[conn.dialect.name, kinds], params)
