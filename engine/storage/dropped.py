"""Dead connections under statements sent past SQLAlchemy, straight to asyncpg.

SQLAlchemy notices a connection the server dropped (a restart, an idle timeout) only for
statements it executes itself. The reads and the working transition that go to the driver
directly (engine/db.py, engine/storage/runs.py) ask here instead, and get the same outcome.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.pool import Pool, PoolProxiedConnection


def is_dropped(connection: PoolProxiedConnection, exc: BaseException) -> bool:
    """Whether ``exc``, raised by a statement on ``connection``, means the connection is
    gone (rather than the server refusing the statement)."""
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True
    closed = getattr(connection.driver_connection, "is_closed", None)
    return closed is not None and bool(closed())


def discard(pool: Pool, connection: PoolProxiedConnection, exc: BaseException) -> None:
    """What SQLAlchemy does on a disconnect: ``connection`` is closed for good, and every
    pooled connection opened before now is replaced at its next checkout, since whatever
    killed this one (a restarted server) killed those too. ``Pool._invalidate`` is the
    step SQLAlchemy itself takes there; it has no public twin that spares the connections
    other tasks hold."""
    pool._invalidate(connection, exc)  # noqa: SLF001
