"""Sign-up, login, refresh-token rotation and logout."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import idna

from engine.accounts import auth
from engine.accounts.ratelimit import SlidingWindowLimiter
from engine.accounts.token_cache import AccessTokenCache
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from engine.live import changes
from engine.storage import users as user_store

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 320
MAX_LOCAL_PART = 64
# Failed logins are counted per (email, address) and per address, never per email alone:
# a count per email would let anyone lock any user out by guessing wrong on purpose.
LOGIN_LIMIT_PER_EMAIL = 5
LOGIN_LIMIT_PER_ADDRESS = 20
LOGIN_WINDOW_SECONDS = 15 * 60
# Two tabs refreshing at once present the same token; within this window the second one
# gets the pair the first one got instead of being taken for a thief.
REFRESH_GRACE_SECONDS = 20


@dataclass(frozen=True)
class Session:
    user: dict[str, Any]
    access_token: str
    expires_at: datetime
    refresh_token: str


def normalise_email(value: Any) -> str:
    """One spelling per mailbox: NFKC, lower case, the domain IDNA-encoded.

    Full-width letters, NFC/NFD forms and a Unicode domain versus its punycode all map to
    the same string, so they cannot become separate accounts. Lengths are checked on the
    result, which is what gets stored.
    """
    invalid = ValidationFailed("email must be a valid email address", field="email")
    if not isinstance(value, str) or len(value) > 4 * MAX_EMAIL_LENGTH:
        raise invalid
    text = unicodedata.normalize("NFKC", value).strip()
    if not EMAIL_RE.match(text):
        raise invalid
    local, _, domain = text.rpartition("@")
    domain = domain.rstrip(".")
    if domain.isascii():
        # Already what IDNA would produce (or punycode); accounts made before
        # normalisation keep working even where strict IDNA would refuse a label.
        ascii_domain = domain
    else:
        try:
            ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise invalid from None
    local = local.lower()  # may grow: "İ" lowers to two code points
    email = f"{local}@{ascii_domain.lower()}"
    if len(local) > MAX_LOCAL_PART or len(email) > MAX_EMAIL_LENGTH or "." not in ascii_domain:
        raise ValidationFailed(
            f"email must be at most {MAX_EMAIL_LENGTH} characters ({MAX_LOCAL_PART} before "
            "the @)", field="email"
        )
    return email


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
        self.by_email_and_address = SlidingWindowLimiter(
            LOGIN_LIMIT_PER_EMAIL, LOGIN_WINDOW_SECONDS
        )
        self.by_address = SlidingWindowLimiter(LOGIN_LIMIT_PER_ADDRESS, LOGIN_WINDOW_SECONDS)
        self.tokens = AccessTokenCache(settings.jwt_secret)

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
        pair = f"{email}\n{address}"
        wait = max(self.by_email_and_address.retry_after(pair, now),
                   self.by_address.retry_after(address, now))
        if wait:
            raise RateLimited(
                "too many login attempts; try again later", retry_after=math.ceil(wait)
            )
        async with self.db.read() as conn:
            user = await user_store.get_user_by_email(conn, email)
        ok = await auth.verify_password(password, user["password_hash"] if user else None)
        if not ok or user is None:
            self.by_email_and_address.hit(pair, now)
            self.by_address.hit(address, now)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        self.by_email_and_address.reset(pair)
        async with self.db.transaction() as conn:
            return await self._open_session(conn, user, uuid.uuid4(), now)

    async def refresh(self, refresh_token: Any, now: datetime) -> Session:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValidationFailed("refresh_token is required", field="refresh_token")
        token_hash = auth.hash_refresh_token(refresh_token)
        async with self.db.transaction() as conn:
            outcome, row = await user_store.use_refresh_token(conn, token_hash, now)
            if outcome == "ok" and row is not None:
                user = await user_store.get_user(conn, row["user_id"])
                if user is None:
                    raise Unauthorized("account no longer exists", code="invalid_refresh_token")
                session = await self._open_session(conn, user, row["family_id"], now)
                await user_store.record_successor(
                    conn, row["id"], auth.seal_successor(refresh_token, session.refresh_token)
                )
                return session
            if outcome == "reused" and row is not None:
                replayed = await self._replay(conn, refresh_token, row, now)
                if replayed is not None:
                    return replayed
                # A used token coming back means it leaked: end every session of that login.
                await user_store.revoke_family(conn, row["family_id"], now)
        # Raised after the transaction so that the revocation above is committed.
        raise Unauthorized("refresh token is invalid or expired", code="invalid_refresh_token")

    async def _replay(
        self, conn: Any, refresh_token: str, row: dict[str, Any], now: datetime
    ) -> Session | None:
        """The session already issued for ``row``, when it was used moments ago."""
        used_at = row["used_at"]
        if (row["revoked_at"] is not None or not row["successor_sealed"]
                or now - used_at > timedelta(seconds=REFRESH_GRACE_SECONDS)):
            return None
        successor = auth.open_successor(refresh_token, row["successor_sealed"])
        if successor is None:
            return None
        current = await user_store.get_refresh_token(conn, auth.hash_refresh_token(successor))
        if current is None or current["revoked_at"] is not None or current["expires_at"] <= now:
            return None
        user = await user_store.get_user(conn, row["user_id"])
        if user is None:
            return None
        # Same claims at the same instant: the very access token the first request received.
        access, expires_at = auth.issue_access_token(
            self.settings.jwt_secret, user["id"], user["email"], used_at,
            self.settings.jwt_ttl_seconds,
        )
        return Session(public_user(user), access, expires_at, successor)

    async def logout(self, refresh_token: Any, now: datetime) -> None:
        if not isinstance(refresh_token, str) or not refresh_token:
            raise ValidationFailed("refresh_token is required", field="refresh_token")
        async with self.db.transaction() as conn:
            family = await user_store.family_of(conn, auth.hash_refresh_token(refresh_token))
            if family is not None:
                await user_store.revoke_family(conn, family, now)
                changes.signed_out(conn, family)

    def user_id_for_token(self, token: str, now: datetime) -> uuid.UUID:
        """The caller's id from a valid access token, without asking the database."""
        return self.tokens.verify(token, now)[0]

    async def user_for_token(self, token: str, now: datetime) -> dict[str, Any]:
        user_id = self.tokens.verify(token, now)[0]

        async def fetch() -> dict[str, Any] | None:
            # One statement with no BEGIN/COMMIT around it: this runs before every
            # authenticated request.
            async with self.db.single() as conn:
                return await user_store.get_user(conn, user_id)

        user = await self.db.retrying(fetch)
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
