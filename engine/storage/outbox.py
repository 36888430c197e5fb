from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.rows import as_dict, as_dicts
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
    """Queue one email; ``values`` carries its ``message_id``, fixed for every attempt."""
    await conn.execute(notifications.insert().values(
        id=uuid.uuid4(), created_at=now, next_attempt_at=now, attempts=0, **values
    ))


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        notifications.c.sent_at.is_(None),
        notifications.c.next_attempt_at <= now,
        sa.or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until <= now),
    )


async def claim(
    conn: AsyncConnection, worker: str, now: datetime, until: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due emails for ``worker`` until ``until``: while the claim
    holds, no other process sends them."""
    candidates = (sa.select(notifications.c.id).where(_claimable(now))
                  .order_by(notifications.c.next_attempt_at).limit(limit))
    claim_values = {"claimed_by": worker, "claimed_until": until}
    if conn.dialect.name == "postgresql":
        # SKIP LOCKED: concurrent senders each get different rows without waiting.
        picked = candidates.with_for_update(skip_locked=True).scalar_subquery()
        result = await conn.execute(
            notifications.update().where(notifications.c.id.in_(picked))
            .values(**claim_values).returning(*notifications.c)
        )
        return sorted(as_dicts(result), key=lambda row: row["next_attempt_at"])
    # SQLite: BEGIN IMMEDIATE serialises writers and the guarded UPDATE re-checks each row,
    # so a row is never claimed twice.
    claimed = []
    for notification_id in (await conn.execute(candidates)).scalars().all():
        result = await conn.execute(
            notifications.update()
            .where(notifications.c.id == notification_id, _claimable(now))
            .values(**claim_values).returning(*notifications.c)
        )
        row = as_dict(result.first())
        if row is not None:
            claimed.append(row)
    return claimed


async def mark_sent(conn: AsyncConnection, notification_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(notifications.update().where(notifications.c.id == notification_id)
                       .values(sent_at=now, attempts=notifications.c.attempts + 1,
                               last_error=None, claimed_by=None, claimed_until=None))


async def mark_failed(
    conn: AsyncConnection, notification_id: uuid.UUID, error: str, retry_at: datetime
) -> None:
    await conn.execute(notifications.update().where(notifications.c.id == notification_id)
                       .values(attempts=notifications.c.attempts + 1, last_error=error[:500],
                               next_attempt_at=retry_at, claimed_by=None, claimed_until=None))
