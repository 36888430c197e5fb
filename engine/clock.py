"""The one place that reads the wall clock.

Everything else receives ``now`` as an argument, so frozen-time tests hold on every
database (no SQL ever calls NOW()).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
