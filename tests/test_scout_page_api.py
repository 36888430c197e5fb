"""What the scout page needs from the API: the Run-now countdown and the first run on activation."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_services, create_app
from engine.tables import live_events
from tests.engine_support import World
from tests.support import COMPLETE_SCOUT, signup


async def test_run_now_available_at_counts_down_before_anyone_clicks(
    api: TestClient, world: World
) -> None:
    user = await signup(api, "countdown@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    assert scout["run_now_available_at"] is None

    started = world.clock()
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    assert status == 202
    await user.request("POST", f"/api/executions/{body['execution']['id']}/cancel")

    world.clock.advance(minutes=5)
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    opens = body["scout"]["run_now_available_at"]
    assert opens is not None
    # The same instant the 429 would name: 20 minutes after the manual run.
    assert datetime.fromisoformat(opens) == started + timedelta(minutes=20)
    status, listing = await user.request("GET", "/api/scouts")
    assert listing["scouts"][0]["run_now_available_at"] == opens

    world.clock.advance(minutes=15)
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    assert body["scout"]["run_now_available_at"] is None
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    assert status == 202


async def test_activating_a_scout_that_never_ran_starts_its_first_run(
    api: TestClient, world: World
) -> None:
    user = await signup(api, "first-run@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, listing = await user.request("GET", f"/api/scouts/{scout['id']}/executions")
    assert listing["executions"] == []

    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    assert status == 200
    # Before any scheduler tick: the run exists and is running.
    status, listing = await user.request("GET", f"/api/scouts/{scout['id']}/executions")
    assert [e["status"] for e in listing["executions"]] == ["running"]
    first = listing["executions"][0]
    await user.request("POST", f"/api/executions/{first['id']}/cancel")

    # Pausing and switching on again is not a first run: the schedule decides.
    await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": False})
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    assert status == 200 and body["scout"]["is_active"] is True
    status, listing = await user.request("GET", f"/api/scouts/{scout['id']}/executions")
    assert [e["id"] for e in listing["executions"]] == [first["id"]]


async def test_editing_an_active_scout_does_not_start_another_run(
    api: TestClient, world: World
) -> None:
    user = await signup(api, "edit-active@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    status, body = await user.request(
        "PATCH", f"/api/scouts/{scout['id']}", json={"frequency": "weekly", "is_active": True})
    assert status == 200 and body["scout"]["frequency"] == "weekly"
    status, listing = await user.request("GET", f"/api/scouts/{scout['id']}/executions")
    assert len(listing["executions"]) == 1


async def test_clear_history_removes_finished_runs_and_refuses_while_one_runs(
    api: TestClient, world: World
) -> None:
    user = await signup(api, "clear@example.com")
    other = await signup(api, "clear-other@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    path = f"/api/scouts/{scout['id']}/executions"
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    running = body["execution"]["id"]

    status, body = await user.request("DELETE", path)
    assert status == 409 and body["error"]["code"] == "run_in_progress"
    status, body = await other.request("DELETE", path)
    assert status == 404

    await user.request("POST", f"/api/executions/{running}/cancel")
    status, body = await user.request("DELETE", path)
    assert status == 200 and body == {"deleted": 1}
    # Other tabs hear of it: the last change-log row is this scout's.
    async with world.db.read() as conn:
        last = (await conn.execute(
            sa.select(live_events.c.kind, live_events.c.scout_id)
            .order_by(live_events.c.id.desc()).limit(1))).one()
    assert tuple(last) == ("scout", uuid.UUID(scout["id"]))
    status, listing = await user.request("GET", path)
    assert listing["executions"] == []
    status, body = await user.request("GET", f"/api/executions/{running}")
    assert status == 404
    # The scout itself is untouched.
    status, body = await user.request("GET", f"/api/scouts/{scout['id']}")
    assert status == 200 and body["scout"]["is_complete"] is True


async def test_test_email_reaches_the_notification_address_once_per_two_minutes(
    api: TestClient, world: World
) -> None:
    user = await signup(api, "mailme@example.com")
    await user.request("PUT", "/api/preferences",
                       json={"notification_email": "inbox@example.com",
                             "notifications_enabled": False})
    async with api.post("/api/preferences/test-email", headers=user.headers) as resp:
        assert resp.status == 202
        assert await resp.json() == {"sent_to": "inbox@example.com"}
    assert [m["To"] for m in world.smtp.messages] == ["inbox@example.com"]

    world.clock.advance(seconds=30)
    async with api.post("/api/preferences/test-email", headers=user.headers) as resp:
        body = await resp.json()
        assert resp.status == 429 and body["error"]["code"] == "test_email_cooldown"
        assert resp.headers["Retry-After"] == "90"
    assert len(world.smtp.messages) == 1

    # Another account has its own allowance.
    other = await signup(api, "mailme-too@example.com")
    status, body = await other.request("POST", "/api/preferences/test-email")
    assert status == 202 and body["sent_to"] == "mailme-too@example.com"

    world.clock.advance(seconds=90)
    status, body = await user.request("POST", "/api/preferences/test-email")
    assert status == 202 and len(world.smtp.messages) == 3


async def test_test_email_says_so_when_mail_is_off(db, clock) -> None:  # type: ignore[no-untyped-def]
    from engine.clients.mailer import Mailer
    from engine.errors import Conflict
    from engine.preferences.test_email import TestEmails

    sender = TestEmails(db, Mailer(None, "Open Scouts <scouts@localhost>"))
    with pytest.raises(Conflict) as caught:
        await sender.send(uuid.uuid4(), clock())
    assert caught.value.details["code"] == "mail_off"


async def test_test_email_says_whether_to_try_again(db, clock) -> None:  # type: ignore[no-untyped-def]
    """A mail server that is down is worth another try; one that refuses is not."""
    from engine.clients.mailer import Mailer
    from engine.errors import Unavailable
    from engine.preferences.test_email import TestEmails
    from engine.storage.users import create_user
    from tests.fakes.demo_mail import DemoMail
    from tests.fakes.smtp_sink import _free_port

    async with db.transaction() as conn:
        user = await create_user(conn, "zoë@example.com", "x", clock())
    down = TestEmails(db, Mailer(f"smtp://127.0.0.1:{_free_port('127.0.0.1')}", "scouts@localhost"))
    with pytest.raises(Unavailable) as caught:
        await down.send(user["id"], clock())
    assert caught.value.details["code"] == "mail_failed"
    assert "try again later" in str(caught.value)

    ascii_only = DemoMail()
    ascii_only.advertises_smtputf8 = False
    await ascii_only.start()
    try:
        refusing = TestEmails(db, Mailer(ascii_only.url, "scouts@localhost"))
        with pytest.raises(Unavailable) as caught:
            await refusing.send(user["id"], clock())
    finally:
        await ascii_only.stop()
    assert caught.value.details["code"] == "mail_failed"
    assert "refused" in str(caught.value) and "try again" not in str(caught.value)


async def test_config_tells_the_ui_whether_this_is_the_demo(world: World) -> None:
    for demo in (False, True):
        settings = dataclasses.replace(world.settings, demo_mode=demo)
        services = build_services(settings, db=world.db, clock=world.clock, bcrypt_rounds=4,
                                  engine=world.engine)
        app = create_app(services, own_database=False)
        async with TestClient(TestServer(app)) as client, client.get("/api/config") as resp:
            assert resp.status == 200
            assert await resp.json() == {"demo_mode": demo}


def test_demo_mode_setting() -> None:
    from engine.config import Settings

    assert Settings.from_env({}).demo_mode is False
    assert Settings.from_env({"DEMO_MODE": "true"}).demo_mode is True
