"""Reading the old Supabase database: one read-only snapshot, streamed in id order.

The source is reached with asyncpg directly (not through SQLAlchemy) so that a libpq-style
URL from the Supabase dashboard, ``sslmode`` included, works as it is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any, Self

import asyncpg


def source_dsn(url: str) -> str:
    """Accept the SQLAlchemy spelling too, so the same URL style works everywhere here."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("SOURCE_URL must be a postgresql:// URL of the old Supabase database")
    return url


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Source:
    """A REPEATABLE READ, READ ONLY transaction: every table is read from one snapshot and
    nothing can be written to the old database by mistake."""

    def __init__(self, url: str) -> None:
        self.dsn = source_dsn(url)
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None

    async def __aenter__(self) -> Self:
        # No prepared-statement cache: Supabase's poolers do not keep them between queries.
        self._conn = await asyncpg.connect(self.dsn, statement_cache_size=0)
        self._tx = self._conn.transaction(isolation="repeatable_read", readonly=True)
        await self._tx.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            if self._conn is not None:
                await self._conn.close()

    @property
    def conn(self) -> asyncpg.Connection:
        assert self._conn is not None, "use Source as an async context manager"
        return self._conn

    async def columns(self, schema: str, table: str) -> set[str] | None:
        """The table's column names, or None when the table does not exist."""
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2", schema, table)
        return {r["column_name"] for r in rows} or None

    async def count(self, schema: str, table: str) -> int:
        # Names come from the import's own table list, never from input, and are quoted.
        query = f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}"  # noqa: S608
        return int(await self.conn.fetchval(query))

    async def batches(
        self, schema: str, table: str, wanted: Iterable[str], present: set[str],
        json_columns: Iterable[str], size: int,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows in id order, ``size`` at a time; absent columns read as NULL."""
        select = ", ".join(_quote(c) if c in present else f"NULL AS {_quote(c)}" for c in wanted)
        base = f"SELECT {select} FROM {_quote(schema)}.{_quote(table)}"  # noqa: S608
        first = f"{base} ORDER BY id LIMIT $1"
        after = f"{base} WHERE id > $2 ORDER BY id LIMIT $1"
        decode = [c for c in json_columns if c in present]
        last: uuid.UUID | None = None
        while True:
            records = (await self.conn.fetch(first, size) if last is None
                       else await self.conn.fetch(after, size, last))
            if not records:
                return
            rows = [dict(r) for r in records]
            for row in rows:
                for column in decode:
                    row[column] = _json(row[column])
            yield rows
            last = rows[-1]["id"]


def _json(value: Any) -> Any:
    # asyncpg hands json/jsonb over as text; an older text column may hold non-JSON.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
