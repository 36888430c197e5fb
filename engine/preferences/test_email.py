"""A test email on demand, so an owner can check that notifications reach them."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from engine.accounts.ratelimit import SlidingWindowLimiter
from engine.clients.errors import ClientFailure, ServiceBusy
from engine.clients.mailer import Mailer
from engine.db import Database
from engine.errors import Conflict, NotFound, RateLimited, Unavailable
from engine.tables import user_preferences, users

# One per two minutes per user: enough to check a setting, too few to spam anyone with.
TEST_EMAIL_WINDOW_SECONDS = 120

SUBJECT = "Open Scouts test email"
TEXT = (
    "This is the test email you asked for from your Open Scouts settings.\n\n"
    "When a scout finds something new, its report arrives at this address.\n"
)
HTML = (
    "<p>This is the test email you asked for from your Open Scouts settings.</p>"
    "<p>When a scout finds something new, its report arrives at this address.</p>"
)


async def _address(db: Database, user_id: uuid.UUID) -> str | None:
    """The notification address, else the account's; whether notifications are on or not."""
    query = (
        sa.select(users.c.email, user_preferences.c.notification_email)
        .select_from(users.outerjoin(user_preferences, user_preferences.c.user_id == users.c.id))
        .where(users.c.id == user_id)
    )
    async with db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return str(row.notification_email or row.email)


class TestEmails:
    # Not a pytest test class, whatever its name says.
    __test__ = False

    def __init__(self, db: Database, mailer: Mailer) -> None:
        self.db = db
        self.mailer = mailer
        self.limiter = SlidingWindowLimiter(1, TEST_EMAIL_WINDOW_SECONDS)

    async def send(self, user_id: uuid.UUID, now: datetime) -> dict[str, str]:
        if not self.mailer.enabled:
            raise Conflict("email is not set up on this server (SMTP_URL is empty)",
                           code="mail_off")
        key = str(user_id)
        wait = self.limiter.retry_after(key, now)
        if wait > 0:
            raise RateLimited("a test email can be sent once every 2 minutes",
                              retry_after=wait, code="test_email_cooldown")
        to = await _address(self.db, user_id)
        if to is None:
            raise NotFound("account not found")
        # Counted before sending: a failing mail server is not a reason to allow a burst.
        self.limiter.hit(key, now)
        try:
            await self.mailer.send(to, SUBJECT, TEXT, HTML)
        except (ServiceBusy, OSError):
            raise Unavailable("the mail server did not answer; try again later",
                              code="mail_failed") from None
        except ClientFailure:
            # Waiting will not help here: the server answered, and said no (to the address,
            # say, or to an SMTPUTF8 address it cannot take).
            raise Unavailable("the mail server refused the test email; check the address "
                              "and the mail server's settings", code="mail_failed") from None
        return {"sent_to": to}
