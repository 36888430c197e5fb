"""Change log for live updates over Server-Sent Events.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.types import UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_events",
        # AUTOINCREMENT on SQLite: ids must never be reused, they are the streams' event ids.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("scout_id", sa.Uuid),
        sa.Column("execution_id", sa.Uuid),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_live_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_live_events_user_id_id", "live_events", ["user_id", "id"])
    op.create_index("ix_live_events_created_at", "live_events", ["created_at"])


def downgrade() -> None:
    op.drop_table("live_events")
