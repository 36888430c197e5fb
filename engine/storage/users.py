from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.storage.rows import as_dict
from engine.tables import refresh_tokens, users


async def create_user(
    conn: AsyncConnection, email: str, password_hash: str, now: datetime
) -> dict[str, Any] | None:
    """Insert a user; None when the email is taken (the unique index decides, not a read)."""
    row = {"id": uuid.uuid4(), "email": email, "password_hash": password_hash, "created_at": now}
    try:
        async with conn.begin_nested():
            await conn.execute(users.insert().values(**row))
    except sa.exc.IntegrityError:
        return None
    return row


async def get_user_by_email(conn: AsyncConnection, email: str) -> dict[str, Any] | None:
    result = await conn.execute(sa.select(users).where(users.c.email == email))
    return as_dict(result.first())


async def get_user(conn: AsyncConnection, user_id: uuid.UUID) -> dict[str, Any] | None:
    result = await conn.execute(sa.select(users).where(users.c.id == user_id))
    return as_dict(result.first())


async def insert_refresh_token(
    conn: AsyncConnection,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: str,
    now: datetime,
    ttl: timedelta,
) -> None:
    await conn.execute(
        refresh_tokens.insert().values(
            id=uuid.uuid4(),
            user_id=user_id,
            family_id=family_id,
            token_hash=token_hash,
            created_at=now,
            expires_at=now + ttl,
        )
    )


async def use_refresh_token(
    conn: AsyncConnection, token_hash: str, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    """Consume a refresh token once.

    Returns ("ok", row) when it was valid and is now used, ("reused", row) when it had been
    used before (the caller revokes its family), or ("invalid", None).
    """
    claimed = await conn.execute(
        refresh_tokens.update()
        .where(
            refresh_tokens.c.token_hash == token_hash,
            refresh_tokens.c.used_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(refresh_tokens.c.id, refresh_tokens.c.user_id, refresh_tokens.c.family_id)
    )
    row = as_dict(claimed.first())
    if row is not None:
        return "ok", row
    existing = await conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    )
    old = as_dict(existing.first())
    if old is not None and old["used_at"] is not None:
        return "reused", old
    return "invalid", None


async def record_successor(conn: AsyncConnection, token_id: uuid.UUID, sealed: str) -> None:
    await conn.execute(
        refresh_tokens.update().where(refresh_tokens.c.id == token_id)
        .values(successor_sealed=sealed)
    )


async def get_refresh_token(conn: AsyncConnection, token_hash: str) -> dict[str, Any] | None:
    result = await conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    )
    return as_dict(result.first())


async def revoke_family(conn: AsyncConnection, family_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def family_of(conn: AsyncConnection, token_hash: str) -> uuid.UUID | None:
    result = await conn.execute(
        sa.select(refresh_tokens.c.family_id).where(refresh_tokens.c.token_hash == token_hash)
    )
    return result.scalar_one_or_none()
