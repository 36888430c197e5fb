"""The comparison servers for `GET /api/scouts`, each run as its own process.

    python -m bench.ceiling ceiling --port 8001 --dsn postgresql://... --jwt-secret S
    python -m bench.ceiling bare --port 8002 --body-file list.json

``ceiling``: the least a database-backed answer can cost here: aiohttp + an asyncpg pool,
the same JWT check, one hand-written query (the user's scouts with each one's latest run,
joined to the user's row) and the same JSON bytes as the project. ``bare``: aiohttp
returning those bytes from memory, no database.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import orjson
from aiohttp import web

QUERY = """
SELECT u.id AS owner_id, s.id, s.title, s.goal, s.description, s.search_queries, s.location,
       s.frequency, s.is_active, s.last_run_at, s.consecutive_failures, s.created_at,
       s.updated_at, s.last_manual_run_at, l.id AS latest_id, l.state, l.cancelled_at, l.started_at,
       l.completed_at, l.summary_text
FROM users u
LEFT JOIN scouts s ON s.user_id = u.id
LEFT JOIN LATERAL (
    SELECT e.id, e.state, e.cancelled_at, e.started_at, e.completed_at, e.summary_text
    FROM scout_executions e WHERE e.scout_id = s.id
    ORDER BY e.created_at DESC, e.id DESC LIMIT 1
) l ON true
WHERE u.id = $1
ORDER BY s.updated_at DESC, s.id
"""

RUN_NOW_COOLDOWN = timedelta(minutes=20)
SCOUT_KEYS = ("id", "title", "goal", "description", "search_queries", "location", "frequency",
              "is_active", "last_run_at", "consecutive_failures", "created_at", "updated_at")


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


async def _no_reset(_conn: asyncpg.Connection) -> None:
    return None


def _item(row: asyncpg.Record) -> dict[str, Any]:
    item = {key: row[key] for key in SCOUT_KEYS}
    location = row["location"] or {}
    item["is_complete"] = bool(row["title"] and row["goal"] and row["description"]
                               and location.get("city") and row["search_queries"]
                               and row["frequency"])
    # "Run now" opens again 20 minutes after the last manual run (engine/views.py).
    last_manual = row["last_manual_run_at"]
    opens = last_manual + RUN_NOW_COOLDOWN if last_manual is not None else None
    item["run_now_available_at"] = (
        opens if opens is not None and opens > datetime.now(UTC) else None)
    if row["latest_id"] is None:
        item["latest_execution"] = None
    else:
        state = row["state"]
        status = ("completed" if state == "done" else
                  ("cancelled" if row["cancelled_at"] else "failed") if state == "failed"
                  else "running")
        item["latest_execution"] = {
            "id": row["latest_id"], "state": state, "status": status,
            "started_at": row["started_at"], "completed_at": row["completed_at"],
            "summary_text": row["summary_text"],
        }
    return item


def ceiling_app(dsn: str, secret: str) -> web.Application:
    app = web.Application()
    pool_key = web.AppKey("pool", asyncpg.Pool)

    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec("jsonb", encoder=lambda v: orjson.dumps(v).decode(),
                                  decoder=orjson.loads, schema="pg_catalog")

    async def pool(app: web.Application) -> Any:
        # reset=None would send four statements (RESET ALL etc.) on every release; the
        # handler changes no session state, so the ceiling skips them.
        app[pool_key] = await asyncpg.create_pool(dsn, min_size=10, max_size=10, init=init,
                                                  reset=_no_reset)
        yield
        await app[pool_key].close()

    async def scouts(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"],
                                options={"require": ["sub", "exp", "iat"]})
            user_id = uuid.UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError):
            return web.json_response({"error": {"code": "unauthorized"}}, status=401)
        rows = await request.app[pool_key].fetch(QUERY, user_id)
        if not rows:
            return web.json_response({"error": {"code": "unauthorized"}}, status=401)
        body = {"scouts": [_item(row) for row in rows if row["id"] is not None]}
        return web.Response(body=orjson.dumps(body, default=_default),
                            content_type="application/json")

    app.cleanup_ctx.append(pool)
    app.router.add_get("/api/scouts", scouts)
    return app


def bare_app(body: bytes) -> web.Application:
    async def scouts(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/scouts", scouts)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["ceiling", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn")
    parser.add_argument("--jwt-secret")
    parser.add_argument("--body-file", type=Path)
    args = parser.parse_args()
    if args.kind == "ceiling":
        app = ceiling_app(args.dsn, args.jwt_secret)
    else:
        app = bare_app(args.body_file.read_bytes())
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
