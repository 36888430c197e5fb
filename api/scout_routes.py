from __future__ import annotations

import uuid

from aiohttp import web

from api.auth_routes import authenticated, token_checked
from api.context import now, services
from api.jsonio import json_response, path_uuid, read_object

routes = web.RouteTableDef()


def scout_id(request: web.Request) -> uuid.UUID:
    return path_uuid(request, "id", "scout")


@routes.get("/api/scouts")
@token_checked
async def list_scouts(request: web.Request, user_id: uuid.UUID) -> web.Response:
    scouts = await services(request).scouts.list_for_user(user_id, now(request))
    return json_response({"scouts": scouts})


@routes.post("/api/scouts")
@authenticated
async def create_scout(request: web.Request, user_id: uuid.UUID) -> web.Response:
    body = await read_object(request)
    scout = await services(request).scouts.create(user_id, body, now(request))
    return json_response({"scout": scout}, status=201)


@routes.get("/api/scouts/{id}")
@authenticated
async def get_scout(request: web.Request, user_id: uuid.UUID) -> web.Response:
    scout = await services(request).scouts.get(user_id, scout_id(request), now(request))
    return json_response({"scout": scout})


@routes.patch("/api/scouts/{id}")
@authenticated
async def patch_scout(request: web.Request, user_id: uuid.UUID) -> web.Response:
    sid = scout_id(request)
    body = await read_object(request)
    scout = await services(request).scouts.update(user_id, sid, body, now(request))
    return json_response({"scout": scout})


@routes.put("/api/scouts/{id}")
@authenticated
async def put_scout(request: web.Request, user_id: uuid.UUID) -> web.Response:
    sid = scout_id(request)
    body = await read_object(request)
    scout = await services(request).scouts.update(user_id, sid, body, now(request), replace=True)
    return json_response({"scout": scout})


@routes.delete("/api/scouts/{id}")
@authenticated
async def delete_scout(request: web.Request, user_id: uuid.UUID) -> web.Response:
    await services(request).scouts.delete(user_id, scout_id(request))
    return web.Response(status=204)


@routes.get("/api/scouts/{id}/messages")
@authenticated
async def list_messages(request: web.Request, user_id: uuid.UUID) -> web.Response:
    messages = await services(request).scouts.messages(user_id, scout_id(request))
    return json_response({"messages": messages})


@routes.get("/api/preferences")
@authenticated
async def get_preferences(request: web.Request, user_id: uuid.UUID) -> web.Response:
    return json_response({"preferences": await services(request).scouts.get_preferences(user_id)})


@routes.put("/api/preferences")
@authenticated
async def put_preferences(request: web.Request, user_id: uuid.UUID) -> web.Response:
    body = await read_object(request)
    prefs = await services(request).scouts.put_preferences(user_id, body, now(request))
    return json_response({"preferences": prefs})
