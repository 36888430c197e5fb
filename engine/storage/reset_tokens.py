"""Queries for single-use password links and the password change they allow."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.tables import password_reset_tokens, refresh_tokens, users


async def insert_token(
    conn: AsyncConnection, user_id: uuid.UUID, token_hash: str, purpose: str,
    now: datetime, expires_at: datetime,
) -> None:
    await conn.execute(password_reset_tokens.insert().values(
        id=uuid.uuid4(), user_id=user_id, token_hash=token_hash, purpose=purpose,
        created_at=now, expires_at=expires_at,
    ))


async def claim_token(conn: AsyncConnection, token_hash: str, now: datetime) -> uuid.UUID | None:
    """Mark a valid token used and return its user; None when unknown, used or expired.

    One conditional UPDATE, so two requests racing with the same link cannot both win.
    """
    result = await conn.execute(
        password_reset_tokens.update()
        .where(password_reset_tokens.c.token_hash == token_hash,
               password_reset_tokens.c.used_at.is_(None),
               password_reset_tokens.c.expires_at > now)
        .values(used_at=now)
        .returning(password_reset_tokens.c.user_id)
    )
    return result.scalar_one_or_none()


async def set_password(
    conn: AsyncConnection, user_id: uuid.UUID, password_hash: str, now: datetime
) -> None:
    """New password; every session and every other outstanding link of the user ends."""
    await conn.execute(users.update().where(users.c.id == user_id)
                       .values(password_hash=password_hash))
    await conn.execute(refresh_tokens.update()
                       .where(refresh_tokens.c.user_id == user_id,
                              refresh_tokens.c.revoked_at.is_(None))
                       .values(revoked_at=now))
    await conn.execute(password_reset_tokens.update()
                       .where(password_reset_tokens.c.user_id == user_id,
                              password_reset_tokens.c.used_at.is_(None))
                       .values(used_at=now))


async def passwordless_users(conn: AsyncConnection) -> list[tuple[uuid.UUID, str]]:
    result = await conn.execute(sa.select(users.c.id, users.c.email)
                                .where(users.c.password_hash.is_(None))
                                .order_by(users.c.email))
    return [(row.id, row.email) for row in result]
