"""Findings search: a partial index over finished runs that have no embedding yet.

Search falls back to a text match for them; normally there are none (or only imported
ones), so this index stays tiny and the fallback costs one index probe per scout instead
of reading every one of the user's runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNEMBEDDED = sa.text("summary_embedding IS NULL AND summary_text IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_scout_executions_unembedded", "scout_executions", ["scout_id"],
        postgresql_where=UNEMBEDDED, sqlite_where=UNEMBEDDED,
    )


def downgrade() -> None:
    op.drop_index("ix_scout_executions_unembedded", "scout_executions")
