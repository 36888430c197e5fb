"""Everything that reads the wall clock, tested under freezegun: access-token expiry, the
refresh grace window, the login window and the run-now cooldown.

These tests use the production clock (engine/clock.py utcnow) rather than the FakeClock
the other tests inject, so they prove the real clock path honours frozen time too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from freezegun import freeze_time

from api.app import build_services, create_app
from engine.accounts.sessions import REFRESH_GRACE_SECONDS
from engine.config import Settings
from engine.db import Database
from tests.support import COMPLETE_SCOUT, me, post, signup


@pytest.fixture
async def wall_client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    """The production clock (engine/clock.py utcnow), not the FakeClock: freezegun moves it."""
    built = build_services(settings, db=db, bcrypt_rounds=4)
    app = create_app(built, own_database=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    await built.engine.close()


async def test_access_token_expiry_follows_wall_time(wall_client: TestClient) -> None:
    with freeze_time("2026-06-01 12:00:00", real_asyncio=True) as frozen:
        user = await signup(wall_client, "wall@example.com")
        frozen.tick(3599)
        assert await me(wall_client, user.token) == 200
        frozen.tick(2)
        assert await me(wall_client, user.token) == 401


async def test_refresh_grace_follows_wall_time(wall_client: TestClient) -> None:
    with freeze_time("2026-06-01 12:00:00", real_asyncio=True) as frozen:
        user = await signup(wall_client, "wallgrace@example.com")
        token = user.session["refresh_token"]
        assert (await post(wall_client, "/api/auth/refresh", {"refresh_token": token}))[0] == 200
        frozen.tick(REFRESH_GRACE_SECONDS)
        assert (await post(wall_client, "/api/auth/refresh", {"refresh_token": token}))[0] == 200
        frozen.tick(1)
        assert (await post(wall_client, "/api/auth/refresh", {"refresh_token": token}))[0] == 401


async def test_login_window_follows_wall_time(wall_client: TestClient) -> None:
    with freeze_time("2026-06-01 12:00:00", real_asyncio=True) as frozen:
        await signup(wall_client, "wallbrute@example.com")
        wrong = {"email": "wallbrute@example.com", "password": "guess1234"}
        right = {"email": "wallbrute@example.com", "password": "correct horse"}
        for _ in range(5):
            assert (await post(wall_client, "/api/auth/login", wrong))[0] == 401
        assert (await post(wall_client, "/api/auth/login", right))[0] == 429
        frozen.tick(14 * 60)
        assert (await post(wall_client, "/api/auth/login", right))[0] == 429
        frozen.tick(61)
        assert (await post(wall_client, "/api/auth/login", right))[0] == 200


async def test_run_now_cooldown_follows_wall_time(wall_client: TestClient) -> None:
    with freeze_time("2026-06-01 12:00:00", real_asyncio=True) as frozen:
        user = await signup(wall_client, "wallrun@example.com")
        scout = await user.create_scout(**COMPLETE_SCOUT)
        status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
        assert status == 202
        execution_id = body["execution"]["id"]
        assert (await user.request("POST", f"/api/executions/{execution_id}/cancel"))[0] == 200
        frozen.tick(5 * 60)
        async with wall_client.post(f"/api/scouts/{scout['id']}/run",
                                    headers=user.headers) as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "900"
        frozen.tick(15 * 60)
        assert (await user.request("POST", f"/api/scouts/{scout['id']}/run"))[0] == 202
