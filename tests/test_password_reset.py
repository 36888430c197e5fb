"""Forgot password: a single-use emailed link, valid for an hour, that ends every session."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from api.context import Services
from engine.config import Settings
from engine.tables import password_reset_tokens
from tests.fakes.fixtures import smtp_sink  # noqa: F401
from tests.fakes.smtp_sink import SmtpSink
from tests.support import FakeClock, signup

TOKEN = re.compile(r"/reset-password#token=([\w-]+)")


@pytest.fixture
def settings(database_url: str, smtp_sink: SmtpSink) -> Settings:  # noqa: F811
    return Settings.from_env({
        "DATABASE_URL": database_url, "APP_ENV": "test", "EMBEDDING_DIM": "8",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "SMTP_URL": smtp_sink.url, "PUBLIC_URL": "https://scouts.example",
    })


async def post(client: TestClient, path: str, body: object) -> tuple[int, dict]:
    async with client.post(path, json=body) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else {})


async def ask_for_link(client: TestClient, services: Services, sink: SmtpSink,
                       email: str) -> str | None:
    """Request a reset and deliver the outbox; the token from the new email, if one came."""
    before = len(sink.messages)
    status, body = await post(client, "/api/auth/password-reset", {"email": email})
    assert status == 202, body
    await services.engine.notifier.send_due(services.clock())
    mails = sink.messages[before:]
    if not mails:
        return None
    [mail] = mails
    match = TOKEN.search(mail.get_body(("plain",)).get_content())
    assert match, mail
    return match.group(1)


async def test_reset_sets_a_new_password_and_ends_every_session(
    client: TestClient, services: Services, smtp_sink: SmtpSink, db,  # noqa: F811
) -> None:
    user = await signup(client, "ada@example.com", "old password 1")
    token = await ask_for_link(client, services, smtp_sink, "ADA@example.com")
    assert token is not None
    [mail] = smtp_sink.messages
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Reset your Open Scouts password"
    # Only a hash of the token is stored.
    async with db.read() as conn:
        stored = (await conn.execute(sa.select(password_reset_tokens.c.token_hash))).scalars()
        assert token not in list(stored)

    status, _ = await post(client, "/api/auth/password-reset/confirm",
                           {"token": token, "password": "new password 2"})
    assert status == 204
    # The session from before the reset is over; the old password no longer works.
    status, body = await post(client, "/api/auth/refresh",
                              {"refresh_token": user.session["refresh_token"]})
    assert status == 401
    status, _ = await post(client, "/api/auth/login",
                           {"email": "ada@example.com", "password": "old password 1"})
    assert status == 401
    status, _ = await post(client, "/api/auth/login",
                           {"email": "ada@example.com", "password": "new password 2"})
    assert status == 200
    # The link works once.
    status, body = await post(client, "/api/auth/password-reset/confirm",
                              {"token": token, "password": "third password 3"})
    assert status == 422 and body["error"]["code"] == "invalid_token"


async def test_link_expires_after_an_hour(
    client: TestClient, services: Services, smtp_sink: SmtpSink, clock: FakeClock,  # noqa: F811
) -> None:
    await signup(client, "ada@example.com", "old password 1")
    stale = await ask_for_link(client, services, smtp_sink, "ada@example.com")
    clock.advance(minutes=61)
    status, body = await post(client, "/api/auth/password-reset/confirm",
                              {"token": stale, "password": "new password 2"})
    assert status == 422 and body["error"]["code"] == "invalid_token"

    fresh = await ask_for_link(client, services, smtp_sink, "ada@example.com")
    clock.advance(minutes=59)
    status, _ = await post(client, "/api/auth/password-reset/confirm",
                           {"token": fresh, "password": "new password 2"})
    assert status == 204


async def test_unknown_email_gets_the_same_answer_and_no_mail(
    client: TestClient, services: Services, smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    await signup(client, "ada@example.com")
    known = await post(client, "/api/auth/password-reset", {"email": "ada@example.com"})
    unknown = await post(client, "/api/auth/password-reset", {"email": "nobody@example.com"})
    assert known == unknown
    assert known[0] == 202
    await services.engine.notifier.send_due(services.clock())
    assert [m["To"] for m in smtp_sink.messages] == ["ada@example.com"]


async def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    status, body = await post(client, "/api/auth/password-reset", {"email": "not an email"})
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, body = await post(client, "/api/auth/password-reset", {"email": "a@b.co", "x": 1})
    assert status == 422
    status, body = await post(client, "/api/auth/password-reset/confirm",
                              {"token": "made-up", "password": "long enough 1"})
    assert status == 422 and body["error"]["code"] == "invalid_token"
    status, body = await post(client, "/api/auth/password-reset/confirm",
                              {"token": "made-up", "password": "short"})
    assert status == 422 and body["error"]["code"] == "validation_error"
    status, body = await post(client, "/api/auth/password-reset/confirm",
                              {"token": ["x"], "password": "long enough 1"})
    assert status == 422
    async with client.post("/api/auth/password-reset", data=b"{nope") as resp:
        assert resp.status == 400


async def test_requests_are_rate_limited(
    client: TestClient, services: Services, smtp_sink: SmtpSink, clock: FakeClock,  # noqa: F811
) -> None:
    await signup(client, "ada@example.com")
    # A flood aimed at one inbox: the answer stays 202, but only three emails go out.
    for _ in range(5):
        assert (await post(client, "/api/auth/password-reset",
                           {"email": "ada@example.com"}))[0] == 202
    await services.engine.notifier.send_due(clock.now)
    assert len(smtp_sink.messages) == 3
    # One client asking over and over is told to wait.
    for i in range(5):
        await post(client, "/api/auth/password-reset", {"email": f"x{i}@example.com"})
    async with client.post("/api/auth/password-reset", json={"email": "y@example.com"}) as r:
        assert r.status == 429
        assert int(r.headers["Retry-After"]) > 0
    clock.advance(hours=1, seconds=1)
    assert (await post(client, "/api/auth/password-reset",
                       {"email": "y@example.com"}))[0] == 202


async def test_imported_account_without_password_can_set_one(
    client: TestClient, services: Services, smtp_sink: SmtpSink, db, clock,  # noqa: F811
) -> None:
    from engine.storage.users import create_user

    async with db.transaction() as conn:
        user = await create_user(conn, "ben@example.org", None, clock.now)  # type: ignore[arg-type]
    assert user is not None
    status, _ = await post(client, "/api/auth/login",
                           {"email": "ben@example.org", "password": "anything at all"})
    assert status == 401
    token = await ask_for_link(client, services, smtp_sink, "ben@example.org")
    status, _ = await post(client, "/api/auth/password-reset/confirm",
                           {"token": token, "password": "brand new pass"})
    assert status == 204
    status, _ = await post(client, "/api/auth/login",
                           {"email": "ben@example.org", "password": "brand new pass"})
    assert status == 200


async def test_migration_0006_keeps_existing_accounts_and_their_scouts(
    fresh_database_url: str, clock: FakeClock,
) -> None:
    import asyncio
    import importlib
    import uuid

    from engine import migrate
    from engine.db import Database
    from engine.types import UTCDateTime

    # SQLite rebuilds the users table to relax password_hash; nothing may cascade away.
    before = importlib.import_module("migrations.versions.0006_password_reset").down_revision
    await asyncio.to_thread(migrate.upgrade, fresh_database_url, 8, before)
    user_id, scout_id = uuid.uuid4(), uuid.uuid4()
    db = Database(fresh_database_url)
    try:
        async with db.transaction() as conn:
            # Only the columns of that revision: the tables in code describe the newest one.
            users = sa.table("users", sa.column("id", sa.Uuid), sa.column("email"),
                             sa.column("password_hash"), sa.column("created_at", UTCDateTime))
            scouts = sa.table("scouts", sa.column("id", sa.Uuid), sa.column("user_id", sa.Uuid),
                              sa.column("title"), sa.column("search_queries"),
                              sa.column("created_at", UTCDateTime),
                              sa.column("updated_at", UTCDateTime))
            await conn.execute(users.insert().values(
                id=user_id, email="ada@example.com", password_hash="$2b$04$hash",
                created_at=clock.now))
            await conn.execute(scouts.insert().values(
                id=scout_id, user_id=user_id, title="kept", search_queries="[]",
                created_at=clock.now, updated_at=clock.now))
    finally:
        await db.close()
    await asyncio.to_thread(migrate.upgrade, fresh_database_url, 8, "head")
    db = Database(fresh_database_url)
    try:
        async with db.read() as conn:
            hashes = (await conn.execute(sa.text("SELECT password_hash FROM users"))).scalars()
            assert list(hashes) == ["$2b$04$hash"]
            titles = (await conn.execute(sa.text("SELECT title FROM scouts"))).scalars()
            assert list(titles) == ["kept"]
    finally:
        await db.close()
