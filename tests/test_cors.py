from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_services, create_app
from tests.fakes.fake_ollama import FakeOllama
from tests.support import signup

ALLOWED = "https://scouts.example.com"


@pytest.fixture
async def cors_client(settings, db, clock) -> AsyncIterator[TestClient]:
    async with FakeOllama() as ollama:
        ollama.reply_text("Hello from the assistant.")
        services = build_services(
            replace(settings, cors_origins=(ALLOWED,), ollama_url=ollama.url),
            db=db, clock=clock, bcrypt_rounds=4)
        try:
            async with TestClient(TestServer(create_app(services, own_database=False))) as client:
                yield client
        finally:
            await services.engine.close()


async def test_allowed_origin_gets_cors_headers(cors_client: TestClient) -> None:
    async with cors_client.get("/api/health", headers={"Origin": ALLOWED}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
    async with cors_client.get("/api/health", headers={"Origin": "https://evil.example"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_preflight_is_answered_only_for_allowed_origins(cors_client: TestClient) -> None:
    ask = {"Access-Control-Request-Method": "POST"}
    async with cors_client.options("/api/scouts", headers={"Origin": ALLOWED, **ask}) as resp:
        assert resp.status == 204
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    async with cors_client.options("/api/scouts", headers={"Origin": "https://evil.example", **ask}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_errors_and_streams_carry_cors_headers(cors_client: TestClient) -> None:
    async with cors_client.get("/api/scouts", headers={"Origin": ALLOWED}) as resp:
        assert resp.status == 401
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
    user = await signup(cors_client, "cors@example.com")
    scout = await user.create_scout(title="x")
    body = {"scoutId": scout["id"], "messages": [{"role": "user", "content": "hi"}]}
    async with cors_client.post("/api/chat", json=body,
                                headers={**user.headers, "Origin": ALLOWED}) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        events = [json.loads(line[6:]) for line in (await resp.text()).splitlines()
                  if line.startswith("data: {")]
    text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert text == "Hello from the assistant."


async def test_no_cors_without_configured_origins(client: TestClient) -> None:
    async with client.get("/api/health", headers={"Origin": ALLOWED}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
