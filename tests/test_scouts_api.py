from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from tests.support import COMPLETE_SCOUT, FakeClock, signup


async def test_create_edit_and_read_back(client: TestClient, clock: FakeClock) -> None:
    user = await signup(client, "ada@example.com")
    scout = await user.create_scout(title="  Indian food  ")
    assert scout["title"] == "Indian food"
    assert scout["is_active"] is False and scout["is_complete"] is False
    assert scout["search_queries"] == [] and scout["consecutive_failures"] == 0

    clock.advance(minutes=1)
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json=COMPLETE_SCOUT)
    assert status == 200
    updated = body["scout"]
    assert updated["is_complete"] is True
    assert updated["location"] == COMPLETE_SCOUT["location"]
    assert updated["updated_at"] > scout["updated_at"]

    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    assert status == 200 and body["scout"] == updated


async def test_list_is_newest_updated_first_with_latest_execution(
    client: TestClient, clock: FakeClock
) -> None:
    user = await signup(client, "list@example.com")
    first = await user.create_scout(title="First")
    clock.advance(minutes=1)
    second = await user.create_scout(title="Second")
    clock.advance(minutes=1)
    await user.request("PATCH", f"/api/scouts/{first['id']}", json={"goal": "bump"})
    status, body = await user.request("GET", "/api/scouts")
    assert status == 200
    assert [s["id"] for s in body["scouts"]] == [first["id"], second["id"]]
    assert body["scouts"][0]["latest_execution"] is None


async def test_put_replaces_every_field(client: TestClient) -> None:
    user = await signup(client, "put@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, body = await user.request("PUT", f"/api/scouts/{scout['id']}", json={"title": "Only"})
    assert status == 200
    assert body["scout"]["title"] == "Only"
    assert body["scout"]["goal"] is None and body["scout"]["search_queries"] == []


async def test_activation_requires_a_complete_scout(client: TestClient) -> None:
    user = await signup(client, "act@example.com")
    scout = await user.create_scout(title="Half done")
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    assert status == 409
    assert body["error"]["code"] == "scout_incomplete"
    assert "a goal" in body["error"]["message"] and "frequency" in body["error"]["message"]
    await user.request("PATCH", f"/api/scouts/{scout['id']}", json=COMPLETE_SCOUT)
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    assert status == 200 and body["scout"]["is_active"] is True


async def test_validation_errors_say_what_is_wrong(client: TestClient) -> None:
    user = await signup(client, "val@example.com")
    cases = [
        ({"frequency": "hourly"}, "frequency"),
        ({"search_queries": ["a", "b", "c", "d", "e", "f"]}, "at most 5"),
        ({"search_queries": ["ok", "  "]}, "must not be empty"),
        ({"search_queries": "one"}, "list"),
        ({"title": "x" * 101}, "at most 100"),
        ({"title": 5}, "string"),
        ({"location": {"city": "Denver", "latitude": 200}}, "latitude"),
        ({"location": {"latitude": 1}}, "city"),
        ({"location": "Denver"}, "location"),
        ({"is_active": "yes"}, "is_active"),
        ({"user_id": str(uuid.uuid4())}, "user_id"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"consecutive_failures": 0}, "consecutive_failures"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ]
    for body, expected in cases:
        status, answer = await user.request("POST", "/api/scouts", json=body)
        assert status == 422, (body, answer)
        assert answer["error"]["code"] == "validation_error"
        assert expected in answer["error"]["message"], (body, answer)
    status, body = await user.request("GET", "/api/scouts")
    assert body["scouts"] == []  # nothing half-stored


async def test_malformed_and_oversized_bodies(client: TestClient) -> None:
    user = await signup(client, "bad@example.com")
    status, body = await user.request(
        "POST", "/api/scouts", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = await user.request("POST", "/api/scouts", json=[1, 2])
    assert status == 422 and "object" in body["error"]["message"]
    status, body = await user.request(
        "POST", "/api/scouts", data=b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert status == 413 and body["error"]["code"] == "payload_too_large"


async def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    async with client.get("/api/nothing-here") as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    async with client.post("/api/health") as resp:
        assert resp.status == 405
        assert (await resp.json())["error"]["code"] == "method_not_allowed"


async def test_delete_removes_the_scout(client: TestClient) -> None:
    user = await signup(client, "del@example.com")
    scout = await user.create_scout(title="Temp")
    assert (await user.request("DELETE", f"/api/scouts/{scout['id']}"))[0] == 204
    assert (await user.request("GET", f"/api/scouts/{scout['id']}"))[0] == 404
    assert (await user.request("DELETE", f"/api/scouts/{scout['id']}"))[0] == 404


async def test_preferences_round_trip(client: TestClient) -> None:
    user = await signup(client, "prefs@example.com")
    status, body = await user.request("GET", "/api/preferences")
    assert status == 200
    assert body["preferences"] == {"location": None, "notification_email": None,
                                   "notifications_enabled": True}
    wanted = {
        "location": {"city": "Denver", "state": "Colorado", "stateCode": "CO", "country": "United States",
                     "countryCode": "US", "latitude": 39.7, "longitude": -105.0},
        "notification_email": "alerts@example.com",
        "notifications_enabled": False,
    }
    status, body = await user.request("PUT", "/api/preferences", json=wanted)
    assert status == 200 and body["preferences"] == wanted
    status, body = await user.request("PUT", "/api/preferences", json={"notification_email": "nope"})
    assert status == 422
    status, body = await user.request("GET", "/api/preferences")
    assert body["preferences"] == wanted


async def test_health_reports_database(client: TestClient) -> None:
    async with client.get("/api/health") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_no_stack_trace_reaches_the_client(client: TestClient, services, monkeypatch) -> None:
    user = await signup(client, "boom@example.com")

    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.scouts, "list_for_user", explode)
    async with client.get("/api/scouts", headers=user.headers) as resp:
        text = await resp.text()
    assert resp.status == 500
    assert "secret internals" not in text and "Traceback" not in text


async def test_deleting_a_scout_deletes_its_history(client: TestClient, db, clock: FakeClock) -> None:
    import sqlalchemy as sa

    from engine.tables import scout_execution_steps, scout_executions, scout_messages
    from tests.test_isolation import seed_execution

    user = await signup(client, "cascade@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    execution_id = await seed_execution(db, scout["id"], clock)
    async with db.transaction() as conn:
        await conn.execute(scout_execution_steps.insert().values(
            id=uuid.uuid4(), execution_id=uuid.UUID(execution_id), step_number=1,
            step_type="search", description="d", status="completed", started_at=clock.now))
    assert (await user.request("DELETE", f"/api/scouts/{scout['id']}"))[0] == 204
    async with db.read() as conn:
        for table in (scout_executions, scout_execution_steps, scout_messages):
            count = (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            assert count == 0, table.name
