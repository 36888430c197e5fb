from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from aiohttp import web

from api.context import now, services
from api.jsonio import json_response, read_object
from engine.accounts.sessions import Session
from engine.errors import Unauthorized
from engine.validation import check_fields

routes = web.RouteTableDef()
CURRENT_USER = web.RequestKey("current_user", dict)

UserHandler = Callable[[web.Request, uuid.UUID], Awaitable[web.StreamResponse]]


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()


def authenticated(handler: UserHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Resolve the bearer token to the caller's id before the handler runs."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = bearer_token(request)
        user = await services(request).accounts.user_for_token(token, now(request))
        request[CURRENT_USER] = user
        return await handler(request, user["id"])

    return wrapper


def token_checked(handler: UserHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Like `authenticated`, but only the token's signature and expiry are checked here:
    the handler's own query must prove the account still exists (Unauthorized if not).
    That saves the hot read paths a round trip to the database."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        token = bearer_token(request)
        user_id = services(request).accounts.user_id_for_token(token, now(request))
        return await handler(request, user_id)

    return wrapper


def session_body(session: Session, at: Any) -> dict[str, Any]:
    return {
        "access_token": session.access_token,
        "token_type": "bearer",
        "expires_in": int((session.expires_at - at).total_seconds()),
        "expires_at": int(session.expires_at.timestamp()),
        "refresh_token": session.refresh_token,
        "user": session.user,
    }


def client_address(request: web.Request) -> str:
    """The caller's address for rate limiting.

    ``X-Forwarded-For`` is believed only when the direct peer is one of TRUSTED_PROXIES:
    anyone else could write any address there. Walking the list from the right, the
    first address that is not itself a trusted proxy is the client.
    """
    remote = request.remote or "unknown"
    trusted = services(request).settings.trusted_proxies
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    hops = [hop.strip() for hop in ",".join(request.headers.getall("X-Forwarded-For", ()))
            .split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else remote
    return remote


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(text: str, trusted: tuple[Any, ...]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in trusted)


@routes.post("/api/auth/signup")
async def signup(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("email", "password"))
    at = now(request)
    session = await services(request).accounts.signup(body.get("email"), body.get("password"), at)
    return json_response(session_body(session, at), status=201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("email", "password"))
    at = now(request)
    session = await services(request).accounts.login(
        body.get("email"), body.get("password"), client_address(request), at
    )
    return json_response(session_body(session, at))


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("refresh_token",))
    at = now(request)
    session = await services(request).accounts.refresh(body.get("refresh_token"), at)
    return json_response(session_body(session, at))


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("refresh_token",))
    await services(request).accounts.logout(body.get("refresh_token"), now(request))
    return web.Response(status=204)


@routes.get("/api/auth/me")
@authenticated
async def me(request: web.Request, user_id: uuid.UUID) -> web.Response:
    return json_response({"user": request[CURRENT_USER]})
