"""Notification outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNSENT = sa.text("sent_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("scout_id", sa.Uuid),
        sa.Column("execution_id", sa.Uuid),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_notifications_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["scout_id"], ["scouts.id"], ondelete="CASCADE", name="fk_notifications_scout_id_scouts"
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["scout_executions.id"], ondelete="CASCADE",
            name="fk_notifications_execution_id_scout_executions",
        ),
    )
    op.create_index(
        "ix_notifications_unsent", "notifications", ["next_attempt_at"],
        postgresql_where=UNSENT, sqlite_where=UNSENT,
    )


def downgrade() -> None:
    op.drop_table("notifications")
