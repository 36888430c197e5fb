"""Connection pool and transactions for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from engine.live import changes
from engine.storage import dropped
from engine.storage.prepared import PreparedRead
from engine.storage.sqlite_reader import InlineReader

READ_ONLY = "scouts_read_only"
# A connection that runs single statements without BEGIN/COMMIT around them: one
# statement is its own consistent snapshot, and it saves two round trips per request.
SINGLE_STATEMENT = "scouts_single_statement"
# Sent when a single-statement connection opens. No parallel workers: the planner guesses a
# user's findings from the average per scout, so once the scouts table passes 8 MB and
# scouts average ~1,000 findings, its defaults give every user's search two workers alike,
# and starting them cost ~10 ms of server CPU a search (docs/benchmarks.md), many times a
# light user's whole search.
SINGLE_STATEMENT_SETTINGS = {"max_parallel_workers_per_gather": "0"}

T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; busy_timeout makes a second writer wait
    # instead of failing at once; SQLite leaves foreign keys off unless asked.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock when the transaction starts, so two writers serialise on
    # busy_timeout instead of failing on a lock upgrade halfway through. Readers (see
    # Database.read) begin deferred and, under WAL, run beside the writer.
    options = conn.get_execution_options()
    if options.get(SINGLE_STATEMENT):
        return
    if options.get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# Checkpoints (whole conversations) are written on every transition and every scout row
# carries JSON: orjson does both directions several times faster than the stdlib.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def create_engine(
    url: str, *, pool_size: int = 10, isolation_level: str | None = None,
    reset_on_return: bool = True,
    server_settings: dict[str, str] | None = None,
) -> AsyncEngine:
    if url.startswith("sqlite"):
        extra: dict[str, Any] = {} if reset_on_return else {"pool_reset_on_return": None}
        if ":memory:" not in url:
            # SQLAlchemy's default for aiosqlite files is 5 pooled plus 10 overflow
            # connections, and an overflow connection is closed when given back: under
            # load every request past the fifth opened a connection, its thread and its
            # PRAGMAs, then closed them again.
            extra.update(pool_size=pool_size, max_overflow=0)
        if isolation_level:
            extra["isolation_level"] = isolation_level
        engine = create_async_engine(url, poolclass=NullPool if ":memory:" in url else None,
                                     **JSON_CODEC, **extra)
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "connect", _sqlite_pragmas)

        @event.listens_for(sync_engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own implicit BEGIN would hide ours; SQLAlchemy documents this recipe.
            dbapi_connection.isolation_level = None

        event.listen(sync_engine, "begin", _sqlite_begin)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout. A connection the server
    # dropped fails its statement instead; SQLAlchemy then discards it and every older
    # pooled connection, and Database.retrying repeats the work once on a fresh one.
    # No overflow either: a connection opened for a burst and closed after it costs a
    # connect, type introspection and fresh prepared statements; waiting for a pooled
    # one is cheaper.
    options: dict[str, Any] = {"isolation_level": isolation_level} if isolation_level else {}
    if server_settings:
        options["connect_args"] = {"server_settings": server_settings}
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, **JSON_CODEC,
                               **options)


def _sqlite_single_engine(url: str, pool_size: int) -> AsyncEngine:
    """SQLite connections for single statements: autocommit, and never a ROLLBACK, which
    SQLAlchemy sends when a connection is given back even if nothing began; through
    aiosqlite that is one more trip to the connection's thread on every request."""
    engine = create_engine(url, pool_size=pool_size, reset_on_return=False,
                           isolation_level="AUTOCOMMIT")

    def no_transaction_to_roll_back(_dbapi_connection: Any) -> None:
        return None

    dialect = engine.sync_engine.dialect
    dialect.do_rollback = no_transaction_to_roll_back  # type: ignore[method-assign,assignment]
    return engine


class _DroppedConnection(Exception):
    pass


def is_dropped_connection(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


def is_database_unreachable(exc: BaseException) -> bool:
    """The server went away (a restart dropped the connection) or cannot be reached (no
    socket, connection refused): an outage to wait out, not a fault in the code."""
    return is_dropped_connection(exc) or isinstance(exc, OSError)


class Database:
    """One engine per process. Query modules receive the connection, never the engine."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        # Called after a transaction that announced changes has committed (engine/live):
        # in-process listeners hear of them at once instead of at the next poll.
        self.on_announce: list[Callable[[], None]] = []
        # Told the SQL of every statement `fetch_prepared` sends past SQLAlchemy's
        # events (statement counts in tests).
        self.on_driver_statement: list[Callable[[str], None]] = []
        self._inline: InlineReader | None = None
        if self.engine.dialect.name == "postgresql":
            # A pool of its own whose connections are born in autocommit: switching a
            # pooled connection's isolation level on every checkout showed in profiles.
            self._single = create_engine(
                url, pool_size=pool_size, isolation_level="AUTOCOMMIT",
                server_settings=SINGLE_STATEMENT_SETTINGS,
            ).execution_options(**{SINGLE_STATEMENT: True})
        else:
            # Its own pool without the ROLLBACK on return, which these connections never
            # need (they never BEGIN) and which costs aiosqlite a thread hop per request.
            # An in-memory database exists once per connection, so it shares the pool.
            database = sa.engine.make_url(url).database
            if database and ":memory:" not in url and "uri=" not in url:
                self._inline = InlineReader(database)
            single = (self.engine if ":memory:" in url
                      else _sqlite_single_engine(url, pool_size))
            self._single = single.execution_options(**{SINGLE_STATEMENT: True})

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine this database sends statements through (for instrumentation)."""
        return (self.engine,) if self._single.pool is self.engine.pool else (
            self.engine, self._single)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        announced = False
        async with self.engine.begin() as conn:
            changes.begin(conn)
            try:
                yield conn
                await changes.flush(conn)
            finally:
                try:
                    announced = changes.discard(conn)
                except sa.exc.PendingRollbackError:
                    # A statement was interrupted (its task cancelled, at shutdown): the
                    # connection refuses even this until rolled back, and raising here
                    # would hide the cancellation behind a logged traceback. Nothing
                    # was committed, so there is nothing to announce.
                    announced = False
        if announced:
            for listener in self.on_announce:
                listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only reads: on SQLite it does not take the write lock."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def single(self) -> AsyncIterator[AsyncConnection]:
        """A connection for ONE read statement, sent without BEGIN/COMMIT around it.

        Only for a single statement: two statements here would not share a snapshot."""
        async with self._single.connect() as conn:
            yield conn

    async def retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run idempotent ``work`` again once if the server had dropped its connection
        (a restarted database, an idle timeout): the caller never sees that error."""
        try:
            return await work()
        except sa.exc.DBAPIError as exc:
            if not is_dropped_connection(exc):
                raise
        return await work()

    async def fetch_prepared(
        self, read: PreparedRead, **values: Any
    ) -> list[dict[str, Any]]:
        """Rows of ONE read statement, straight from the driver: one round trip without
        BEGIN/COMMIT on PostgreSQL; on SQLite a read on the event loop's thread when no
        lock is in the way (engine/storage/sqlite_reader.py), else one trip to an
        aiosqlite connection's thread. A connection the server dropped is replaced and
        the read repeated once."""
        compiled = read.compiled(self._single.dialect)
        arguments = compiled.arguments(values)
        for listener in self.on_driver_statement:
            listener(compiled.sql)
        try:
            return compiled.rows(await self._fetch_driver(compiled.sql, arguments))
        except _DroppedConnection:
            return compiled.rows(await self._fetch_driver(compiled.sql, arguments))

    async def _fetch_driver(self, sql: str, arguments: list[Any]) -> Any:
        if self._inline is not None:
            rows = self._inline.fetch(sql, arguments)
            if rows is not None:
                return rows
        connection = await self._single.raw_connection()
        driver = connection.driver_connection
        try:
            if self.dialect == "postgresql":
                return await driver.fetch(sql, *arguments)  # type: ignore[union-attr]
            return await driver.execute_fetchall(sql, arguments)  # type: ignore[union-attr]
        except Exception as exc:
            if self.dialect == "postgresql" and dropped.is_dropped(connection, exc):
                dropped.discard(self._single.sync_engine.pool, connection, exc)
                raise _DroppedConnection() from exc
            raise
        finally:
            connection.close()

    async def ping(self) -> bool:
        async def select_one() -> None:
            async with self.single() as conn:
                await conn.execute(PING)

        try:
            await self.retrying(select_one)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
        await self.engine.dispose()
        if self._single.pool is not self.engine.pool:
            await self._single.dispose()


PING = sa.text("SELECT 1")
