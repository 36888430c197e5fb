"""Nearest earlier summaries of a scout: pgvector on PostgreSQL, Python cosine on SQLite.

Both paths rank by the same cosine similarity, so duplicate detection behaves the same
whichever database a self-hoster picked.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def _recent_with_embedding(excluding: bool) -> sa.Select[tuple[uuid.UUID, str, Any]]:
    """The scout's recent completed runs with their embeddings; parameters ``scout_id``
    (and ``exclude`` when ``excluding``)."""
    query = sa.select(scout_executions.c.id, scout_executions.c.summary_text,
                      scout_executions.c.summary_embedding).where(
        scout_executions.c.scout_id == sa.bindparam("scout_id"),
        scout_executions.c.state == "done",
        scout_executions.c.summary_embedding.is_not(None),
    )
    if excluding:
        query = query.where(scout_executions.c.id != sa.bindparam("exclude"))
    return query.order_by(scout_executions.c.completed_at.desc()).limit(RECENT_RUNS)


# Built once: every finished run asks, and building the statement (its subquery
# especially) cost more worker CPU than running it.
_RECENT = {excluding: _recent_with_embedding(excluding) for excluding in (False, True)}


@functools.lru_cache(maxsize=16)
def _nearest_on_postgres(dim: int, excluding: bool, k: int) -> sa.Select[Any]:
    recent = _RECENT[excluding].subquery()
    query_vector = sa.cast(sa.bindparam("query_vector", type_=sa.Text), VECTOR(dim))
    distance = recent.c.summary_embedding.op("<=>", return_type=sa.Float)(query_vector)
    return (
        sa.select(recent.c.id, recent.c.summary_text, (1 - distance).label("similarity"))
        .order_by(distance, recent.c.id)
        .limit(k)
    )


async def most_similar(
    conn: AsyncConnection,
    scout_id: uuid.UUID,
    embedding: Sequence[float],
    *,
    k: int = 5,
    exclude: uuid.UUID | None = None,
) -> list[Similar]:
    """The k summaries among the scout's recent completed runs closest to ``embedding``."""
    excluding = exclude is not None
    params: dict[str, Any] = {"scout_id": scout_id}
    if excluding:
        params["exclude"] = exclude
    if conn.dialect.name == "postgresql":
        params["query_vector"] = _vector_literal(embedding)
        query = _nearest_on_postgres(len(embedding), excluding, k)
        rows = (await conn.execute(query, params)).all()
        return [Similar(r.id, r.summary_text, float(r.similarity)) for r in rows]

    rows = (await conn.execute(_RECENT[excluding], params)).all()
    scored = [
        Similar(r.id, r.summary_text, cosine(embedding, r.summary_embedding))
        for r in rows
        if len(r.summary_embedding) == len(embedding)
    ]
    scored.sort(key=lambda s: (-s.similarity, s.execution_id))
    return scored[:k]
