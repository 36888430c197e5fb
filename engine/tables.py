"""SQLAlchemy Core table definitions: the schema the query modules are written against.

The migrations in migrations/versions create exactly this schema; tests/test_migrations.py
compares the two so they cannot drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.types import Embedding, JSONType, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

FREQUENCIES = ("daily", "every_3_days", "weekly")
STATES = ("planning", "searching", "reading", "summarizing", "done", "failed")
FINAL_STATES = ("done", "failed")
STEP_TYPES = ("search", "scrape", "analyze", "summarize", "tool_call")
STEP_STATUSES = ("running", "completed", "failed")

# Placeholder dimension for the metadata; the real column size comes from EMBEDDING_DIM
# at migration time (see migrations/versions/0001_initial.py and engine/reembed.py).
DEFAULT_EMBEDDING_DIM = 768

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    # NULL for accounts imported from an OAuth-only sign-in until they set a password.
    sa.Column("password_hash", sa.String(100)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("family_id", sa.Uuid, nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    # The refresh token issued in exchange, readable only with this row's own token
    # (engine/accounts/auth.py seal_successor), so a second tab within the grace window gets
    # it too.
    sa.Column("successor_sealed", sa.String(128)),
)

# Single-use links to set a new password; only the SHA-256 of the token is stored.
password_reset_tokens = sa.Table(
    "password_reset_tokens",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),
)

scouts = sa.Table(
    "scouts",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
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
    sa.CheckConstraint(
        "frequency IS NULL OR frequency IN ('daily', 'every_3_days', 'weekly')",
        name="frequency",
    ),
    sa.Index("ix_scouts_user_id_updated_at", "user_id", "updated_at"),
    sa.Index("ix_scouts_is_active_last_run_at", "is_active", "last_run_at"),
)

scout_messages = sa.Table(
    "scout_messages",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "scout_id", sa.Uuid, sa.ForeignKey("scouts.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("role IN ('user', 'assistant')", name="role"),
    sa.Index("ix_scout_messages_scout_id_created_at", "scout_id", "created_at"),
)

_in_flight = sa.text("state NOT IN ('done', 'failed')")
_unembedded = sa.text("summary_embedding IS NULL AND summary_text IS NOT NULL")

scout_executions = sa.Table(
    "scout_executions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "scout_id", sa.Uuid, sa.ForeignKey("scouts.id", ondelete="CASCADE"), nullable=False
    ),
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
    # The operator's side of a wait or failure (exception text, worker); wait_reason and
    # error_message are what the owner reads.
    sa.Column("error_detail", sa.Text),
    sa.Column("deadline_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("error_message", sa.Text),
    sa.Column("results_summary", JSONType),
    sa.Column("summary_text", sa.Text),
    sa.Column("summary_embedding", Embedding(DEFAULT_EMBEDDING_DIM)),
    # PostgreSQL also has summary_half, generated from it, and its covering index (migration
    # 0010); only findings search reads them (engine/findings/halfvec.py).
    sa.Column("is_duplicate", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        "state IN ('planning', 'searching', 'reading', 'summarizing', 'done', 'failed')",
        name="state",
    ),
    # With the id, "each scout's latest run" (created_at DESC, id DESC) is one index step.
    sa.Index("ix_scout_executions_scout_id_created_at_id", "scout_id", "created_at", "id"),
    # The database, not Python, guarantees that a scout never has two runs in flight.
    sa.Index(
        "uq_scout_executions_one_in_flight",
        "scout_id",
        unique=True,
        postgresql_where=_in_flight,
        sqlite_where=_in_flight,
    ),
    sa.Index(
        "ix_scout_executions_runnable",
        "next_run_at",
        postgresql_where=_in_flight,
        sqlite_where=_in_flight,
    ),
    # Findings search's text fallback for runs without an embedding (migration 0007).
    sa.Index(
        "ix_scout_executions_unembedded",
        "scout_id",
        postgresql_where=_unembedded,
        sqlite_where=_unembedded,
    ),
)

scout_execution_steps = sa.Table(
    "scout_execution_steps",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "execution_id",
        sa.Uuid,
        sa.ForeignKey("scout_executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("step_type", sa.String(20), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("input_data", JSONType),
    sa.Column("output_data", JSONType),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("error_message", sa.Text),
    sa.UniqueConstraint("execution_id", "step_number"),
)

user_preferences = sa.Table(
    "user_preferences",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "user_id",
        sa.Uuid,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("location", JSONType),
    sa.Column("notification_email", sa.String(320)),
    sa.Column("notifications_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Outbox: emails are written in the same transaction as the run result that caused them
# and sent by the scheduler afterwards, so a crash can never send for an uncommitted result.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("scout_id", sa.Uuid, sa.ForeignKey("scouts.id", ondelete="CASCADE")),
    sa.Column(
        "execution_id", sa.Uuid, sa.ForeignKey("scout_executions.id", ondelete="CASCADE")
    ),
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
    # One Message-ID per row, reused on every retry, so receivers can drop a repeat.
    sa.Column("message_id", sa.String(255), nullable=False),
    # A sender's claim: no other worker sends the row until claimed_until has passed.
    sa.Column("claimed_by", sa.String(100)),
    sa.Column("claimed_until", UTCDateTime),
    sa.Index(
        "ix_notifications_unsent",
        "next_attempt_at",
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    ),
)

# Change log for live updates (GET /api/events): one row per change a user may see, written
# in the transaction that made the change. Its ids are the streams' event ids; the API reads
# it to fan changes out (woken by NOTIFY on PostgreSQL, by a poll on SQLite) and to replay
# what a reconnecting client missed. Rows older than LIVE_REPLAY_SECONDS are pruned. No
# foreign keys: an event about a deleted scout is simply not delivered.
live_events = sa.Table(
    "live_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("user_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("scout_id", sa.Uuid),
    sa.Column("execution_id", sa.Uuid),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_live_events_user_id_id", "user_id", "id"),
    sa.Index("ix_live_events_created_at", "created_at"),
    sqlite_autoincrement=True,
)
