"""Short SQLite reads on the event loop's own thread, with the thread hop as fallback.

Through aiosqlite every read is handed to the connection's thread and its answer handed
back through the event loop's self-pipe: wake-ups, futexes and GIL hand-overs that cost
more CPU than the scout list's query itself. Under WAL a reader takes no lock that a
writer holds, so a read here never waits for one; the connection's busy timeout is zero,
so the rare moment SQLite would make it wait (recovering the WAL index after a crash)
fails at once and the caller falls back to the aiosqlite path, which may wait.
"""

from __future__ import annotations

import sqlite3
from typing import Any


class InlineReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA query_only=ON")
            self._conn = conn
        return self._conn

    def fetch(self, sql: str, arguments: list[Any]) -> list[Any] | None:
        """The rows, or None when SQLite would have had to wait (try the slow path)."""
        try:
            return self._connection().execute(sql, arguments).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
