"""The aiohttp application: wiring only, the behaviour lives in the route modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from api import auth_routes, chat_routes, execution_routes, scout_routes
from api.context import SERVICES, Services
from api.jsonio import json_response
from api.middleware import cors_middleware, errors_as_json
from api.openapi import openapi_document
from engine.accounts import Accounts
from engine.clock import utcnow
from engine.config import Settings
from engine.db import Database
from engine.executions import Executions
from engine.scouts import Scouts

MAX_BODY_BYTES = 1024 * 1024

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    ok = await request.app[SERVICES].db.ping()
    return json_response(
        {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"},
        status=200 if ok else 503,
    )


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def build_services(
    settings: Settings,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
    bcrypt_rounds: int | None = None,
) -> Services:
    db = db or Database(settings.database_url)
    accounts = Accounts(db, settings) if bcrypt_rounds is None else Accounts(
        db, settings, bcrypt_rounds=bcrypt_rounds
    )
    return Services(
        settings=settings,
        db=db,
        accounts=accounts,
        scouts=Scouts(db),
        executions=Executions(db),
        clock=clock,
        extras={},
    )


def create_app(services: Services, *, own_database: bool = True) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[cors_middleware(services.settings.cors_origins), errors_as_json],
    )
    app[SERVICES] = services
    for table in (routes, auth_routes.routes, scout_routes.routes, execution_routes.routes):
        app.router.add_routes(table)
    app.router.add_routes(chat_routes.routes)
    app.cleanup_ctx.append(chat_routes.ollama_context(services))

    if own_database:
        async def close_database(_app: web.Application) -> AsyncIterator[None]:
            yield
            await services.db.close()

        app.cleanup_ctx.append(close_database)
    return app
