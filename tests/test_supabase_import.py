"""`scouts import-supabase` from a database with the original's schema, into both backends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import sqlalchemy as sa

from engine import migrate
from engine.clients.ollama import OllamaClient
from engine.db import Database
from engine.reembed import reembed
from engine.supabase_import import import_supabase
from engine.tables import metadata, scout_executions
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fixtures import smtp_sink  # noqa: F401
from tests.supabase_source import (
    OLD_PASSWORD,
    Seeded,
    create_database,
    drop_database,
    seed,
)
from tests.support import User, signup

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def source(postgres_url: str) -> AsyncIterator[tuple[str, Seeded]]:
    name = f"supabase_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(postgres_url, name)
    try:
        yield dsn, await seed(dsn)
    finally:
        await drop_database(postgres_url, name)


async def row_counts(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        return {t.name: int((await conn.execute(sa.select(sa.func.count()).select_from(t)))
                            .scalar_one()) for t in metadata.sorted_tables}


async def login(client, email: str, password: str) -> tuple[int, dict]:
    async with client.post("/api/auth/login", json={"email": email, "password": password}) as r:
        return r.status, await r.json()


async def test_import_keeps_passwords_scouts_chats_and_history(source, db, client, clock) -> None:
    dsn, seeded = source
    report = await import_supabase(dsn, db, clock.now)

    by_name = {t.name: t for t in report.tables}
    assert {name: t.added for name, t in by_name.items()} == {
        "users": 2, "user_preferences": 2, "scouts": 3, "scout_messages": seeded.messages,
        "scout_executions": 10, "scout_execution_steps": seeded.steps}
    assert by_name["users"].skipped == {"deleted in Supabase": 1}
    assert [(u.email, u.provider) for u in report.passwordless] == [("ben@example.org", "google")]

    # The old password works (GoTrue's $2a$ hash), with the email typed in any case.
    status, session = await login(client, "ada@example.com", OLD_PASSWORD)
    assert status == 200, session
    ada = User(client, session)
    assert ada.id == str(seeded.ada)
    # Ben has no password, so no password logs him in; the deleted account is not here.
    assert (await login(client, "ben@example.org", ""))[0] in (401, 422)
    assert (await login(client, "gone@example.net", "whatever1"))[0] == 401

    status, body = await ada.request("GET", "/api/scouts")
    assert status == 200
    assert {s["title"] for s in body["scouts"]} == {"Denver Indian food", "AI coding tools"}
    denver = next(s for s in body["scouts"] if s["title"] == "Denver Indian food")
    assert denver["id"] == str(seeded.scouts["denver"])
    assert denver["location"]["city"] == "Denver" and denver["frequency"] == "daily"
    assert denver["is_active"] is True

    status, body = await ada.request("GET", f"/api/scouts/{denver['id']}/messages")
    assert [m["content"] for m in body["messages"]] == [
        "I want to follow denver indian food", "Where should I look, and how often?",
        "Daily is fine"]

    status, body = await ada.request("GET", f"/api/scouts/{denver['id']}/executions")
    runs = body["executions"]
    assert len(runs) == 5
    assert sorted(r["state"] for r in runs) == ["done"] * 4 + ["failed"]
    report_text = next(r for r in runs if r["state"] == "done")["results_summary"]["response"]
    assert report_text.startswith("## Finding")
    status, detail = await ada.request("GET", f"/api/executions/{runs[0]['id']}")
    assert [s["step_type"] for s in detail["execution"]["steps"]] == ["search", "scrape",
                                                                       "summarize"]

    # Ben's scout, and his run that was in flight when the old app stopped.
    async with db.read() as conn:
        row = (await conn.execute(sa.select(scout_executions)
                                  .where(scout_executions.c.id == seeded.running))).one()
    assert row.state == "failed" and row.error_message == "interrupted by the migration"
    assert row.completed_at is not None and row.summary_embedding is None

    status, prefs = await ada.request("GET", "/api/preferences")
    assert prefs["preferences"]["location"]["city"] == "Denver"

    # Ada cannot see Ben's imported scout.
    status, _ = await ada.request("GET", f"/api/scouts/{seeded.scouts['berlin']}")
    assert status == 404


async def test_second_import_and_dry_run_change_nothing(source, db, clock) -> None:
    dsn, seeded = source
    dry = await import_supabase(dsn, db, clock.now, dry_run=True)
    assert dry.dry_run and sum(t.added for t in dry.tables) == 10 + 3 + 2 + 2 + seeded.messages \
        + seeded.steps
    assert [u.email for u in dry.passwordless] == ["ben@example.org"]
    assert set((await row_counts(db)).values()) == {0}

    await import_supabase(dsn, db, clock.now, batch_size=4)
    before = await row_counts(db)
    again = await import_supabase(dsn, db, clock.now)
    assert again.added == 0
    assert {t.name: t.existing for t in again.tables}["scout_executions"] == 10
    assert await row_counts(db) == before


async def test_missing_tables_and_columns_are_reported_not_fatal(source, db, clock) -> None:
    dsn, _ = source
    conn = await asyncpg.connect(dsn)
    try:
        # An older installation: no preferences table, no consecutive_failures column.
        await conn.execute("DROP TABLE user_preferences; "
                           "ALTER TABLE scouts DROP COLUMN consecutive_failures")
    finally:
        await conn.close()
    report = await import_supabase(dsn, db, clock.now)
    by_name = {t.name: t for t in report.tables}
    assert by_name["user_preferences"].problem == "public.user_preferences not found in the source"
    assert by_name["scouts"].missing_columns == ["consecutive_failures"]
    assert by_name["scouts"].added == 3 and by_name["scout_executions"].added == 10


async def test_import_never_writes_to_the_source(source, db, clock) -> None:
    dsn, _ = source
    conn = await asyncpg.connect(dsn)
    try:
        before = await conn.fetchval("SELECT count(*) FROM scout_executions WHERE status = 'running'")
        await import_supabase(dsn, db, clock.now)
        after = await conn.fetchval("SELECT count(*) FROM scout_executions WHERE status = 'running'")
    finally:
        await conn.close()
    assert before == after == 1


async def test_reembed_after_import_fills_every_summary(source, db, clock) -> None:
    dsn, _ = source
    await import_supabase(dsn, db, clock.now)
    async with FakeOllama(embed_dim=8) as ollama, aiohttp.ClientSession() as session:
        client = OllamaClient(session, ollama.url, "qwen2.5:7b", "nomic-embed-text")
        seen: list[tuple[int, int]] = []
        assert await reembed(db, client, 8, lambda d, t: seen.append((d, t)), batch_size=3) == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(scout_executions.c.summary_text,
                                             scout_executions.c.summary_embedding))).all()
    assert all((r.summary_embedding is not None) == (r.summary_text is not None) for r in rows)


def scouts_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_command_imports_invites_and_is_idempotent(source, smtp_sink, tmp_path) -> None:
    dsn, _ = source
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await __import__("asyncio").to_thread(migrate.upgrade, url, 8)
    env = {**os.environ, "DATABASE_URL": url, "EMBEDDING_DIM": "8", "APP_ENV": "test",
           "SMTP_URL": smtp_sink.url, "PUBLIC_URL": "https://scouts.example",
           "LOG_LEVEL": "WARNING"}

    dry = scouts_cli("import-supabase", dsn, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was written" in dry.stdout

    first = scouts_cli("import-supabase", dsn, "--invite-passwordless", env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"scout_executions\s+10\s+10\s+0\s+0", first.stdout), first.stdout
    assert "ben@example.org (google)" in first.stdout
    assert "invitations: 1 queued" in first.stdout
    [mail] = smtp_sink.messages
    assert mail["To"] == "ben@example.org"
    assert mail["Subject"] == "Set a password for Open Scouts"
    assert re.search(r"https://scouts\.example/reset-password#token=[\w-]{40,}",
                     mail.get_body(("plain",)).get_content())

    second = scouts_cli("import-supabase", dsn, "--invite-passwordless", env=env)
    assert second.returncode == 0, second.stderr
    assert "nothing new to import: every row is already here" in second.stdout
    assert "invitations: 0 queued, 1 already invited" in second.stdout
    assert len(smtp_sink.messages) == 1


def test_command_reports_an_unreachable_source(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
           "APP_ENV": "test", "LOG_LEVEL": "WARNING"}
    done = scouts_cli("import-supabase", "postgresql://u:hunter2@127.0.0.1:9/db", env=env)
    assert done.returncode == 1
    assert "error: import stopped" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


async def test_an_email_taken_here_skips_the_old_account_and_says_why(
    source, db, client, clock,
) -> None:
    dsn, seeded = source
    await signup(client, "ada@example.com", "a brand new one")
    report = await import_supabase(dsn, db, clock.now)
    by_name = {t.name: t for t in report.tables}
    assert by_name["users"].added == 1
    assert by_name["users"].skipped["email already belongs to another account here"] == 1
    # Her scouts cannot be attached to someone else's account, so they wait for a decision.
    assert by_name["scouts"].added == 1
    assert by_name["scouts"].skipped == {"its users row was not imported": 2}
    assert by_name["scout_executions"].added == 3
    status, _ = await login(client, "ada@example.com", OLD_PASSWORD)
    assert status == 401


def test_imported_emails_are_stored_the_way_login_looks_them_up() -> None:
    """Supabase keeps a Unicode domain as typed; login here looks up the IDNA form."""
    from datetime import UTC, datetime

    from engine.supabase_import.mapping import Context, map_user

    ctx = Context(now=datetime(2026, 1, 1, tzinfo=UTC))
    row = {"id": uuid.uuid4(), "email": " Zoë@Bücher.Example ", "encrypted_password": "",
           "deleted_at": None, "created_at": None}
    mapped = map_user(row, ctx)
    assert isinstance(mapped, dict)
    assert mapped["email"] == "zoë@xn--bcher-kva.example"
    assert map_user({**row, "email": "no-at-sign"}, ctx) == (
        "email address not valid here (or too long)")
    assert map_user({**row, "email": "  "}, ctx) == (
        "no email address (anonymous or phone sign-in)")
