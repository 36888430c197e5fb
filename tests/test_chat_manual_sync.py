"""A setting changed by hand is what the assistant sees on its next turn (and the reverse)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from engine.config import Settings
from tests.conftest import EMBEDDING_DIM
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fixtures import fake_ollama  # noqa: F401
from tests.support import COMPLETE_SCOUT, signup


@pytest.fixture
def settings(database_url: str, fake_ollama: FakeOllama) -> Settings:  # noqa: F811
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "OLLAMA_URL": fake_ollama.url,
    })


def chat_body(scout_id: str, text: str) -> dict[str, Any]:
    return {"id": "chat_1", "trigger": "submit-message", "scoutId": scout_id,
            "messages": [{"id": "m0", "role": "user", "parts": [{"type": "text", "text": text}]}]}


async def test_manual_edit_reaches_the_assistant_and_its_edit_reaches_the_page(
    client: TestClient, fake_ollama: FakeOllama  # noqa: F811
) -> None:
    user = await signup(client, "sync@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, _ = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={
        "location": {"city": "Boulder, Colorado", "latitude": 40.015, "longitude": -105.27},
        "frequency": "weekly"})
    assert status == 200

    fake_ollama.reply_tool_call("update_scout_config", {"frequency": "every_3_days"})
    fake_ollama.reply_text("Done: every three days.")
    async with client.post("/api/chat", json=chat_body(scout["id"], "Check every 3 days"),
                           headers=user.headers) as resp:
        assert resp.status == 200
        await resp.text()

    system = fake_ollama.chat_requests[0]["messages"][0]["content"]
    assert "Boulder, Colorado" in system and "every week" in system
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    assert body["scout"]["frequency"] == "every_3_days"
    assert body["scout"]["location"]["city"] == "Boulder, Colorado"
