from __future__ import annotations

import math
import random
import uuid
from datetime import timedelta

from engine.storage.scouts import create_scout
from engine.storage.users import create_user
from engine.storage.vectors import most_similar
from engine.tables import scout_executions
from tests.conftest import EMBEDDING_DIM


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


async def test_same_ranking_on_both_backends(db, clock) -> None:
    rng = random.Random(7)
    async with db.transaction() as conn:
        user = await create_user(conn, "vec@example.com", "x", clock.now)
        scout = await create_scout(conn, user["id"], {"title": "v"}, clock.now)
        other = await create_scout(conn, user["id"], {"title": "other"}, clock.now)
        vectors = {f"summary {i}": unit([rng.uniform(-1, 1) for _ in range(EMBEDDING_DIM)])
                   for i in range(8)}
        for i, (text, vec) in enumerate(vectors.items()):
            at = clock.now + timedelta(hours=i)
            await conn.execute(scout_executions.insert().values(
                id=uuid.uuid4(), scout_id=scout["id"], state="done", trigger="schedule",
                engine_version=1, checkpoint={}, deadline_at=at, started_at=at,
                completed_at=at, created_at=at, summary_text=text, summary_embedding=vec,
            ))
        query = unit([rng.uniform(-1, 1) for _ in range(EMBEDDING_DIM)])
        # The other scout's identical vector must not leak into this scout's answer.
        await conn.execute(scout_executions.insert().values(
            id=uuid.uuid4(), scout_id=other["id"], state="done", trigger="schedule",
            engine_version=1, checkpoint={}, deadline_at=clock.now, started_at=clock.now,
            completed_at=clock.now, created_at=clock.now, summary_text="other scout",
            summary_embedding=query,
        ))
        found = await most_similar(conn, scout["id"], query, k=3)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    expected = sorted(vectors, key=lambda t: -cos(vectors[t], query))[:3]
    assert [s.summary_text for s in found] == expected
    for s in found:
        assert abs(s.similarity - cos(vectors[s.summary_text], query)) < 1e-4


async def test_embedding_round_trips(db, clock) -> None:
    async with db.transaction() as conn:
        user = await create_user(conn, "rt@example.com", "x", clock.now)
        scout = await create_scout(conn, user["id"], {"title": "v"}, clock.now)
        vec = unit([float(i + 1) for i in range(EMBEDDING_DIM)])
        eid = uuid.uuid4()
        await conn.execute(scout_executions.insert().values(
            id=eid, scout_id=scout["id"], state="done", trigger="schedule", engine_version=1,
            checkpoint={}, deadline_at=clock.now, started_at=clock.now, created_at=clock.now,
            summary_embedding=vec,
        ))
        stored = (await conn.execute(
            scout_executions.select().where(scout_executions.c.id == eid)
        )).one().summary_embedding
    assert [round(v, 5) for v in stored] == [round(v, 5) for v in vec]
