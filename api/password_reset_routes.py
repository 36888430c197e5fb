"""Forgotten passwords: ask for a link by email, then set a new password with it."""

from __future__ import annotations

from aiohttp import web

from api.auth_routes import client_address
from api.context import now, services
from api.jsonio import json_response, read_object
from engine.validation import check_fields

routes = web.RouteTableDef()


@routes.post("/api/auth/password-reset")
async def request_reset(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("email",))
    await services(request).password_reset.request(
        body.get("email"), client_address(request), now(request))
    # The same answer for every well-formed email: it must not reveal who has an account.
    return json_response({"status": "accepted", "message": (
        "If an account uses this email, a link to choose a new password is on its way. "
        "It works once, within an hour.")}, status=202)


@routes.post("/api/auth/password-reset/confirm")
async def confirm_reset(request: web.Request) -> web.Response:
    body = await read_object(request)
    check_fields(body, ("token", "password"))
    await services(request).password_reset.confirm(
        body.get("token"), body.get("password"), client_address(request), now(request))
    return web.Response(status=204)
