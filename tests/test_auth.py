from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
from aiohttp.test_utils import TestClient

from tests.support import FakeClock, signup

SECRET = "test-secret-that-is-long-enough-0123456789"


async def post(client: TestClient, path: str, body: object) -> tuple[int, dict]:
    async with client.post(path, json=body) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else {})


async def me(client: TestClient, token: str) -> tuple[int, dict]:
    async with client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


async def test_signup_login_and_me(client: TestClient) -> None:
    user = await signup(client, "  Ada@Example.COM ")
    assert user.session["user"]["email"] == "ada@example.com"
    assert user.session["token_type"] == "bearer"
    assert user.session["expires_in"] == 3600

    status, body = await post(
        client, "/api/auth/login", {"email": "ADA@example.com", "password": "correct horse"}
    )
    assert status == 200
    status, body = await me(client, body["access_token"])
    assert status == 200 and body["user"]["email"] == "ada@example.com"


async def test_password_is_stored_as_bcrypt_hash(client: TestClient, db) -> None:
    await signup(client, "hash@example.com", "correct horse")
    async with db.transaction() as conn:
        from engine.storage.users import get_user_by_email

        row = await get_user_by_email(conn, "hash@example.com")
    assert row["password_hash"].startswith("$2b$")
    assert "correct horse" not in row["password_hash"]


async def test_duplicate_email_is_a_conflict(client: TestClient) -> None:
    await signup(client, "dup@example.com")
    status, body = await post(
        client, "/api/auth/signup", {"email": "DUP@example.com", "password": "another pw"}
    )
    assert status == 409 and body["error"]["code"] == "email_taken"


async def test_signup_validation(client: TestClient) -> None:
    status, body = await post(client, "/api/auth/signup", {"email": "nope", "password": "x" * 10})
    assert status == 422 and "email" in body["error"]["message"]
    status, body = await post(client, "/api/auth/signup", {"email": "a@b.co", "password": "short"})
    assert status == 422 and "at least 8" in body["error"]["message"]
    status, body = await post(
        client, "/api/auth/signup", {"email": "a@b.co", "password": "p" * 10, "admin": True}
    )
    assert status == 422 and "admin" in body["error"]["message"]


async def test_wrong_password_and_unknown_email_look_the_same(client: TestClient) -> None:
    await signup(client, "same@example.com")
    wrong = await post(client, "/api/auth/login", {"email": "same@example.com", "password": "bad password"})
    unknown = await post(client, "/api/auth/login", {"email": "who@example.com", "password": "bad password"})
    assert wrong == unknown
    assert wrong[0] == 401 and wrong[1]["error"]["code"] == "invalid_credentials"


async def test_login_is_rate_limited_per_email_and_address(
    trusted_client: TestClient, clock: FakeClock
) -> None:
    client = trusted_client
    await signup(client, "brute@example.com")
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    for _ in range(5):
        async with client.post("/api/auth/login", headers=attacker,
                               json={"email": "brute@example.com", "password": "guess1234"}) as r:
            assert r.status == 401
    async with client.post(
        "/api/auth/login", headers=attacker,
        json={"email": "brute@example.com", "password": "correct horse"},
    ) as resp:
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) > 0
        assert (await resp.json())["error"]["code"] == "rate_limited"
    # The owner, from their own address, is not locked out by the stranger's guesses.
    async with client.post(
        "/api/auth/login", headers={"X-Forwarded-For": "198.51.100.20"},
        json={"email": "brute@example.com", "password": "correct horse"},
    ) as resp:
        assert resp.status == 200
    clock.advance(minutes=16)
    async with client.post(
        "/api/auth/login", headers=attacker,
        json={"email": "brute@example.com", "password": "correct horse"},
    ) as resp:
        assert resp.status == 200


async def test_forged_forwarded_for_is_ignored_without_trusted_proxies(
    client: TestClient,
) -> None:
    # No TRUSTED_PROXIES: 30 guesses with 30 invented addresses all count against the peer.
    statuses = []
    for i in range(30):
        async with client.post("/api/auth/login",
                               json={"email": f"victim{i}@example.com", "password": "guess1234"},
                               headers={"X-Forwarded-For": f"203.0.113.{i + 1}"}) as resp:
            statuses.append(resp.status)
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 10


async def test_expired_token_is_refused(client: TestClient, clock: FakeClock) -> None:
    user = await signup(client, "late@example.com")
    clock.advance(seconds=3599)
    assert (await me(client, user.token))[0] == 200
    clock.advance(seconds=2)
    status, body = await me(client, user.token)
    assert status == 401 and "expired" in body["error"]["message"]


async def test_forged_and_alg_none_tokens_are_refused(client: TestClient, clock: FakeClock) -> None:
    user = await signup(client, "forge@example.com")
    claims = {"sub": user.id, "email": "forge@example.com", "typ": "access",
              "iat": int(clock.now.timestamp()), "exp": int((clock.now + timedelta(hours=1)).timestamp())}
    forged = jwt.encode(claims, "some-other-secret-of-enough-length-000", algorithm="HS256")
    assert (await me(client, forged))[0] == 401

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert (await me(client, unsigned))[0] == 401
    # A correctly signed token for a user that does not exist is no better.
    ghost = jwt.encode({**claims, "sub": str(uuid.uuid4())}, SECRET, algorithm="HS256")
    assert (await me(client, ghost))[0] == 401
    assert (await me(client, "garbage"))[0] == 401
    async with client.get("/api/auth/me") as resp:
        assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: TestClient, clock: FakeClock
) -> None:
    user = await signup(client, "rot@example.com")
    first = user.session["refresh_token"]
    status, second = await post(client, "/api/auth/refresh", {"refresh_token": first})
    assert status == 200 and second["refresh_token"] != first
    assert (await me(client, second["access_token"]))[0] == 200

    # The old token comes back after the grace window: someone copied it. Both it and its
    # successor stop working.
    clock.advance(seconds=21)
    status, body = await post(client, "/api/auth/refresh", {"refresh_token": first})
    assert status == 401 and body["error"]["code"] == "invalid_refresh_token"
    status, _ = await post(client, "/api/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 401


async def test_refresh_token_expires(client: TestClient, clock: FakeClock) -> None:
    user = await signup(client, "old@example.com")
    clock.advance(days=31)
    status, _ = await post(client, "/api/auth/refresh", {"refresh_token": user.session["refresh_token"]})
    assert status == 401


async def test_logout_ends_the_refresh_family(client: TestClient) -> None:
    user = await signup(client, "bye@example.com")
    status, _ = await post(client, "/api/auth/logout", {"refresh_token": user.session["refresh_token"]})
    assert status == 204
    status, _ = await post(client, "/api/auth/refresh", {"refresh_token": user.session["refresh_token"]})
    assert status == 401


async def test_login_limit_per_address_uses_the_address_our_proxy_forwards(
    trusted_client: TestClient,
) -> None:
    # The test client connects from 127.0.0.1, like the Next.js proxy in front of the API,
    # and 127.0.0.1 is a trusted proxy here.
    client = trusted_client
    for i in range(20):
        async with client.post("/api/auth/login",
                               json={"email": f"nobody{i}@example.com", "password": "guess1234"},
                               headers={"X-Forwarded-For": "203.0.113.7"}) as resp:
            assert resp.status == 401
    async with client.post("/api/auth/login",
                           json={"email": "another@example.com", "password": "guess1234"},
                           headers={"X-Forwarded-For": "203.0.113.7"}) as resp:
        assert resp.status == 429
    # Another visitor behind the same proxy is not locked out by the first one.
    async with client.post("/api/auth/login",
                           json={"email": "another@example.com", "password": "guess1234"},
                           headers={"X-Forwarded-For": "198.51.100.4"}) as resp:
        assert resp.status == 401
    # A client cannot slip past by prepending addresses: the hop our proxy added counts.
    async with client.post("/api/auth/login",
                           json={"email": "another@example.com", "password": "guess1234"},
                           headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}) as resp:
        assert resp.status == 429
