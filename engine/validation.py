"""Validation of scout fields, shared by the REST API and the chat assistant's tool.

Input from a browser and arguments from a model go through the same checks, so a model
can never store what a user could not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from engine.errors import ValidationFailed
from engine.tables import FREQUENCIES

MAX_TITLE = 100
MAX_TEXT = 2000
MAX_QUERIES = 5
MAX_QUERY_LENGTH = 200
MAX_CITY = 120

# JSON nested deeper than this is no request this API understands.
MAX_JSON_DEPTH = 32
# NUL cannot be stored in PostgreSQL text, lone surrogates cannot be encoded as UTF-8.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")

SCOUT_FIELDS = ("title", "goal", "description", "search_queries", "location", "frequency")
USER_SCOUT_FIELDS = (*SCOUT_FIELDS, "is_active")


def check_storable_text(value: Any, root: str = "") -> None:
    """Refuse NUL, lone surrogates (in keys too) and nesting past MAX_JSON_DEPTH.

    Walked without recursion so a hostile document cannot exhaust the stack. The field
    is named by its dotted path (``location.city``, ``messages.0.content``).
    """
    stack: list[tuple[str, Any, int]] = [(root, value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationFailed(
                f"JSON is nested more than {MAX_JSON_DEPTH} levels deep", code="too_deep"
            )
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                name = path or "body"
                raise ValidationFailed(
                    f"{name} contains a NUL character or an unpaired surrogate", field=name
                )
        elif isinstance(item, Mapping):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    name = path or "body"
                    raise ValidationFailed(
                        f"a field name in {name} contains a NUL character or an unpaired "
                        "surrogate", field=name,
                    )
                stack.append((child_path, child, depth + 1))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                stack.append((f"{path}.{index}" if path else str(index), child, depth + 1))


def check_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            field=unknown[0],
        )


def _text(name: str, value: Any, limit: int, *, nullable: bool = True) -> str | None:
    if value is None:
        if nullable:
            return None
        raise ValidationFailed(f"{name} is required", field=name)
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", field=name)
    value = value.strip()
    if not value:
        if nullable:
            return None
        raise ValidationFailed(f"{name} must not be empty", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{name} must be at most {limit} characters", field=name)
    return value


def _number(name: str, value: Any, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationFailed(f"{name} must be a number", field=name)
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low:g} and {high:g}", field=name)
    return float(value)


def validate_location(value: Any, name: str = "location") -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationFailed(
            f"{name} must be an object with city, latitude and longitude", field=name
        )
    check_fields(value, ("city", "latitude", "longitude"))
    city = _text(f"{name}.city", value.get("city"), MAX_CITY, nullable=False)
    return {
        "city": city,
        "latitude": _number(f"{name}.latitude", value.get("latitude"), -90, 90),
        "longitude": _number(f"{name}.longitude", value.get("longitude"), -180, 180),
    }


def validate_queries(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationFailed("search_queries must be a list of strings", field="search_queries")
    if len(value) > MAX_QUERIES:
        raise ValidationFailed(
            f"search_queries may hold at most {MAX_QUERIES} queries", field="search_queries"
        )
    queries: list[str] = []
    for item in value:
        query = _text("each search query", item, MAX_QUERY_LENGTH, nullable=False)
        assert query is not None
        if query.lower() not in (q.lower() for q in queries):
            queries.append(query)
    return queries


def validate_frequency(value: Any) -> str | None:
    if value is None:
        return None
    if value not in FREQUENCIES:
        raise ValidationFailed(
            f"frequency must be one of {', '.join(FREQUENCIES)}", field="frequency"
        )
    return str(value)


def validate_scout_fields(
    data: Mapping[str, Any], *, allowed: tuple[str, ...] = USER_SCOUT_FIELDS
) -> dict[str, Any]:
    """Return the cleaned subset of ``data``; raise ValidationFailed on the first problem."""
    if not isinstance(data, Mapping):
        raise ValidationFailed("expected a JSON object")
    check_fields(data, allowed)
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key == "title":
            cleaned[key] = _text("title", value, MAX_TITLE)
        elif key in ("goal", "description"):
            cleaned[key] = _text(key, value, MAX_TEXT)
        elif key == "search_queries":
            cleaned[key] = validate_queries(value)
        elif key == "location":
            cleaned[key] = validate_location(value)
        elif key == "frequency":
            cleaned[key] = validate_frequency(value)
        elif key == "is_active":
            if not isinstance(value, bool):
                raise ValidationFailed("is_active must be true or false", field="is_active")
            cleaned[key] = value
    return cleaned


def missing_fields(scout: Mapping[str, Any]) -> list[str]:
    """The configuration a scout still lacks before it can run."""
    missing = [name for name in ("title", "goal", "description") if not scout.get(name)]
    location = scout.get("location") or {}
    if not location.get("city"):
        missing.append("location")
    if not scout.get("search_queries"):
        missing.append("search_queries")
    if not scout.get("frequency"):
        missing.append("frequency")
    return missing


def is_complete(scout: Mapping[str, Any]) -> bool:
    """``not missing_fields(scout)``, without building the list: every scout in every
    list answer is checked."""
    get = scout.get
    return bool(get("title") and get("goal") and get("description")
                and (get("location") or {}).get("city") and get("search_queries")
                and get("frequency"))
