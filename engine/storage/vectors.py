"""Nearest earlier summaries of a scout: pgvector on PostgreSQL, Python cosine on SQLite.

Both paths rank by the same cosine similarity, so duplicate detection behaves the same
whichever database a self-hoster picked.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.tables import scout_executions

# How far back duplicate detection looks: the scout's most recent completed runs.
RECENT_RUNS = 20


@dataclass(frozen=True)
class Similar:
    execution_id: uuid.UUID
    summary_text: str
    similarity: float


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _vector_literal(embedding: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in embedding) + "]"


def _recent_with_embedding(scout_id: uuid.UUID, exclude: uuid.UUID | None) -> sa.Select[
    tuple[uuid.UUID, str]
]:
    query = sa.select(scout_executions.c.id, scout_executions.c.summary_text).where(
        scout_executions.c.scout_id == scout_id,
        scout_executions.c.state == "done",
        scout_executions.c.summary_embedding.is_not(None),
    )
    if exclude is not None:
        query = query.where(scout_executions.c.id != exclude)
    return query.order_by(scout_executions.c.completed_at.desc()).limit(RECENT_RUNS)


async def most_similar(
    conn: AsyncConnection,
    scout_id: uuid.UUID,
    embedding: Sequence[float],
    *,
    k: int = 5,
    exclude: uuid.UUID | None = None,
) -> list[Similar]:
    """The k summaries among the scout's recent completed runs closest to ``embedding``."""
    candidates = _recent_with_embedding(scout_id, exclude)
    if conn.dialect.name == "postgresql":
        recent = candidates.add_columns(scout_executions.c.summary_embedding).subquery()
        query_vector = sa.cast(
            sa.bindparam("query_vector", _vector_literal(embedding), type_=sa.Text),
            VECTOR(len(embedding)),
        )
        distance = recent.c.summary_embedding.op("<=>", return_type=sa.Float)(query_vector)
        query = (
            sa.select(recent.c.id, recent.c.summary_text, (1 - distance).label("similarity"))
            .order_by(distance, recent.c.id)
            .limit(k)
        )
        rows = (await conn.execute(query)).all()
        return [Similar(r.id, r.summary_text, float(r.similarity)) for r in rows]

    rows = (
        await conn.execute(candidates.add_columns(scout_executions.c.summary_embedding))
    ).all()
    scored = [
        Similar(r.id, r.summary_text, cosine(embedding, r.summary_embedding))
        for r in rows
        if len(r.summary_embedding) == len(embedding)
    ]
    scored.sort(key=lambda s: (-s.similarity, s.execution_id))
    return scored[:k]
