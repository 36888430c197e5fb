"""A scout engine wired to the fake services, with a frozen clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from engine.clients.retry import RetryPolicy
from engine.config import Settings
from engine.db import Database
from engine.engine import ScoutEngine
from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from engine.tables import scout_execution_steps, scout_executions, scouts
from tests.conftest import EMBEDDING_DIM
from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_searxng import FakeSearxng, result
from tests.fakes.fixtures import CRAWL4AI_TOKEN
from tests.fakes.smtp_sink import SmtpSink
from tests.support import COMPLETE_SCOUT, FakeClock

FAST_RETRY = RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.02, jitter=0,
                         max_retry_after=0.02)


def final_answer(response: str = "## New ramen bar opens\n\nDetails.", completed: bool = True,
                 status: str = "completed") -> str:
    return json.dumps({"taskCompleted": completed, "taskStatus": status, "response": response})


def engine_settings(database_url: str, ollama: FakeOllama, searxng: FakeSearxng,
                    crawl4ai: FakeCrawl4AI, smtp_url: str = "") -> Settings:
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "OLLAMA_URL": ollama.url,
        "SEARXNG_URL": searxng.url,
        "CRAWL4AI_URL": crawl4ai.url,
        "CRAWL4AI_TOKEN": CRAWL4AI_TOKEN,
        "SCRAPE_ALLOW_HOSTS": "127.0.0.1",
        "SMTP_URL": smtp_url,
        "MAIL_FROM": "Scouts <scouts@example.com>",
        "PUBLIC_URL": "http://scouts.test",
        "RUN_DEADLINE_SECONDS": "600",
    })


@dataclass
class World:
    db: Database
    clock: FakeClock
    engine: ScoutEngine
    ollama: FakeOllama
    searxng: FakeSearxng
    crawl4ai: FakeCrawl4AI
    smtp: SmtpSink
    settings: Settings

    def make_engine(self, worker_id: str) -> ScoutEngine:
        return ScoutEngine(self.settings, self.db, clock=self.clock, worker_id=worker_id,
                           retry=FAST_RETRY)

    async def add_scout(self, email: str = "owner@example.com", **fields: Any) -> dict[str, Any]:
        async with self.db.transaction() as conn:
            user = await create_user(conn, email, "x", self.clock.now)
            assert user is not None
            return await create_scout(conn, user["id"], {**COMPLETE_SCOUT, "is_active": True,
                                                         **fields}, self.clock.now)

    async def find_run(self, scout_id: uuid.UUID) -> dict[str, Any] | None:
        """The scout's newest run, or None before one was dispatched."""
        async with self.db.read() as conn:
            row = (await conn.execute(
                sa.select(scout_executions).where(scout_executions.c.scout_id == scout_id)
                .order_by(scout_executions.c.created_at.desc()))).first()
        return None if row is None else dict(row._mapping)

    async def run_of(self, scout_id: uuid.UUID) -> dict[str, Any]:
        run = await self.find_run(scout_id)
        assert run is not None, "no run"
        return run

    async def steps_of(self, execution_id: uuid.UUID) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                sa.select(scout_execution_steps)
                .where(scout_execution_steps.c.execution_id == execution_id)
                .order_by(scout_execution_steps.c.step_number))
            return [dict(r._mapping) for r in rows]

    async def scout(self, scout_id: uuid.UUID) -> dict[str, Any]:
        async with self.db.transaction() as conn:
            row = (await conn.execute(sa.select(scouts).where(scouts.c.id == scout_id))).one()
        return dict(row._mapping)

    def script_happy_path(self, page_url: str | None = None) -> str:
        """Search, read one page, answer; returns the page URL."""
        url = page_url or self.crawl4ai.add_demo_page(
            "ramen", "# Ramen Bar\nOpening on March 3 at 1200 Larimer St.", "Ramen Bar opens")
        self.searxng.add("new Indian restaurant Denver",
                         result(url, "Ramen Bar opens", "Opening soon"),
                         result("https://www.facebook.com/somebar", "Facebook post"))
        self.ollama.reply_tool_call("searchWeb", {"query": "new Indian restaurant Denver"})
        self.ollama.reply_tool_call("scrapeWebsite", {"url": url})
        self.ollama.reply_text(final_answer(f"## Ramen Bar opens\n\n- March 3, [source]({url})"))
        self.ollama.reply_text("Ramen Bar opens on March 3 at 1200 Larimer St.")
        return url


@asynccontextmanager
async def world_for(db: Database, database_url: str, clock: FakeClock) -> AsyncIterator[World]:
    sink = SmtpSink()
    sink.start()
    try:
        async with FakeOllama(embed_dim=EMBEDDING_DIM) as ollama, FakeSearxng() as searxng, \
                FakeCrawl4AI(token=CRAWL4AI_TOKEN) as crawl4ai:
            settings = engine_settings(database_url, ollama, searxng, crawl4ai, sink.url)
            engine = ScoutEngine(settings, db, clock=clock, worker_id="worker-1",
                                 retry=FAST_RETRY)
            try:
                yield World(db, clock, engine, ollama, searxng, crawl4ai, sink, settings)
            finally:
                await engine.close()
    finally:
        sink.stop()
