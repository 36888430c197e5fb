"""One scheduler tick: expire, dispatch, claim and advance, deliver email.

`tick(now)` is the whole engine step: the worker loop calls it on a timer, and tests call it
directly with a frozen clock to walk runs through their states one transition at a time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.config import Settings
from engine.db import Database
from engine.notify import Notifier
from engine.runner import Runner, end_run_from_outside
from engine.storage import runs as run_store
from engine.storage import scouts as scout_store
from engine.validation import is_complete

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    expired: int = 0
    dispatched: int = 0
    advanced: dict[str, str] = field(default_factory=dict)  # execution id -> trigger
    emailed: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.dispatched or self.advanced)


class Scheduler:
    def __init__(self, db: Database, runner: Runner, notifier: Notifier, settings: Settings):
        self.db = db
        self.runner = runner
        self.notifier = notifier
        self.settings = settings

    async def tick(self, now: datetime) -> TickReport:
        report = TickReport()
        report.expired = await self.expire(now)
        report.dispatched = await self.dispatch(now)
        async with self.db.transaction() as conn:
            claimed = await run_store.claim(conn, self.runner.worker_id, now, self.runner.lease,
                                            self.settings.worker_concurrency)
        outcomes = await asyncio.gather(
            *(self.runner.advance(run, now) for run in claimed), return_exceptions=True
        )
        for run, outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("advancing run %s failed", run["id"], exc_info=outcome)
                report.advanced[str(run["id"])] = "error"
            else:
                report.advanced[str(run["id"])] = outcome
        report.emailed = await self.notifier.send_due(now)
        return report

    async def dispatch(self, now: datetime) -> int:
        """Start a run for every due scout; the unique index stops doubles under races."""
        deadline = timedelta(seconds=self.settings.run_deadline_seconds)
        started = 0
        async with self.db.transaction() as conn:
            for scout in await run_store.due_scouts(conn, now):
                if not is_complete(scout):
                    continue
                if await run_store.insert_execution(conn, scout["id"], "schedule", now, deadline):
                    started += 1
        return started

    async def expire(self, now: datetime) -> int:
        async with self.db.read() as conn:
            overdue = await run_store.expired_runs(conn, now)
        expired = 0
        for run in overdue:
            message = (f"the run did not finish within its deadline "
                       f"({self.settings.run_deadline_seconds} s)")
            if run.get("wait_reason"):
                # The owner should learn what it was waiting for, not only that time ran out.
                message += f" while it waited: {run['wait_reason']}"
            async with self.db.transaction() as conn:
                if not await end_run_from_outside(conn, run, message, now):
                    continue
                scout = await scout_store.get_scout_unscoped(conn, run["scout_id"])
                assert scout is not None
                await self.runner.record_failure(conn, scout, message, now)
            expired += 1
        return expired
