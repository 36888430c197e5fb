from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.rows import as_dicts
from engine.tables import notifications, user_preferences, users


async def recipient(conn: AsyncConnection, user_id: uuid.UUID) -> str | None:
    """Where the user wants notifications, or None when they turned them off."""
    query = (
        sa.select(users.c.email, user_preferences.c.notification_email,
                  user_preferences.c.notifications_enabled)
        .select_from(users.outerjoin(user_preferences, user_preferences.c.user_id == users.c.id))
        .where(users.c.id == user_id)
    )
    row = (await conn.execute(query)).first()
    if row is None or row.notifications_enabled is False:
        return None
    return row.notification_email or row.email


async def enqueue(conn: AsyncConnection, now: datetime, **values: Any) -> None:
    await conn.execute(notifications.insert().values(
        id=uuid.uuid4(), created_at=now, next_attempt_at=now, attempts=0, **values
    ))


async def due(conn: AsyncConnection, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    query = (
        sa.select(notifications)
        .where(notifications.c.sent_at.is_(None), notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
    )
    return as_dicts(await conn.execute(query))


async def mark_sent(conn: AsyncConnection, notification_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(notifications.update().where(notifications.c.id == notification_id)
                       .values(sent_at=now, attempts=notifications.c.attempts + 1,
                               last_error=None))


async def mark_failed(
    conn: AsyncConnection, notification_id: uuid.UUID, error: str, retry_at: datetime
) -> None:
    await conn.execute(notifications.update().where(notifications.c.id == notification_id)
                       .values(attempts=notifications.c.attempts + 1, last_error=error[:500],
                               next_attempt_at=retry_at))
