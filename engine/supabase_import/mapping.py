"""How each table of the Supabase version becomes a table here.

A mapper returns the row to insert, or a short reason why the row is skipped. Adjustments
that keep the row (an unknown frequency cleared, say) are recorded as notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import tables
from engine.accounts.sessions import normalise_email
from engine.errors import ValidationFailed
from engine.runs.machine import ENGINE_VERSION

INTERRUPTED = "interrupted by the migration"

Mapped = dict[str, Any] | str


@dataclass
class Context:
    now: datetime
    notes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: str
    source_table: str
    target: sa.Table
    columns: tuple[str, ...]
    required: tuple[str, ...]
    mapper: Callable[[dict[str, Any], Context], Mapped]
    json_columns: tuple[str, ...] = ()
    # (column, table name) whose ids must already be here, or the row is skipped.
    parent: tuple[str, str] | None = None
    # Another unique key besides id: a different row holding it here means a skip.
    unique: tuple[str, ...] = ()
    unique_clash: str = ""


def _when(*values: datetime | None, default: datetime) -> datetime:
    return next((v for v in values if v is not None), default)


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def map_user(row: dict[str, Any], ctx: Context) -> Mapped:
    if row["deleted_at"] is not None:
        return "deleted in Supabase"
    if not (row["email"] or "").strip():
        return "no email address (anonymous or phone sign-in)"
    try:
        # The spelling login looks up: without it the account could never sign in here.
        email = normalise_email(row["email"])
    except ValidationFailed:
        return "email address not valid here (or too long)"
    password = row["encrypted_password"] or None
    # GoTrue writes bcrypt ($2a$); anything else cannot be verified here.
    if password is not None and not password.startswith("$2"):
        ctx.notes["password hash in an unknown format: imported without a password"] += 1
        password = None
    return {"id": row["id"], "email": email, "password_hash": password,
            "created_at": _when(row["created_at"], default=ctx.now)}


def map_preferences(row: dict[str, Any], ctx: Context) -> Mapped:
    if row["user_id"] is None:
        return "no owner"
    created = _when(row["created_at"], default=ctx.now)
    return {"id": row["id"], "user_id": row["user_id"], "location": _dict(row["location"]),
            "notification_email": None, "notifications_enabled": True,
            "created_at": created, "updated_at": _when(row["updated_at"], created,
                                                        default=ctx.now)}


def map_scout(row: dict[str, Any], ctx: Context) -> Mapped:
    if row["user_id"] is None:
        return "no owner"
    frequency = row["frequency"]
    if frequency not in (*tables.FREQUENCIES, None):
        # Early versions offered 'hourly'; the nearest schedule here is daily.
        ctx.notes[f"frequency {frequency!r} became 'daily'"] += 1
        frequency = "daily"
    queries = row["search_queries"]
    if not isinstance(queries, list):
        queries = []
    created = _when(row["created_at"], default=ctx.now)
    return {
        "id": row["id"], "user_id": row["user_id"], "title": row["title"],
        "description": row["description"], "goal": row["goal"],
        "search_queries": [q for q in queries if isinstance(q, str)],
        "location": _dict(row["location"]), "frequency": frequency,
        "is_active": bool(row["is_active"]), "last_run_at": row["last_run_at"],
        "last_manual_run_at": None,
        "consecutive_failures": int(row["consecutive_failures"] or 0),
        "created_at": created, "updated_at": _when(row["updated_at"], created, default=ctx.now),
    }


def map_message(row: dict[str, Any], ctx: Context) -> Mapped:
    if row["role"] not in ("user", "assistant"):
        return "role is neither user nor assistant"
    if row["content"] is None:
        return "no content"
    return {"id": row["id"], "scout_id": row["scout_id"], "role": row["role"],
            "content": row["content"], "created_at": _when(row["created_at"], default=ctx.now)}


def _results(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    # Before results_summary became jsonb it was free text: keep it readable.
    return {"taskCompleted": False, "taskStatus": "insufficient_data", "response": str(value)}


def map_execution(row: dict[str, Any], ctx: Context) -> Mapped:
    started = _when(row["started_at"], row["created_at"], default=ctx.now)
    completed = row["completed_at"]
    error = row["error_message"]
    status = row["status"]
    if status == "completed":
        state = "done"
    elif status == "failed":
        state = "failed"
    elif status == "running":
        state, error, completed = "failed", INTERRUPTED, completed or ctx.now
        ctx.notes[f"runs in flight marked failed ({INTERRUPTED})"] += 1
    else:
        state, completed = "failed", completed or ctx.now
        error = f"unknown status {status!r} in the old database"
        ctx.notes["runs with an unknown status marked failed"] += 1
    return {
        "id": row["id"], "scout_id": row["scout_id"], "state": state, "trigger": "schedule",
        "engine_version": ENGINE_VERSION, "checkpoint": {"imported_from": "supabase"},
        "transitions": 0, "attempts": 0, "deadline_at": completed or started,
        "started_at": started, "completed_at": completed, "error_message": error,
        "results_summary": _results(row["results_summary"]),
        "summary_text": row["summary_text"], "summary_embedding": None, "is_duplicate": False,
        "created_at": _when(row["created_at"], started, default=ctx.now),
    }


def map_step(row: dict[str, Any], ctx: Context) -> Mapped:
    if row["step_number"] is None:
        return "no step number"
    if row["step_type"] not in tables.STEP_TYPES:
        return "unknown step type"
    status = row["status"]
    if status not in tables.STEP_STATUSES:
        ctx.notes["steps with an unknown status marked failed"] += 1
        status = "failed"
    return {
        "id": row["id"], "execution_id": row["execution_id"], "step_number": row["step_number"],
        "step_type": row["step_type"], "description": row["description"] or "",
        "input_data": row["input_data"], "output_data": row["output_data"], "status": status,
        "started_at": _when(row["started_at"], row["created_at"], default=ctx.now),
        "completed_at": row["completed_at"], "error_message": row["error_message"],
    }


# Parents before children, so every reference can be checked against what is already here.
SPECS: tuple[TableSpec, ...] = (
    TableSpec("users", "auth", "users", tables.users,
              ("id", "email", "encrypted_password", "created_at", "deleted_at",
               "raw_app_meta_data"),
              ("id", "email"), map_user, json_columns=("raw_app_meta_data",),
              unique=("email",), unique_clash="email already belongs to another account here"),
    TableSpec("user_preferences", "public", "user_preferences", tables.user_preferences,
              ("id", "user_id", "location", "created_at", "updated_at"),
              ("id", "user_id"), map_preferences, json_columns=("location",),
              parent=("user_id", "users"), unique=("user_id",),
              unique_clash="the user already has preferences here"),
    TableSpec("scouts", "public", "scouts", tables.scouts,
              ("id", "user_id", "title", "description", "goal", "search_queries", "location",
               "frequency", "is_active", "last_run_at", "consecutive_failures", "created_at",
               "updated_at"),
              ("id", "user_id"), map_scout, json_columns=("search_queries", "location"),
              parent=("user_id", "users")),
    TableSpec("scout_messages", "public", "scout_messages", tables.scout_messages,
              ("id", "scout_id", "role", "content", "created_at"),
              ("id", "scout_id", "role", "content"), map_message,
              parent=("scout_id", "scouts")),
    TableSpec("scout_executions", "public", "scout_executions", tables.scout_executions,
              ("id", "scout_id", "status", "started_at", "completed_at", "error_message",
               "results_summary", "summary_text", "created_at"),
              ("id", "scout_id"), map_execution, json_columns=("results_summary",),
              parent=("scout_id", "scouts")),
    TableSpec("scout_execution_steps", "public", "scout_execution_steps",
              tables.scout_execution_steps,
              ("id", "execution_id", "step_number", "step_type", "description", "input_data",
               "output_data", "status", "started_at", "completed_at", "error_message",
               "created_at"),
              ("id", "execution_id", "step_number", "step_type"), map_step,
              json_columns=("input_data", "output_data"),
              parent=("execution_id", "scout_executions"), unique=("execution_id", "step_number"),
              unique_clash="step number already used in its run"),
)
