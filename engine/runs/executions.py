"""Executions as their owner and operators see them."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from engine.db import Database
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.storage import executions as execution_store
from engine.storage import runs as run_store
from engine.storage import scouts as scout_store
from engine.views import execution_detail, execution_summary

MAX_PAGE = 100


def encode_cursor(row: dict[str, Any]) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, _, execution_id = raw.partition("|")
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(execution_id)
    except ValueError:
        raise ValidationFailed("before is not a valid cursor", field="before") from None


def execution_not_found() -> NotFound:
    return NotFound("execution not found")


class Executions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list_for_scout(
        self,
        user_id: uuid.UUID,
        scout_id: uuid.UUID,
        now: datetime,
        *,
        limit: int = 20,
        before: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        cursor = decode_cursor(before) if before else None
        async with self.db.read() as conn:
            if await scout_store.get_scout(conn, user_id, scout_id) is None:
                raise NotFound("scout not found")
            rows = await execution_store.list_executions(
                conn, scout_id, limit=limit + 1, before=cursor
            )
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return [execution_summary(row, now) for row in rows[:limit]], next_cursor

    async def get(
        self, execution_id: uuid.UUID, now: datetime, user_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """``user_id`` None is the operator's view (CLI), which sees every run."""
        async with self.db.read() as conn:
            row = await execution_store.get_execution(conn, execution_id, user_id)
            if row is None:
                raise execution_not_found()
            steps = await execution_store.list_steps(conn, execution_id)
        return execution_detail(row, steps, now, operator=user_id is None)

    async def clear_history(self, user_id: uuid.UUID, scout_id: uuid.UUID) -> int:
        """Delete the scout's finished runs; refused while one is in flight (409)."""
        async with self.db.transaction() as conn:
            if await scout_store.get_scout(conn, user_id, scout_id) is None:
                raise NotFound("scout not found")
            if await run_store.in_flight_for_scout(conn, scout_id):
                raise Conflict("a run is in progress; cancel it or wait for it to finish "
                               "before clearing the history", code="run_in_progress")
            return await execution_store.delete_finished(conn, scout_id)
