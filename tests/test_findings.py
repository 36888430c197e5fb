"""GET /api/findings: the caller's findings by meaning, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from engine.config import Settings
from engine.db import Database
from engine.findings import store
from engine.findings.excerpt import excerpt
from engine.tables import scout_executions
from tests.conftest import EMBEDDING_DIM
from tests.fakes.fake_ollama import FakeOllama
from tests.support import FakeClock, User, signup


@pytest_asyncio.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama(embed_dim=EMBEDDING_DIM) as server:
        yield server


@pytest.fixture
def settings(database_url: str, ollama: FakeOllama) -> Settings:
    return Settings.from_env({
        "DATABASE_URL": database_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "OLLAMA_URL": ollama.url,
    })


@pytest.fixture
async def alice(client: TestClient) -> User:
    return await signup(client, "alice@example.com")


@pytest.fixture
async def bob(client: TestClient) -> User:
    return await signup(client, "bob@example.com")


class Findings:
    """Writes finished runs the way the engine leaves them."""

    def __init__(self, db: Database, clock: FakeClock, ollama: FakeOllama) -> None:
        self.db, self.clock, self.ollama = db, clock, ollama
        self.count = 0

    async def add(self, scout_id: str, summary: str, report: str = "", *,
                  embedded: bool = True, state: str = "done") -> str:
        self.count += 1
        at = self.clock.now + timedelta(hours=self.count)
        execution_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            await conn.execute(scout_executions.insert().values(
                id=execution_id, scout_id=uuid.UUID(scout_id), state=state, trigger="schedule",
                engine_version=1, checkpoint={}, deadline_at=at, started_at=at,
                completed_at=at if state == "done" else None, created_at=at,
                summary_text=summary,
                results_summary={"taskCompleted": True, "taskStatus": "completed",
                                 "response": report or f"## {summary}\n\n{summary}"},
                summary_embedding=self.ollama.vector_for(summary) if embedded else None,
            ))
        return str(execution_id)


@pytest.fixture
def findings(db: Database, clock: FakeClock, ollama: FakeOllama) -> Findings:
    return Findings(db, clock, ollama)


async def search(user: User, **params: Any) -> tuple[int, Any]:
    return await user.request("GET", "/api/findings", params=params)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


SUMMARIES = [
    "A ramen shop opened on Colfax Avenue in Denver",
    "Cursor released a new AI coding agent",
    "A Nepalese momo restaurant opened in Aurora",
    "The city council approved a new bike lane plan",
    "A tapas bar opened in the Highlands",
]


async def test_best_first_and_only_the_callers_findings(
    alice: User, bob: User, findings: Findings, ollama: FakeOllama
) -> None:
    scout = await alice.create_scout(title="Denver food")
    ids = {s: await findings.add(scout["id"], s) for s in SUMMARIES}
    query = "new noodle places in Denver"
    ollama.make_similar(query, like=SUMMARIES[0], noise=0.2)
    # Bob's finding is the query itself, the closest possible match: it must not leak.
    bobs_scout = await bob.create_scout(title="Bob's")
    bobs = await findings.add(bobs_scout["id"], query)

    status, body = await search(alice, q=query)

    assert status == 200, body
    hits = body["findings"]
    assert bobs not in {h["execution_id"] for h in hits}
    assert len(hits) == len(SUMMARIES)
    q = ollama.vector_for(query)
    expected = sorted(SUMMARIES, key=lambda s: -cosine(ollama.vector_for(s), q))
    assert expected[0] == SUMMARIES[0]
    assert [h["summary"] for h in hits] == expected
    for hit in hits:
        assert hit["similarity"] == pytest.approx(
            cosine(ollama.vector_for(hit["summary"]), q), abs=1e-3)
        assert hit["match"] == "meaning"
        assert hit["scout_id"] == scout["id"] and hit["scout_title"] == "Denver food"
        assert hit["execution_id"] == ids[hit["summary"]]
        assert hit["completed_at"]
    assert ollama.embed_requests[-1]["input"] == [query]

    status, body = await search(alice, q=query, limit=2)
    assert [h["summary"] for h in body["findings"]] == expected[:2]

    status, body = await search(bob, q=query)
    assert [h["execution_id"] for h in body["findings"]] == [bobs]


async def test_runs_that_found_nothing_yet_are_not_findings(
    alice: User, findings: Findings
) -> None:
    scout = await alice.create_scout(title="t")
    done = await findings.add(scout["id"], SUMMARIES[0])
    await findings.add(scout["id"], SUMMARIES[1], state="planning")
    status, body = await search(alice, q="anything")
    assert status == 200
    assert [h["execution_id"] for h in body["findings"]] == [done]


async def test_scout_filter_and_foreign_scout(
    alice: User, bob: User, findings: Findings
) -> None:
    food = await alice.create_scout(title="food")
    tech = await alice.create_scout(title="tech")
    await findings.add(food["id"], SUMMARIES[0])
    tech_run = await findings.add(tech["id"], SUMMARIES[1])
    bobs_scout = await bob.create_scout(title="b")

    status, body = await search(alice, q="ramen", scout_id=tech["id"])
    assert status == 200
    assert [h["execution_id"] for h in body["findings"]] == [tech_run]

    status, body = await search(alice, q="ramen", scout_id=bobs_scout["id"])
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await search(alice, q="ramen", scout_id=str(uuid.uuid4()))
    assert status == 404


async def test_findings_without_embedding_are_found_by_their_words(
    alice: User, findings: Findings, ollama: FakeOllama
) -> None:
    scout = await alice.create_scout(title="food")
    embedded = await findings.add(scout["id"], SUMMARIES[1])
    imported = await findings.add(
        scout["id"], "Imported finding", "## Openings\n\n- **Menya Ramen** opened on Colfax.",
        embedded=False)
    await findings.add(scout["id"], "Imported, about tacos", "Tacos", embedded=False)

    status, body = await search(alice, q="Ramen colfax")

    assert status == 200
    by_id = {h["execution_id"]: h for h in body["findings"]}
    # Once each, though PostgreSQL's search runs on several connections.
    assert len(body["findings"]) == 2 and set(by_id) == {embedded, imported}
    assert by_id[imported]["match"] == "text" and by_id[imported]["similarity"] is None
    assert by_id[embedded]["match"] == "meaning"
    assert by_id[imported]["excerpt"] == "Openings: Menya Ramen opened on Colfax."
    assert body["findings"][-1]["execution_id"] == imported


async def test_text_matches_do_not_crowd_out_meaning(alice: User, findings: Findings) -> None:
    scout = await alice.create_scout(title="food")
    for i in range(5):
        await findings.add(scout["id"], f"Imported ramen note {i}", embedded=False)
    for s in SUMMARIES:
        await findings.add(scout["id"], s)
    status, body = await search(alice, q="ramen", limit=4)
    assert [h["match"] for h in body["findings"]] == ["meaning", "meaning", "text", "text"]


async def test_like_wildcards_in_the_query_are_plain_characters(
    alice: User, findings: Findings
) -> None:
    scout = await alice.create_scout(title="food")
    await findings.add(scout["id"], "Nothing special here", embedded=False)
    hit = await findings.add(scout["id"], "Prices rose 100% at the market", embedded=False)
    status, body = await search(alice, q="100%")
    assert [h["execution_id"] for h in body["findings"]] == [hit]
    status, body = await search(alice, q="%")
    assert [h["execution_id"] for h in body["findings"]] == [hit]


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 501}, "q"),
    ({"q": "nul\x00byte"}, "q"),
    ({"q": "ok", "limit": "0"}, "limit"),
    ({"q": "ok", "limit": "51"}, "limit"),
    ({"q": "ok", "limit": "ten"}, "limit"),
    ({"q": "ok", "scout_id": "not-a-uuid"}, "scout_id"),
])
async def test_bad_input_is_the_callers_mistake(
    alice: User, ollama: FakeOllama, params: dict[str, str], field: str
) -> None:
    status, body = await search(alice, **params)
    assert status == 422, body
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["field"] == field
    assert ollama.embed_requests == []


async def test_needs_a_token(client: TestClient) -> None:
    async with client.get("/api/findings", params={"q": "x"}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_ollama_down_is_a_clear_503(alice: User, ollama: FakeOllama) -> None:
    ollama.fail_embed(503, "overloaded", times=5)
    status, body = await search(alice, q="ramen")
    assert status == 503
    assert body["error"]["code"] == "search_unavailable"
    assert "Ollama did not answer" in body["error"]["message"]


async def test_embed_model_not_pulled_is_a_503_that_says_what_to_do(
    alice: User, ollama: FakeOllama
) -> None:
    ollama.models.clear()
    status, body = await search(alice, q="ramen")
    assert status == 503
    assert "ollama pull nomic-embed-text" in body["error"]["message"]


async def test_unreachable_ollama_is_a_503(
    database_url: str, db: Database, clock: FakeClock, unused_tcp_port: int
) -> None:
    from aiohttp.test_utils import TestServer

    from api.app import build_services, create_app
    settings = Settings.from_env({
        "DATABASE_URL": database_url, "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM), "OLLAMA_URL": f"http://127.0.0.1:{unused_tcp_port}",
    })
    services = build_services(settings, db=db, clock=clock, bcrypt_rounds=4)
    try:
        async with TestClient(TestServer(create_app(services, own_database=False))) as client:
            user = await signup(client, "carol@example.com")
            status, body = await search(user, q="ramen")
    finally:
        await services.engine.close()
    assert status == 503
    assert body["error"]["code"] == "search_unavailable"


async def test_embedding_size_mismatch_is_a_503(alice: User, ollama: FakeOllama) -> None:
    ollama.embed_dim = EMBEDDING_DIM * 2
    status, body = await search(alice, q="ramen")
    assert status == 503
    assert "EMBEDDING_DIM" in body["error"]["message"]


def test_excerpt_starts_near_the_words_and_drops_markdown() -> None:
    report = ("## New openings\n\n" + "Filler words here. " * 30
              + "- **Menya Ramen** opened on [Colfax](https://example.com/x) in March.\n"
              + "More filler. " * 30)
    text = excerpt(report, ["ramen"])
    assert text.startswith("…") and text.endswith("…")
    assert "Menya Ramen opened on Colfax in March." in text
    assert "**" not in text and "https://" not in text
    assert len(text) <= 245
    assert excerpt("## Short\n\nAll of it.") == "Short: All of it."
    assert excerpt("# Done.\nYes") == "Done. Yes"


# ---- PostgreSQL: complete for a sparse user ------------------------------------------------


async def test_postgres_sparse_user_still_gets_every_finding(
    db: Database, alice: User, bob: User, findings: Findings, ollama: FakeOllama,
) -> None:
    """Bob's 600 findings lie around the question; Alice's three are far from it. She still
    gets all three (a filtered HNSW walk through Bob's rows used to give up first)."""
    bobs_scout = await bob.create_scout(title="busy")
    async with db.transaction() as conn:
        at = findings.clock.now
        await conn.execute(scout_executions.insert(), [{
            "id": uuid.uuid4(), "scout_id": uuid.UUID(bobs_scout["id"]), "state": "done",
            "trigger": "schedule", "engine_version": 1, "checkpoint": {}, "deadline_at": at,
            "started_at": at, "completed_at": at, "created_at": at,
            "summary_text": f"bob finding {i}",
            "summary_embedding": ollama.vector_for(f"bob finding {i}")} for i in range(600)])
    scout = await alice.create_scout(title="quiet")
    mine = {await findings.add(scout["id"], s) for s in SUMMARIES[:3]}
    async with db.read() as conn:
        hits = await store.nearest(
            conn, uuid.UUID(alice.id), ollama.vector_for("bob finding 7"), 10)
    assert {str(h.execution_id) for h in hits} == mine


async def test_after_a_model_change_old_findings_stay_findable(
    database_url: str, db: Database, clock: FakeClock,
) -> None:
    """EMBEDDING_DIM changed, `scouts reembed` not run yet: SQLite finds the old runs by
    their words, PostgreSQL (whose column still has the old size) answers a clear 503."""
    from aiohttp.test_utils import TestServer

    from api.app import build_services, create_app
    async with FakeOllama(embed_dim=EMBEDDING_DIM * 2) as bigger:
        settings = Settings.from_env({
            "DATABASE_URL": database_url, "APP_ENV": "test",
            "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
            "EMBEDDING_DIM": str(EMBEDDING_DIM * 2), "OLLAMA_URL": bigger.url,
        })
        services = build_services(settings, db=db, clock=clock, bcrypt_rounds=4)
        try:
            async with TestClient(TestServer(create_app(services, own_database=False))) as c:
                user = await signup(c, "dave@example.com")
                scout = await user.create_scout(title="food")
                async with FakeOllama(embed_dim=EMBEDDING_DIM) as old_model:
                    old = await Findings(db, clock, old_model).add(
                        scout["id"], "A ramen shop opened on Colfax")
                status, body = await search(user, q="ramen")
        finally:
            await services.engine.close()
    if db.dialect == "postgresql":
        assert status == 503
        assert "scouts reembed" in body["error"]["message"]
    else:
        assert status == 200
        assert [(h["execution_id"], h["match"]) for h in body["findings"]] == [(old, "text")]
