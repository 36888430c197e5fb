"""The index behind "each scout's latest run" carries the id as well.

The scout list asks for each scout's newest run by (created_at DESC, id DESC). With the
id in the index that is one backward step through it; without, SQLite sorted each scout's
runs in a temporary B-tree on every list. The new index replaces the old one, whose
columns it starts with, so writes maintain no more indexes than before.

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_scout_executions_scout_id_created_at_id", "scout_executions",
                    ["scout_id", "created_at", "id"])
    op.drop_index("ix_scout_executions_scout_id_created_at", table_name="scout_executions")


def downgrade() -> None:
    op.create_index("ix_scout_executions_scout_id_created_at", "scout_executions",
                    ["scout_id", "created_at"])
    op.drop_index("ix_scout_executions_scout_id_created_at_id", table_name="scout_executions")
