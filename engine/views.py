"""Public shapes of domain rows: what the API returns and the CLI prints.

Internal columns (password hashes, leases' raw checkpoint) never leave through here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from engine.validation import is_complete

SCOUT_KEYS = (
    "id", "title", "goal", "description", "search_queries", "location", "frequency",
    "is_active", "last_run_at", "consecutive_failures", "created_at", "updated_at",
)


def execution_status(state: str, cancelled_at: datetime | None) -> str:
    """The original's coarse status, derived from the machine state."""
    if state == "done":
        return "completed"
    if state == "failed":
        return "cancelled" if cancelled_at is not None else "failed"
    return "running"


RUN_NOW_COOLDOWN = timedelta(minutes=20)


def run_now_available_at(row: dict[str, Any], now: datetime) -> datetime | None:
    """When "Run now" opens again; None when it is open, so the UI can count down upfront."""
    last = row.get("last_manual_run_at")
    if last is None or last + RUN_NOW_COOLDOWN <= now:
        return None
    available: datetime = last + RUN_NOW_COOLDOWN
    return available


def scout_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = dict(zip(SCOUT_KEYS, map(row.get, SCOUT_KEYS), strict=True))
    view["search_queries"] = list(view["search_queries"] or [])
    view["is_complete"] = is_complete(row)
    view["run_now_available_at"] = run_now_available_at(row, now)
    return view


def scout_list_item(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = scout_view(row, now)
    if row.get("latest_id") is None:
        view["latest_execution"] = None
    else:
        view["latest_execution"] = {
            "id": row["latest_id"],
            "state": row["latest_state"],
            "status": execution_status(row["latest_state"], row["latest_cancelled_at"]),
            "started_at": row["latest_started_at"],
            "completed_at": row["latest_completed_at"],
            "summary_text": row["latest_summary_text"],
        }
    return view


def message_view(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "role", "content", "created_at")}


def preferences_view(row: dict[str, Any] | None) -> dict[str, Any]:
    row = row or {}
    return {
        "location": row.get("location"),
        "notification_email": row.get("notification_email"),
        "notifications_enabled": row.get("notifications_enabled", True),
    }


def checkpoint_summary(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    checkpoint = checkpoint or {}
    return {
        "round": checkpoint.get("round", 0),
        "searches": len(checkpoint.get("searches_done", [])),
        "pages_read": len(checkpoint.get("pages_read", [])),
        "pending_tool_calls": len(checkpoint.get("pending", [])),
        "consecutive_tool_errors": checkpoint.get("consecutive_tool_errors", 0),
        "messages": len(checkpoint.get("messages", [])),
    }


# aiohttp's connection errors and addresses of the deployment's own services: the operator
# needs them, the owner can do nothing with them.
_CONNECT_ERROR = re.compile(r"Cannot connect to host \S+ ssl:\S+(?: \[[^\]]*\])?")
_INTERNAL_ADDRESS = re.compile(
    r"(?:https?://)?(?:\[[0-9a-fA-F:.]+\]|(?:\d{1,3}\.){3}\d{1,3}|localhost)(?::\d+)?(?:/\S*)?"
    r"|https?://[A-Za-z0-9-]+:\d+(?:/\S*)?"
)


def owner_text(text: str | None) -> str | None:
    """An error message with connection details and internal addresses taken out."""
    if not text:
        return text
    text = _CONNECT_ERROR.sub("could not connect", text)
    return _INTERNAL_ADDRESS.sub("(internal address)", text)


SERVICE_NAMES = {"ollama": "Ollama", "searxng": "SearXNG", "crawl4ai": "Crawl4AI",
                 "smtp": "email"}


def service_wait_reason(service: str, hint: str | None, asked_to_wait: bool = False) -> str:
    """Why a run waits for a service, in words for the scout's owner."""
    name = SERVICE_NAMES.get(service, service)
    if hint:
        return f"{name} had a problem: {hint}"
    # A Retry-After means the service answered, only not yet with the work.
    return f"{name} is busy" if asked_to_wait else f"{name} did not answer"


def in_about(seconds: float) -> str:
    if seconds < 60:
        return "in less than a minute"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"in about {hours} hour{'s' if hours != 1 else ''}"


def wait_reason(row: dict[str, Any], now: datetime, operator: bool = False) -> str | None:
    """Why an in-flight run is not moving right now. The owner reads plain words; the
    operator also gets worker ids, lease times and the error behind a wait."""
    if row["state"] in ("done", "failed"):
        return None
    if row["deadline_at"] <= now:
        return ("past its deadline; the next tick will fail it" if operator
                else "ran out of time; it will be stopped shortly")
    lease_until = row.get("lease_expires_at")
    if row.get("lease_owner") and lease_until and lease_until > now:
        if not operator:
            return "working on it now"
        return (f"being advanced by worker {row['lease_owner']} "
                f"(lease until {lease_until.isoformat()})")
    next_run = row.get("next_run_at")
    if next_run and next_run > now:
        reason = row.get("wait_reason") or "waiting"
        if not operator:
            return f"{reason}; trying again {in_about((next_run - now).total_seconds())}"
        detail = row.get("error_detail")
        return f"{reason}; retrying at {next_run.isoformat()}" + (f" ({detail})" if detail
                                                                  else "")
    if lease_until and lease_until <= now and row.get("lease_owner"):
        if not operator:
            return "picking up where it left off shortly"
        return f"worker {row['lease_owner']} stopped answering; the next tick takes the run over"
    return "queued for the next scheduler tick" if operator else "about to start its next step"


def execution_actions(row: dict[str, Any], now: datetime) -> list[str]:
    actions = []
    if row["state"] not in ("done", "failed"):
        actions.append("cancel")
        leased = row.get("lease_expires_at") and row["lease_expires_at"] > now
        if not leased and (row.get("next_run_at") and row["next_run_at"] > now):
            actions.append("resume")
    elif row["state"] == "failed":
        actions.append("resume")
    return actions


def execution_summary(
    row: dict[str, Any], now: datetime, operator: bool = False
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "scout_id": row["scout_id"],
        "status": execution_status(row["state"], row.get("cancelled_at")),
        "state": row["state"],
        "trigger": row["trigger"],
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "error_message": row["error_message"] if operator else owner_text(row["error_message"]),
        "results_summary": row["results_summary"],
        "summary_text": row["summary_text"],
        "is_duplicate": row["is_duplicate"],
        "wait_reason": wait_reason(row, now, operator),
        "next_run_at": row["next_run_at"],
    }


STEP_KEYS = (
    "id", "step_number", "step_type", "description", "input_data", "output_data", "status",
    "started_at", "completed_at", "error_message",
)


def execution_detail(
    row: dict[str, Any], steps: list[dict[str, Any]], now: datetime, operator: bool = False
) -> dict[str, Any]:
    """``operator`` (the CLI) adds the worker holding the run and the error behind a wait;
    owners get the same keys with those left empty."""
    view = {
        **execution_summary(row, now, operator),
        "attempts": row["attempts"],
        "transitions": row["transitions"],
        "round": (row.get("checkpoint") or {}).get("round", 0),
        "engine_version": row["engine_version"],
        "lease_owner": row["lease_owner"] if operator else None,
        "lease_expires_at": row["lease_expires_at"] if operator else None,
        "deadline_at": row["deadline_at"],
        "cancelled_at": row["cancelled_at"],
        "checkpoint": checkpoint_summary(row.get("checkpoint")),
        "actions": execution_actions(row, now),
        "steps": [_step_view(step, operator) for step in steps],
    }
    if operator:
        view["error_detail"] = row.get("error_detail")
    return view


def _step_view(step: dict[str, Any], operator: bool) -> dict[str, Any]:
    view = {key: step[key] for key in STEP_KEYS}
    if not operator:
        view["error_message"] = owner_text(view["error_message"])
    return view
