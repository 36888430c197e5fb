"""The `scouts import-supabase` subcommand: options, progress lines and the summary."""

from __future__ import annotations

import argparse
import sys

import asyncpg

from engine.accounts.password_reset import PasswordReset
from engine.clock import utcnow
from engine.config import Settings
from engine.engine import ScoutEngine
from engine.supabase_import.importer import DEFAULT_BATCH, ImportReport, import_supabase
from engine.supabase_import.invites import invite


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-supabase",
        help="copy users, scouts and their history from the Supabase version's database",
        description="Reads SOURCE_URL (read-only) and writes into DATABASE_URL. Safe to run "
                    "again: rows already here are left alone.")
    p.add_argument("source_url", metavar="SOURCE_URL",
                   help="postgresql:// URL of the old Supabase database (direct connection)")
    p.add_argument("--dry-run", action="store_true", help="count what would be imported")
    p.add_argument("--invite-passwordless", action="store_true",
                   help="email accounts without a password a link to set one")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                   help=f"rows per transaction (default {DEFAULT_BATCH})")
    p.set_defaults(func=cmd_import)


def _progress(table: str, done: int, total: int) -> None:
    print(f"  {table}: {done}/{total}", file=sys.stderr, flush=True)


def render(report: ImportReport) -> str:
    from engine.cli import table

    added = "would add" if report.dry_run else "added"
    rows = [[t.name, str(t.source_rows), str(t.added), str(t.existing),
             str(sum(t.skipped.values())), t.problem or ""] for t in report.tables]
    lines = [table(["table", "in source", added, "already here", "skipped", "problem"], rows)]
    for t in report.tables:
        for reason, count in sorted(t.skipped.items()):
            lines.append(f"{t.name}: {count} skipped: {reason}")
        for note, count in sorted(t.notes.items()):
            lines.append(f"{t.name}: {count} {note}")
        if t.missing_columns and not t.problem:
            lines.append(f"{t.name}: columns missing in the source (left empty): "
                         f"{', '.join(t.missing_columns)}")
    if report.passwordless:
        lines.append("")
        lines.append(f"{len(report.passwordless)} account(s) have no password (they signed in "
                     "with another service); they can use \"Forgot password?\", or run again "
                     "with --invite-passwordless:")
        lines += [f"  {u.email}" + (f" ({u.provider})" if u.provider else "")
                  for u in report.passwordless]
    lines.append("")
    if report.dry_run:
        lines.append("dry run: nothing was written")
    elif report.added == 0:
        lines.append("nothing new to import: every row is already here")
    else:
        lines.append(f"imported {report.added} rows; next: scouts reembed")
    return "\n".join(lines)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2

    from engine.cli import with_engine  # engine.cli registers this command

    async def work(engine: ScoutEngine) -> int:
        db = engine.db
        try:
            now = utcnow()
            report = await import_supabase(args.source_url, db, now, dry_run=args.dry_run,
                                           batch_size=args.batch_size, progress=_progress)
            print(render(report))
            if args.invite_passwordless and not args.dry_run and report.passwordless:
                if not engine.tools.mailer.enabled:
                    print("error: SMTP_URL is not set, so no invitation can be sent",
                          file=sys.stderr)
                    return 1
                reset = PasswordReset(db, settings, engine.tools.mailer)
                queued, waiting = await invite(db, reset, report.passwordless, now)
                sent = await engine.notifier.send_due(utcnow())
                print(f"invitations: {queued} queued, {waiting} already invited earlier; "
                      f"{sent} email(s) sent now (the worker retries the rest)")
            return 0
        except (OSError, ValueError, asyncpg.PostgresError) as exc:
            print(f"error: import stopped: {exc}", file=sys.stderr)
            return 1

    return with_engine(settings, work)
