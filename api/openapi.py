"""The OpenAPI 3.1 description of the HTTP API.

tests/test_openapi.py checks that every route the application serves is described here
and nothing else is, so the document cannot silently fall behind the code.
"""

from __future__ import annotations

import re
from typing import Any

from engine.accounts.auth import MAX_PASSWORD_BYTES, MIN_PASSWORD_LENGTH
from engine.accounts.sessions import MAX_EMAIL_LENGTH
from engine.chat.configurator import MAX_MESSAGE_CHARS, MAX_MESSAGES
from engine.validation import MAX_CITY, MAX_QUERIES, MAX_QUERY_LENGTH, MAX_TEXT, MAX_TITLE

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """A request object whose unknown fields are refused (422), as the API does."""
    return {**schema, "additionalProperties": False}


def text(max_length: int) -> dict[str, Any]:
    """A required string: surrounding space is trimmed and something must remain."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": r"\S"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
UUID = {"type": "string", "format": "uuid"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
ANY_JSON: dict[str, Any] = {}

LATITUDE = nullable({"type": "number", "minimum": -90, "maximum": 90})
LONGITUDE = nullable({"type": "number", "minimum": -180, "maximum": 180})
LOCATION = closed(obj(
    {"city": text(MAX_CITY), "latitude": LATITUDE, "longitude": LONGITUDE},
    ["city"],
))
SCOUT_INPUT = closed(obj({
    "title": nullable({"type": "string", "maxLength": MAX_TITLE}),
    "goal": nullable({"type": "string", "maxLength": MAX_TEXT}),
    "description": nullable({"type": "string", "maxLength": MAX_TEXT}),
    "search_queries": {
        **nullable({"type": "array", "items": text(MAX_QUERY_LENGTH),
                            "maxItems": MAX_QUERIES}),
        "description": "null clears the list; repeated queries (ignoring case) are kept once",
    },
    "location": nullable(ref("Location")),
    "frequency": nullable({"enum": ["daily", "every_3_days", "weekly"]}),
    "is_active": {**BOOL, "description": "true needs a complete scout, otherwise 409 "
                  "scout_incomplete"},
}))
SCOUT = obj({
    "id": UUID, "title": nullable(STR), "goal": nullable(STR), "description": nullable(STR),
    "search_queries": {"type": "array", "items": STR}, "location": nullable(ref("Location")),
    "frequency": nullable(STR), "is_active": BOOL, "is_complete": BOOL,
    "last_run_at": nullable(TIME), "consecutive_failures": INT,
    "created_at": TIME, "updated_at": TIME,
    # When "Run now" opens again; null while a manual run is allowed.
    "run_now_available_at": nullable(TIME),
})
EXECUTION = obj({
    "id": UUID, "scout_id": UUID,
    "status": {"enum": ["running", "completed", "failed", "cancelled"]},
    "state": {"enum": ["planning", "searching", "reading", "summarizing", "done", "failed"]},
    "trigger": {"enum": ["schedule", "manual"]},
    "started_at": TIME, "completed_at": nullable(TIME), "error_message": nullable(STR),
    "results_summary": nullable(obj({
        "taskCompleted": BOOL,
        "taskStatus": {"enum": ["completed", "partial", "not_found", "insufficient_data"]},
        "response": STR,
    })),
    "summary_text": nullable(STR), "is_duplicate": BOOL, "wait_reason": nullable(STR),
    "next_run_at": nullable(TIME),
})
STEP = obj({
    "id": UUID, "step_number": INT,
    "step_type": {"enum": ["search", "scrape", "analyze", "summarize", "tool_call"]},
    "description": STR, "input_data": ANY_JSON, "output_data": ANY_JSON,
    "status": {"enum": ["running", "completed", "failed"]},
    "started_at": TIME, "completed_at": nullable(TIME), "error_message": nullable(STR),
})
EXECUTION_DETAIL = {
    "allOf": [
        ref("Execution"),
        obj({
            "attempts": INT, "transitions": INT, "round": INT, "engine_version": INT,
            "lease_owner": nullable(STR), "lease_expires_at": nullable(TIME),
            "deadline_at": TIME, "cancelled_at": nullable(TIME), "checkpoint": ANY_JSON,
            "actions": {"type": "array", "items": {"enum": ["cancel", "resume"]}},
            "steps": {"type": "array", "items": ref("Step")},
        }),
    ]
}
USER = obj({"id": UUID, "email": STR, "created_at": TIME})
SESSION = obj({
    "access_token": STR, "token_type": {"const": "bearer"}, "expires_in": INT,
    "expires_at": INT, "refresh_token": STR, "user": ref("User"),
})
ERROR = obj(
    {"error": obj({"code": STR, "message": STR}, ["code", "message"])}, ["error"]
)
SHORT = nullable({"type": "string", "maxLength": 120})
PREFERENCES = closed(obj({
    "location": nullable(closed(obj({
        "city": text(MAX_CITY), "state": SHORT, "stateCode": SHORT,
        "country": SHORT, "countryCode": SHORT,
        "latitude": LATITUDE, "longitude": LONGITUDE,
    }, ["city"]))),
    "notification_email": nullable({"type": "string", "format": "email", "maxLength": 320}),
    "notifications_enabled": BOOL,
}))
MESSAGE = obj({"id": UUID, "role": {"enum": ["user", "assistant"]}, "content": STR,
               "created_at": TIME})
CREDENTIALS = closed(obj({
    "email": {"type": "string", "format": "email", "maxLength": MAX_EMAIL_LENGTH,
              "description": "compared after NFKC, lower-casing and IDNA-encoding the domain"},
    "password": {"type": "string", "minLength": MIN_PASSWORD_LENGTH,
                 "maxLength": MAX_PASSWORD_BYTES,
                 "description": f"at most {MAX_PASSWORD_BYTES} bytes in UTF-8"},
}, ["email", "password"]))
REFRESH = closed(obj({"refresh_token": {"type": "string", "minLength": 1}}, ["refresh_token"]))
CHAT_MESSAGE = {
    **obj({
        "role": {"enum": ["user", "assistant"]},
        "content": {"type": "string", "maxLength": MAX_MESSAGE_CHARS},
        "parts": {"type": "array", "items": ANY_JSON,
                  "description": "AI SDK parts; only {type: text, text} parts are read"},
    }, ["role"]),
    "anyOf": [{"required": ["content"]}, {"required": ["parts"]}],
}
CHAT_REQUEST = obj({
    "scoutId": UUID,
    "messages": {"type": "array", "items": CHAT_MESSAGE, "minItems": 1,
                 "maxItems": MAX_MESSAGES,
                 "description": "AI SDK UIMessage objects or {role, content}; the last one "
                 "must be the user's and contain text"},
    "location": nullable(obj({
        "city": nullable({"type": "string", "maxLength": MAX_CITY}),
        "latitude": LATITUDE, "longitude": LONGITUDE,
    })),
}, ["scoutId", "messages"])
RESYNC = obj({"reason": STR}, ["reason"])

RESET_REQUEST = obj({"email": {"type": "string", "format": "email"}}, ["email"])
RESET_ACCEPTED = obj({"status": {"const": "accepted"}, "message": STR}, ["status", "message"])
RESET_CONFIRM = obj({"token": {"type": "string", "maxLength": 200,
                               "description": "the token from the emailed link"},
                     "password": {"type": "string", "minLength": 8}}, ["token", "password"])
FINDING = obj({
    "execution_id": UUID, "scout_id": UUID, "scout_title": nullable(STR),
    "completed_at": nullable(TIME), "summary": STR,
    "excerpt": {"type": "string", "description": "plain text from the report, near the words"},
    "similarity": nullable({"type": "number", "description": "cosine similarity; null for a "
                            "text match on a run that has no embedding yet"}),
    "match": {"enum": ["meaning", "text"]}, "is_duplicate": BOOL,
})

PLACE = obj({
    "city": STR, "state": nullable(STR), "stateCode": nullable(STR), "country": STR,
    "countryCode": STR, "latitude": {"type": "number"}, "longitude": {"type": "number"},
})

COMPONENTS = {
    "Location": LOCATION, "ScoutInput": SCOUT_INPUT, "Scout": SCOUT, "Execution": EXECUTION,
    "ExecutionDetail": EXECUTION_DETAIL, "Step": STEP, "User": USER, "Session": SESSION,
    "Error": ERROR, "Preferences": PREFERENCES, "Message": MESSAGE,
    "Credentials": CREDENTIALS, "RefreshRequest": REFRESH, "ChatRequest": CHAT_REQUEST,
    "PasswordResetRequest": RESET_REQUEST, "PasswordResetConfirm": RESET_CONFIRM,
    "Finding": FINDING,
    "Resync": RESYNC,
    "Place": PLACE,
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def wrapped(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return obj({key: schema}, [key])


ERRORS = {
    "400": "malformed JSON", "401": "missing, invalid or expired token", "404": "not found",
    "409": "conflict (scout_incomplete: the scout lacks what it needs to be active)",
    "413": "body too large", "422": "validation failed",
    "429": "rate limited (Retry-After)",
    "502": "the model refused the request", "503": "the model is unreachable or not pulled",
}

# (method, path, summary, needs auth, request schema, success status, response schema, errors)
OPERATIONS: list[tuple[str, str, str, bool, Any, str, Any, tuple[str, ...]]] = [
    ("get", "/api/health", "Database reachability; with deep=1 (signed-in users only) the "
     "`scouts doctor` report on every service (503 when one is not ready)", False, None, "200",
     obj({"status": STR, "database": STR, "checks": {"type": "array", "items": ANY_JSON}},
         ["status"]), ("401", "503")),
    ("get", "/api/openapi.json", "This document", False, None, "200", obj({}), ()),
    ("get", "/api/config", "What the web UI needs to know about this server", False, None,
     "200", obj({"demo_mode": BOOL}, ["demo_mode"]), ()),
    ("post", "/api/auth/signup", "Create an account", False, ref("Credentials"), "201",
     ref("Session"), ("400", "409", "422")),
    ("post", "/api/auth/login", "Log in", False, ref("Credentials"), "200", ref("Session"),
     ("400", "401", "422", "429")),
    ("post", "/api/auth/refresh", "Rotate a refresh token for a new session", False,
     ref("RefreshRequest"), "200", ref("Session"), ("400", "401", "422")),
    ("post", "/api/auth/logout", "End the session family of a refresh token", False,
     ref("RefreshRequest"), "204", None, ("400", "422")),
    ("post", "/api/auth/password-reset", "Email a single-use link to choose a new password "
     "(valid 1 hour); the same answer whether or not the account exists", False,
     ref("PasswordResetRequest"), "202", RESET_ACCEPTED, ("400", "422", "429")),
    ("post", "/api/auth/password-reset/confirm", "Set a new password with the emailed token; "
     "ends every session of the account", False, ref("PasswordResetConfirm"), "204", None,
     ("400", "422", "429")),
    ("get", "/api/auth/me", "The signed-in user", True, None, "200", wrapped("user", ref("User")),
     ()),
    ("get", "/api/scouts", "The caller's scouts, newest updated first", True, None, "200",
     wrapped("scouts", {"type": "array", "items": {"allOf": [ref("Scout"), obj({
         "latest_execution": nullable(ANY_JSON)})]}}), ()),
    ("post", "/api/scouts", "Create a scout", True, ref("ScoutInput"), "201",
     wrapped("scout", ref("Scout")), ("400", "409", "422")),
    ("get", "/api/scouts/{id}", "One scout", True, None, "200", wrapped("scout", ref("Scout")),
     ("404",)),
    ("patch", "/api/scouts/{id}", "Change some fields", True, ref("ScoutInput"), "200",
     wrapped("scout", ref("Scout")), ("400", "404", "409", "422")),
    ("put", "/api/scouts/{id}", "Replace every field", True, ref("ScoutInput"), "200",
     wrapped("scout", ref("Scout")), ("400", "404", "409", "422")),
    ("delete", "/api/scouts/{id}", "Delete a scout and its history", True, None, "204", None,
     ("404",)),
    ("get", "/api/scouts/{id}/messages", "The configurator conversation", True, None, "200",
     wrapped("messages", {"type": "array", "items": ref("Message")}), ("404",)),
    ("get", "/api/scouts/{id}/executions", "Runs, newest first (keyset pages)", True, None,
     "200", obj({"executions": {"type": "array", "items": ref("Execution")},
                 "next_cursor": nullable(STR)}), ("404", "422")),
    ("get", "/api/executions/{id}", "A run with its step history", True, None, "200",
     wrapped("execution", ref("ExecutionDetail")), ("404",)),
    ("post", "/api/scouts/{id}/run", "Run now (once per 20 minutes)", True, None, "202",
     wrapped("execution", ref("ExecutionDetail")), ("404", "409", "422", "429")),
    ("post", "/api/executions/{id}/cancel", "Cancel a run in flight", True, None, "200",
     wrapped("execution", ref("ExecutionDetail")), ("404", "409")),
    ("post", "/api/executions/{id}/resume", "Continue a failed or stuck run from its checkpoint",
     True, None, "200", wrapped("execution", ref("ExecutionDetail")), ("404", "409")),
    ("get", "/api/preferences", "The caller's preferences", True, None, "200",
     wrapped("preferences", ref("Preferences")), ()),
    ("put", "/api/preferences", "Change preferences", True, ref("Preferences"), "200",
     wrapped("preferences", ref("Preferences")), ("400", "422")),
    ("delete", "/api/scouts/{id}/executions", "Clear a scout's finished runs (not while one "
     "is in flight)", True, None, "200", obj({"deleted": INT}), ("404", "409")),
    ("post", "/api/preferences/test-email", "Send a test email to the notification address "
     "(once per 2 minutes)", True, None, "202", obj({"sent_to": STR}), ("409", "429", "503")),
    ("get", "/api/places", "Cities by name prefix (q) or the nearest city (lat, lng), from an "
     "offline gazetteer", True, None, "200",
     obj({"places": {"type": "array", "items": ref("Place")}}), ("422",)),
    ("post", "/api/chat", "Talk to the configurator: an AI SDK UI message stream "
     "(text/event-stream), or plain text with ?format=text or Accept: text/plain", True,
     ref("ChatRequest"), "200", None, ("400", "404", "422", "502", "503")),
]
OPERATIONS.append(
    ("get", "/api/findings", "The caller's findings ranked by meaning, best first", True,
     None, "200", wrapped("findings", {"type": "array", "items": ref("Finding")}),
     ("404", "422", "503")))

PARAMETERS: dict[str, list[dict[str, Any]]] = {
    "/api/places": [
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100},
         "description": "start of a city name; \"Portland, OR\" narrows by state or country"},
        {"name": "lat", "in": "query", "schema": {"type": "number"}},
        {"name": "lng", "in": "query", "schema": {"type": "number"}},
    ],
    "/api/scouts/{id}/executions": [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": 100, "default": 20}},
        {"name": "before", "in": "query", "schema": STR,
         "description": "next_cursor of the previous page"},
    ],
    "/api/findings": [
        {"name": "q", "in": "query", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 500}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": 50, "default": 20}},
        {"name": "scout_id", "in": "query", "schema": UUID,
         "description": "only this scout's findings"},
    ],
}


def _link_name(method: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{method} {path}").strip("_")


def _link(method: str, path: str, id_from: str) -> dict[str, Any]:
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}",
            "parameters": {"id": f"$response.body#{id_from}"}}


# Where an id comes from: clients (and schemathesis' stateful phase) follow these.
LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/api/scouts"): {
        _link_name(method, path): _link(method, path, "/scout/id")
        for method, path in (("get", "/api/scouts/{id}"), ("patch", "/api/scouts/{id}"),
                             ("post", "/api/scouts/{id}/run"),
                             ("get", "/api/scouts/{id}/executions"),
                             ("get", "/api/scouts/{id}/messages"))
    },
    ("post", "/api/scouts/{id}/run"): {
        _link_name(method, path): _link(method, path, "/execution/id")
        for method, path in (("get", "/api/executions/{id}"),
                             ("post", "/api/executions/{id}/cancel"),
                             ("post", "/api/executions/{id}/resume"))
    },
}


EVENTS_DESCRIPTION = """\
A Server-Sent Events stream (`text/event-stream`) of the signed-in user's changes, nobody
else's. Authenticate with the `Authorization: Bearer` header (read the stream with `fetch`);
a token in the URL is not accepted. Each event has an `id:` and one of these types:

- `execution`: one of the user's runs changed state, waits, finished or failed; `data` is
  the run as `GET /api/scouts/{id}/executions` lists it (schema `Execution`).
- `scout`: one of the user's scouts changed (edit, activate/pause, auto-disable, last run);
  `data` is the scout as `GET /api/scouts/{id}` returns it (schema `Scout`).
- `resync`: changes since the `Last-Event-ID` the client sent can no longer be replayed
  (older than `LIVE_REPLAY_SECONDS`, or unknown); reload the data, then carry on.

`data` is the current state when the event is sent. Idle streams receive a `: heartbeat`
comment every `LIVE_HEARTBEAT_SECONDS`. The stream ends when the access token expires
(reconnect with a fresh one and `Last-Event-ID`), on logout and on server shutdown.
Too many open streams for the account or the server answer 429 `too_many_streams`."""
EVENTS_OPERATION: dict[str, Any] = {
    "summary": "Live changes of the caller's scouts and runs (Server-Sent Events)",
    "description": EVENTS_DESCRIPTION,
    "security": [{"bearer": []}],
    "parameters": [{
        "name": "Last-Event-ID", "in": "header", "required": False, "schema": STR,
        "description": "id of the last event received; what came after it is replayed",
    }],
    "responses": {
        "200": {
            "description": "the event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "x-events": {"execution": ref("Execution"), "scout": ref("Scout"),
                         "resync": ref("Resync")},
        },
        **{code: {"description": ERRORS[code], **json_content(ref("Error"))}
           for code in ("401", "429")},
    },
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, auth, body, status, response, errors in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {}}
        params: list[dict[str, Any]] = (
            [{"name": "id", "in": "path", "required": True, "schema": UUID}]
            if "{id}" in path else [])
        # Query parameters belong to the path's GET (DELETE /api/scouts/{id}/executions
        # takes no `limit`).
        if method == "get":
            params += PARAMETERS.get(path, [])
        if params:
            op["parameters"] = params
        if auth:
            op["security"] = [{"bearer": []}]
        if body is not None:
            op["requestBody"] = {"required": True, **json_content(body)}
        success: dict[str, Any] = {"description": "success"}
        if response is not None:
            success.update(json_content(response))
        if (method, path) in LINKS:
            success["links"] = LINKS[(method, path)]
        op["responses"][status] = success
        for code in (*errors, *(("401",) if auth else ())):
            op["responses"][code] = {"description": ERRORS[code], **json_content(ref("Error"))}
        paths.setdefault(path, {})[method] = op
    paths["/api/events"] = {"get": EVENTS_OPERATION}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Open Scouts API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
    }
