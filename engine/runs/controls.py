"""Run now, cancel and resume: for owners (scoped by user) and operators (user_id None)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, RateLimited
from engine.live import changes
from engine.runs.executions import Executions, execution_not_found
from engine.runs.machine import WORKING_STATES
from engine.runs.runner import end_run_from_outside
from engine.scouts import ensure_can_activate, scout_not_found
from engine.storage import executions as execution_store
from engine.storage import runs as run_store
from engine.storage import scouts as scout_store
from engine.tables import scouts
from engine.views import RUN_NOW_COOLDOWN


class RunControls:
    def __init__(self, db: Database, settings: Settings, executions: Executions) -> None:
        self.db = db
        self.settings = settings
        self.executions = executions

    @property
    def deadline(self) -> timedelta:
        return timedelta(seconds=self.settings.run_deadline_seconds)

    async def run_now(
        self, user_id: uuid.UUID, scout_id: uuid.UUID, now: datetime
    ) -> dict[str, Any]:
        async with self.db.transaction() as conn:
            scout = await scout_store.get_scout(conn, user_id, scout_id)
            if scout is None:
                raise scout_not_found()
            ensure_can_activate(scout)
            if await run_store.in_flight_for_scout(conn, scout_id):
                raise Conflict("this scout is already running", code="run_in_progress")
            last = scout["last_manual_run_at"]
            if last is not None and now - last < RUN_NOW_COOLDOWN:
                wait = (last + RUN_NOW_COOLDOWN - now).total_seconds()
                raise RateLimited(
                    f"a scout can be run by hand once every 20 minutes; try again in "
                    f"{math.ceil(wait / 60)} minute(s)", retry_after=wait, code="cooldown")
            run = await run_store.insert_execution(conn, scout_id, "manual", now, self.deadline)
            if run is None:
                raise Conflict("this scout is already running", code="run_in_progress")
            await conn.execute(scouts.update().where(scouts.c.id == scout_id)
                               .values(last_manual_run_at=now))
        return await self.executions.get(run["id"], now, user_id)

    async def _load(
        self, conn: Any, execution_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> dict[str, Any]:
        run = await execution_store.get_execution(conn, execution_id, user_id)
        if run is None:
            raise execution_not_found()
        return run

    async def cancel(
        self, execution_id: uuid.UUID, now: datetime, user_id: uuid.UUID | None = None,
        who: str = "the owner",
    ) -> dict[str, Any]:
        async with self.db.transaction() as conn:
            run = await self._load(conn, execution_id, user_id)
            if run["state"] not in WORKING_STATES:
                raise Conflict(f"the run has already ended ({run['state']})", code="not_running")
            if not await end_run_from_outside(conn, run, f"cancelled by {who}", now,
                                              cancelled=True):
                raise Conflict("the run changed meanwhile; reload and try again", code="conflict")
            # A cancelled run still counts as a run for scheduling, not as a failure.
            await conn.execute(scouts.update().where(scouts.c.id == run["scout_id"])
                               .values(last_run_at=now))
            changes.scout_changed(conn, run["scout_id"])
        return await self.executions.get(execution_id, now, user_id)

    async def resume(
        self, execution_id: uuid.UUID, now: datetime, user_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """Continue from the last checkpoint with fresh counters and a new deadline."""
        async with self.db.transaction() as conn:
            run = await self._load(conn, execution_id, user_id)
            checkpoint = dict(run["checkpoint"] or {})
            values: dict[str, Any] = {
                "attempts": 0, "next_run_at": None, "wait_reason": None, "error_detail": None,
                "deadline_at": now + self.deadline,
            }
            if run["state"] == "failed":
                state = checkpoint.pop("failed_in", "planning")
                if state not in WORKING_STATES:
                    state = "planning"
                checkpoint["consecutive_tool_errors"] = 0
                checkpoint["round"] = 0
                values.update(state=state, checkpoint=checkpoint, completed_at=None,
                              cancelled_at=None, error_message=None, lease_owner=None,
                              lease_expires_at=None)
            elif run["state"] in WORKING_STATES:
                if run["lease_expires_at"] and run["lease_expires_at"] > now:
                    raise Conflict("a worker is advancing this run right now",
                                   code="run_in_progress")
                values.update(lease_owner=None, lease_expires_at=None)
            else:
                raise Conflict("a finished run cannot be resumed; start a new one",
                               code="not_resumable")
            try:
                async with conn.begin_nested():
                    ok = await run_store.update_guarded(
                        conn, execution_id, expected_state=run["state"], worker=None,
                        values=values)
            except sa.exc.IntegrityError:
                raise Conflict("the scout has another run in flight",
                               code="run_in_progress") from None
            if not ok:
                raise Conflict("the run changed meanwhile; reload and try again", code="conflict")
        return await self.executions.get(execution_id, now, user_id)

