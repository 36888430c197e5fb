"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


class FakeClock:
    """A clock tests move by hand; the app and engine read time only through it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class User:
    """A signed-up user with a bound client, so tests read like what a person does."""

    def __init__(self, client: TestClient, session: dict[str, Any]) -> None:
        self.client = client
        self.session = session
        self.id = session["user"]["id"]
        self.token = session["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, body

    async def create_scout(self, **fields: Any) -> dict[str, Any]:
        status, body = await self.request("POST", "/api/scouts", json=fields)
        assert status == 201, body
        return body["scout"]


COMPLETE_SCOUT: dict[str, Any] = {
    "title": "Denver Indian food",
    "goal": "Find new Indian restaurants opening in Denver",
    "description": "Openings and soft launches of Indian restaurants in the Denver area",
    "search_queries": ["new Indian restaurant Denver", "Denver Indian restaurant opening"],
    "location": {"city": "Denver", "latitude": 39.74, "longitude": -104.99},
    "frequency": "daily",
}


async def post(client: TestClient, path: str, body: object) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a POST (an empty body for 204)."""
    async with client.post(path, json=body) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else {})


async def me(client: TestClient, token: str) -> int:
    """Status of GET /api/auth/me with ``token`` as the bearer."""
    async with client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def signup(client: TestClient, email: str, password: str = "correct horse") -> User:
    async with client.post("/api/auth/signup", json={"email": email, "password": password}) as r:
        body = await r.json()
        assert r.status == 201, body
    return User(client, body)


async def kill_client_connections(database_url: str) -> int:
    """As a database restart would: every other client connection to the database dies.
    Returns how many were terminated (PostgreSQL only)."""
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            return int((await conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                "AND backend_type = 'client backend'"))).scalar_one())
    finally:
        await admin.dispose()
