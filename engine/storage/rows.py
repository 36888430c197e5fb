from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def as_dict(row: Any) -> dict[str, Any] | None:
    """A result row (or None) as a plain dict."""
    return None if row is None else dict(row._mapping)


def as_dicts(rows: sa.CursorResult[Any] | sa.Result[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in rows]
