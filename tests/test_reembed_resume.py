"""`scouts reembed` in batches, and `--resume` after an interruption."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
import sqlalchemy as sa

from engine.clients.errors import ClientFailure
from engine.clients.ollama import OllamaClient
from engine.reembed import reembed
from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from engine.tables import scout_executions
from tests.fakes.fake_ollama import FakeOllama

TEXTS = [f"Finding {i}: a new bakery on street {i}" for i in range(5)]


async def seed(db, clock) -> None:
    async with db.transaction() as conn:
        user = await create_user(conn, "re@example.com", "x", clock.now)
        assert user is not None
        scout = await create_scout(conn, user["id"], {"title": "t"}, clock.now)
        for text in TEXTS:
            await conn.execute(scout_executions.insert().values(
                id=uuid.uuid4(), scout_id=scout["id"], state="done", trigger="schedule",
                engine_version=1, checkpoint={}, deadline_at=clock.now, started_at=clock.now,
                completed_at=clock.now, created_at=clock.now, summary_text=text))


async def embedded(db) -> dict[str, list[float] | None]:
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(scout_executions.c.summary_text,
                                             scout_executions.c.summary_embedding))).all()
    return {r.summary_text: r.summary_embedding for r in rows}


def texts_sent(ollama: FakeOllama) -> list[str]:
    sent = [t for r in ollama.embed_requests for t in r["input"]]
    return [t for t in sent if t != "dimension probe"]


async def test_interrupted_reembed_resumes_where_it_stopped(db, clock) -> None:
    await seed(db, clock)
    async with FakeOllama(embed_dim=8) as ollama, aiohttp.ClientSession() as session:
        client = OllamaClient(session, ollama.url, "qwen2.5:7b", "nomic-embed-text")
        # The probe and the first batch succeed; the second batch is refused.
        ollama.embed_failures.add(None, 2)  # type: ignore[arg-type]  # None: answer normally
        ollama.fail_embed(400, "model crashed")
        with pytest.raises(ClientFailure):
            await reembed(db, client, 8, batch_size=2)
        done = {t for t, v in (await embedded(db)).items() if v is not None}
        assert len(done) == 2

        ollama.log.clear()
        progress: list[tuple[int, int]] = []
        assert await reembed(db, client, 8, lambda d, t: progress.append((d, t)),
                             resume=True, batch_size=2) == 3
        assert progress == [(2, 3), (3, 3)]
        # Only what was missing went to the model.
        assert set(texts_sent(ollama)) == set(TEXTS) - done
        vectors = await embedded(db)
        assert all(v is not None and len(v) == 8 for v in vectors.values())


async def test_fresh_reembed_replaces_every_vector(db, clock) -> None:
    await seed(db, clock)
    async with FakeOllama(embed_dim=8) as ollama, aiohttp.ClientSession() as session:
        client = OllamaClient(session, ollama.url, "qwen2.5:7b", "nomic-embed-text")
        assert await reembed(db, client, 8) == 5
        ollama.set_embedding(TEXTS[0], [1.0] + [0.0] * 7)
        ollama.log.clear()
        # A new model: without --resume every summary is embedded again.
        assert await reembed(db, client, 8, batch_size=4) == 5
        assert sorted(texts_sent(ollama)) == sorted(TEXTS)
        assert (await embedded(db))[TEXTS[0]] == pytest.approx([1.0] + [0.0] * 7)
