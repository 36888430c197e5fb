"""GET /api/findings: search the caller's findings by meaning."""

from __future__ import annotations

import uuid

from aiohttp import web

from api.auth_routes import authenticated
from api.context import services
from api.jsonio import error_body, json_response
from engine.findings.query import parse_query
from engine.findings.search import FindingsSearch, SearchUnavailable

routes = web.RouteTableDef()


@routes.get("/api/findings")
@authenticated
async def search_findings(request: web.Request, user_id: uuid.UUID) -> web.Response:
    query = parse_query(request.query)
    found = services(request)
    search = FindingsSearch(found.db, found.chat_ollama, found.settings.embedding_dim,
                            found.settings.findings_search_shards)
    try:
        findings = await search.search(user_id, query)
    except SearchUnavailable as exc:
        # The operator can fix this (start Ollama, pull the model); the caller may retry.
        return json_response(error_body(exc.code, exc.message), status=503)
    return json_response({"findings": findings})
