"""Reading a Server-Sent Events stream in tests, frame by frame."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: Any = None
    comments: list[str] = field(default_factory=list)
    retry: int | None = None

    @property
    def is_event(self) -> bool:
        return self.event is not None


class EventReader:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def frame(self, within: float = 10.0) -> Frame | None:
        """The next frame; None when the server ended the stream."""
        current = Frame()
        data_lines: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), within)
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if line == "":
                if data_lines:
                    current.data = json.loads("\n".join(data_lines))
                return current
            if line.startswith(":"):
                current.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data_lines.append(value)
            elif name == "id":
                current.id = value
            elif name == "event":
                current.event = value
            elif name == "retry":
                current.retry = int(value)

    async def event(self, within: float = 10.0) -> Frame:
        """The next real event, skipping heartbeats and the reconnect hint."""
        while True:
            frame = await self.frame(within)
            assert frame is not None, "the stream ended"
            if frame.is_event:
                return frame

    async def events_until(self, done: Any, within: float = 10.0) -> list[Frame]:
        seen: list[Frame] = []
        while not seen or not done(seen[-1]):
            seen.append(await self.event(within))
        return seen

    async def ended(self, within: float = 10.0) -> bool:
        """True once the server closes the stream (frames before that are skipped)."""
        while True:
            if await self.frame(within) is None:
                return True
