"""Errors as JSON, CORS for configured origins, and the bearer-token check."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from api.jsonio import error_body, json_response
from engine.errors import Conflict, DomainError, NotFound, RateLimited, Unauthorized, Unavailable
from engine.validation import check_storable_text

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS_FOR = {NotFound: 404, Conflict: 409, Unauthorized: 401, RateLimited: 429,
              Unavailable: 503}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def domain_error_response(exc: DomainError) -> web.Response:
    status = next((s for cls, s in STATUS_FOR.items() if isinstance(exc, cls)), 422)
    if exc.code == "invalid_json":
        status = 400
    details = dict(exc.details)
    code = str(details.pop("code", exc.code))
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        seconds = max(1, math.ceil(exc.retry_after))
        headers["Retry-After"] = str(seconds)
        details["retry_after_seconds"] = seconds
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return json_response(error_body(code, exc.message, **details), status, headers)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        return domain_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else "request body is too large"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return json_response(error_body(code, message), exc.status, headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(error_body("internal_error", "internal server error"), 500)


@web.middleware
async def storable_query(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Query parameters obey the same text rules as bodies (NUL is 422, not a 500 later)."""
    for key, value in request.query.items():
        check_storable_text(key, "query parameter name")
        check_storable_text(value, key)
    return await handler(request)


def install_cors(app: web.Application, origins: tuple[str, ...]) -> None:
    """CORS for the configured origins only.

    Headers are added when the response is prepared, not after the handler returns, so
    streamed responses (the chat) carry them too.
    """
    allowed = frozenset(origins)
    if not allowed:
        return

    def headers_for(request: web.Request) -> dict[str, str] | None:
        origin = request.headers.get("Origin")
        if origin is None or origin not in allowed:
            return None
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                "Access-Control-Expose-Headers": "Retry-After"}

    @web.middleware
    async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = headers_for(request)
        if (headers is not None and request.method == "OPTIONS"
                and "Access-Control-Request-Method" in request.headers):
            headers.update({
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
                "Access-Control-Max-Age": "600",
            })
            return web.Response(status=204, headers=headers)
        return await handler(request)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        headers = headers_for(request)
        if headers is not None:
            response.headers.update(headers)

    app.middlewares.insert(0, preflight)
    app.on_response_prepare.append(add_headers)
