"""Emails to scout owners, through the outbox table.

A run's result and its email are written in one transaction; `send_due` delivers later.
So a crash can delay an email but never send one for a result that was rolled back.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from engine.clients.errors import ClientFailure
from engine.clients.mailer import Mailer, render_findings_email, render_scout_disabled_email
from engine.db import Database
from engine.storage import outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class Notifier:
    def __init__(self, db: Database, mailer: Mailer, public_url: str) -> None:
        self.db = db
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")

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
        async with self.db.read() as conn:
            pending = await outbox.due(conn, now)
        sent = 0
        for item in pending:
            try:
                await self.mailer.send(item["to_address"], item["subject"], item["text_body"],
                                       item["html_body"])
            except (ClientFailure, OSError) as exc:
                attempts = item["attempts"] + 1
                log.warning("email %s failed (attempt %d): %s", item["id"], attempts, exc)
                retry_at = now + timedelta(minutes=2 ** min(attempts, MAX_ATTEMPTS))
                async with self.db.transaction() as conn:
                    await outbox.mark_failed(conn, item["id"], str(exc), retry_at)
                continue
            async with self.db.transaction() as conn:
                await outbox.mark_sent(conn, item["id"], now)
            sent += 1
        return sent
