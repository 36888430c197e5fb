"""Access tokens already verified, so a client's next requests skip the JWT decode.

Verifying a token is a pure function of the token and the signing key: the same string
verifies the same way every time, until it expires. PyJWT's decode (base64, JSON, HMAC,
claim checks) was the largest piece of the scout list's CPU after the query itself, and a
browser sends the same token with every request for its whole lifetime. So the claims a
token verified to are kept, keyed by the exact token string, and only expiry is checked
again (against the caller's clock). Forged, malformed or expired tokens are never kept.
The cache is bounded: when full, the oldest entry makes room.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from engine.accounts.auth import decode_access_token
from engine.errors import Unauthorized

MAX_TOKENS = 4096


class AccessTokenCache:
    def __init__(self, secret: str, max_tokens: int = MAX_TOKENS) -> None:
        self.secret = secret
        self.max_tokens = max_tokens
        self._verified: dict[str, tuple[uuid.UUID, int]] = {}

    def __len__(self) -> int:
        return len(self._verified)

    def verify(self, token: str, now: datetime) -> tuple[uuid.UUID, int]:
        """The token's user id and expiry (Unix seconds); Unauthorized if the token is
        not one we signed or has expired by ``now``."""
        known = self._verified.get(token)
        if known is not None:
            if known[1] > now.timestamp():
                return known
            del self._verified[token]
            raise Unauthorized("access token expired")
        claims = decode_access_token(self.secret, token, now)
        verified = (claims["sub"], claims["exp"])
        if len(self._verified) >= self.max_tokens:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = verified
        return verified
