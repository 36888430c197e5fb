"""The OpenAPI 3.1 description of the HTTP API.

tests/test_openapi.py checks that every route the application serves is described here
and nothing else is, so the document cannot silently fall behind the code.
"""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
UUID = {"type": "string", "format": "uuid"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
ANY_JSON: dict[str, Any] = {}

LOCATION = obj(
    {"city": STR, "latitude": nullable({"type": "number"}),
     "longitude": nullable({"type": "number"})},
    ["city"],
)
SCOUT_INPUT = obj({
    "title": nullable({"type": "string", "maxLength": 100}),
    "goal": nullable(STR),
    "description": nullable(STR),
    "search_queries": {"type": "array", "items": STR, "maxItems": 5},
    "location": nullable(ref("Location")),
    "frequency": nullable({"enum": ["daily", "every_3_days", "weekly"]}),
    "is_active": BOOL,
})
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
PREFERENCES = obj({
    "location": nullable(obj({
        "city": STR, "state": nullable(STR), "stateCode": nullable(STR),
        "country": nullable(STR), "countryCode": nullable(STR),
        "latitude": nullable({"type": "number"}), "longitude": nullable({"type": "number"}),
    })),
    "notification_email": nullable({"type": "string", "format": "email"}),
    "notifications_enabled": BOOL,
})
MESSAGE = obj({"id": UUID, "role": {"enum": ["user", "assistant"]}, "content": STR,
               "created_at": TIME})
CREDENTIALS = obj({"email": {"type": "string", "format": "email"},
                   "password": {"type": "string", "minLength": 8}}, ["email", "password"])
REFRESH = obj({"refresh_token": STR}, ["refresh_token"])
CHAT_REQUEST = obj({
    "scoutId": UUID,
    "messages": {"type": "array", "items": ANY_JSON,
                 "description": "AI SDK UIMessage objects or {role, content}"},
    "location": nullable(LOCATION),
}, ["scoutId", "messages"])

PLACE = obj({
    "city": STR, "state": nullable(STR), "stateCode": nullable(STR), "country": STR,
    "countryCode": STR, "latitude": {"type": "number"}, "longitude": {"type": "number"},
})

COMPONENTS = {
    "Location": LOCATION, "ScoutInput": SCOUT_INPUT, "Scout": SCOUT, "Execution": EXECUTION,
    "ExecutionDetail": EXECUTION_DETAIL, "Step": STEP, "User": USER, "Session": SESSION,
    "Error": ERROR, "Preferences": PREFERENCES, "Message": MESSAGE,
    "Credentials": CREDENTIALS, "RefreshRequest": REFRESH, "ChatRequest": CHAT_REQUEST,
    "Place": PLACE,
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def wrapped(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return obj({key: schema}, [key])


ERRORS = {
    "400": "malformed JSON", "401": "missing, invalid or expired token", "404": "not found",
    "409": "conflict", "413": "body too large", "422": "validation failed",
    "429": "rate limited (Retry-After)",
    "502": "the model refused the request", "503": "the model is unreachable or not pulled",
}

# (method, path, summary, needs auth, request schema, success status, response schema, errors)
OPERATIONS: list[tuple[str, str, str, bool, Any, str, Any, tuple[str, ...]]] = [
    ("get", "/api/health", "Database reachability", False, None, "200",
     obj({"status": STR, "database": STR}), ()),
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
    ("get", "/api/auth/me", "The signed-in user", True, None, "200", wrapped("user", ref("User")),
     ()),
    ("get", "/api/scouts", "The caller's scouts, newest updated first", True, None, "200",
     wrapped("scouts", {"type": "array", "items": {"allOf": [ref("Scout"), obj({
         "latest_execution": nullable(ANY_JSON)})]}}), ()),
    ("post", "/api/scouts", "Create a scout", True, ref("ScoutInput"), "201",
     wrapped("scout", ref("Scout")), ("400", "422")),
    ("get", "/api/scouts/{id}", "One scout", True, None, "200", wrapped("scout", ref("Scout")),
     ("404",)),
    ("patch", "/api/scouts/{id}", "Change some fields", True, ref("ScoutInput"), "200",
     wrapped("scout", ref("Scout")), ("400", "404", "422")),
    ("put", "/api/scouts/{id}", "Replace every field", True, ref("ScoutInput"), "200",
     wrapped("scout", ref("Scout")), ("400", "404", "422")),
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

PARAMETERS = {
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
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, auth, body, status, response, errors in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {}}
        params: list[dict[str, Any]] = (
            [{"name": "id", "in": "path", "required": True, "schema": UUID}]
            if "{id}" in path else [])
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
        op["responses"][status] = success
        for code in (*errors, *(("401",) if auth else ())):
            op["responses"][code] = {"description": ERRORS[code], **json_content(ref("Error"))}
        paths.setdefault(path, {})[method] = op
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
