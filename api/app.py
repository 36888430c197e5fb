"""The aiohttp application: wiring only, the behaviour lives in the route modules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from aiohttp import web

from api import (
    auth_routes,
    chat_routes,
    execution_routes,
    live_routes,
    owner_routes,
    password_reset_routes,
    scout_routes,
)
from api.context import SERVICES, Services
from api.findings_routes import routes as findings_routes
from api.jsonio import json_response
from api.middleware import errors_as_json, install_cors, storable_query
from api.openapi import openapi_document
from engine.accounts.auth import BCRYPT_ROUNDS
from engine.accounts.password_reset import PasswordReset
from engine.accounts.sessions import Accounts
from engine.chat.configurator import CHAT_RETRY
from engine.clients.ollama import OllamaClient
from engine.clock import utcnow
from engine.config import Settings
from engine.db import Database
from engine.engine import ScoutEngine
from engine.scouts import Scouts

MAX_BODY_BYTES = 1024 * 1024

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request: web.Request) -> web.StreamResponse:
    if request.query.get("deep", "").lower() in ("1", "true", "yes"):
        return await deep_health(request)
    ok = await request.app[SERVICES].db.ping()
    return json_response(
        {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"},
        status=200 if ok else 503,
    )


@auth_routes.authenticated
async def deep_health(request: web.Request, user_id: uuid.UUID) -> web.Response:
    """The doctor's report. Signed-in users only: it makes the server search the web and
    call every service, which anonymous callers should not be able to trigger (the report
    is cached briefly, and holds no addresses or secrets)."""
    services = request.app[SERVICES]
    ok = await services.db.ping()
    report = await services.engine.doctor.report()
    body = report.as_json()
    body["checks"].insert(0, {"name": "database", "ok": ok,
                              "detail": "reachable" if ok else "unreachable",
                              "fix": None if ok else "check DATABASE_URL and the database server"})
    healthy = ok and report.ok
    body["status"] = "ok" if healthy else "degraded"
    return json_response(body, status=200 if healthy else 503)


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def build_services(
    settings: Settings,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
    bcrypt_rounds: int = BCRYPT_ROUNDS,
    engine: ScoutEngine | None = None,
) -> Services:
    """Call from a running event loop: the engine opens an HTTP client session."""
    db = db or Database(settings.database_url)
    engine = engine or ScoutEngine(settings, db, clock=clock)
    return Services(
        settings=settings,
        db=db,
        accounts=Accounts(db, settings, bcrypt_rounds=bcrypt_rounds),
        scouts=Scouts(db, run_deadline=timedelta(seconds=settings.run_deadline_seconds)),
        engine=engine,
        clock=clock,
        chat_ollama=OllamaClient(engine.tools.session, settings.ollama_url,
                                 settings.ollama_chat_model, settings.ollama_embed_model,
                                 retry=CHAT_RETRY),
        password_reset=PasswordReset(db, settings, engine.tools.mailer,
                                     bcrypt_rounds=bcrypt_rounds),
    )


def create_app(
    services: Services, *, own_database: bool = True, run_scheduler: bool = False
) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[errors_as_json, storable_query],
    )
    install_cors(app, services.settings.cors_origins)
    app[SERVICES] = services
    for table in (routes, auth_routes.routes, scout_routes.routes, execution_routes.routes):
        app.router.add_routes(table)
    app.router.add_routes(chat_routes.routes)
    app.router.add_routes(password_reset_routes.routes)
    app.router.add_routes(findings_routes)
    owner_routes.setup(app, services)

    # Cleanup runs in reverse order: the live hub stops, then the scheduler finishes its
    # transactions, and only then do the pool and the service clients close.
    if own_database:
        async def close_resources(_app: web.Application) -> AsyncIterator[None]:
            yield
            await services.engine.close()
            await services.db.close()

        app.cleanup_ctx.append(close_resources)
    if run_scheduler:
        app.cleanup_ctx.append(_scheduler(services))
    live_routes.install(app, services)
    return app


def _scheduler(services: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    """The worker loop inside the API process, so a newcomer needs one process."""

    async def run(_app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(services.engine.run_forever(stop))
        yield
        stop.set()
        await task

    return run
