from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.live import changes
from engine.storage.rows import as_dict, as_dicts
from engine.tables import scout_executions, scouts


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


async def list_scouts(conn: AsyncConnection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The user's scouts, newest updated first, each with its latest execution (one query).

    The latest run is found by a correlated subquery on (scout_id, created_at), which the
    index answers with one lookup per scout however long each scout's history grows.
    """
    latest_id = (
        sa.select(scout_executions.c.id)
        .where(scout_executions.c.scout_id == scouts.c.id)
        .order_by(scout_executions.c.created_at.desc(), scout_executions.c.id.desc())
        .limit(1)
        .correlate(scouts)
        .scalar_subquery()
    )
    latest = scout_executions.alias("latest")
    query = (
        sa.select(
            scouts,
            latest.c.id.label("latest_id"),
            latest.c.state.label("latest_state"),
            latest.c.cancelled_at.label("latest_cancelled_at"),
            latest.c.started_at.label("latest_started_at"),
            latest.c.completed_at.label("latest_completed_at"),
            latest.c.summary_text.label("latest_summary_text"),
        )
        .select_from(scouts.outerjoin(latest, latest.c.id == latest_id))
        .where(scouts.c.user_id == user_id)
        .order_by(scouts.c.updated_at.desc(), scouts.c.id)
    )
    return as_dicts(await conn.execute(query))


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
