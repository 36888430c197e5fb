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
from engine.db import Database
from engine.notify import Notifier
from engine.ops.doctor import Doctor
from engine.runs.controls import RunControls
from engine.runs.executions import Executions
from engine.runs.pipeline import Pipeline
from engine.runs.runner import Runner
from engine.runs.scheduler import Scheduler, TickReport
from engine.runs.toolbox import Toolbox

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
        """Keep runs moving until ``stop`` is set (see engine.runs.pipeline).
        ``on_tick`` is the worker's heartbeat."""
        log.info("worker %s started (concurrency %s, tick %ss)", self.runner.worker_id,
                 self.settings.worker_concurrency, self.settings.tick_seconds)
        pipeline = Pipeline(self.scheduler, self.runner, self.clock,
                            concurrency=self.settings.worker_concurrency,
                            tick_seconds=self.settings.tick_seconds)
        await pipeline.run(stop, on_tick)
        log.info("worker %s stopped after %d transitions", self.runner.worker_id,
                 pipeline.transitions)

    async def close(self) -> None:
        await self.tools.close()
