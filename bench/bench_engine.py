"""Engine throughput: how fast workers drive runs through the state machine.

    .venv/bin/python -m bench.bench_engine [--scouts 40] [--concurrency 4]

N due scouts, fake Ollama/SearXNG/Crawl4AI answering at once (so the figures are the
engine's own cost: claims, checkpoints, history rows, commits), each run going
planning -> searching -> planning -> reading -> planning -> summarizing -> done.
Measured with one worker and with two workers side by side, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import sqlalchemy as sa

from bench.common import EMBEDDING_DIM, database
from engine.clients.retry import RetryPolicy
from engine.config import Settings
from engine.db import Database
from engine.engine import ScoutEngine
from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from engine.tables import scout_executions
from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama, ScriptedReply
from tests.fakes.fake_searxng import FakeSearxng, result
from tests.support import COMPLETE_SCOUT, FakeClock

ANSWER = json.dumps({"taskCompleted": True, "taskStatus": "completed",
                     "response": "## Found\n\n- something"})


def responder(page: str):
    def answer(body: dict[str, Any]) -> ScriptedReply:
        if not body.get("tools"):
            return ScriptedReply(content="Something new was found.")
        tools_done = [m for m in body["messages"] if m.get("role") == "tool"]
        if not tools_done:
            return ScriptedReply(tool_calls=[("searchWeb", {"query": "news"})])
        if len(tools_done) == 1:
            return ScriptedReply(tool_calls=[("scrapeWebsite", {"url": page})])
        return ScriptedReply(content=ANSWER)
    return answer


async def run_case(kind: str, scouts: int, workers: int, concurrency: int) -> dict[str, float]:
    async with database(kind) as url, FakeOllama(embed_dim=EMBEDDING_DIM) as ollama, \
            FakeSearxng() as searxng, FakeCrawl4AI(token="t") as crawl4ai:
        page = crawl4ai.add_demo_page("p", "# Page\ntext", "Page")
        searxng.set_default(result(page, "Page"))
        ollama.responder = responder(page)
        settings = Settings.from_env({
            "DATABASE_URL": url, "APP_ENV": "test", "JWT_SECRET": "b" * 40,
            "EMBEDDING_DIM": str(EMBEDDING_DIM), "OLLAMA_URL": ollama.url,
            "SEARXNG_URL": searxng.url, "CRAWL4AI_URL": crawl4ai.url, "CRAWL4AI_TOKEN": "t",
            "SCRAPE_ALLOW_HOSTS": "127.0.0.1", "WORKER_CONCURRENCY": str(concurrency),
        })
        db = Database(url)
        clock = FakeClock()
        async with db.transaction() as conn:
            for i in range(scouts):
                user = await create_user(conn, f"u{i}@example.com", "x", clock.now)
                await create_scout(conn, user["id"], {**COMPLETE_SCOUT, "is_active": True},
                                   clock.now)
        fast = RetryPolicy(attempts=1)
        engines = [ScoutEngine(settings, db, clock=clock, worker_id=f"w{i}", retry=fast)
                   for i in range(workers)]
        start = time.perf_counter()
        ticks = 0
        try:
            while True:
                reports = await asyncio.gather(*(e.tick() for e in engines))
                ticks += 1
                async with db.read() as conn:
                    left = (await conn.execute(sa.select(sa.func.count()).where(
                        scout_executions.c.state.not_in(["done", "failed"])))).scalar_one()
                if not left and not any(r.dispatched for r in reports):
                    break
        finally:
            elapsed = time.perf_counter() - start
            for e in engines:
                await e.close()
        async with db.read() as conn:
            done = (await conn.execute(sa.select(sa.func.count()).where(
                scout_executions.c.state == "done"))).scalar_one()
            transitions = (await conn.execute(sa.select(
                sa.func.sum(scout_executions.c.transitions)))).scalar_one()
        await db.close()
        assert done == scouts, f"only {done}/{scouts} runs finished"
        return {"runs_per_s": done / elapsed, "transitions_per_s": transitions / elapsed,
                "ticks": ticks, "seconds": elapsed}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scouts", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    figures: dict[tuple[str, int], dict[str, float]] = {}
    for kind in ("sqlite", "postgresql"):
        for workers in (1, 2):
            case = await run_case(kind, args.scouts, workers, args.concurrency)
            figures[(kind, workers)] = case
            print(f"{kind:<10} workers={workers} " + "  ".join(
                f"{k}={v:7.1f}" for k, v in case.items()))
    for kind in ("sqlite", "postgresql"):
        ratio = figures[(kind, 2)]["transitions_per_s"] / figures[(kind, 1)]["transitions_per_s"]
        print(f"{kind}: two workers / one worker = {ratio:4.2f}x transitions per second")
    one_worker = {kind: figures[(kind, 1)]["transitions_per_s"]
                  for kind in ("sqlite", "postgresql")}
    ratio = one_worker["postgresql"] / one_worker["sqlite"]
    print(f"one worker: postgresql / sqlite = {ratio:4.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
