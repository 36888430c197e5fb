"""The `scouts` command's engine subcommands (the API adds `serve` in api/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from engine.clients.errors import ClientFailure
from engine.clock import utcnow
from engine.config import ConfigError, Settings
from engine.db import Database
from engine.engine import ScoutEngine
from engine.errors import DomainError
from engine.ops.doctor import Doctor, log_report
from engine.reembed import reembed
from engine.runs.machine import diagram_document
from engine.storage import runs as run_store
from engine.supabase_import import command as supabase_import_command

Command = Callable[[argparse.Namespace, Settings], int]
DIAGRAM_PATH = Path("diagrams/execution-states.md")
log = logging.getLogger(__name__)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = int((value - now).total_seconds())
    span = abs(seconds)
    text = f"{span}s" if span < 120 else f"{span // 60}m" if span < 7200 else f"{span // 3600}h"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, *body])


def with_engine(
    settings: Settings, work: Callable[[ScoutEngine], Awaitable[int]], pool_size: int = 2
) -> int:
    """Run one command's ``work`` with an engine on its own small pool, closed after; a
    DomainError becomes a one-line error and exit code 1."""
    async def main() -> int:
        db = Database(settings.database_url, pool_size=pool_size)
        engine = ScoutEngine(settings, db)
        try:
            return await work(engine)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await engine.close()
            await db.close()

    return asyncio.run(main())


def _execution_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise SystemExit(f"error: {raw!r} is not an execution id") from None


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: only this command and `serve` need alembic, and every other
    # command would load it at start-up.
    from engine import migrate

    migrate.upgrade(settings.database_url, settings.embedding_dim, args.revision)
    print(f"database is at revision {args.revision}")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.once:
            report = await engine.tick()
            print(f"expired {report.expired}, dispatched {report.dispatched}, "
                  f"advanced {len(report.advanced)}, emailed {report.emailed}")
            return 0
        heartbeat = Path(args.heartbeat) if args.heartbeat else None
        checkup = asyncio.create_task(log_report(engine.doctor, log))
        try:
            await engine.run_forever(stop, heartbeat.touch if heartbeat else None)
        finally:
            checkup.cancel()
        return 0

    return with_engine(settings, work, pool_size=worker_pool_size(settings.worker_concurrency))


def worker_pool_size(concurrency: int) -> int:
    """A connection per run in flight (a run holds one only while it commits, so beyond 16
    they would sit idle), plus the chores (dispatch, expiry, email) and lease heartbeats."""
    return min(concurrency, 16) + 2


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> int:
        async with aiohttp.ClientSession() as session:
            report = await Doctor(settings, session).report(fresh=True)
        for line in report.lines():
            print(line)
        print("all services ready" if report.ok else "something is wrong: see the fixes above")
        return 0 if report.ok else 1

    return asyncio.run(main())


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        now = utcnow()
        async with engine.db.transaction() as conn:
            runs = await run_store.list_runs(conn, state=args.state,
                                             stuck_before=now if args.stuck else None,
                                             limit=args.limit)
        if not runs:
            print("no executions match")
            return 0
        rows = [[str(r["id"]), (r["title"] or "(untitled)")[:30],
                 "cancelled" if r["cancelled_at"] else r["state"], r["trigger"],
                 _when(r["started_at"], now), str(r["attempts"]),
                 _when(r["next_run_at"], now), r["lease_owner"] or "-",
                 (r["error_message"] or "")[:50]] for r in runs]
        print(table(["id", "scout", "state", "trigger", "started", "attempts", "next try",
                     "lease", "error"], rows))
        return 0

    return with_engine(settings, work)


def _print_execution(view: dict[str, Any], now: datetime) -> None:
    fields = [
        ("execution", str(view["id"])), ("scout", str(view["scout_id"])),
        ("status", f"{view['status']} (state {view['state']})"),
        ("trigger", view["trigger"]), ("started", _when(view["started_at"], now)),
        ("deadline", _when(view["deadline_at"], now)),
        ("attempts", str(view["attempts"])), ("transitions", str(view["transitions"])),
        ("lease", f"{view['lease_owner']} until {_when(view['lease_expires_at'], now)}"
         if view["lease_owner"] else "-"),
        ("waiting", view["wait_reason"] or "-"), ("error", view["error_message"] or "-"),
        ("detail", view.get("error_detail") or "-"),
        ("checkpoint", json.dumps(view["checkpoint"])),
        ("actions", ", ".join(view["actions"]) or "-"),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.rjust(width)}  {value}")
    if view["summary_text"]:
        print(f"{'summary'.rjust(width)}  {view['summary_text']}")
    print()
    rows = [[str(s["step_number"]), s["step_type"], s["status"], s["description"][:60],
             (s["error_message"] or "")[:50]] for s in view["steps"]]
    print(table(["#", "type", "status", "description", "error"], rows) if rows else "no steps yet")


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        now = utcnow()
        _print_execution(await engine.executions.get(_execution_id(args.id), now), now)
        return 0

    return with_engine(settings, work)


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        view = await engine.controls.resume(_execution_id(args.id), utcnow())
        print(f"resumed {view['id']}: now {view['state']}; a worker picks it up on its next tick")
        return 0

    return with_engine(settings, work)


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        view = await engine.controls.cancel(_execution_id(args.id), utcnow(), who="an operator")
        print(f"cancelled {view['id']}")
        return 0

    return with_engine(settings, work)


def cmd_reembed(args: argparse.Namespace, settings: Settings) -> int:
    async def work(engine: ScoutEngine) -> int:
        def progress(done: int, total: int) -> None:
            print(f"re-embedded {done}/{total}")

        if args.batch_size < 1:
            print("error: --batch-size must be at least 1", file=sys.stderr)
            return 2
        try:
            count = await reembed(engine.db, engine.tools.ollama, settings.embedding_dim,
                                  progress, resume=args.resume, batch_size=args.batch_size)
        except (ClientFailure, OSError) as exc:
            print(f"error: {exc}\nstopped; finished batches are kept: "
                  "`scouts reembed --resume` continues", file=sys.stderr)
            return 1
        print(f"done: {count} summaries embedded with {settings.ollama_embed_model} "
              f"({settings.embedding_dim} dimensions)")
        return 0

    return with_engine(settings, work)


def cmd_diagram(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(diagram_document())
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scouts", description="Open Scouts")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("worker", help="run the scheduler loop (dispatch and advance runs)")
    p.add_argument("--once", action="store_true", help="run a single tick and exit")
    p.add_argument("--heartbeat", metavar="FILE",
                   help="touch FILE before every tick (for container health checks)")
    p.set_defaults(func=cmd_worker)

    ex = sub.add_parser("executions", help="inspect and control scout runs").add_subparsers(
        dest="action", required=True)
    p = ex.add_parser("list", help="recent executions across all scouts")
    p.add_argument("--state", choices=["planning", "searching", "reading", "summarizing",
                                       "done", "failed"])
    p.add_argument("--stuck", action="store_true",
                   help="only runs in flight that are waiting, past deadline or orphaned")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_list)
    for name, func, text in (("show", cmd_show, "one execution with its step history"),
                             ("resume", cmd_resume, "continue a failed or stuck run"),
                             ("cancel", cmd_cancel, "cancel a run in flight")):
        p = ex.add_parser(name, help=text)
        p.add_argument("id")
        p.set_defaults(func=func)

    p = sub.add_parser("doctor", help="check Ollama, SearXNG, Crawl4AI and SMTP as runs use them")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("reembed", help="recompute summary embeddings with the current model")
    p.add_argument("--resume", action="store_true",
                   help="only embed summaries an interrupted run left without a vector")
    p.add_argument("--batch-size", type=int, default=32, help="summaries per model call")
    p.set_defaults(func=cmd_reembed)
    supabase_import_command.add_parser(sub)
    p = sub.add_parser("diagram", help="regenerate the state diagram from engine/runs/machine.py")
    p.add_argument("--output", default=str(DIAGRAM_PATH))
    p.set_defaults(func=cmd_diagram)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    func: Command = args.func
    return func(args, settings)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
