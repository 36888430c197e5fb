"""Sessions that survive two tabs, and emails with one spelling per mailbox."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest
from aiohttp.test_utils import TestClient

from engine.accounts.sessions import REFRESH_GRACE_SECONDS
from tests.support import FakeClock, me, post, signup

# ---- two tabs refreshing at once --------------------------------------------------------


async def test_two_concurrent_refreshes_with_one_token_both_succeed(client: TestClient) -> None:
    user = await signup(client, "tabs@example.com")
    token = user.session["refresh_token"]
    (s1, a), (s2, b) = await asyncio.gather(
        post(client, "/api/auth/refresh", {"refresh_token": token}),
        post(client, "/api/auth/refresh", {"refresh_token": token}),
    )
    assert (s1, s2) == (200, 200)
    # Both tabs hold the same new pair, and the user stays signed in.
    assert a["refresh_token"] == b["refresh_token"] != token
    assert a["access_token"] == b["access_token"]
    assert await me(client, a["access_token"]) == 200
    status, nxt = await post(client, "/api/auth/refresh", {"refresh_token": a["refresh_token"]})
    assert status == 200 and await me(client, nxt["access_token"]) == 200


async def test_reuse_inside_the_grace_window_returns_the_issued_pair(
    client: TestClient, clock: FakeClock
) -> None:
    user = await signup(client, "grace@example.com")
    token = user.session["refresh_token"]
    status, first = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert status == 200
    clock.advance(seconds=REFRESH_GRACE_SECONDS - 1)
    status, again = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert status == 200
    assert again["refresh_token"] == first["refresh_token"]
    assert again["access_token"] == first["access_token"]
    assert again["expires_at"] == first["expires_at"]


async def test_reuse_after_the_grace_window_revokes_the_family(
    client: TestClient, clock: FakeClock
) -> None:
    user = await signup(client, "late-tab@example.com")
    token = user.session["refresh_token"]
    _, first = await post(client, "/api/auth/refresh", {"refresh_token": token})
    clock.advance(seconds=REFRESH_GRACE_SECONDS + 1)
    status, body = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert status == 401 and body["error"]["code"] == "invalid_refresh_token"
    status, _ = await post(client, "/api/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 401


async def test_grace_does_not_outlive_a_logout(client: TestClient) -> None:
    user = await signup(client, "out@example.com")
    token = user.session["refresh_token"]
    _, first = await post(client, "/api/auth/refresh", {"refresh_token": token})
    assert (await post(client, "/api/auth/logout", {"refresh_token": token}))[0] == 204
    assert (await post(client, "/api/auth/refresh", {"refresh_token": token}))[0] == 401


async def test_stored_successor_is_not_the_plain_token(client: TestClient, db) -> None:
    import sqlalchemy as sa

    from engine.tables import refresh_tokens

    user = await signup(client, "sealed@example.com")
    _, first = await post(client, "/api/auth/refresh",
                          {"refresh_token": user.session["refresh_token"]})
    async with db.read() as conn:
        sealed = (await conn.execute(sa.select(refresh_tokens.c.successor_sealed))).scalars()
        values = [v for v in sealed if v]
    assert len(values) == 1 and first["refresh_token"] not in values[0]


# ---- one spelling per mailbox -----------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),  # IDN vs punycode
        ("ａｄａ@ｅｘａｍｐｌｅ.com", "ada@example.com"),  # full-width letters
        (unicodedata.normalize("NFC", "josé@example.com"),
         unicodedata.normalize("NFD", "josé@example.com")),  # NFC vs NFD
        ("Ada@Example.COM", "ada@example.com."),  # case, trailing root dot
    ],
)
async def test_spellings_of_one_mailbox_are_one_account(
    client: TestClient, first: str, second: str
) -> None:
    user = await signup(client, first)
    status, body = await post(client, "/api/auth/signup",
                              {"email": second, "password": "another pw"})
    assert status == 409 and body["error"]["code"] == "email_taken"
    status, body = await post(client, "/api/auth/login",
                              {"email": second, "password": "correct horse"})
    assert status == 200 and body["user"]["id"] == user.id


@pytest.mark.parametrize(
    "email",
    [
        "a@" + "b" * 60 + "." + "c" * 60 + "." + "İ" * 150 + ".com",  # grows when lowered
        "x" * 65 + "@example.com",  # local part over 64
        "İ" * 40 + "@example.com",  # 40 characters, 80 once lower-cased
        "a@" + ("\ufb03" * 21 + ".") * 5 + "com",  # 115 characters, 325 after NFKC
        "a@" + ("b" * 63 + ".") * 5 + "com",  # over 320 characters
        "a@exa mple.com",
        "a@例え.テスト\u200d",
    ],
)
async def test_bad_or_overlong_emails_are_422(client: TestClient, email: str) -> None:
    status, body = await post(client, "/api/auth/signup",
                              {"email": email, "password": "correct horse"})
    assert status == 422 and body["error"]["field"] == "email"
