"""Sign-up, login, refresh-token rotation and logout."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine import auth
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from engine.live import changes
from engine.ratelimit import SlidingWindowLimiter
from engine.storage import users as user_store

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_LIMIT_PER_EMAIL = 5
LOGIN_LIMIT_PER_ADDRESS = 20
LOGIN_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Session:
    user: dict[str, Any]
    access_token: str
    expires_at: datetime
    refresh_token: str


def normalise_email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL_RE.match(value.strip()) or len(value) > 320:
        raise ValidationFailed("email must be a valid email address", field="email")
    return value.strip().lower()


def check_password(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("password must be a string", field="password")
    if len(value) < auth.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at least {auth.MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(value.encode()) > auth.MAX_PASSWORD_BYTES:
        raise ValidationFailed(
            f"password must be at most {auth.MAX_PASSWORD_BYTES} bytes", field="password"
        )
    return value


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "email": user["email"], "created_at": user["created_at"]}


class Accounts:
    def __init__(self, db: Database, settings: Settings, bcrypt_rounds: int = auth.BCRYPT_ROUNDS):
        self.db = db
        self.settings = settings
        self.bcrypt_rounds = bcrypt_rounds
        self.by_email = SlidingWindowLimiter(LOGIN_LIMIT_PER_EMAIL, LOGIN_WINDOW_SECONDS)
        self.by_address = SlidingWindowLimiter(LOGIN_LIMIT_PER_ADDRESS, LOGIN_WINDOW_SECONDS)

    async def signup(self, email: Any, password: Any, now: datetime) -> Session:
        email = normalise_email(email)
        password = check_password(password)
        password_hash = await auth.hash_password(password, self.bcrypt_rounds)
        async with self.db.transaction() as conn:
            user = await user_store.create_user(conn, email, password_hash, now)
            if user is None:
                raise Conflict("an account with this email already exists", code="email_taken")
            return await self._open_session(conn, user, uuid.uuid4(), now)

    async def login(self, email: Any, password: Any, address: str, now: datetime) -> Session:
        email = normalise_email(email)
        if not isinstance(password, str):
            raise ValidationFailed("password must be a string", field="password")
        wait = max(self.by_email.retry_after(email, now), self.by_address.retry_after(address, now))
        if wait:
            raise RateLimited(
                "too many login attempts; try again later", retry_after=math.ceil(wait)
            )
        async with self.db.read() as conn:
            user = await user_store.get_user_by_email(conn, email)
        ok = await auth.verify_password(password, user["password_hash"] if user else None)
        if not ok or user is None:
            self.by_email.hit(email, now)
            self.by_address.hit(address, now)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        self.by_email.reset(email)
        async with self.db.transaction() as conn:
            return await self._open_session(conn, user, uuid.uuid4(), now)

    async def refresh(self, refresh_token: Any, now: datetime) -> Session:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValidationFailed("refresh_token is required", field="refresh_token")
        token_hash = auth.hash_refresh_token(refresh_token)
        async with self.db.transaction() as conn:
            outcome, row = await user_store.use_refresh_token(conn, token_hash, now)
            if outcome == "reused" and row is not None:
                # A used token coming back means it leaked: end every session of that login.
                await user_store.revoke_family(conn, row["family_id"], now)
            if outcome != "ok" or row is None:
                outcome_error = Unauthorized("refresh token is invalid or expired",
                                             code="invalid_refresh_token")
            else:
                user = await user_store.get_user(conn, row["user_id"])
                if user is None:
                    raise Unauthorized("account no longer exists", code="invalid_refresh_token")
                return await self._open_session(conn, user, row["family_id"], now)
        raise outcome_error

    async def logout(self, refresh_token: Any, now: datetime) -> None:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValidationFailed("refresh_token is required", field="refresh_token")
        async with self.db.transaction() as conn:
            family = await user_store.family_of(conn, auth.hash_refresh_token(refresh_token))
            if family is not None:
                await user_store.revoke_family(conn, family, now)
                changes.signed_out(conn, family)

    async def user_for_token(self, token: str, now: datetime) -> dict[str, Any]:
        claims = auth.decode_access_token(self.settings.jwt_secret, token, now)
        async with self.db.read() as conn:
            user = await user_store.get_user(conn, claims["sub"])
        if user is None:
            raise Unauthorized("account no longer exists")
        return public_user(user)

    async def _open_session(
        self, conn: Any, user: dict[str, Any], family_id: uuid.UUID, now: datetime
    ) -> Session:
        access, expires_at = auth.issue_access_token(
            self.settings.jwt_secret, user["id"], user["email"], now,
            self.settings.jwt_ttl_seconds,
        )
        refresh, refresh_hash = auth.new_refresh_token()
        await user_store.insert_refresh_token(
            conn,
            user_id=user["id"],
            family_id=family_id,
            token_hash=refresh_hash,
            now=now,
            ttl=timedelta(seconds=self.settings.refresh_ttl_seconds),
        )
        return Session(public_user(user), access, expires_at, refresh)
