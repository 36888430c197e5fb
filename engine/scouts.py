"""Scouts, their chat history and user preferences, always on behalf of one user."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.accounts.sessions import EMAIL_RE
from engine.clock import utcnow
from engine.db import Database
from engine.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from engine.storage import messages as message_store
from engine.storage import preferences as preference_store
from engine.storage import runs as run_store
from engine.storage import scouts as scout_store
from engine.validation import (
    SCOUT_FIELDS,
    USER_SCOUT_FIELDS,
    check_fields,
    missing_fields,
    validate_location,
    validate_scout_fields,
)
from engine.views import message_view, preferences_view, scout_list_item, scout_view

MISSING_LABELS = {
    "title": "a title",
    "goal": "a goal",
    "description": "a description",
    "location": "a location",
    "search_queries": "at least one search query",
    "frequency": "a frequency",
}


class ScoutIncomplete(Conflict, ValidationFailed):
    """Activating (or running) a scout that lacks configuration: a well-formed request
    that conflicts with what the scout is, hence 409; still a validation problem for the
    chat assistant, which reports it back to the model."""

    code = "scout_incomplete"


def scout_not_found() -> NotFound:
    return NotFound("scout not found")


def ensure_can_activate(scout: Mapping[str, Any]) -> None:
    missing = missing_fields(scout)
    if missing:
        raise ScoutIncomplete(
            "the scout cannot be activated yet: it still needs "
            + ", ".join(MISSING_LABELS[m] for m in missing),
            missing=missing,
        )


class Scouts:
    def __init__(self, db: Database, run_deadline: timedelta | None = None) -> None:
        self.db = db
        # With a deadline, activating a scout that never ran starts its first run at once
        # instead of on the next scheduler tick, so the owner sees it begin.
        self.run_deadline = run_deadline

    async def create(
        self, user_id: uuid.UUID, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        fields = validate_scout_fields(data)
        if fields.get("is_active"):
            ensure_can_activate(fields)
        async with self.db.transaction() as conn:
            return scout_view(await scout_store.create_scout(conn, user_id, fields, now), now)

    async def get(
        self, user_id: uuid.UUID, scout_id: uuid.UUID, now: datetime | None = None
    ) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await scout_store.get_scout(conn, user_id, scout_id)
        if row is None:
            raise scout_not_found()
        return scout_view(row, now or utcnow())

    async def list_for_user(
        self, user_id: uuid.UUID, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """One statement, no transaction around it: it is the hot path of the UI, and the
        same round trip proves the account still exists (Unauthorized otherwise)."""

        rows = await scout_store.list_scouts(self.db, user_id)
        if rows is None:
            raise Unauthorized("account no longer exists")
        at = now or utcnow()
        return [scout_list_item(row, at) for row in rows]

    async def update(
        self,
        user_id: uuid.UUID,
        scout_id: uuid.UUID,
        data: Mapping[str, Any],
        now: datetime,
        *,
        replace: bool = False,
        allowed: tuple[str, ...] = USER_SCOUT_FIELDS,
    ) -> dict[str, Any]:
        """PATCH semantics by default; ``replace`` resets every field not given (PUT)."""
        fields = validate_scout_fields(data, allowed=allowed)
        if replace:
            defaults: dict[str, Any] = {name: None for name in SCOUT_FIELDS}
            defaults.update(search_queries=[], is_active=False)
            fields = {**defaults, **fields}
        async with self.db.transaction() as conn:
            current = await scout_store.get_scout(conn, user_id, scout_id)
            if current is None:
                raise scout_not_found()
            merged = {**current, **fields}
            if merged.get("is_active"):
                ensure_can_activate(merged)
            if fields.get("is_active") and not current["is_active"]:
                # Re-activating gives a scout that was disabled for failures a fresh start.
                fields["consecutive_failures"] = 0
            row = await scout_store.update_scout(conn, user_id, scout_id, fields, now)
            assert row is not None
            if (self.run_deadline is not None and fields.get("is_active")
                    and not current["is_active"] and row["last_run_at"] is None):
                # None when a run is already in flight: that one is the first run then.
                await run_store.insert_execution(conn, scout_id, "schedule", now,
                                                 self.run_deadline)
        return scout_view(row, now)

    async def delete(self, user_id: uuid.UUID, scout_id: uuid.UUID) -> None:
        async with self.db.transaction() as conn:
            if not await scout_store.delete_scout(conn, user_id, scout_id):
                raise scout_not_found()

    async def messages(self, user_id: uuid.UUID, scout_id: uuid.UUID) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            if await scout_store.get_scout(conn, user_id, scout_id) is None:
                raise scout_not_found()
            rows = await message_store.list_messages(conn, scout_id)
        return [message_view(row) for row in rows]

    async def get_preferences(self, user_id: uuid.UUID) -> dict[str, Any]:
        async with self.db.read() as conn:
            return preferences_view(await preference_store.get_preferences(conn, user_id))

    async def put_preferences(
        self, user_id: uuid.UUID, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        fields = validate_preferences(data)
        async with self.db.transaction() as conn:
            row = await preference_store.put_preferences(conn, user_id, fields, now)
        return preferences_view(row)


PREFERENCE_LOCATION_KEYS = (
    "city", "state", "stateCode", "country", "countryCode", "latitude", "longitude",
)


def validate_preferences(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationFailed("expected a JSON object")
    check_fields(data, ("location", "notification_email", "notifications_enabled"))
    fields: dict[str, Any] = {}
    if "location" in data:
        location = data["location"]
        if location is None:
            fields["location"] = None
        else:
            if not isinstance(location, Mapping):
                raise ValidationFailed("location must be an object", field="location")
            check_fields(location, PREFERENCE_LOCATION_KEYS)
            core = validate_location(
                {k: location.get(k) for k in ("city", "latitude", "longitude")}
            )
            assert core is not None
            extra: dict[str, Any] = {}
            for key in ("state", "stateCode", "country", "countryCode"):
                value = location.get(key)
                if value is not None and (not isinstance(value, str) or len(value) > 120):
                    raise ValidationFailed(
                        f"location.{key} must be a short string", field=f"location.{key}"
                    )
                extra[key] = value.strip() if isinstance(value, str) else None
            fields["location"] = {**core, **extra}
    if "notification_email" in data:
        email = data["notification_email"]
        if email is not None and (not isinstance(email, str) or not EMAIL_RE.match(email.strip())):
            raise ValidationFailed(
                "notification_email must be a valid email address or null",
                field="notification_email",
            )
        fields["notification_email"] = email.strip() if isinstance(email, str) else None
    if "notifications_enabled" in data:
        if not isinstance(data["notifications_enabled"], bool):
            raise ValidationFailed(
                "notifications_enabled must be true or false", field="notifications_enabled"
            )
        fields["notifications_enabled"] = data["notifications_enabled"]
    return fields
