"""Fan-out of committed changes to the open streams of one API process.

One pump task per process reads the change log past its cursor and hands each user's
events to that user's streams. It is woken by NOTIFY (PostgreSQL), by this process's own
commits (`Database.on_announce`), and on SQLite by a timer: one cheap primary-key range
scan per LIVE_POLL_SECONDS, shared by every stream and skipped while none is open.
The data sent is re-read when the event is delivered, so it is always the current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from engine.clock import utcnow
from engine.config import Settings
from engine.db import Database
from engine.errors import RateLimited
from engine.live import store
from engine.live.streams import LiveEvent, Stream
from engine.live.tasks import finish
from engine.views import execution_summary, scout_view

log = logging.getLogger(__name__)

BATCH = 500
REPLAY_LIMIT = 1000
PRUNE_EVERY = 60.0
IDLE_WAIT = 30.0
# An id seen missing (allocated by a transaction that had not committed yet when we read)
# is looked for again until this old; by then its transaction committed or rolled back.
GAP_SECONDS = 10.0
MAX_GAP = 1000


class LiveHub:
    def __init__(
        self, db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.streams: dict[uuid.UUID, set[Stream]] = {}
        self.cursor = 0
        self._gaps: dict[int, float] = {}
        self._wakeup = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._next_prune = 0.0
        self._stopping = False
        self.polls = 0  # change-log reads, for tests and the benchmark

    @property
    def open_streams(self) -> int:
        return sum(len(group) for group in self.streams.values())

    async def start(self) -> None:
        async with self.db.read() as conn:
            self.cursor = await store.newest_id(conn)
        self.db.on_announce.append(self.wake)
        self._pump = asyncio.create_task(self._run())
        if self.db.dialect == "postgresql":
            from engine.live.pg_listener import PgListener

            self._listener = PgListener(self.db.url, self.wake)
            await self._listener.start()

    async def stop(self) -> None:
        self._stopping = True
        self.close_all("shutdown")
        with contextlib.suppress(ValueError):
            self.db.on_announce.remove(self.wake)
        if self._listener is not None:
            await self._listener.stop()
        await finish(self._pump)

    def wake(self) -> None:
        self._wakeup.set()

    # -- streams ------------------------------------------------------------------------

    async def open(self, user_id: uuid.UUID) -> Stream:
        """Register a stream; over either cap a RateLimited (429) says which."""
        if self.open_streams >= self.settings.live_max_streams:
            raise RateLimited("the server has too many open event streams; try again shortly",
                              retry_after=30, code="too_many_streams")
        if len(self.streams.get(user_id, ())) >= self.settings.live_max_streams_per_user:
            raise RateLimited(
                f"at most {self.settings.live_max_streams_per_user} event streams can be open "
                "per account; close another tab or window", retry_after=30,
                code="too_many_streams")
        if not self.open_streams:
            # Idle until now, the pump has not followed the change log (see drain): start
            # from its end, read before the stream exists so nothing after it is missed.
            async with self.db.read() as conn:
                self.cursor = max(self.cursor, await store.newest_id(conn))
            self._gaps.clear()
        stream = Stream(user_id)
        mine = self.streams.setdefault(user_id, set())
        mine.add(stream)
        self.wake()  # on SQLite the poll restarts with the first stream
        return stream

    def release(self, stream: Stream) -> None:
        mine = self.streams.get(stream.user_id)
        if mine is not None:
            mine.discard(stream)
            if not mine:
                del self.streams[stream.user_id]

    def close_all(self, reason: str) -> None:
        for group in self.streams.values():
            for stream in group:
                stream.close(reason)

    # -- replay -------------------------------------------------------------------------

    async def replay(self, user_id: uuid.UUID, last_event_id: str | None) -> list[LiveEvent]:
        """What a client that last saw ``last_event_id`` missed, or a single resync event
        when that is no longer known (pruned, malformed, or from another database)."""
        if last_event_id is None:
            return []
        async with self.db.read() as conn:
            known = await store.bounds(conn)
            newest = known[1] if known else 0
            try:
                seen = int(last_event_id.strip())
            except ValueError:
                return [self.resync_event(newest)]
            if seen < 0 or seen > newest or (known is not None and seen < known[0] - 1):
                return [self.resync_event(newest)]
            rows = await store.for_user_after(conn, user_id, seen, REPLAY_LIMIT + 1)
            if len(rows) > REPLAY_LIMIT:
                return [self.resync_event(newest)]
            rendered = await self._render(conn, rows)
        return [event for _user, event in rendered if event is not None]

    def resync_event(self, event_id: int) -> LiveEvent:
        return LiveEvent(event_id, "resync", {
            "reason": "some changes can no longer be replayed; reload the data"})

    # -- the pump -----------------------------------------------------------------------

    async def _run(self) -> None:
        last_read = 0.0
        while not self._stopping:
            polling = self.db.dialect == "sqlite" and bool(self.streams)
            timeout = self.settings.live_poll_seconds if polling else IDLE_WAIT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            self._wakeup.clear()
            if polling:
                # However often commits wake us, SQLite's change log is read once per
                # interval at most; that read picks up everything that arrived meanwhile.
                wait = last_read + self.settings.live_poll_seconds - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            last_read = time.monotonic()
            try:
                await self.drain()
                await self._maybe_prune()
            except Exception:
                log.exception("live updates: reading the change log failed")
                await asyncio.sleep(1.0)

    async def drain(self) -> None:
        """Deliver every event committed since the last read."""
        while True:
            if not self.streams:
                # Nobody to tell: no read at all, so an API process without open streams
                # costs the database nothing per commit. The first stream's drain reads
                # on from the cursor; rows for users without a stream are skipped there.
                return
            async with self.db.read() as conn:
                self.polls += 1
                rows = await store.after(conn, self.cursor, BATCH)
                late = await self._late_rows(conn)
                self._advance(rows)
                wanted = [r for r in late + rows if r["user_id"] in self.streams]
                rendered = await self._render(conn, wanted)
            for user_id, event in rendered:
                for stream in list(self.streams.get(user_id, ())):
                    if event is None:
                        stream.close("logout")
                    else:
                        stream.push(event)
            if len(rows) < BATCH:
                return

    async def _late_rows(self, conn: Any) -> list[dict[str, Any]]:
        """Rows whose ids were skipped earlier because their transaction committed later."""
        if not self._gaps:
            return []
        horizon = time.monotonic() - GAP_SECONDS
        for gap in [g for g, at in self._gaps.items() if at < horizon]:
            del self._gaps[gap]
        rows = await store.by_ids(conn, self._gaps) if self._gaps else []
        for row in rows:
            self._gaps.pop(row["id"], None)
        return rows

    def _advance(self, rows: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        expected = self.cursor + 1
        for row in rows:
            for missing in range(expected, min(row["id"], expected + MAX_GAP)):
                self._gaps[missing] = now
            expected = row["id"] + 1
        if rows:
            self.cursor = rows[-1]["id"]

    async def _render(
        self, conn: Any, rows: list[dict[str, Any]]
    ) -> list[tuple[uuid.UUID, LiveEvent | None]]:
        """Each row as the event its owner receives (None: the owner signed out). Rows whose
        subject is gone (a deleted scout) are left out."""
        executions = await store.executions_by_id(
            conn, {r["execution_id"] for r in rows if r["kind"] == "execution"})
        scouts = await store.scouts_by_id(
            conn, {r["scout_id"] for r in rows if r["kind"] == "scout"})
        now = self.clock()
        out: list[tuple[uuid.UUID, LiveEvent | None]] = []
        for row in rows:
            if row["kind"] == "logout":
                out.append((row["user_id"], None))
            elif row["kind"] == "execution" and row["execution_id"] in executions:
                data = execution_summary(executions[row["execution_id"]], now)
                out.append((row["user_id"], LiveEvent(row["id"], "execution", data)))
            elif row["kind"] == "scout" and row["scout_id"] in scouts:
                data = scout_view(scouts[row["scout_id"]], now)
                out.append((row["user_id"], LiveEvent(row["id"], "scout", data)))
        return out

    async def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        cutoff = utcnow() - timedelta(seconds=self.settings.live_replay_seconds)
        async with self.db.transaction() as conn:
            await store.prune(conn, cutoff)
