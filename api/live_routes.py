"""GET /api/events: the signed-in user's changes as Server-Sent Events.

Written with aiohttp's StreamResponse rather than aiohttp-sse: the loop below has to
interleave heartbeats with the token's expiry and the hub's reasons for ending a stream,
and the wire format itself is four lines.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from api.auth_routes import authenticated
from api.context import Services, now, services
from api.jsonio import dumps
from engine.accounts.auth import decode_access_token
from engine.live.hub import LiveHub
from engine.live.streams import LiveEvent

LIVE_HUB = web.AppKey("live_hub", LiveHub)
RECONNECT_MILLISECONDS = 3000

routes = web.RouteTableDef()


def install(app: web.Application, services: Services) -> None:
    hub = LiveHub(services.db, services.settings, services.clock)
    app[LIVE_HUB] = hub
    app.router.add_routes(routes)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await hub.start()
        yield
        await hub.stop()

    async def end_streams(_app: web.Application) -> None:
        # Runs before the server waits for handlers to finish, so open streams end now
        # instead of holding the shutdown up until their clients leave.
        hub.close_all("shutdown")

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(end_streams)


def frame(event: LiveEvent) -> bytes:
    # dumps gives compact JSON bytes without newlines, so the data is one SSE line.
    return f"id: {event.id}\nevent: {event.kind}\ndata: ".encode() + dumps(event.data) + b"\n\n"


def _token_expiry(request: web.Request) -> float:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    claims = decode_access_token(services(request).settings.jwt_secret, token, now(request))
    return float(claims["exp"])


@routes.get("/api/events")
@authenticated
async def events(request: web.Request, user_id: uuid.UUID) -> web.StreamResponse:
    hub = request.app[LIVE_HUB]
    settings = services(request).settings
    expires_at = _token_expiry(request)
    stream = await hub.open(user_id)  # before the replay, so nothing falls between the two
    try:
        backlog = await hub.replay(user_id, request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-transform",
            "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        await response.write(f"retry: {RECONNECT_MILLISECONDS}\n\n".encode())
        for event in backlog:
            await response.write(frame(event))
        replayed = {event.id for event in backlog}
        heartbeat = settings.live_heartbeat_seconds
        next_beat = time.monotonic() + heartbeat
        while True:
            # The token's lifetime follows the app's clock (frozen in tests).
            remaining = expires_at - now(request).timestamp()
            if remaining <= 0 or request.transport is None or request.transport.is_closing():
                break
            wait = max(0.0, min(remaining, next_beat - time.monotonic()))
            live = await stream.next(wait)
            if live is not None:
                if live.id not in replayed:
                    await response.write(frame(live))
                continue
            if stream.closed is not None:
                if stream.closed == "resync":
                    await response.write(frame(hub.resync_event(hub.cursor)))
                break
            if time.monotonic() >= next_beat:
                await response.write(b": heartbeat\n\n")
                next_beat = time.monotonic() + heartbeat
    except ConnectionResetError:
        pass  # the client went away; nothing to tell it
    finally:
        hub.release(stream)
    return response
