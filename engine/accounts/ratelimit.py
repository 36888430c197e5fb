"""In-process sliding-window limiter for login attempts.

Per process by design: the API runs as one process per deployment here, and a restart
forgetting failed attempts is acceptable for this purpose.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            self._hits.clear()

    def retry_after(self, key: str, at: datetime) -> float:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = at.timestamp()
        hits = self._recent(key, now)
        if len(hits) < self.limit:
            return 0.0
        return max(hits[0] + self.window - now, 1.0)

    def hit(self, key: str, at: datetime) -> None:
        self._recent(key, at.timestamp()).append(at.timestamp())

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
