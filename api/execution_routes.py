from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from api.auth_routes import authenticated
from api.context import now, services
from api.jsonio import json_response, path_uuid
from engine.errors import ValidationFailed

routes = web.RouteTableDef()


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "20")
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed("limit must be a whole number", field="limit") from None


@routes.get("/api/scouts/{id}/executions")
@authenticated
async def list_executions(request: web.Request, user_id: uuid.UUID) -> web.Response:
    executions, next_cursor = await services(request).executions.list_for_scout(
        user_id,
        path_uuid(request, "id", "scout"),
        now(request),
        limit=_limit(request),
        before=request.query.get("before") or None,
    )
    return json_response({"executions": executions, "next_cursor": next_cursor})


@routes.get("/api/executions/{id}")
@authenticated
async def get_execution(request: web.Request, user_id: uuid.UUID) -> web.Response:
    execution = await services(request).executions.get(
        path_uuid(request, "id", "execution"), now(request), user_id
    )
    return json_response({"execution": execution})


@routes.post("/api/scouts/{id}/run")
@authenticated
async def run_now(request: web.Request, user_id: uuid.UUID) -> web.Response:
    execution = await services(request).controls.run_now(
        user_id, path_uuid(request, "id", "scout"), now(request)
    )
    return json_response({"execution": execution}, status=202)


def _run_control(action: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Cancel and resume: same shape, scoped to the caller's runs."""

    @authenticated
    async def handler(request: web.Request, user_id: uuid.UUID) -> web.Response:
        control = getattr(services(request).controls, action)
        execution = await control(path_uuid(request, "id", "execution"), now(request), user_id)
        return json_response({"execution": execution})

    return handler


routes.post("/api/executions/{id}/cancel")(_run_control("cancel"))
routes.post("/api/executions/{id}/resume")(_run_control("resume"))
