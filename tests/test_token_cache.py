"""Verified access tokens are remembered, and that changes nothing a caller can observe:
expiry follows the clock, forgeries and tampered copies are refused, the memory is bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from aiohttp.test_utils import TestClient

from engine.accounts.auth import issue_access_token
from engine.accounts.token_cache import AccessTokenCache
from engine.errors import Unauthorized
from tests.support import FakeClock, signup

SECRET = "test-secret-that-is-long-enough-0123456789"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def list_status(client: TestClient, token: str) -> int:
    async with client.get("/api/scouts", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status


async def test_a_remembered_token_still_expires_on_time(
    client: TestClient, clock: FakeClock
) -> None:
    user = await signup(client, "expiry@example.com")
    for _ in range(3):
        assert await list_status(client, user.token) == 200
    clock.advance(seconds=3599)
    assert await list_status(client, user.token) == 200
    clock.advance(seconds=2)
    assert await list_status(client, user.token) == 401
    assert (await user.request("GET", "/api/auth/me"))[0] == 401


async def test_tampered_copies_of_a_remembered_token_are_refused(client: TestClient) -> None:
    user = await signup(client, "tamper@example.com")
    assert await list_status(client, user.token) == 200
    header, payload, signature = user.token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert await list_status(client, f"{header}.{payload}.{flipped}") == 401
    other = jwt.decode(user.token, options={"verify_signature": False})
    other["sub"] = str(uuid.uuid4())
    resigned = jwt.encode(other, "not-the-server-secret-but-long-enough-0000", algorithm="HS256")
    assert await list_status(client, resigned) == 401
    assert await list_status(client, user.token) == 200


def test_only_verified_tokens_are_kept_and_expired_ones_leave() -> None:
    cache = AccessTokenCache(SECRET)
    user_id = uuid.uuid4()
    token, expires_at = issue_access_token(SECRET, user_id, "a@example.com", NOW, 60)
    assert cache.verify(token, NOW) == (user_id, int(expires_at.timestamp()))
    assert len(cache) == 1
    forged, _ = issue_access_token("another-secret-that-is-long-enough-000", user_id,
                                   "a@example.com", NOW, 60)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            cache.verify(forged, NOW)
    assert len(cache) == 1
    with pytest.raises(Unauthorized):
        cache.verify(token, NOW + timedelta(seconds=60))
    assert len(cache) == 0
    with pytest.raises(Unauthorized):
        cache.verify(token, NOW + timedelta(seconds=61))


def test_the_cache_is_bounded() -> None:
    cache = AccessTokenCache(SECRET, max_tokens=8)
    tokens = [issue_access_token(SECRET, uuid.uuid4(), "a@example.com", NOW, 60)[0]
              for _ in range(20)]
    for token in tokens:
        cache.verify(token, NOW)
    assert len(cache) == 8
    # Evicted tokens are still good: they are verified again.
    assert cache.verify(tokens[0], NOW)[1] == int((NOW + timedelta(seconds=60)).timestamp())
    assert len(cache) == 8
