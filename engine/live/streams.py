"""One open event stream: a bounded queue of events for one user, and why it ended."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str  # "execution" | "scout" | "resync"
    data: dict[str, Any]


class Stream:
    """Filled by the hub, emptied by the HTTP handler.

    A client too slow to keep up is not buffered without bound: its stream ends with
    reason "resync" (the handler tells the client to reload, then closes)."""

    def __init__(self, user_id: uuid.UUID, capacity: int = 1000) -> None:
        self.user_id = user_id
        self.closed: str | None = None
        self._events: deque[LiveEvent] = deque()
        self._capacity = capacity
        self._wakeup = asyncio.Event()

    def push(self, event: LiveEvent) -> None:
        if self.closed is not None:
            return
        if len(self._events) >= self._capacity:
            self.close("resync")
            return
        self._events.append(event)
        self._wakeup.set()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
        self._wakeup.set()

    async def next(self, within: float) -> LiveEvent | None:
        """The next event, or None after ``within`` seconds or once the stream is closed
        and drained."""
        if not self._events and self.closed is None:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), within)
            except TimeoutError:
                pass
        return self._events.popleft() if self._events else None
