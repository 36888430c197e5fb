"""Set-password invitations for imported accounts that signed in with Google and the like."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from engine.accounts.password_reset import PasswordReset
from engine.db import Database
from engine.supabase_import.importer import PasswordlessUser
from engine.tables import password_reset_tokens


async def invite(
    db: Database, reset: PasswordReset, people: list[PasswordlessUser], now: datetime
) -> tuple[int, int]:
    """Queue one invitation per person; (queued, already invited and still valid)."""
    queued = waiting = 0
    for person in people:
        async with db.transaction() as conn:
            open_invite = (await conn.execute(
                sa.select(password_reset_tokens.c.id).where(
                    password_reset_tokens.c.user_id == person.id,
                    password_reset_tokens.c.purpose == "invite",
                    password_reset_tokens.c.used_at.is_(None),
                    password_reset_tokens.c.expires_at > now).limit(1))).first()
            if open_invite is not None:
                # Running the import again must not send everyone a second email.
                waiting += 1
                continue
            if await reset.send_link(conn, person.id, person.email, "invite", now):
                queued += 1
    return queued, waiting
