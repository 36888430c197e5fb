from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.rows import as_dict
from engine.tables import user_preferences

DEFAULTS: dict[str, Any] = {
    "location": None,
    "notification_email": None,
    "notifications_enabled": True,
}


async def get_preferences(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, Any] | None:
    result = await conn.execute(
        sa.select(user_preferences).where(user_preferences.c.user_id == user_id)
    )
    return as_dict(result.first())


async def put_preferences(
    conn: AsyncConnection, user_id: uuid.UUID, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    updated = await conn.execute(
        user_preferences.update()
        .where(user_preferences.c.user_id == user_id)
        .values(**fields, updated_at=now)
        .returning(*user_preferences.c)
    )
    row = as_dict(updated.first())
    if row is not None:
        return row
    values = {**DEFAULTS, **fields, "id": uuid.uuid4(), "user_id": user_id,
              "created_at": now, "updated_at": now}
    inserted = await conn.execute(
        user_preferences.insert().values(**values).returning(*user_preferences.c)
    )
    return dict(inserted.one()._mapping)
