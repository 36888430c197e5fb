"""`scouts worker` processes against the fakes (their own processes) on embedded PostgreSQL.

Every scout is due at once; the fakes play the demo run (search, read a page, answer,
summarise: six transitions a run). Transitions are counted from the database; statements
from pg_stat_statements over the whole run (claims, dispatch and chores included).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from bench.common import (
    BIN,
    Postgres,
    Process,
    Result,
    fakes,
    postgres,
    seed_due_scouts,
    service_env,
    settings_env,
)

ROUNDS = 3  # runs of the one-worker row

PROGRESS = ("SELECT coalesce(sum(transitions), 0) AS bench_progress, "
            "count(*) FILTER (WHERE state IN ('done', 'failed')), "
            "count(*) FILTER (WHERE state = 'failed'), "
            "count(*) FILTER (WHERE lease_owner IS NOT NULL) FROM scout_executions")


@dataclass
class Run:
    transitions: int
    rate: float
    cpu_ms: float  # worker CPU per transition, over the same window as the rate
    start_cpu: float  # worker CPU seconds until the first transition (imports, connecting)
    statements: float  # per transition
    failed: int
    peak_in_flight: int
    peak_rss_mb: float


async def run_workers(pg: Postgres, *, workers: int, concurrency: int, latency: float,
                      scouts: int, seconds: float) -> Run:
    await pg.truncate()
    await seed_due_scouts(pg.url, scouts)
    async with contextlib.AsyncExitStack() as stack:
        # A set of fakes per worker: real services are not one shared Python process, and
        # a shared one would measure the fakes' CPU instead of the workers' scaling.
        services = [await stack.enter_async_context(fakes(latency)) for _ in range(workers)]
        await pg.reset_statements()
        procs = [Process(f"worker{i}", [str(BIN / "scouts"), "worker"], settings_env(
            pg.url, WORKER_CONCURRENCY=str(concurrency), TICK_SECONDS="1",
            LOG_LEVEL="WARNING", **service_env(urls))) for i, urls in enumerate(services)]
        conn = await pg.connect()
        try:
            start = time.monotonic()
            first: tuple[float, int] | None = None
            first_cpu = 0.0
            peak_in_flight = 0
            while True:
                await asyncio.sleep(0.25)
                done_transitions, finished, failed, leased = await conn.fetchrow(PROGRESS)
                now = time.monotonic()
                peak_in_flight = max(peak_in_flight, leased)
                if first is None and done_transitions:
                    first = (now, done_transitions)
                    first_cpu = sum(p.cpu_seconds() for p in procs)
                if finished >= scouts or now - start > seconds:
                    break
            cpu = sum(p.cpu_seconds() for p in procs)
            rss = max(p.peak_rss_mb() for p in procs)
        finally:
            await conn.close()
            for proc in procs:
                proc.stop()
        statements = await pg.statements()
    assert first is not None, "no transition happened"
    counted = max(done_transitions - first[1], 1)
    rate = counted / max(now - first[0], 1e-9)
    # CPU over the window the rate is measured in: start-up (about a second and a half
    # of imports) is not a cost of any transition, and is reported apart.
    return Run(done_transitions, rate, (cpu - first_cpu) * 1000 / counted, first_cpu,
               statements / max(done_transitions, 1), failed, peak_in_flight, rss)


def main() -> list[Result]:
    results: list[Result] = []

    async def run(pg: Postgres) -> None:
        # Judged on the median of a few runs: this VM's half-speed spells moved one run
        # between about 470 and 640 transitions/s with nothing changed.
        ones = [await run_workers(pg, workers=1, concurrency=16, latency=0.0, scouts=600,
                                  seconds=30) for _ in range(ROUNDS)]
        one = sorted(ones, key=lambda r: r.rate)[len(ones) // 2]
        results.append(Result(
            f"one `scouts worker`, instant fakes, PostgreSQL: transitions/s, median of "
            f"{ROUNDS} runs",
            f"{one.rate:.0f}/s (runs {', '.join(f'{r.rate:.0f}' for r in ones)}; "
            f"{one.transitions} transitions, {one.failed} runs failed); "
            f"{one.cpu_ms:.2f} ms worker CPU per transition ({one.start_cpu:.1f} s CPU to "
            f"start)", ">= 500/s", one.rate >= 500))
        results.append(Result(
            "statements per transition (pg_stat_statements, BEGIN/COMMIT included)",
            f"{one.statements:.2f}", "<= 6 (BEGIN/COMMIT and the live change-log row included)",
            one.statements <= 6))
        single = await run_workers(pg, workers=1, concurrency=4, latency=0.1, scouts=400,
                                   seconds=12)
        double = await run_workers(pg, workers=2, concurrency=4, latency=0.1, scouts=400,
                                   seconds=12)
        ratio = double.rate / single.rate
        results.append(Result(
            "2 worker processes vs 1, services at 100 ms a call",
            f"{double.rate:.1f}/s vs {single.rate:.1f}/s = {ratio:.2f}x", ">= 1.7x",
            ratio >= 1.7))
        many = await run_workers(pg, workers=1, concurrency=1000, latency=0.1, scouts=1000,
                                 seconds=25)
        results.append(Result(
            "worker RSS with 1,000 runs in flight (services at 100 ms)",
            f"{many.peak_rss_mb:.0f} MB peak; {many.peak_in_flight} leased at once; "
            f"{many.rate:.0f} transitions/s", "<= 150 MB", many.peak_rss_mb <= 150))

    with postgres() as pg:
        asyncio.run(run(pg))
    return results
