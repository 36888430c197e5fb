"""Reading executions and their step history (the engine's writes live in engine/runs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.live import changes
from engine.runs.machine import FINAL_STATES
from engine.storage.rows import as_dict, as_dicts
from engine.tables import scout_execution_steps, scout_executions, scouts

# The embedding is large and internal; listings never need it.
LISTED_COLUMNS = [c for c in scout_executions.c if c.name != "summary_embedding"]


async def get_execution(
    conn: AsyncConnection, execution_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> dict[str, Any] | None:
    """One execution; with ``user_id``, only if that user owns its scout."""
    query = sa.select(*LISTED_COLUMNS).where(scout_executions.c.id == execution_id)
    if user_id is not None:
        query = query.join(scouts, scouts.c.id == scout_executions.c.scout_id).where(
            scouts.c.user_id == user_id
        )
    return as_dict((await conn.execute(query)).first())


async def list_executions(
    conn: AsyncConnection,
    scout_id: uuid.UUID,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = sa.select(*LISTED_COLUMNS).where(scout_executions.c.scout_id == scout_id)
    if before is not None:
        created_at, last_id = before
        query = query.where(
            sa.or_(
                scout_executions.c.created_at < created_at,
                sa.and_(
                    scout_executions.c.created_at == created_at,
                    scout_executions.c.id < last_id,
                ),
            )
        )
    query = query.order_by(
        scout_executions.c.created_at.desc(), scout_executions.c.id.desc()
    ).limit(limit)
    return as_dicts(await conn.execute(query))


async def list_steps(conn: AsyncConnection, execution_id: uuid.UUID) -> list[dict[str, Any]]:
    query = (
        sa.select(scout_execution_steps)
        .where(scout_execution_steps.c.execution_id == execution_id)
        .order_by(scout_execution_steps.c.step_number)
    )
    return as_dicts(await conn.execute(query))


async def delete_finished(conn: AsyncConnection, scout_id: uuid.UUID) -> int:
    """Remove the scout's ended runs (steps go with them); a run in flight is never touched."""
    result = await conn.execute(
        scout_executions.delete().where(
            scout_executions.c.scout_id == scout_id,
            scout_executions.c.state.in_(FINAL_STATES),
        )
    )
    # Other tabs drop the cleared runs: the scout's event makes them reload its history.
    changes.scout_changed(conn, scout_id)
    return int(result.rowcount or 0)
