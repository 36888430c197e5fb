"""`scouts import-supabase` throughput, into SQLite and into PostgreSQL.

    .venv/bin/python -m bench.bench_import [--users 50] [--scouts-per-user 10] [--runs-per-scout 20]

Builds a source database with the Supabase version's schema on an embedded PostgreSQL
(users x scouts, 4 chat messages per scout, runs with 3 steps each), then times a dry run,
the import itself, and a second run that finds everything already there. Prints rows per
second; the import's cost is dominated by the per-batch id checks and inserts on the target.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from bench.common import database
from engine.clock import utcnow
from engine.db import Database
from engine.supabase_import import import_supabase
from tests.supabase_source import SCHEMA, create_database, drop_database, gotrue_hash

FILL = """
INSERT INTO auth.users
  SELECT gen_random_uuid(), 'user' || g || '@example.com', $1, now(), NULL,
         '{"provider": "email", "providers": ["email"]}'::jsonb
  FROM generate_series(1, $2::int) g;
INSERT INTO scouts (id, user_id, title, description, goal, search_queries, location,
                    frequency, is_active, created_at, updated_at)
  SELECT gen_random_uuid(), u.id, 'Scout ' || g, 'description', 'goal',
         '["first query", "second query"]'::jsonb, '{"city": "any"}'::jsonb, 'daily', true,
         now(), now()
  FROM auth.users u, generate_series(1, $3::int) g;
INSERT INTO scout_messages (id, scout_id, role, content, created_at)
  SELECT gen_random_uuid(), s.id, CASE WHEN g % 2 = 1 THEN 'user' ELSE 'assistant' END,
         'message ' || g, now() + g * interval '1 second'
  FROM scouts s, generate_series(1, 4) g;
INSERT INTO scout_executions (id, scout_id, status, started_at, completed_at,
                              results_summary, summary_text, created_at)
  SELECT gen_random_uuid(), s.id, 'completed', now(), now(),
         '{"taskCompleted": true, "taskStatus": "completed", "response": "## Found\\n- a"}'::jsonb,
         'summary ' || g, now()
  FROM scouts s, generate_series(1, $4::int) g;
INSERT INTO scout_execution_steps (id, execution_id, step_number, step_type, description,
                                   input_data, output_data, status, started_at, completed_at)
  SELECT gen_random_uuid(), e.id, g, (ARRAY['search', 'scrape', 'summarize'])[g], 'step',
         '{"query": "q"}'::jsonb, '{"results": 5}'::jsonb, 'completed', now(), now()
  FROM scout_executions e, generate_series(1, 3) g;
"""


async def build_source(pg_url: str, users: int, scouts: int, runs: int) -> tuple[str, str]:
    name = f"bench_source_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(pg_url, name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        statements = [s.strip() for s in FILL.split(";") if s.strip()]
        args: list[tuple[object, ...]] = [(gotrue_hash("password 1"), users), (scouts,), (),
                                          (runs,), ()]
        for statement, values in zip(statements, args, strict=True):
            await conn.execute(_renumber(statement), *values)
    finally:
        await conn.close()
    return name, dsn


def _renumber(statement: str) -> str:
    # Each statement gets its own parameters, numbered from $1.
    used = sorted({int(p[1]) for p in statement.split() if p.startswith("$") and p[1].isdigit()})
    for new, old in enumerate(used, start=1):
        statement = statement.replace(f"${old}", f"${new}")
    return statement


async def run(args: argparse.Namespace) -> None:
    async with database("postgresql") as pg_url:
        name, dsn = await build_source(pg_url, args.users, args.scouts_per_user,
                                       args.runs_per_scout)
        try:
            for kind in ("sqlite", "postgresql"):
                async with database(kind) if kind == "sqlite" else _same(pg_url) as url:
                    db = Database(url)
                    try:
                        for label, dry in (("dry run", True), ("import", False),
                                           ("second run", False)):
                            start = time.perf_counter()
                            report = await import_supabase(dsn, db, utcnow(), dry_run=dry)
                            elapsed = time.perf_counter() - start
                            rows = sum(t.source_rows for t in report.tables)
                            print(f"{kind:<10} {label:<11} {rows:>7} rows  {elapsed:6.1f} s  "
                                  f"{rows / elapsed:8.0f} rows/s  added {report.added}")
                    finally:
                        await db.close()
        finally:
            await drop_database(pg_url, name)


class _same:
    """The benchmark server's own database as the target (already migrated)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> str:
        return self.url

    async def __aexit__(self, *exc: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--scouts-per-user", type=int, default=10)
    parser.add_argument("--runs-per-scout", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
