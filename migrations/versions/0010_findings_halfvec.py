"""Findings search: a half-precision copy of each summary embedding in a covering index.

PostgreSQL only (SQLite ranks in Python). Adds the generated column ``summary_half`` and its
btree on ``scout_id`` INCLUDE (id, summary_half), see engine/findings/halfvec.py; adding the
column computes it for every existing run. The HNSW index goes: filtered to one user it
missed most of a heavy user's best findings for questions outside their own topics, and
nothing else reads it, while every finished run paid for inserting into it.

The size is the column's own (``EMBEDDING_DIM`` may have changed without ``scouts reembed``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.findings import halfvec

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HNSW = "ix_scout_executions_summary_embedding_hnsw"


def _dimension() -> int:
    return int(op.get_bind().execute(sa.text(
        "SELECT atttypmod FROM pg_attribute "
        "WHERE attrelid = 'scout_executions'::regclass AND attname = 'summary_embedding'"
    )).scalar_one())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {HNSW}")
    for statement in halfvec.create_statements(_dimension()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in halfvec.drop_statements():
        op.execute(statement)
    op.execute(f"CREATE INDEX IF NOT EXISTS {HNSW} ON scout_executions "
               "USING hnsw (summary_embedding vector_cosine_ops)")
