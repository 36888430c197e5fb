"""Before/after for `GET /api/scouts`: `scouts serve` from an earlier commit against the
working tree, interleaved on the same databases, CPU per request from /proc.

    .venv/bin/python -m bench.api_ab --before 8bab669 [--rounds 3] [--ceiling] [--dbs pg,sqlite]

Not part of `scripts/bench` (whose rows compare against the goals): on a shared machine
req/s and p99 follow the load, while CPU per request of the measured process holds up,
and alternating the two versions within one run keeps their conditions alike. Both
versions use the working tree's schema; a revision before a migration it depends on
cannot be compared this way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import api
from bench.common import (
    BIN,
    JWT_SECRET,
    ROOT,
    Postgres,
    Process,
    free_port,
    postgres,
    settings_env,
    sqlite,
    wait_http,
    wrk,
)


def serve(url: str, name: str, source: Path) -> tuple[Process, str]:
    port = free_port()
    env = settings_env(url, API_HOST="127.0.0.1", API_PORT=str(port), PYTHONPATH=str(source))
    return (Process(name, [str(BIN / "scouts"), "serve", "--no-migrate"], env),
            f"http://127.0.0.1:{port}")


def ceiling(pg: Postgres) -> tuple[Process, str]:
    port = free_port()
    return (Process("ceiling", [sys.executable, "-m", "bench.ceiling", "ceiling", "--port",
                                str(port), "--dsn", pg.dsn, "--jwt-secret", JWT_SECRET]),
            f"http://127.0.0.1:{port}")


async def measure(proc: Process, base: str, token: str, seconds: int) -> tuple[float, float, float]:
    await wait_http(base + "/api/scouts")
    headers = {"Authorization": f"Bearer {token}"}
    await wrk(base + "/api/scouts", headers, seconds=1)  # warm-up: pools, caches
    cpu = proc.cpu_seconds()
    load = await wrk(base + "/api/scouts", headers, seconds=seconds)
    return (proc.cpu_seconds() - cpu) * 1000 / max(load.requests, 1), load.rps, load.p99_ms


async def run(args: argparse.Namespace, pg: Postgres, sqlite_url: str, before: Path) -> None:
    urls = {"pg": pg.url, "sqlite": sqlite_url}
    dbs = args.dbs.split(",")
    tokens = {db: await api.seed(urls[db]) for db in dbs}
    versions = [("before", before), ("after", ROOT)]
    results: dict[str, list[tuple[float, float, float]]] = {}
    for round_no in range(args.rounds):
        for db in dbs:
            starts: list[tuple[str, Callable[[], tuple[Process, str]]]] = []
            if args.ceiling and db == "pg":
                starts.append(("ceiling", partial(ceiling, pg)))
            # Alternate which version goes first, so neither always follows the ceiling.
            for name, source in (versions if round_no % 2 == 0 else versions[::-1]):
                starts.append((name, partial(serve, urls[db], f"{name}-{db}", source)))
            for name, start in starts:
                proc, base = start()  # one server at a time: none idles beside another
                try:
                    figures = await measure(proc, base, tokens[db], args.seconds)
                finally:
                    proc.stop()
                results.setdefault(f"{name}/{db}", []).append(figures)
                print(f"round {round_no} {name}/{db}: {figures[0]:.2f} ms CPU/req, "
                      f"{figures[1]:,.0f} req/s, p99 {figures[2]:.1f} ms", flush=True)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for key, rows in sorted(results.items()):
        cpu = ", ".join(f"{c:.2f}" for c, _, _ in rows)
        rps = ", ".join(f"{r:,.0f}" for _, r, _ in rows)
        p99 = ", ".join(f"{p:.0f}" for _, _, p in rows)
        print(f"{key:16} CPU ms/req [{cpu}]  req/s [{rps}]  p99 ms [{p99}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--dbs", default="pg,sqlite")
    parser.add_argument("--ceiling", action="store_true", help="also the asyncpg ceiling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        with postgres() as pg, sqlite() as sqlite_url:
            asyncio.run(run(args, pg, sqlite_url, Path(tmp)))


if __name__ == "__main__":
    main()
