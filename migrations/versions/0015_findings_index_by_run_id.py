"""Findings search: the covering index is keyed on (scout_id, id) instead of scout_id.

A search now ranks a user's findings in shards of run ids, each on its own connection
(engine/findings/shards.py). With the run id in the key, each shard reads its own slice of
every scout's entries; with the id only carried along, every shard would read all of them.
The entries hold the same bytes as before. PostgreSQL only, and only where revision 0010
made the half-precision column (embeddings of at most 1,280 numbers).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMN = "summary_half"
INDEX = "ix_scout_executions_summary_half"
FINDABLE = f"state = 'done' AND summary_text IS NOT NULL AND {COLUMN} IS NOT NULL"


def _has_column() -> bool:
    return bool(op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_attribute WHERE attrelid = 'scout_executions'::regclass "
        "AND attname = :name AND NOT attisdropped").bindparams(name=COLUMN)).first())


def _rebuild(key: str, carried: str) -> None:
    if op.get_bind().dialect.name != "postgresql" or not _has_column():
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.execute(f"CREATE INDEX {INDEX} ON scout_executions ({key}) INCLUDE ({carried}) "
               f"WHERE {FINDABLE}")


def upgrade() -> None:
    _rebuild("scout_id, id", COLUMN)


def downgrade() -> None:
    _rebuild("scout_id", f"id, {COLUMN}")
