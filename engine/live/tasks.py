"""Stopping the live machinery's background tasks."""

from __future__ import annotations

import asyncio

STOP_WAIT = 5.0


async def finish(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait for it, but not forever: a cancellation swallowed deep inside
    a database driver must not hold up the server's shutdown (the loops also check a stop
    flag, so such a task ends at its next turn)."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_WAIT)
