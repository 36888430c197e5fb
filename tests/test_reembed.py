from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
import sqlalchemy as sa

from engine import migrate
from engine.clients.ollama import OllamaClient
from engine.db import Database
from engine.errors import ValidationFailed
from engine.reembed import column_dimension, reembed
from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from engine.storage.vectors import most_similar
from engine.tables import scout_executions
from tests.fakes.fake_ollama import FakeOllama


async def test_reembed_moves_every_summary_to_the_new_model(fresh_database_url: str, clock) -> None:
    await asyncio.to_thread(migrate.upgrade, fresh_database_url, 8)
    db = Database(fresh_database_url)
    texts = ["Ramen bar opens on Larimer", "Bakery closes in Highlands", "Food hall opens"]
    try:
        async with db.transaction() as conn:
            user = await create_user(conn, "re@example.com", "x", clock.now)
            scout = await create_scout(conn, user["id"], {"title": "t"}, clock.now)
            for i, text in enumerate(texts):
                await conn.execute(scout_executions.insert().values(
                    id=uuid.uuid4(), scout_id=scout["id"], state="done", trigger="schedule",
                    engine_version=1, checkpoint={}, deadline_at=clock.now, started_at=clock.now,
                    completed_at=clock.now, created_at=clock.now, summary_text=text,
                    summary_embedding=[float(i + 1)] * 8))
        async with FakeOllama(embed_dim=4) as ollama, aiohttp.ClientSession() as session:
            client = OllamaClient(session, ollama.url, "qwen2.5:7b", "nomic-embed-text")
            with pytest.raises(ValidationFailed, match="EMBEDDING_DIM=4"):
                await reembed(db, client, 8)
            assert await reembed(db, client, 4) == 3
            async with db.transaction() as conn:
                if conn.dialect.name == "postgresql":
                    assert await column_dimension(conn) == 4
                rows = (await conn.execute(sa.select(scout_executions.c.summary_text,
                                                     scout_executions.c.summary_embedding))).all()
                assert all(len(r.summary_embedding) == 4 for r in rows)
                # similarity search works in the new space
                target = ollama.vector_for("Bakery closes in Highlands")
                found = await most_similar(conn, scout["id"], target, k=1)
            assert found[0].summary_text == "Bakery closes in Highlands"
            assert found[0].similarity > 0.99
    finally:
        await db.close()
