"""Hostile input against every operation in the OpenAPI document, on both databases.

Whatever arrives, the answer is a 4xx with a JSON error, never a 5xx: NUL characters and
lone surrogates in any string (422 naming the field), absurd nesting (400), bodies that
are not JSON or not UTF-8, numbers Python cannot read, oversized bodies, and the same
poison in path and query parameters. Operations are read from /api/openapi.json, so
endpoints added later are covered without touching this file.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api.openapi import openapi_document
from tests.support import COMPLETE_SCOUT, User, signup

DOCUMENT = openapi_document()
NUL = "bad\u0000text"
SURROGATE = "bad\ud800text"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in DOCUMENT["paths"].items()
            for method, op in ops.items()]


def _body_fields(op: dict[str, Any]) -> list[str]:
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return []
    return sorted(_resolve(body["schema"]).get("properties", {}))


OPERATIONS = _operations()
WITH_BODY = [(m, p) for m, p, op in OPERATIONS if "requestBody" in op]
FIELD_CASES = [(m, p, _body_fields(op)) for m, p, op in OPERATIONS if _body_fields(op)]

# Raw bodies that are not acceptable JSON documents, and the status each must get.
RAW_BODIES: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("brackets x100k", b"[" * 100_000, 400),
    ("closed brackets x100k", b"[" * 100_000 + b"]" * 100_000, 400),
    ("objects x50k", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400),
    ("nested 40 deep", b"[" * 40 + b"]" * 40, 400),
    ("invalid utf-8", b'{"email": "\xff\xfe"}', 400),
    ("truncated", b'{"email": ', 400),
    ("huge integer", b'{"limit": ' + b"9" * 5000 + b"}", 400),
    ("NUL in a key", b'{"\\u0000": 1}', 422),
    ("surrogate in a key", b'{"\\ud800": 1}', 422),
    ("NUL escaped at top level", b'"\\u0000"', 422),
]
# JSON documents of the wrong shape: some 4xx.
WRONG_SHAPES: list[Any] = [None, [], "text", 1, True, {"unknown_field": 1},
                           {"email": float("inf")}]


def _path_for(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), ids["id"]), path)


@pytest.fixture
async def user(client: TestClient) -> User:
    return await signup(client, f"hostile-{uuid.uuid4().hex[:8]}@example.com")


async def _send(user: User, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {**user.headers, **kwargs.pop("headers", {})}
    async with user.client.request(method.upper(), path, headers=headers, **kwargs) as resp:
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, None


def _assert_json_error(status: int, body: Any, expected: int | None, what: str) -> None:
    assert 400 <= status < 500, f"{what}: {status} {body}"
    if expected is not None:
        assert status == expected, f"{what}: {status} {body}"
    assert isinstance(body, dict) and set(body["error"]) >= {"code", "message"}, what


async def _ids(user: User) -> dict[str, str]:
    scout = await user.create_scout(**COMPLETE_SCOUT)
    return {"id": scout["id"]}


@pytest.mark.parametrize(("method", "path", "fields"), FIELD_CASES,
                         ids=[f"{m} {p}" for m, p, _ in FIELD_CASES])
async def test_unstorable_text_in_any_field_is_422_naming_it(
    user: User, method: str, path: str, fields: list[str]
) -> None:
    url = _path_for(path, await _ids(user))
    for field in fields:
        for poison in (NUL, SURROGATE):
            for value in (poison, [poison], {"city": poison}):
                # Pre-encoded: json.dumps keeps a lone surrogate as \ud800, as browsers do.
                raw = json.dumps({field: value})
                status, body = await _send(user, method, url, data=raw,
                                           headers={"Content-Type": "application/json"})
                _assert_json_error(status, body, 422, f"{method} {path} {field}={value!r}")
                assert str(body["error"].get("field", "")).startswith(field), body


@pytest.mark.parametrize(("method", "path"), WITH_BODY, ids=[f"{m} {p}" for m, p in WITH_BODY])
async def test_malformed_bodies_are_4xx_json(user: User, method: str, path: str) -> None:
    ids = await _ids(user)
    url = _path_for(path, ids)
    for name, raw, expected in RAW_BODIES:
        status, body = await _send(user, method, url, data=raw,
                                   headers={"Content-Type": "application/json"})
        _assert_json_error(status, body, expected, f"{method} {path} {name}")
    for shape in WRONG_SHAPES:
        status, body = await _send(user, method, url, data=json.dumps(shape),
                                   headers={"Content-Type": "application/json"})
        _assert_json_error(status, body, None, f"{method} {path} {shape!r}")
    status, body = await _send(user, method, url, data=b"x" * (1024 * 1024 + 10),
                               headers={"Content-Type": "application/json"})
    _assert_json_error(status, body, 413, f"{method} {path} oversized")


PATH_POISON = ["%00", "%ED%A0%80", "x" * 5000, "..%2F..%2Fetc", str(uuid.uuid4())]
QUERY_POISON = {"limit": ["%00", "-1", "9" * 400, "1e9", "%ED%A0%80"],
                "before": ["%00", "garbage", "%ED%A0%80", "x" * 5000],
                "%00": ["1"]}


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in OPERATIONS],
                         ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
async def test_poisoned_path_and_query_parameters_are_never_5xx(
    user: User, method: str, path: str
) -> None:
    ids = await _ids(user)
    urls = [_path_for(path, {"id": poison}) for poison in PATH_POISON if "{" in path]
    base = _path_for(path, ids)
    urls += [f"{base}?{name}={value}" for name, values in QUERY_POISON.items()
             for value in values]
    for url in urls:
        async with user.client.request(method.upper(), url, headers=user.headers,
                                       json={} if method in ("post", "put", "patch") else None
                                       ) as resp:
            assert resp.status < 500, f"{method} {url}: {resp.status}"
            if resp.status >= 400:
                assert resp.content_type == "application/json", f"{method} {url}"
