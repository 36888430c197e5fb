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


async def test_accounts_from_before_email_normalisation_can_sign_in_after_upgrade(
    fresh_database_url: str,
) -> None:
    """An older version stored emails as typed; login now looks up the normal form."""
    from datetime import UTC, datetime

    from engine.accounts.sessions import normalise_email
    from engine.tables import users

    url = fresh_database_url
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM, "0009")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = {
        "mixed": "Ana@Example.COM",
        "unicode": "zoë@Bücher.example",
        # Both spell one mailbox: the first keeps it, the other is left for an operator.
        "twin_a": "Twin@example.org",
        "twin_b": "twin@example.org",
        "plain": "plain@example.net",
    }
    ids = {key: uuid.uuid4() for key in rows}
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(users.insert(), [
                {"id": ids[key], "email": email, "password_hash": "x", "created_at": now}
                for key, email in rows.items()])
        await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
        async with database.engine.connect() as conn:
            stored = dict((await conn.execute(sa.select(users.c.id, users.c.email))).all())
    finally:
        await database.close()
    assert stored[ids["mixed"]] == "ana@example.com"
    assert stored[ids["unicode"]] == normalise_email("zoë@Bücher.example")
    assert stored[ids["unicode"]] == "zoë@xn--bcher-kva.example"
    assert stored[ids["twin_b"]] == "twin@example.org"
    assert stored[ids["twin_a"]] == "Twin@example.org"
    assert stored[ids["plain"]] == "plain@example.net"
