"""Password hashing and token primitives.

bcrypt is deliberately slow, so hashing runs in a worker thread and the event loop keeps
serving other requests meanwhile. The threads are a small pool of their own: on the
default executor twenty logins hash at once and starve the event loop of CPU, so every
other request waits for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import bcrypt
import jwt

from engine.errors import Unauthorized

JWT_ALGORITHM = "HS256"
BCRYPT_ROUNDS = 12
# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72
MIN_PASSWORD_LENGTH = 8

# One core stays free for the event loop; further logins queue for a thread.
# (Measured on 2 cores: a second thread at the lowest priority gave more logins per second
# but a worse p99 for everything else.)
BCRYPT_THREADS = max(1, (os.cpu_count() or 2) - 1)
# How much nicer than the process the hashing threads run: when the machine is busy the
# scheduler gives the event loop's thread the CPU first, so other requests are not held
# back behind a login's hash (bcrypt releases the GIL while it hashes). The lowest
# priority measured best; the price is slower logins while other processes keep every
# core busy.
BCRYPT_NICENESS = 19


def _lower_thread_priority() -> None:
    """Make the calling thread (only it, on Linux) nicer by ``BCRYPT_NICENESS``."""
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is None or not hasattr(os, "setpriority"):
        return
    try:
        tid = get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + BCRYPT_NICENESS))
    except OSError:
        # Some platforms apply a priority to the whole process or refuse it; hashing
        # at the normal priority is still correct.
        pass


_bcrypt_pool = ThreadPoolExecutor(max_workers=BCRYPT_THREADS, thread_name_prefix="bcrypt",
                                  initializer=_lower_thread_priority)

# Verifying against this keeps "unknown email" as slow as "wrong password".
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=4)).decode()


async def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    salt = bcrypt.gensalt(rounds=rounds)
    loop = asyncio.get_running_loop()
    hashed = await loop.run_in_executor(_bcrypt_pool, bcrypt.hashpw, password.encode(), salt)
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None) -> bool:
    target = (password_hash or _DUMMY_HASH).encode()
    try:
        ok = await asyncio.get_running_loop().run_in_executor(
            _bcrypt_pool, bcrypt.checkpw, password.encode(), target)
    except ValueError:
        return False
    return ok and password_hash is not None


def issue_access_token(
    secret: str, user_id: uuid.UUID, email: str, now: datetime, ttl_seconds: int
) -> tuple[str, datetime]:
    expires_at = now + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": str(user_id),
        "email": email,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), expires_at


def decode_access_token(secret: str, token: str, now: datetime) -> dict[str, Any]:
    """Verify signature, algorithm and expiry against ``now``; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "iat"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise Unauthorized("invalid access token") from None
    # Expiry is checked here rather than by PyJWT so that it follows the injected clock.
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        raise Unauthorized("access token expired")
    if claims.get("typ") != "access":
        raise Unauthorized("invalid access token")
    try:
        claims["sub"] = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("invalid access token") from None
    return claims


def new_refresh_token() -> tuple[str, str]:
    """An opaque token for the client and the SHA-256 hash we store."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _successor_pad(token: str) -> bytes:
    # A one-time pad derived from the presented token: the stored hash alone cannot
    # reproduce it, so a copy of the database does not hand out live refresh tokens.
    return hmac.new(token.encode(), b"open-scouts refresh successor", hashlib.sha512).digest()


def seal_successor(token: str, successor: str) -> str:
    """``successor`` encrypted so that only the holder of ``token`` can read it."""
    data = successor.encode()
    pad = _successor_pad(token)
    if len(data) > len(pad):
        raise ValueError("refresh token too long to seal")
    return bytes(a ^ b for a, b in zip(data, pad, strict=False)).hex()


def open_successor(token: str, sealed: str) -> str | None:
    try:
        data = bytes.fromhex(sealed)
    except ValueError:
        return None
    plain = bytes(a ^ b for a, b in zip(data, _successor_pad(token), strict=False))
    try:
        return plain.decode("ascii")
    except UnicodeDecodeError:
        return None
