"""Start-up and shutdown of the API process with its in-process scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.app import build_services, create_app
from engine.config import Settings
from engine.db import Database


async def test_the_in_process_scheduler_stops_before_the_database_closes(
    settings: Settings, database_url: str, clock: Any,
) -> None:
    """Closing the pool under a running scheduler cancelled its transactions mid-way
    (SQLite then kept its write lock, and the log showed a rollback error)."""
    db = Database(database_url)
    services = build_services(settings, db=db, clock=clock, bcrypt_rounds=4)
    order: list[str] = []
    close_database = db.close
    run_forever = services.engine.run_forever

    async def closing() -> None:
        order.append("database closed")
        await close_database()

    async def running(stop: asyncio.Event, on_tick: Callable[[], None] | None = None) -> None:
        await run_forever(stop, on_tick)
        order.append("scheduler stopped")

    db.close = closing  # type: ignore[method-assign]
    services.engine.run_forever = running  # type: ignore[method-assign]
    app = create_app(services, own_database=True, run_scheduler=True)
    async with TestClient(TestServer(app)) as client:
        async with client.get("/api/health") as response:
            assert response.status == 200
    assert order == ["scheduler stopped", "database closed"]
