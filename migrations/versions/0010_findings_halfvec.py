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

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HNSW = "ix_scout_executions_summary_embedding_hnsw"
# As this revision made them; 0015 changes the index's key. Written out rather than taken
# from engine/findings/halfvec.py, so that a later change there cannot rewrite history.
COLUMN = "summary_half"
INDEX = "ix_scout_executions_summary_half"
FINDABLE = f"state = 'done' AND summary_text IS NOT NULL AND {COLUMN} IS NOT NULL"
MAX_DIM = 1280  # a larger halfvec does not fit a btree entry: ranked from the full vectors


def _dimension() -> int:
    return int(op.get_bind().execute(sa.text(
        "SELECT atttypmod FROM pg_attribute "
        "WHERE attrelid = 'scout_executions'::regclass AND attname = 'summary_embedding'"
    )).scalar_one())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {HNSW}")
    dim = _dimension()
    if not 0 < dim <= MAX_DIM:
        return
    op.execute(
        f"ALTER TABLE scout_executions ADD COLUMN IF NOT EXISTS {COLUMN} halfvec({dim}) "
        f"GENERATED ALWAYS AS (l2_normalize(summary_embedding)::halfvec({dim})) STORED")
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON scout_executions (scout_id) "
               f"INCLUDE (id, {COLUMN}) WHERE {FINDABLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.execute(f"ALTER TABLE scout_executions DROP COLUMN IF EXISTS {COLUMN}")
    op.execute(f"CREATE INDEX IF NOT EXISTS {HNSW} ON scout_executions "
               "USING hnsw (summary_embedding vector_cosine_ops)")
