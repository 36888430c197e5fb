"""Initial schema: users, auth, scouts, messages, executions, steps, preferences.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.types import Embedding, JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

IN_FLIGHT = sa.text("state NOT IN ('done', 'failed')")


def _embedding_dim() -> int:
    return int(op.get_context().config.attributes.get("embedding_dim", 768))


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("family_id", sa.Uuid, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_refresh_tokens_user_id_users"
        ),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])

    op.create_table(
        "scouts",
        sa.Column("id", sa.Uuid),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("goal", sa.Text),
        sa.Column("search_queries", JSONType, nullable=False),
        sa.Column("location", JSONType),
        sa.Column("frequency", sa.String(20)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_run_at", UTCDateTime),
        sa.Column("last_manual_run_at", UTCDateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scouts"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_scouts_user_id_users"
        ),
        sa.CheckConstraint(
            "frequency IS NULL OR frequency IN ('daily', 'every_3_days', 'weekly')",
            name="ck_scouts_frequency",
        ),
    )
    op.create_index("ix_scouts_user_id_updated_at", "scouts", ["user_id", "updated_at"])
    op.create_index("ix_scouts_is_active_last_run_at", "scouts", ["is_active", "last_run_at"])

    op.create_table(
        "scout_messages",
        sa.Column("id", sa.Uuid),
        sa.Column("scout_id", sa.Uuid, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scout_messages"),
        sa.ForeignKeyConstraint(
            ["scout_id"], ["scouts.id"], ondelete="CASCADE",
            name="fk_scout_messages_scout_id_scouts",
        ),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_scout_messages_role"),
    )
    op.create_index(
        "ix_scout_messages_scout_id_created_at", "scout_messages", ["scout_id", "created_at"]
    )

    op.create_table(
        "scout_executions",
        sa.Column("id", sa.Uuid),
        sa.Column("scout_id", sa.Uuid, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("engine_version", sa.Integer, nullable=False),
        sa.Column("checkpoint", JSONType, nullable=False),
        sa.Column("transitions", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("next_run_at", UTCDateTime),
        sa.Column("wait_reason", sa.Text),
        sa.Column("deadline_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime),
        sa.Column("cancelled_at", UTCDateTime),
        sa.Column("error_message", sa.Text),
        sa.Column("results_summary", JSONType),
        sa.Column("summary_text", sa.Text),
        sa.Column("summary_embedding", Embedding(_embedding_dim())),
        sa.Column("is_duplicate", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scout_executions"),
        sa.ForeignKeyConstraint(
            ["scout_id"], ["scouts.id"], ondelete="CASCADE",
            name="fk_scout_executions_scout_id_scouts",
        ),
        sa.CheckConstraint(
            "state IN ('planning', 'searching', 'reading', 'summarizing', 'done', 'failed')",
            name="ck_scout_executions_state",
        ),
    )
    op.create_index(
        "ix_scout_executions_scout_id_created_at", "scout_executions", ["scout_id", "created_at"]
    )
    op.create_index(
        "uq_scout_executions_one_in_flight",
        "scout_executions",
        ["scout_id"],
        unique=True,
        postgresql_where=IN_FLIGHT,
        sqlite_where=IN_FLIGHT,
    )
    op.create_index(
        "ix_scout_executions_runnable",
        "scout_executions",
        ["next_run_at"],
        postgresql_where=IN_FLIGHT,
        sqlite_where=IN_FLIGHT,
    )
    if dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_scout_executions_summary_embedding_hnsw ON scout_executions "
            "USING hnsw (summary_embedding vector_cosine_ops)"
        )

    op.create_table(
        "scout_execution_steps",
        sa.Column("id", sa.Uuid),
        sa.Column("execution_id", sa.Uuid, nullable=False),
        sa.Column("step_number", sa.Integer, nullable=False),
        sa.Column("step_type", sa.String(20), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("input_data", JSONType),
        sa.Column("output_data", JSONType),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime),
        sa.Column("error_message", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_scout_execution_steps"),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["scout_executions.id"], ondelete="CASCADE",
            name="fk_scout_execution_steps_execution_id_scout_executions",
        ),
        sa.UniqueConstraint(
            "execution_id", "step_number", name="uq_scout_execution_steps_execution_id_step_number"
        ),
    )

    op.create_table(
        "user_preferences",
        sa.Column("id", sa.Uuid),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("location", JSONType),
        sa.Column("notification_email", sa.String(320)),
        sa.Column("notifications_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_user_preferences"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE",
            name="fk_user_preferences_user_id_users",
        ),
        sa.UniqueConstraint("user_id", name="uq_user_preferences_user_id"),
    )


def downgrade() -> None:
    for table in (
        "user_preferences",
        "scout_execution_steps",
        "scout_executions",
        "scout_messages",
        "scouts",
        "refresh_tokens",
        "users",
    ):
        op.drop_table(table)
