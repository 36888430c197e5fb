"""Run now, cancel, resume and the execution view, through HTTP."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.engine_support import World, final_answer
from tests.support import COMPLETE_SCOUT, signup


async def test_scout_created_through_the_api_runs_to_a_report(api: TestClient, world: World) -> None:
    user = await signup(api, "flow@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, body = await user.request("PATCH", f"/api/scouts/{scout['id']}", json={"is_active": True})
    assert status == 200
    world.script_happy_path()

    states = []
    for _ in range(6):
        await world.engine.tick()
        world.clock.advance(seconds=5)
        status, listing = await user.request("GET", f"/api/scouts/{scout['id']}/executions")
        states.append(listing["executions"][0]["state"])
    assert states == ["searching", "planning", "reading", "planning", "summarizing", "done"]

    execution_id = listing["executions"][0]["id"]
    status, body = await user.request("GET", f"/api/executions/{execution_id}")
    execution = body["execution"]
    assert execution["status"] == "completed" and execution["trigger"] == "schedule"
    assert execution["results_summary"]["taskStatus"] == "completed"
    assert execution["summary_text"].startswith("Ramen Bar opens")
    assert [s["step_type"] for s in execution["steps"]] == [
        "analyze", "search", "analyze", "scrape", "analyze", "summarize"]
    assert execution["actions"] == [] and execution["wait_reason"] is None
    assert execution["checkpoint"]["searches"] == 1 and execution["checkpoint"]["pages_read"] == 1
    assert "summary_embedding" not in execution
    assert len(world.smtp.messages) == 1

    status, listing = await user.request("GET", "/api/scouts")
    latest = listing["scouts"][0]["latest_execution"]
    assert latest["status"] == "completed" and latest["id"] == execution_id


async def test_run_now_cooldown_and_conflicts(api: TestClient, world: World) -> None:
    user = await signup(api, "runner@example.com")
    half = await user.create_scout(title="Half")
    status, body = await user.request("POST", f"/api/scouts/{half['id']}/run")
    assert status == 409 and body["error"]["code"] == "scout_incomplete"

    scout = await user.create_scout(**COMPLETE_SCOUT)
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    assert status == 202
    execution = body["execution"]
    assert execution["trigger"] == "manual" and execution["state"] == "planning"
    assert execution["actions"] == ["cancel"]

    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    assert status == 409 and body["error"]["code"] == "run_in_progress"

    status, body = await user.request("POST", f"/api/executions/{execution['id']}/cancel")
    assert status == 200 and body["execution"]["status"] == "cancelled"
    status, body = await user.request("POST", f"/api/executions/{execution['id']}/cancel")
    assert status == 409

    world.clock.advance(minutes=5)
    async with api.post(f"/api/scouts/{scout['id']}/run", headers=user.headers) as resp:
        body = await resp.json()
        assert resp.status == 429 and body["error"]["code"] == "cooldown"
        assert resp.headers["Retry-After"] == "900"
        assert body["error"]["retry_after_seconds"] == 900
    world.clock.advance(minutes=15)
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    assert status == 202


async def test_resume_after_failure_over_http(api: TestClient, world: World) -> None:
    user = await signup(api, "resume@example.com")
    scout = await user.create_scout(**COMPLETE_SCOUT)
    world.ollama.models.discard("qwen2.5:7b")
    status, body = await user.request("POST", f"/api/scouts/{scout['id']}/run")
    await world.engine.tick()
    status, body = await user.request("GET", f"/api/executions/{body['execution']['id']}")
    failed = body["execution"]
    assert failed["status"] == "failed" and "ollama pull" in failed["error_message"]
    assert failed["actions"] == ["resume"]

    world.ollama.models.add("qwen2.5:7b")  # the operator pulled the model
    world.ollama.reply_text(final_answer(completed=False, status="not_found", response="Nothing"))
    status, body = await user.request("POST", f"/api/executions/{failed['id']}/resume")
    assert status == 200 and body["execution"]["status"] == "running"
    await world.engine.tick()
    await world.engine.tick()
    status, body = await user.request("GET", f"/api/executions/{failed['id']}")
    assert body["execution"]["status"] == "completed"


async def test_other_users_cannot_control_runs(api: TestClient, world: World) -> None:
    alice = await signup(api, "alice-runs@example.com")
    bob = await signup(api, "bob-runs@example.com")
    scout = await alice.create_scout(**COMPLETE_SCOUT)
    status, body = await alice.request("POST", f"/api/scouts/{scout['id']}/run")
    execution_id = body["execution"]["id"]
    for method, path in [("POST", f"/api/scouts/{scout['id']}/run"),
                         ("POST", f"/api/executions/{execution_id}/cancel"),
                         ("POST", f"/api/executions/{execution_id}/resume"),
                         ("GET", f"/api/executions/{execution_id}")]:
        status, body = await bob.request(method, path)
        assert status == 404, (method, path)
    status, body = await alice.request("GET", f"/api/executions/{execution_id}")
    assert body["execution"]["status"] == "running"
