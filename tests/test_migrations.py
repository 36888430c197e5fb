from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from engine import migrate
from engine.db import Database
from engine.tables import metadata
from tests.conftest import EMBEDDING_DIM


async def _inspect(url: str) -> dict[str, set[str]]:
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            def read(sync_conn: sa.Connection) -> dict[str, set[str]]:
                inspector = sa.inspect(sync_conn)
                return {
                    table: {c["name"] for c in inspector.get_columns(table)}
                    | {f"index:{i['name']}" for i in inspector.get_indexes(table)}
                    for table in inspector.get_table_names()
                    if table != "alembic_version"
                }
            return await conn.run_sync(read)
    finally:
        await database.close()


def expected_schema() -> dict[str, set[str]]:
    return {
        table.name: {c.name for c in table.columns}
        | {f"index:{i.name}" for i in table.indexes if not i.unique or i.name.startswith("uq_scout_executions")}
        for table in metadata.sorted_tables
    }


async def test_migrations_build_the_schema_the_code_expects(database_url: str) -> None:
    actual = await _inspect(database_url)
    for table, wanted in expected_schema().items():
        missing = wanted - actual[table]
        assert not missing, (table, missing)


async def test_migrations_run_down_and_up_from_empty(fresh_database_url: str) -> None:
    url = fresh_database_url
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
    assert "scouts" in await _inspect(url)
    await asyncio.to_thread(migrate.downgrade, url, EMBEDDING_DIM)
    assert await _inspect(url) == {}
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
    assert set(await _inspect(url)) == {t.name for t in metadata.sorted_tables}


async def test_one_run_in_flight_per_scout_is_enforced_by_the_database(db, clock) -> None:
    from datetime import timedelta

    from engine.storage.scouts import create_scout
    from engine.storage.users import create_user
    from engine.tables import scout_executions

    async with db.transaction() as conn:
        user = await create_user(conn, "idx@example.com", "x", clock.now)
        scout = await create_scout(conn, user["id"], {"title": "t"}, clock.now)

    def run(state: str) -> dict:
        return dict(id=uuid.uuid4(), scout_id=scout["id"], state=state, trigger="manual",
                    engine_version=1, checkpoint={}, deadline_at=clock.now + timedelta(minutes=5),
                    started_at=clock.now, created_at=clock.now)

    async with db.transaction() as conn:
        await conn.execute(scout_executions.insert().values(**run("done")))
        await conn.execute(scout_executions.insert().values(**run("planning")))
    with pytest.raises(sa.exc.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(scout_executions.insert().values(**run("searching")))


async def test_reads_do_not_wait_for_an_open_write(db, clock) -> None:
    """On SQLite a read transaction must not queue behind the writer's lock."""
    from engine.storage.users import create_user, get_user_by_email

    async with db.transaction() as conn:
        await create_user(conn, "reader@example.com", "x", clock.now)
    async with db.transaction() as writer:
        await create_user(writer, "pending@example.com", "x", clock.now)

        async def read() -> object:
            async with db.read() as conn:
                return await get_user_by_email(conn, "reader@example.com")

        # The writer still holds its transaction open here.
        found = await asyncio.wait_for(read(), timeout=5)
        assert found is not None
