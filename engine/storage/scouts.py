from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.live import changes
from engine.storage.prepared import PreparedRead
from engine.storage.rows import as_dict
from engine.tables import scout_executions, scouts, users
from engine.views import SCOUT_KEYS

if TYPE_CHECKING:
    from engine.db import Database


async def create_scout(
    conn: AsyncConnection, user_id: uuid.UUID, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "search_queries": [],
        "is_active": False,
        "consecutive_failures": 0,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    result = await conn.execute(scouts.insert().values(**values).returning(*scouts.c))
    changes.scout_changed(conn, values["id"])
    return dict(result.one()._mapping)


async def get_scout(
    conn: AsyncConnection, user_id: uuid.UUID, scout_id: uuid.UUID
) -> dict[str, Any] | None:
    result = await conn.execute(
        sa.select(scouts).where(scouts.c.id == scout_id, scouts.c.user_id == user_id)
    )
    return as_dict(result.first())


async def get_scout_unscoped(conn: AsyncConnection, scout_id: uuid.UUID) -> dict[str, Any] | None:
    """For the engine, which acts on behalf of the scout's owner."""
    result = await conn.execute(sa.select(scouts).where(scouts.c.id == scout_id))
    return as_dict(result.first())


def _latest_columns(runs: Any) -> list[sa.ColumnElement[Any]]:
    return [runs.c.id.label("latest_id"), runs.c.state.label("latest_state"),
            runs.c.cancelled_at.label("latest_cancelled_at"),
            runs.c.started_at.label("latest_started_at"),
            runs.c.completed_at.label("latest_completed_at"),
            runs.c.summary_text.label("latest_summary_text")]


def _list_statement(lateral: bool) -> sa.Select[Any]:
    """The user's scouts, newest updated first, each with its latest execution, joined to
    the user's own row so that one statement also proves the account still exists.

    The latest run is one index lookup on (scout_id, created_at) per scout, however long
    each scout's history grows: a LATERAL join on PostgreSQL (its planner otherwise scans
    every run and filters them with a subplan), a correlated subquery on SQLite (which has
    no LATERAL).
    """
    newest_first = (scout_executions.c.created_at.desc(), scout_executions.c.id.desc())
    owned = users.outerjoin(scouts, scouts.c.user_id == users.c.id)
    if lateral:
        latest = (
            sa.select(*_latest_columns(scout_executions))
            .where(scout_executions.c.scout_id == scouts.c.id)
            .order_by(*newest_first)
            .limit(1)
            .lateral("latest")
        )
        joined = owned.outerjoin(latest, sa.true())
        columns: list[Any] = list(latest.c)
    else:
        latest_id = (
            sa.select(scout_executions.c.id)
            .where(scout_executions.c.scout_id == scouts.c.id)
            .order_by(*newest_first)
            .limit(1)
            .correlate(scouts)
            .scalar_subquery()
        )
        runs = scout_executions.alias("latest")
        joined = owned.outerjoin(runs, runs.c.id == latest_id)
        columns = _latest_columns(runs)
    # Only what the list shows (engine/views.py): on SQLite every column read is a
    # conversion in Python, and the row itself proves the account exists.
    listed = [scouts.c[key] for key in (*SCOUT_KEYS, "last_manual_run_at")]
    return (
        sa.select(*listed, *columns)
        .select_from(joined)
        .where(users.c.id == sa.bindparam("user_id", type_=sa.Uuid))
        .order_by(scouts.c.updated_at.desc(), scouts.c.id)
    )


# Built and compiled once, run at the driver level: this is the UI's hottest read.
LIST_SCOUTS = {"postgresql": PreparedRead(_list_statement(lateral=True)),
               "sqlite": PreparedRead(_list_statement(lateral=False))}


async def list_scouts(db: Database, user_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """The user's scouts (see _list_statement); None when the user does not exist.

    Unlike the other functions here it takes the database, not a connection: it is one
    statement on a connection of its own, with no transaction to join."""
    rows = await db.fetch_prepared(LIST_SCOUTS[db.dialect], user_id=user_id)
    if not rows:
        return None
    return [row for row in rows if row["id"] is not None]


async def update_scout(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    scout_id: uuid.UUID,
    fields: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    result = await conn.execute(
        scouts.update()
        .where(scouts.c.id == scout_id, scouts.c.user_id == user_id)
        .values(**fields, updated_at=now)
        .returning(*scouts.c)
    )
    row = as_dict(result.first())
    if row is not None:
        changes.scout_changed(conn, scout_id)
    return row


async def delete_scout(conn: AsyncConnection, user_id: uuid.UUID, scout_id: uuid.UUID) -> bool:
    result = await conn.execute(
        scouts.delete().where(scouts.c.id == scout_id, scouts.c.user_id == user_id)
    )
    return result.rowcount > 0


async def touch_scout(conn: AsyncConnection, scout_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(scouts.update().where(scouts.c.id == scout_id).values(updated_at=now))
