"""The operator's command line, run as a user would (real subprocess, SQLite)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from engine import migrate
from engine.clock import utcnow
from engine.db import Database
from engine.runs.machine import diagram_document
from engine.storage.runs import insert_execution
from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from tests.support import COMPLETE_SCOUT

ROOT = Path(__file__).resolve().parent.parent


def scouts(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url, "EMBEDDING_DIM": "8", "APP_ENV": "test",
           "OLLAMA_URL": "http://127.0.0.1:9", "LOG_LEVEL": "WARNING"}
    env.pop("JWT_SECRET", None)
    return env


async def seed_run(url: str) -> uuid.UUID:
    db = Database(url)
    try:
        async with db.transaction() as conn:
            now = utcnow()
            user = await create_user(conn, "cli@example.com", "x", now)
            scout = await create_scout(conn, user["id"], COMPLETE_SCOUT, now)
            run = await insert_execution(conn, scout["id"], "manual", now, timedelta(minutes=10))
        return run["id"]
    finally:
        await db.close()


async def test_executions_list_show_cancel_resume(cli_env: dict[str, str]) -> None:
    result = await asyncio.to_thread(scouts, "migrate", env=cli_env)
    assert result.returncode == 0, result.stderr
    run_id = await seed_run(cli_env["DATABASE_URL"])

    listing = await asyncio.to_thread(scouts, "executions", "list", env=cli_env)
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.strip().splitlines()
    assert header.split()[:4] == ["ID", "SCOUT", "STATE", "TRIGGER"]
    assert str(run_id) in row and "planning" in row and "manual" in row

    shown = await asyncio.to_thread(scouts, "executions", "show", str(run_id), env=cli_env)
    assert "status  running (state planning)" in shown.stdout
    assert "actions  cancel" in shown.stdout and "no steps yet" in shown.stdout

    cancelled = await asyncio.to_thread(scouts, "executions", "cancel", str(run_id), env=cli_env)
    assert cancelled.returncode == 0 and f"cancelled {run_id}" in cancelled.stdout
    again = await asyncio.to_thread(scouts, "executions", "cancel", str(run_id), env=cli_env)
    assert again.returncode == 1 and "already ended" in again.stderr

    failed = await asyncio.to_thread(scouts, "executions", "list", "--state", "failed", env=cli_env)
    assert "cancelled" in failed.stdout

    resumed = await asyncio.to_thread(scouts, "executions", "resume", str(run_id), env=cli_env)
    assert resumed.returncode == 0 and "now planning" in resumed.stdout

    missing = await asyncio.to_thread(scouts, "executions", "show", str(uuid.uuid4()), env=cli_env)
    assert missing.returncode == 1 and "execution not found" in missing.stderr
    bad = await asyncio.to_thread(scouts, "executions", "show", "nope", env=cli_env)
    assert bad.returncode != 0 and "not an execution id" in bad.stderr


def test_bad_configuration_is_a_clear_message(cli_env: dict[str, str]) -> None:
    result = scouts("migrate", env={**cli_env, "APP_ENV": "production"})
    assert result.returncode == 2
    assert "JWT_SECRET is required" in result.stderr and "Traceback" not in result.stderr


def test_state_diagram_is_current() -> None:
    committed = (ROOT / "diagrams" / "execution-states.md").read_text()
    assert committed == diagram_document(), "run `scouts diagram` and commit the result"


def test_every_machine_state_appears_in_the_diagram() -> None:
    from engine.runs.machine import STATES

    for state in STATES:
        assert state in diagram_document()


async def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    await asyncio.to_thread(migrate.upgrade, url, 8)
    await asyncio.to_thread(migrate.upgrade, url, 8)
