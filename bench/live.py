"""Live updates end to end: `scouts serve` and a separate `scouts worker`, a client on
GET /api/events.

    .venv/bin/python -m bench.live [--backend postgresql|sqlite|both] [--idle-streams 500]

Real processes on 127.0.0.1 (the fakes of Ollama, SearXNG and Crawl4AI from tests/fakes
run the demo agent). For each backend it measures:

* latency from commit to event: the worker writes the change's live_events row (stamped
  with the wall clock) just before it commits; the client notes when the event arrives.
  p50/p95/max over every run transition of three runs (about 20 transitions);
* on PostgreSQL, the API process's CPU while N idle streams stay open (heartbeats only),
  as a share of one core, read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.common import DENVER_SCOUT, EMBEDDING_DIM, ROOT, database, free_port
from engine.db import Database
from engine.tables import live_events

RUNS = 3
IDLE_SECONDS = 30.0
QUIET_SECONDS = 3.0




def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=handle,
                            stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@asynccontextmanager
async def product(url: str, tmp: Path) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """Fakes, API and worker as separate processes; yields the API's base URL and process."""
    port_file = tmp / "fakes.json"
    fakes = spawn(["-m", "tests.fakes.serve", "--port-file", str(port_file), "--embed-dim",
                   str(EMBEDDING_DIM), "--chunk-delay", "0"], dict(os.environ),
                  tmp / "fakes.log")
    processes = [fakes]
    try:
        for _ in range(200):
            if port_file.exists():
                break
            await asyncio.sleep(0.1)
        fake_urls = json.loads(port_file.read_text())
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url, "APP_ENV": "development", "API_PORT": str(port),
            "JWT_SECRET": "bench-secret-that-is-long-enough-0123456789",
            "EMBEDDING_DIM": str(EMBEDDING_DIM), "OLLAMA_URL": fake_urls["ollama"],
            "SEARXNG_URL": fake_urls["searxng"], "CRAWL4AI_URL": fake_urls["crawl4ai"],
            "CRAWL4AI_TOKEN": fake_urls["crawl4ai_token"], "SCRAPE_ALLOW_HOSTS": "127.0.0.1",
            "TICK_SECONDS": "1", "LOG_LEVEL": "WARNING",
            "LIVE_MAX_STREAMS": "2000", "LIVE_MAX_STREAMS_PER_USER": "2000",
        }
        api = spawn(["-m", "api.cli", "serve", "--no-migrate"],
                    {**env, "SCHEDULER_ENABLED": "false"}, tmp / "api.log")
        processes.append(api)
        worker = spawn(["-m", "api.cli", "worker"], {**env, "SCHEDULER_ENABLED": "true"},
                       tmp / "worker.log")
        processes.append(worker)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                with suppress(aiohttp.ClientError):
                    async with session.get(f"{base}/api/health") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"the API did not start; see {tmp / 'api.log'}")
        yield base, api
    finally:
        for process in reversed(processes):
            stop(process)


async def read_events(resp: aiohttp.ClientResponse, until_done: int,
                      arrivals: dict[int, tuple[float, dict[str, Any]]]) -> None:
    """Note the arrival time of every execution event until ``until_done`` runs finished
    and the stream has gone quiet (an event's data is the run as it is when it is sent, so
    earlier transitions' events can still follow one that already says "done")."""
    done: set[str] = set()
    event_id = kind = None
    while True:
        try:
            raw = await asyncio.wait_for(resp.content.readline(),
                                         QUIET_SECONDS if len(done) >= until_done else None)
        except TimeoutError:
            return
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind == "execution" and event_id is not None:
            data = json.loads(line[6:])
            arrivals[event_id] = (time.time(), data)
            if data["state"] in ("done", "failed"):
                done.add(data["id"])
        elif line == "":
            event_id = kind = None


async def measure_latency(base: str, url: str) -> dict[str, float]:
    async with aiohttp.ClientSession(base_url=base) as session:
        async with session.post("/api/auth/signup", json={
                "email": f"bench-{time.time_ns()}@example.com", "password": "bench password"}) as r:
            token = (await r.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for _ in range(RUNS):
            async with session.post("/api/scouts", json=DENVER_SCOUT, headers=headers) as r:
                ids.append((await r.json())["scout"]["id"])
        arrivals: dict[int, tuple[float, dict[str, Any]]] = {}
        async with session.get("/api/events", headers=headers,
                               timeout=aiohttp.ClientTimeout(total=None)) as stream:
            assert stream.status == 200
            reader = asyncio.create_task(read_events(stream, RUNS, arrivals))
            for scout_id in ids:  # activating makes each due: the worker dispatches it
                async with session.patch(f"/api/scouts/{scout_id}", json={"is_active": True},
                                         headers=headers) as r:
                    assert r.status == 200, await r.text()
            await asyncio.wait_for(reader, timeout=120)
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(live_events.c.id, live_events.c.created_at)
                                       .where(live_events.c.id.in_(list(arrivals))))).all()
    finally:
        await db.close()
    committed: dict[int, datetime] = {row.id: row.created_at for row in rows}
    latencies = sorted((arrivals[i][0] - committed[i].timestamp()) * 1000 for i in committed)
    return {
        # One event per committed change of a run: its dispatch and each transition.
        "events": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "max_ms": latencies[-1],
    }


async def measure_idle(base: str, api: subprocess.Popen[bytes], streams: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:
        async with session.post("/api/auth/signup", json={
                "email": f"idle-{time.time_ns()}@example.com", "password": "bench password"}) as r:
            token = (await r.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        before_open = cpu_seconds(api.pid)
        opened = []
        try:
            for _ in range(streams):
                resp = await session.get("/api/events", headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=None))
                assert resp.status == 200, await resp.text()
                await resp.content.readline()  # the retry hint: registered
                opened.append(resp)
            open_cost = cpu_seconds(api.pid) - before_open
            await asyncio.sleep(2)  # let the opening settle
            start_cpu, start = cpu_seconds(api.pid), time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)
            used = cpu_seconds(api.pid) - start_cpu
            elapsed = time.monotonic() - start
        finally:
            for resp in opened:
                resp.close()
    return {"streams": streams, "cpu_percent_of_one_core": 100 * used / elapsed,
            "opening_cpu_ms_per_stream": 1000 * open_cost / streams}


async def bench(backend: str, idle_streams: int) -> dict[str, Any]:
    async with database(backend) as url:
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            async with product(url, Path(tmp)) as (base, api):
                figures: dict[str, Any] = {"latency": await measure_latency(base, url)}
                if idle_streams:
                    figures["idle"] = await measure_idle(base, api, idle_streams)
                return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--idle-streams", type=int, default=500)
    args = parser.parse_args(argv)
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        # The idle-stream cost is measured where the issue asks for it: PostgreSQL.
        idle = args.idle_streams if backend == "postgresql" else 0
        figures = asyncio.run(bench(backend, idle))
        print(f"{backend}: {json.dumps(figures, indent=2)}", flush=True)


if __name__ == "__main__":
    main()
