"""Outbox claims and stable Message-IDs; the operator's detail of a run's wait or failure.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("message_id", sa.String(255)))
        batch.add_column(sa.Column("claimed_by", sa.String(100)))
        batch.add_column(sa.Column("claimed_until", UTCDateTime))
    # Rows queued before this revision get their Message-ID now, once, so a retry of an
    # old row still carries the same id as its first attempt.
    notifications = sa.table("notifications", sa.column("id", sa.Uuid),
                             sa.column("message_id", sa.String))
    conn = op.get_bind()
    for (row_id,) in conn.execute(sa.select(notifications.c.id)).all():
        conn.execute(notifications.update().where(notifications.c.id == row_id)
                     .values(message_id=f"<{row_id.hex}@open-scouts.outbox>"))
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("message_id", existing_type=sa.String(255), nullable=False)
    op.add_column("scout_executions", sa.Column("error_detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("scout_executions") as batch:
        batch.drop_column("error_detail")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("message_id")
