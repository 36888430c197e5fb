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
from engine.runs.runner import Claim, Runner, end_run_from_outside
from engine.storage import runs as run_store
from engine.storage import scouts as scout_store

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
        claimed = await self.claim(now, self.settings.worker_concurrency)
        outcomes = await asyncio.gather(
            *(self.runner.advance(claim, now) for claim in claimed), return_exceptions=True
        )
        for claim, outcome in zip(claimed, outcomes, strict=True):
            run_id = str(claim.execution["id"])
            if isinstance(outcome, BaseException):
                log.error("advancing run %s failed", run_id, exc_info=outcome)
                report.advanced[run_id] = "error"
            else:
                report.advanced[run_id] = outcome
        report.emailed = await self.notifier.send_due(now)
        return report

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        """Lease up to ``limit`` runnable runs, with their scouts and recent findings read
        in the same transaction (so a step needs no read of its own)."""
        async with self.db.transaction() as conn:
            runs = await run_store.claim(conn, self.runner.worker_id, now, self.runner.lease, limit)
            if not runs:
                return []
            scout_ids = list({run["scout_id"] for run in runs})
            scouts = await run_store.scouts_by_id(conn, scout_ids)
            findings = await run_store.recent_findings_of(conn, scout_ids)
        return [Claim(run, scouts[run["scout_id"]], findings[run["scout_id"]]) for run in runs]

    async def dispatch(self, now: datetime) -> int:
        """Start a run for every due scout, in one statement; the unique index stops
        doubles under races."""
        deadline = timedelta(seconds=self.settings.run_deadline_seconds)
        async with self.db.transaction() as conn:
            return await run_store.dispatch_due(conn, now, deadline)

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
