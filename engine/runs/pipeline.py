"""A worker that keeps ``WORKER_CONCURRENCY`` runs moving at all times.

Each run is driven by its own task through as many transitions as it can go without
waiting (each transition still its own committed transaction, the lease kept between
them). Whenever a task ends, its slot is refilled by a new claim at once, so a slow
service call holds back only the run that made it. Expiry, dispatch and email delivery
happen beside it, every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from engine.db import is_database_unreachable
from engine.runs.runner import Claim, Runner
from engine.runs.scheduler import Scheduler

log = logging.getLogger(__name__)

# How long a stopping worker lets expiry, dispatch and email delivery finish their round.
CHORES_GRACE_SECONDS = 10.0


class Pipeline:
    def __init__(
        self, scheduler: Scheduler, runner: Runner, clock: Callable[[], datetime],
        *, concurrency: int, tick_seconds: float,
    ) -> None:
        self.scheduler = scheduler
        self.runner = runner
        self.clock = clock
        self.concurrency = concurrency
        self.tick_seconds = tick_seconds
        self.transitions = 0
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._beat: Callable[[], None] = lambda: None

    async def run(self, stop: asyncio.Event, on_tick: Callable[[], None] | None = None) -> None:
        """Until ``stop`` is set. ``on_tick`` (the worker's heartbeat) is called whenever
        the pipeline wakes and after every transition."""
        self._beat = on_tick or (lambda: None)
        chores = asyncio.create_task(self._chores(stop))
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                self._beat()
                self._wake.clear()
                free = self.concurrency - len(self._tasks)
                if free > 0:
                    for claim in await self._claim(free, stop):
                        self._start(claim, stop)
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({woken, stopping}, timeout=self.tick_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        finally:
            stopping.cancel()
            # Running transitions finish and commit; no run is started after `stop`.
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            # Chores end their round on their own once `stop` is set. Cancelling one
            # mid-transaction turned a clean shutdown into a logged rollback error.
            await asyncio.wait({chores}, timeout=CHORES_GRACE_SECONDS)
            chores.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chores

    async def _claim(self, free: int, stop: asyncio.Event) -> list[Claim]:
        try:
            return await self.scheduler.claim(self.clock(), free)
        except Exception as exc:
            _log_failure(exc, "claiming runs failed")
            # A database outage must not turn into a busy loop of failing claims.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)
            return []

    def _start(self, claim: Claim, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self._drive(claim, stop))
        self._tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            self._wake.set()

        task.add_done_callback(finished)

    async def _drive(self, claim: Claim, stop: asyncio.Event) -> None:
        """Advance one run until it ends, waits, is lost, or must be handed back."""
        try:
            while True:
                now = self.clock()
                if claim.execution["deadline_at"] <= now:
                    break  # the expiry sweep fails it once the lease is given back
                await self.runner.advance(claim, now, hold=True)
                self.transitions += 1
                self._beat()
                if not claim.held or stop.is_set():
                    break
        except Exception as exc:
            _log_failure(exc, "advancing run %s failed", claim.execution["id"])
        finally:
            with contextlib.suppress(Exception):
                await self.runner.release(claim)

    async def _chores(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = self.clock()
            try:
                await self.scheduler.expire(now)
                if await self.scheduler.dispatch(now):
                    self._wake.set()
                await self.scheduler.notifier.send_due(now)
            except Exception as exc:
                _log_failure(exc, "scheduler chores failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)


def _log_failure(exc: Exception, message: str, *args: object) -> None:
    """An outage (the database restarted or cannot be reached) is one warning line per
    attempt, every tick while it lasts, and the next tick after it ends succeeds; anything
    else keeps its traceback."""
    if is_database_unreachable(exc):
        # "connection lost": an OSError may also come from elsewhere than the database.
        log.warning(message + " (connection lost: %s: %s); trying again next tick",
                    *args, type(exc).__name__, getattr(exc, "orig", None) or exc)
    else:
        log.error(message, *args, exc_info=exc)
