"""Owner conveniences: clear a scout's history, send a test email, find a place; and what
the UI must know about the server."""

from __future__ import annotations

import uuid

from aiohttp import web

from api.auth_routes import authenticated
from api.context import Services, now, services
from api.jsonio import json_response, path_uuid
from engine.places.lookup import find_places
from engine.preferences.test_email import TestEmails

routes = web.RouteTableDef()

TEST_EMAILS = web.AppKey("test_emails", TestEmails)


def setup(app: web.Application, svc: Services) -> None:
    """Routes plus the per-process test-email limiter (one per app, like the login limiter)."""
    app[TEST_EMAILS] = TestEmails(svc.db, svc.engine.tools.mailer)
    app.router.add_routes(routes)


@routes.get("/api/config")
async def ui_config(request: web.Request) -> web.Response:
    """Public: the sign-in page shows the demo banner too."""
    return json_response({"demo_mode": services(request).settings.demo_mode})


@routes.delete("/api/scouts/{id}/executions")
@authenticated
async def clear_history(request: web.Request, user_id: uuid.UUID) -> web.Response:
    deleted = await services(request).executions.clear_history(
        user_id, path_uuid(request, "id", "scout"))
    return json_response({"deleted": deleted})


@routes.post("/api/preferences/test-email")
@authenticated
async def send_test_email(request: web.Request, user_id: uuid.UUID) -> web.Response:
    sent = await request.app[TEST_EMAILS].send(user_id, now(request))
    return json_response(sent, status=202)


@routes.get("/api/places")
@authenticated
async def places(request: web.Request, user_id: uuid.UUID) -> web.Response:
    return json_response({"places": await find_places(request.query)})
