"""Password reset by email, and "set a password" invitations for imported OAuth accounts.

A link carries a random token; only its SHA-256 is stored, so a copy of the database
cannot be used to take over accounts. A link works once and for a limited time, and using
it ends every session of the account. Requests answer the same whether or not the email
has an account, so the endpoint cannot be used to find out who is registered.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from engine.accounts import auth
from engine.accounts.ratelimit import SlidingWindowLimiter
from engine.accounts.sessions import check_password, normalise_email
from engine.clients.mailer import EmailContent, Mailer
from engine.config import Settings
from engine.db import Database
from engine.errors import RateLimited, ValidationFailed
from engine.storage import outbox
from engine.storage import reset_tokens as token_store
from engine.storage import users as user_store

log = logging.getLogger(__name__)

RESET_TTL = timedelta(hours=1)
# An invitation waits for someone who did not ask for it, so it stays valid longer.
INVITE_TTL = timedelta(days=7)
MAX_TOKEN_LENGTH = 200
# Per address: stops one client from mail-bombing; answered with 429 (it says nothing
# about any account). Per email: extra requests are dropped silently, so a victim's inbox
# is not flooded and the answer still does not depend on the account existing.
REQUESTS_PER_ADDRESS = 10
REQUESTS_PER_EMAIL = 3
CONFIRMS_PER_ADDRESS = 20
WINDOW_SECONDS = 60 * 60


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def render_link_email(purpose: str, link: str, ttl: timedelta) -> EmailContent:
    hours = int(ttl.total_seconds() // 3600)
    if hours >= 48:
        valid = f"{hours // 24} days"
    else:
        valid = "1 hour" if hours == 1 else f"{hours} hours"
    if purpose == "invite":
        subject = "Set a password for Open Scouts"
        lead = ("Open Scouts has moved to a new home. You used to sign in with another "
                "service, so your account has no password yet. Choose one to sign in again; "
                "your scouts and their history are waiting.")
        action = "Set a password"
    else:
        subject = "Reset your Open Scouts password"
        lead = ("Someone, hopefully you, asked to reset the password of this Open Scouts "
                "account. If it was not you, ignore this email; your password stays as it is.")
        action = "Choose a new password"
    note = f"The link works once and for {valid}."
    text = f"{lead}\n\n{action}: {link}\n\n{note}\n"
    body = (
        '<!DOCTYPE html><html><body style="font-family:sans-serif;max-width:640px;'
        'margin:0 auto;line-height:1.5">'
        f"<p>{html.escape(lead)}</p>"
        f'<p><a href="{html.escape(link, quote=True)}">{html.escape(action)}</a></p>'
        f'<p style="color:#666;font-size:13px">{html.escape(note)}</p>'
        '<p style="color:#999;font-size:12px">Sent by Open Scouts.</p>'
        "</body></html>"
    )
    return EmailContent(subject, text, body)


class PasswordReset:
    def __init__(self, db: Database, settings: Settings, mailer: Mailer,
                 bcrypt_rounds: int = auth.BCRYPT_ROUNDS) -> None:
        self.db = db
        self.mailer = mailer
        self.public_url = settings.public_url.rstrip("/")
        self.bcrypt_rounds = bcrypt_rounds
        self.by_address = SlidingWindowLimiter(REQUESTS_PER_ADDRESS, WINDOW_SECONDS)
        self.by_email = SlidingWindowLimiter(REQUESTS_PER_EMAIL, WINDOW_SECONDS)
        self.confirms = SlidingWindowLimiter(CONFIRMS_PER_ADDRESS, WINDOW_SECONDS)

    async def request(self, email: Any, address: str, now: datetime) -> None:
        """Queue a reset link if the account exists; the caller answers 202 either way."""
        email = normalise_email(email)
        _check_limit(self.by_address, address, now, "too many password reset requests")
        self.by_address.hit(address, now)
        if self.by_email.retry_after(email, now):
            log.info("password reset request dropped: too many for one address recently")
            return
        self.by_email.hit(email, now)
        async with self.db.transaction() as conn:
            user = await user_store.get_user_by_email(conn, email)
            if user is not None:
                await self.send_link(conn, user["id"], user["email"], "reset", now)

    async def send_link(
        self, conn: AsyncConnection, user_id: Any, email: str, purpose: str, now: datetime
    ) -> bool:
        """Store a new token and queue its email in the outbox (same transaction)."""
        if not self.mailer.enabled:
            log.warning("SMTP_URL is not set, so no password link can be emailed")
            return False
        ttl = INVITE_TTL if purpose == "invite" else RESET_TTL
        token = secrets.token_urlsafe(32)
        await token_store.insert_token(conn, user_id, hash_token(token), purpose, now, now + ttl)
        # In the fragment, the token never reaches a server log or a Referer header.
        content = render_link_email(purpose, f"{self.public_url}/reset-password#token={token}",
                                    ttl)
        await outbox.enqueue(
            conn, now, user_id=user_id, scout_id=None, execution_id=None,
            kind="set_password" if purpose == "invite" else "password_reset",
            to_address=email, subject=content.subject, text_body=content.text,
            html_body=content.html, message_id=self.mailer.new_message_id(),
        )
        return True

    async def confirm(self, token: Any, password: Any, address: str, now: datetime) -> None:
        _check_limit(self.confirms, address, now, "too many attempts")
        self.confirms.hit(address, now)
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise ValidationFailed("token must be the code from the email link", field="token")
        password = check_password(password)
        password_hash = await auth.hash_password(password, self.bcrypt_rounds)
        async with self.db.transaction() as conn:
            user_id = await token_store.claim_token(conn, hash_token(token), now)
            if user_id is None:
                raise ValidationFailed("this link is invalid, expired or already used; "
                                       "ask for a new one", field="token", code="invalid_token")
            await token_store.set_password(conn, user_id, password_hash, now)


def _check_limit(limiter: SlidingWindowLimiter, key: str, now: datetime, message: str) -> None:
    wait = limiter.retry_after(key, now)
    if wait:
        raise RateLimited(f"{message}; try again later", retry_after=math.ceil(wait))
