"""User B can never read, change, delete or list user A's rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiohttp.test_utils import TestClient

from engine.storage.messages import add_message
from engine.tables import scout_executions
from tests.support import COMPLETE_SCOUT, FakeClock, signup


async def seed_execution(db, scout_id: str, clock: FakeClock) -> str:
    execution_id = uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(scout_executions.insert().values(
            id=execution_id, scout_id=uuid.UUID(scout_id), state="done", trigger="manual",
            engine_version=1, checkpoint={}, deadline_at=clock.now + timedelta(minutes=10),
            started_at=clock.now, completed_at=clock.now, created_at=clock.now,
            results_summary={"taskCompleted": True, "taskStatus": "completed", "response": "## A's"},
        ))
        await add_message(conn, uuid.UUID(scout_id), "user", "private words", clock.now)
    return str(execution_id)


async def test_foreign_ids_are_404_everywhere(client: TestClient, db, clock: FakeClock) -> None:
    alice = await signup(client, "alice@example.com")
    bob = await signup(client, "bob@example.com")
    scout = await alice.create_scout(**COMPLETE_SCOUT)
    execution_id = await seed_execution(db, scout["id"], clock)
    sid = scout["id"]

    attempts = [
        ("GET", f"/api/scouts/{sid}", None),
        ("PATCH", f"/api/scouts/{sid}", {"title": "mine now"}),
        ("PUT", f"/api/scouts/{sid}", {"title": "mine now"}),
        ("DELETE", f"/api/scouts/{sid}", None),
        ("GET", f"/api/scouts/{sid}/messages", None),
        ("GET", f"/api/scouts/{sid}/executions", None),
        ("GET", f"/api/executions/{execution_id}", None),
    ]
    for method, path, body in attempts:
        status, answer = await bob.request(method, path, json=body)
        assert status == 404, (method, path, answer)
        assert answer["error"]["code"] == "not_found"
        assert "private" not in str(answer) and "Denver" not in str(answer)

    status, listing = await bob.request("GET", "/api/scouts")
    assert listing["scouts"] == []

    # Alice's data is untouched and still hers.
    status, body = await alice.request("GET", f"/api/scouts/{sid}")
    assert status == 200 and body["scout"]["title"] == COMPLETE_SCOUT["title"]
    status, body = await alice.request("GET", f"/api/scouts/{sid}/messages")
    assert [m["content"] for m in body["messages"]] == ["private words"]
    status, body = await alice.request("GET", f"/api/executions/{execution_id}")
    assert status == 200 and body["execution"]["status"] == "completed"


async def test_preferences_are_per_user(client: TestClient) -> None:
    alice = await signup(client, "pa@example.com")
    bob = await signup(client, "pb@example.com")
    await alice.request("PUT", "/api/preferences", json={"notification_email": "a@example.com"})
    status, body = await bob.request("GET", "/api/preferences")
    assert body["preferences"]["notification_email"] is None


async def test_malformed_ids_are_404(client: TestClient) -> None:
    user = await signup(client, "ids@example.com")
    for path in ("/api/scouts/not-a-uuid", "/api/executions/123", f"/api/scouts/{uuid.uuid4()}"):
        status, body = await user.request("GET", path)
        assert status == 404, path


async def test_executions_listing_pages_newest_first(client: TestClient, db, clock: FakeClock) -> None:
    user = await signup(client, "pages@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    created = []
    for _ in range(5):
        created.append(await seed_execution(db, scout["id"], clock))
        clock.advance(minutes=5)
    seen: list[str] = []
    path = f"/api/scouts/{scout['id']}/executions?limit=2"
    while path:
        status, body = await user.request("GET", path)
        assert status == 200
        seen += [e["id"] for e in body["executions"]]
        cursor = body["next_cursor"]
        path = f"/api/scouts/{scout['id']}/executions?limit=2&before={cursor}" if cursor else ""
    assert seen == created[::-1]
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}/executions?limit=0")
    assert status == 422
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}/executions?before=zzz")
    assert status == 422
