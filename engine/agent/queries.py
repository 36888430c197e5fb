"""The scout's place in its searches: "new restaurants" means new restaurants in Denver."""

from __future__ import annotations

from typing import Any

# The chat configurator stores this city for topics that are not local.
ANYWHERE = "any"


def scout_city(scout: dict[str, Any]) -> str | None:
    location = scout.get("location")
    city = location.get("city") if isinstance(location, dict) else None
    if not isinstance(city, str) or not city.strip() or city.strip().lower() == ANYWHERE:
        return None
    return " ".join(city.split())


def with_city(query: str, city: str | None) -> str:
    """``query`` naming ``city``; unchanged when it already does (or there is no city)."""
    if not city:
        return query
    # "Denver, CO" is named by a query that says "denver".
    name = city.split(",")[0].strip().lower()
    if name and name in query.lower():
        return query
    return f"{query} {city}"
