"""LISTEN on one dedicated asyncpg connection per API process.

The payload is only a wake-up call; the hub reads the change log itself. After a lost
connection the listener reconnects and wakes the hub once, so nothing committed while it
was away is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from engine.live.changes import CHANNEL
from engine.live.tasks import finish

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://…`` as the plain libpq URL asyncpg.connect() accepts."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgListener:
    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._wake = wake
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._stopping = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        self._lost.set()
        await finish(self._task)

    def _notified(self, *_args: Any) -> None:
        self._wake()

    def _terminated(self, *_args: Any) -> None:
        self._lost.set()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("live updates: cannot LISTEN (%s); retrying in %ss",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if self._stopping:
                await conn.close(timeout=2)
                return
            self._lost.clear()
            try:
                conn.add_termination_listener(self._terminated)
                await conn.add_listener(CHANNEL, self._notified)
                self.connected.set()
                self._wake()  # catch up on anything committed while we were not listening
                await self._lost.wait()
                log.warning("live updates: LISTEN connection lost; reconnecting")
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
