"""Copy an Open Scouts installation from its Supabase database into this one.

Every id is kept, so links into the old app still point at the same scouts. Each batch
of rows is written in its own transaction on the target, and rows whose id is already
here are left alone, which makes a second run (or a run after an interruption) add only
what is missing.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.db import Database
from engine.supabase_import.mapping import SPECS, Context, TableSpec
from engine.supabase_import.source import Source
from engine.tables import users

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
Progress = Callable[[str, int, int], None]


@dataclass
class TableReport:
    name: str
    source_rows: int = 0
    added: int = 0
    existing: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    problem: str | None = None
    missing_columns: list[str] = field(default_factory=list)


@dataclass
class PasswordlessUser:
    id: uuid.UUID
    email: str
    provider: str


@dataclass
class ImportReport:
    dry_run: bool
    tables: list[TableReport]
    passwordless: list[PasswordlessUser]

    @property
    def added(self) -> int:
        return sum(t.added for t in self.tables)


class _Run:
    def __init__(self, source: Source, db: Database, now: datetime, dry_run: bool,
                 batch_size: int, progress: Progress | None) -> None:
        self.source = source
        self.db = db
        self.now = now
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.progress = progress
        # Ids that are here (or, in a dry run, would be) per table: children are checked
        # against them instead of failing on a foreign key.
        self.present: dict[str, set[Any]] = {}
        self.providers: dict[uuid.UUID, str] = {}
        self.new_without_password: dict[uuid.UUID, str] = {}

    async def table(self, spec: TableSpec) -> TableReport:
        report = TableReport(spec.name)
        self.present[spec.name] = set()
        columns = await self.source.columns(spec.schema, spec.source_table)
        if columns is None:
            report.problem = f"{spec.schema}.{spec.source_table} not found in the source"
            return report
        lacking = [c for c in spec.required if c not in columns]
        if lacking:
            report.problem = (f"{spec.schema}.{spec.source_table} lacks "
                              f"{', '.join(lacking)}; table skipped")
            return report
        report.missing_columns = [c for c in spec.columns if c not in columns]
        total = await self.source.count(spec.schema, spec.source_table)
        ctx = Context(self.now)
        taken: set[Any] = set()
        async for rows in self.source.batches(spec.schema, spec.source_table, spec.columns,
                                              columns, spec.json_columns, self.batch_size):
            report.source_rows += len(rows)
            if spec.name == "users":
                for row in rows:
                    self.providers[row["id"]] = _provider(row["raw_app_meta_data"])
            await self._batch(spec, rows, ctx, report, taken)
            if self.progress and total > self.batch_size:
                self.progress(spec.name, report.source_rows, total)
        report.notes = ctx.notes
        return report

    async def _batch(self, spec: TableSpec, rows: list[dict[str, Any]], ctx: Context,
                     report: TableReport, taken: set[Any]) -> None:
        present = self.present[spec.name]
        target = spec.target
        async with self.db.transaction() as conn:
            ids = [r["id"] for r in rows]
            existing = set((await conn.execute(
                sa.select(target.c.id).where(target.c.id.in_(ids)))).scalars())
            held = await _unique_holders(conn, spec, rows) if spec.unique else {}
            fresh: list[dict[str, Any]] = []
            for row in rows:
                if row["id"] in existing:
                    report.existing += 1
                    present.add(row["id"])
                    continue
                if spec.parent:
                    column, parent_table = spec.parent
                    if row[column] not in self.present[parent_table]:
                        report.skipped[f"its {parent_table} row was not imported"] += 1
                        continue
                mapped = spec.mapper(row, ctx)
                if isinstance(mapped, str):
                    report.skipped[mapped] += 1
                    continue
                if spec.unique:
                    key = tuple(mapped[c] for c in spec.unique)
                    if key in taken or key in held:
                        report.skipped[spec.unique_clash] += 1
                        continue
                    taken.add(key)
                fresh.append(mapped)
                if spec.name == "users" and mapped["password_hash"] is None:
                    self.new_without_password[mapped["id"]] = mapped["email"]
                present.add(row["id"])
            if fresh and not self.dry_run:
                await conn.execute(target.insert(), fresh)
            report.added += len(fresh)

    async def passwordless(self) -> list[PasswordlessUser]:
        ids = self.present.get("users", set())
        if not ids:
            return []
        async with self.db.read() as conn:
            found = (await conn.execute(
                sa.select(users.c.id, users.c.email, users.c.password_hash)
                .where(users.c.id.in_(list(ids))))).all()
        result = [PasswordlessUser(row.id, row.email, self.providers.get(row.id, ""))
                  for row in found if row.password_hash is None]
        if self.dry_run:
            # The new users are not here yet; what the source holds tells who lacks one.
            result += [PasswordlessUser(i, email, self.providers.get(i, ""))
                       for i, email in self.new_without_password.items()]
        return sorted(result, key=lambda u: u.email)


async def _unique_holders(
    conn: AsyncConnection, spec: TableSpec, rows: list[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    """Unique keys of the batch that a row with another id already holds here."""
    first = spec.unique[0]
    values = {r[first] for r in rows if r[first] is not None}
    if first == "email":
        values = {str(v).strip().lower() for v in values}
    if not values:
        return set()
    target = spec.target
    ids = [r["id"] for r in rows]
    result = await conn.execute(
        sa.select(*(target.c[c] for c in spec.unique))
        .where(target.c[first].in_(list(values)), target.c.id.not_in(ids)))
    return {tuple(row) for row in result}


def _provider(meta: Any) -> str:
    if isinstance(meta, dict):
        providers = meta.get("providers")
        if isinstance(providers, list) and providers:
            return ", ".join(str(p) for p in providers)
        if meta.get("provider"):
            return str(meta["provider"])
    return ""


async def import_supabase(
    source_url: str, db: Database, now: datetime, *, dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH, progress: Progress | None = None,
) -> ImportReport:
    async with Source(source_url) as source:
        run = _Run(source, db, now, dry_run, batch_size, progress)
        reports = []
        for spec in SPECS:
            report = await run.table(spec)
            if report.problem:
                log.warning("skipped %s: %s", spec.name, report.problem)
            reports.append(report)
        passwordless = await run.passwordless()
    return ImportReport(dry_run, reports, passwordless)
