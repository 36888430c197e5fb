"""The engine assembled: database, external services, runner, scheduler and controls.

One `ScoutEngine` per process. The API process uses its controls (and, when
SCHEDULER_ENABLED, its worker loop); `scouts worker` runs only the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from engine.clients.retry import DEFAULT_POLICY, RetryPolicy
from engine.clock import utcnow
from engine.config import Settings
from engine.controls import RunControls
from engine.db import Database
from engine.executions import Executions
from engine.notify import Notifier
from engine.ops.doctor import Doctor
from engine.runner import Runner
from engine.scheduler import Scheduler, TickReport
from engine.toolbox import Toolbox

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class ScoutEngine:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        worker_id: str | None = None,
        tools: Toolbox | None = None,
        retry: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.tools = tools or Toolbox.from_settings(settings, retry=retry)
        worker_id = worker_id or new_worker_id()
        self.notifier = Notifier(db, self.tools.mailer, settings.public_url, worker_id=worker_id,
                                 claim=timedelta(seconds=settings.mail_claim_seconds),
                                 clock=clock)
        self.executions = Executions(db)
        self.controls = RunControls(db, settings, self.executions)
        self.runner = Runner(db, self.tools, self.notifier, settings, worker_id, clock)
        self.scheduler = Scheduler(db, self.runner, self.notifier, settings)
        self.doctor = Doctor(settings, self.tools.session)

    async def tick(self, now: datetime | None = None) -> TickReport:
        return await self.scheduler.tick(now or self.clock())

    async def run_forever(
        self, stop: asyncio.Event, on_tick: Callable[[], None] | None = None
    ) -> None:
        """Tick until ``stop`` is set. A tick that moved something is followed at once by
        the next, so a run does not idle between its transitions. ``on_tick`` is called
        before every tick (the worker's heartbeat)."""
        log.info("worker %s started (tick %ss)", self.runner.worker_id,
                 self.settings.tick_seconds)
        while not stop.is_set():
            if on_tick is not None:
                on_tick()
            try:
                report = await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
                report = TickReport()
            if report.busy:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.tick_seconds)
            except TimeoutError:
                pass
        log.info("worker %s stopped", self.runner.worker_id)

    async def close(self) -> None:
        await self.tools.close()
