"""Emails to scout owners, through the outbox table.

A run's result and its email are written in one transaction; `send_due` delivers later.
So a crash can delay an email but never send one for a result that was rolled back.

Exactly one email per row: a sender claims a row (for ``claim``) before it talks to the
SMTP server and marks it sent right after the server's "250 OK". Only a process that dies
between those two moments can make the row go out again, and then with the same
Message-ID, which lets receiving mail systems drop the repeat.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from engine.clients.errors import ClientFailure
from engine.clients.mailer import Mailer, render_findings_email, render_scout_disabled_email
from engine.clock import utcnow
from engine.db import Database
from engine.storage import outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
DEFAULT_CLAIM = timedelta(minutes=5)
# Emails one sender delivers per tick; each is claimed just before it is sent, so a slow
# SMTP server never lets the claims of emails still waiting in line run out.
BATCH = 20


class Notifier:
    def __init__(
        self, db: Database, mailer: Mailer, public_url: str, *, worker_id: str = "notifier",
        claim: timedelta = DEFAULT_CLAIM, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.worker_id = worker_id
        self.claim = claim
        self.clock = clock

    def scout_url(self, scout_id: uuid.UUID) -> str:
        return f"{self.public_url}/scout/{scout_id}"

    async def _enqueue(
        self, conn: AsyncConnection, scout: dict[str, Any], execution_id: uuid.UUID | None,
        kind: str, content: Any, now: datetime,
    ) -> bool:
        if not self.mailer.enabled:
            return False
        to = await outbox.recipient(conn, scout["user_id"])
        if to is None:
            return False
        await outbox.enqueue(
            conn, now, user_id=scout["user_id"], scout_id=scout["id"],
            execution_id=execution_id, kind=kind, to_address=to, subject=content.subject,
            text_body=content.text, html_body=content.html,
            message_id=self.mailer.new_message_id(),
        )
        return True

    async def findings(
        self, conn: AsyncConnection, scout: dict[str, Any], execution_id: uuid.UUID,
        report: str, now: datetime,
    ) -> bool:
        content = render_findings_email(scout.get("title") or "Your scout", report,
                                        self.scout_url(scout["id"]))
        return await self._enqueue(conn, scout, execution_id, "findings", content, now)

    async def scout_disabled(
        self, conn: AsyncConnection, scout: dict[str, Any], last_error: str, now: datetime
    ) -> bool:
        content = render_scout_disabled_email(scout.get("title") or "Your scout", last_error,
                                              self.scout_url(scout["id"]))
        return await self._enqueue(conn, scout, None, "scout_disabled", content, now)

    async def send_due(self, now: datetime) -> int:
        """Deliver pending emails; failures back off and are retried on later ticks."""
        if not self.mailer.enabled:
            return 0
        sent = 0
        for _ in range(BATCH):
            # The tick may have started a while ago: a claim counts from the moment it is
            # taken, or it would be shorter than promised.
            claimed_at = max(now, self.clock())
            async with self.db.transaction() as conn:
                rows = await outbox.claim(conn, self.worker_id, claimed_at,
                                          claimed_at + self.claim, limit=1)
            if not rows:
                break
            if await self._deliver(rows[0], claimed_at):
                sent += 1
        return sent

    async def _deliver(self, item: dict[str, Any], now: datetime) -> bool:
        # The connection is checked out (and pinged) before the send, so that after the
        # server's "250" only the UPDATE itself stands between the email and its record.
        async with self.db.engine.connect() as conn:
            try:
                # A send that outlives its claim could overlap another sender's retry.
                async with asyncio.timeout(self.claim.total_seconds() / 2):
                    await self.mailer.send(item["to_address"], item["subject"],
                                           item["text_body"], item["html_body"],
                                           message_id=item["message_id"])
            except (ClientFailure, OSError, TimeoutError) as exc:
                attempts = item["attempts"] + 1
                log.warning("email %s failed (attempt %d): %s", item["id"], attempts, exc)
                retry_at = now + timedelta(minutes=2 ** min(attempts, MAX_ATTEMPTS))
                async with conn.begin():
                    await outbox.mark_failed(conn, item["id"], str(exc) or "timed out",
                                             retry_at)
                return False
            if conn.dialect.name == "postgresql":
                # One statement is atomic by itself: no BEGIN and COMMIT round trips.
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await outbox.mark_sent(conn, item["id"], now)
            else:
                async with conn.begin():  # SQLite takes its write lock in BEGIN IMMEDIATE
                    await outbox.mark_sent(conn, item["id"], now)
        return True
