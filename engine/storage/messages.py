from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.rows import as_dicts
from engine.storage.sanitize import clean_text
from engine.storage.scouts import touch_scout
from engine.tables import scout_messages


async def add_message(
    conn: AsyncConnection, scout_id: uuid.UUID, role: str, content: str, now: datetime
) -> dict[str, Any]:
    """Store a chat message; like the original's trigger, it bumps the scout's updated_at.

    The assistant's replies come from the model, which may emit text PostgreSQL refuses."""
    row = {"id": uuid.uuid4(), "scout_id": scout_id, "role": role,
           "content": clean_text(content), "created_at": now}
    await conn.execute(scout_messages.insert().values(**row))
    await touch_scout(conn, scout_id, now)
    return row


async def list_messages(
    conn: AsyncConnection, scout_id: uuid.UUID, limit: int | None = None
) -> list[dict[str, Any]]:
    """Oldest first; with a limit, the newest ``limit`` messages (still oldest first)."""
    query = sa.select(scout_messages).where(scout_messages.c.scout_id == scout_id)
    if limit is None:
        query = query.order_by(scout_messages.c.created_at, scout_messages.c.id)
        return as_dicts(await conn.execute(query))
    query = query.order_by(scout_messages.c.created_at.desc(), scout_messages.c.id.desc())
    rows = as_dicts(await conn.execute(query.limit(limit)))
    return rows[::-1]
