"""HTTP API benchmark on SQLite and PostgreSQL.

    .venv/bin/python -m bench.bench_api [--scouts 200] [--requests 400] [--concurrency 16]

Seeds one user with N scouts, each with several runs, then measures over real HTTP on
127.0.0.1: the scout list (one query with the latest run per scout, no N+1), one scout's
run history page, and health checks answered while bcrypt logins run (hashing happens
in a thread, so the event loop must stay responsive). Prints figures and PG/SQLite ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import timedelta

import aiohttp
from aiohttp import web

from api.app import build_services, create_app
from bench.common import EMBEDDING_DIM, database, row, timed
from engine.clock import utcnow
from engine.config import Settings
from engine.db import Database
from engine.storage.runs import insert_execution
from engine.storage.scouts import create_scout
from engine.tables import scout_executions

RUNS_PER_SCOUT = 5


async def seed(db: Database, user_id: uuid.UUID, scouts: int) -> uuid.UUID:
    now = utcnow()
    first = None
    async with db.transaction() as conn:
        for i in range(scouts):
            scout = await create_scout(conn, user_id, {"title": f"Scout {i}",
                                                        "search_queries": ["q"]}, now)
            first = first or scout["id"]
            for j in range(RUNS_PER_SCOUT):
                run = await insert_execution(conn, scout["id"], "schedule",
                                             now + timedelta(seconds=j), timedelta(minutes=10))
                assert run is not None
                await conn.execute(scout_executions.update()
                                   .where(scout_executions.c.id == run["id"])
                                   .values(state="done", completed_at=now,
                                           results_summary={"taskCompleted": False,
                                                            "taskStatus": "not_found",
                                                            "response": "nothing"}))
    assert first is not None
    return first


async def bench(kind: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    async with database(kind) as url:
        settings = Settings.from_env({"DATABASE_URL": url, "APP_ENV": "test",
                                      "JWT_SECRET": "bench-secret-" + "x" * 32,
                                      "EMBEDDING_DIM": str(EMBEDDING_DIM)})
        db = Database(url)
        services = build_services(settings, db=db)
        runner = web.AppRunner(create_app(services, own_database=False), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        results: dict[str, dict[str, float]] = {}
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/api/auth/signup",
                                     json={"email": "bench@example.com",
                                           "password": "bench password"}) as resp:
                    session = await resp.json()
                headers = {"Authorization": f"Bearer {session['access_token']}"}
                scout_id = await seed(db, uuid.UUID(session["user"]["id"]), args.scouts)

                async def get(path: str) -> None:
                    async with http.get(base + path, headers=headers) as resp:
                        assert resp.status == 200, await resp.text()
                        await resp.read()

                results["GET /api/scouts"] = await timed(
                    lambda: get("/api/scouts"), args.requests // 4, args.concurrency)
                results["GET /api/scouts/{id}/executions"] = await timed(
                    lambda: get(f"/api/scouts/{scout_id}/executions?limit=20"),
                    args.requests, args.concurrency)
                results["GET /api/health (idle)"] = await timed(
                    lambda: get("/api/health"), args.requests, args.concurrency)

                async def login() -> None:
                    async with http.post(f"{base}/api/auth/login",
                                         json={"email": "bench@example.com",
                                               "password": "bench password"}) as resp:
                        await resp.read()

                logins = asyncio.gather(*(login() for _ in range(8)))
                results["GET /api/health (during 8 logins)"] = await timed(
                    lambda: get("/api/health"), args.requests // 4, 4)
                await logins
        finally:
            await runner.cleanup()
            await services.engine.close()
            await db.close()
        return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scouts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    all_results = {}
    for kind in ("sqlite", "postgresql"):
        all_results[kind] = await bench(kind, args)
        print(f"-- {kind} ({args.scouts} scouts x {RUNS_PER_SCOUT} runs)")
        for name, figures in all_results[kind].items():
            print(row(name, figures))
    print("-- ratios postgresql / sqlite (throughput)")
    for name in all_results["sqlite"]:
        ratio = all_results["postgresql"][name]["rps"] / all_results["sqlite"][name]["rps"]
        print(f"{name:<44} {ratio:5.2f}x")
    idle = all_results["postgresql"]["GET /api/health (idle)"]["p50_ms"]
    busy = all_results["postgresql"]["GET /api/health (during 8 logins)"]["p50_ms"]
    print(f"health p50 during logins / idle (postgresql): {busy / idle:5.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
