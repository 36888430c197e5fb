"""The two ways a finding is found: nearest summaries by meaning, and a plain text match.

A finding is a finished run with a summary. Every query is scoped to the caller through the
scout's owner. PostgreSQL ranks through the HNSW cosine index, SQLite in Python over the
packed float32 vectors; both order by the same cosine similarity.
"""

from __future__ import annotations

import heapq
import math
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.tables import scout_executions as runs
from engine.tables import scouts

# The HNSW scan starts with this many candidates and, being iterative, keeps walking the
# graph while the caller's filter discards other users' rows, up to MAX_SCAN_TUPLES.
EF_SEARCH = 100
MAX_SCAN_TUPLES = 20_000
# strict_order keeps the index's answers in exact distance order, so PostgreSQL and the
# Python ranking on SQLite list the same findings in the same order.
ITERATIVE_SCAN = "strict_order"
# Up to this many findings the user's own rows are ranked exactly (complete, the same order
# as SQLite, a few milliseconds); above it the planner is told to use the index, because it
# cannot tell: it prices sorting 10,000 rows far below what reading their detoasted 3 KB
# vectors costs (205 ms in bench/findings.py).
EXACT_UP_TO = 2000
MAX_WORDS = 8


@dataclass(frozen=True)
class Hit:
    execution_id: uuid.UUID
    scout_id: uuid.UUID
    scout_title: str | None
    completed_at: datetime | None
    summary: str
    report: str
    is_duplicate: bool
    similarity: float | None  # None for a text match (the run has no embedding yet)


_report = runs.c.results_summary["response"].as_string()

_COLUMNS = (
    runs.c.id, runs.c.scout_id, scouts.c.title, runs.c.completed_at, runs.c.summary_text,
    _report.label("report"), runs.c.is_duplicate,
)


def _findings_of(user_id: uuid.UUID, scout_id: uuid.UUID | None) -> list[sa.ColumnElement[bool]]:
    where = [
        scouts.c.user_id == user_id,
        runs.c.state == "done",
        runs.c.summary_text.is_not(None),
    ]
    if scout_id is not None:
        where.append(runs.c.scout_id == scout_id)
    return where


def _hit(row: Any, similarity: float | None) -> Hit:
    return Hit(row.id, row.scout_id, row.title, row.completed_at, row.summary_text,
               row.report or "", bool(row.is_duplicate), similarity)


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


# ---- by meaning ---------------------------------------------------------------------------


async def nearest(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], limit: int,
    scout_id: uuid.UUID | None = None,
) -> list[Hit]:
    """The caller's ``limit`` findings closest to ``vector``, best first."""
    if conn.dialect.name == "postgresql":
        return await _nearest_postgres(conn, user_id, vector, limit, scout_id)
    return await _nearest_python(conn, user_id, vector, limit, scout_id)


def _postgres_query(
    user_id: uuid.UUID, vector: Sequence[float], limit: int, scout_id: uuid.UUID | None,
    *, exact: bool,
) -> sa.Select[Any]:
    query_vector = sa.cast(
        sa.bindparam("query_vector", _vector_literal(vector), type_=sa.Text),
        VECTOR(len(vector)),
    )
    where = [*_findings_of(user_id, scout_id), runs.c.summary_embedding.is_not(None)]
    distance = runs.c.summary_embedding.op("<=>", return_type=sa.Float)(query_vector)
    # The HNSW index answers ORDER BY exactly this expression; "+ 0" hides it from the
    # planner, for the exhaustive pass over the caller's own rows.
    order = distance + 0 if exact else distance
    return (
        sa.select(*_COLUMNS, distance.label("distance"))
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        .where(*where)
        .order_by(order)
        .limit(limit)
    )


def _rankable(user_id: uuid.UUID, scout_id: uuid.UUID | None) -> sa.Select[Any]:
    return (
        sa.select(runs.c.id)
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        .where(*_findings_of(user_id, scout_id), runs.c.summary_embedding.is_not(None))
    )


async def _prepare_postgres(
    conn: AsyncConnection, user_id: uuid.UUID, limit: int, scout_id: uuid.UUID | None,
) -> bool:
    """Settings local to this transaction, in one round trip; True when the index is to be
    used (the user has more than EXACT_UP_TO findings), False for an exact scan.

    plan_cache_mode: a plan made for the actual question and user. From the sixth run of a
    prepared statement PostgreSQL would otherwise try a generic plan, which cannot weigh the
    user filter against the index and measured ten times slower.
    """
    counted = sa.select(
        sa.exists(_rankable(user_id, scout_id).offset(EXACT_UP_TO)).label("many")).subquery()
    use_index = (await conn.execute(sa.select(
        sa.func.set_config("plan_cache_mode", "force_custom_plan", True),
        sa.func.set_config("hnsw.ef_search", str(max(EF_SEARCH, limit)), True),
        sa.func.set_config("hnsw.iterative_scan", ITERATIVE_SCAN, True),
        sa.func.set_config("hnsw.max_scan_tuples", str(MAX_SCAN_TUPLES), True),
        # Without a sort to fall back on, the only plan left is the HNSW index scan.
        sa.func.set_config("enable_sort", sa.case((counted.c.many, "off"), else_="on"), True),
        counted.c.many,
    ))).one().many
    return bool(use_index)


async def _complete_postgres(
    conn: AsyncConnection, rows: list[Any], user_id: uuid.UUID, vector: Sequence[float],
    limit: int, scout_id: uuid.UUID | None, *, by_index: bool,
) -> list[Hit]:
    if by_index and len(rows) < limit:
        # The index walk stopped at MAX_SCAN_TUPLES before finding enough of this user's
        # rows (a user with few findings among very many), or there are fewer: an exact
        # pass over the user's own rows is cheap exactly then and makes the answer complete.
        rows = (await conn.execute(
            _postgres_query(user_id, vector, limit, scout_id, exact=True))).all()
    # relaxed_order may return the index's answers slightly out of order.
    ordered = sorted(rows, key=lambda r: (float(r.distance), r.id))
    return [_hit(r, 1.0 - float(r.distance)) for r in ordered]


async def _nearest_postgres(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], limit: int,
    scout_id: uuid.UUID | None,
) -> list[Hit]:
    use_index = await _prepare_postgres(conn, user_id, limit, scout_id)
    rows = (await conn.execute(
        _postgres_query(user_id, vector, limit, scout_id, exact=not use_index))).all()
    return await _complete_postgres(conn, rows, user_id, vector, limit, scout_id,
                                    by_index=use_index)


def cosine_similarity(unit_query: Sequence[float], other: Sequence[float]) -> float:
    """Cosine of ``other`` with a query already scaled to length 1.

    Written with math.dist and math.hypot, which loop in C, instead of a Python-level dot
    product: |q - s|^2 = 1 + |s|^2 - 2 q.s for a unit q, so q.s follows from the distance.
    Measured 1.7 times faster for 768 dimensions, equal to the dot product within 1e-12.
    """
    norm = math.hypot(*other)
    if not norm:
        return 0.0
    distance = math.dist(unit_query, other)
    return (1.0 + norm * norm - distance * distance) / (2.0 * norm)


async def _nearest_python(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], limit: int,
    scout_id: uuid.UUID | None,
) -> list[Hit]:
    # The packed float32 bytes as stored (engine.types.Embedding), unpacked here into an
    # array rather than a list of Python floats: a third of the time per row.
    packed = sa.type_coerce(runs.c.summary_embedding, sa.LargeBinary).label("packed")
    candidates = await conn.execute(
        sa.select(runs.c.id, packed)
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        .where(*_findings_of(user_id, scout_id), runs.c.summary_embedding.is_not(None)))
    query_norm = math.hypot(*vector)
    unit_query = tuple(float(v) / query_norm for v in vector) if query_norm else ()
    scored: list[tuple[float, uuid.UUID]] = []
    for row in candidates:
        stored = array("f")
        stored.frombytes(row.packed)
        # A vector of another size comes from an earlier model (before `scouts reembed`).
        if len(stored) == len(unit_query):
            scored.append((cosine_similarity(unit_query, stored), row.id))
    best = heapq.nsmallest(limit, scored, key=lambda s: (-s[0], s[1]))
    if not best:
        return []
    details = {
        row.id: row for row in (await conn.execute(
            sa.select(*_COLUMNS)
            .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
            .where(runs.c.id.in_([execution_id for _, execution_id in best]))))
    }
    return [_hit(details[execution_id], similarity) for similarity, execution_id in best]


# ---- by text ------------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """Distinct lower-case words of the query, punctuation at their ends dropped."""
    words: list[str] = []
    for raw in text.lower().split():
        word = raw.strip(".,;:!?\"'()[]{}")
        if word and word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def _contains(column: sa.ColumnElement[Any], word: str) -> sa.ColumnElement[bool]:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(sa.func.coalesce(column, "")).like(f"%{escaped}%", escape="\\")


def _not_rankable(conn: AsyncConnection, dim: int | None) -> sa.ColumnElement[bool]:
    unembedded = runs.c.summary_embedding.is_(None)
    if dim is None or conn.dialect.name == "postgresql":
        # PostgreSQL's column has one size for every row.
        return unembedded
    # SQLite keeps vectors of an earlier model until `scouts reembed`; they cannot be
    # compared with the question's, so they are searched by their words too.
    packed_size = sa.func.length(sa.type_coerce(runs.c.summary_embedding, sa.LargeBinary))
    return sa.or_(unembedded, packed_size != dim * 4)


async def text_matches(
    conn: AsyncConnection, user_id: uuid.UUID, text: str, limit: int,
    scout_id: uuid.UUID | None = None, dim: int | None = None,
) -> list[Hit]:
    """The caller's findings without a usable embedding (of ``dim`` numbers) whose summary
    or report holds every word of ``text``, newest first: they cannot be ranked by meaning,
    but must not be invisible.
    """
    words = words_of(text)
    if not words:
        return []
    where = _text_where(conn, user_id, words, scout_id, dim)
    rows = (await conn.execute(_text_query(where, limit))).all()
    return [_hit(r, None) for r in rows]


def _text_where(
    conn: AsyncConnection, user_id: uuid.UUID, words: list[str], scout_id: uuid.UUID | None,
    dim: int | None,
) -> list[sa.ColumnElement[bool]]:
    return [
        *_findings_of(user_id, scout_id),
        _not_rankable(conn, dim),
        *(sa.or_(_contains(runs.c.summary_text, w), _contains(_report, w)) for w in words),
    ]


def _text_query(where: list[sa.ColumnElement[bool]], limit: int) -> sa.Select[Any]:
    return (
        sa.select(*_COLUMNS, sa.cast(sa.null(), sa.Float).label("distance"))
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        .where(*where)
        .order_by(runs.c.completed_at.desc(), runs.c.id)
        .limit(limit)
    )


# ---- both at once -------------------------------------------------------------------------


async def find(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], text: str, limit: int,
    scout_id: uuid.UUID | None = None,
) -> tuple[list[Hit], list[Hit]]:
    """(by meaning, by words) for one question: what GET /api/findings merges."""
    if conn.dialect.name != "postgresql":
        return (await _nearest_python(conn, user_id, vector, limit, scout_id),
                await text_matches(conn, user_id, text, limit, scout_id, len(vector)))
    use_index = await _prepare_postgres(conn, user_id, limit, scout_id)
    meaning = _postgres_query(user_id, vector, limit, scout_id, exact=not use_index)
    words = words_of(text)
    # One round trip for both lists; the text branch has no distance.
    query = (sa.union_all(meaning, _text_query(_text_where(conn, user_id, words, scout_id, None),
                                               limit))
             if words else meaning)
    rows = (await conn.execute(query)).all()
    by_text = [_hit(r, None) for r in rows if r.distance is None]
    meaning_rows = [r for r in rows if r.distance is not None]
    return (await _complete_postgres(conn, meaning_rows, user_id, vector, limit, scout_id,
                                     by_index=use_index),
            by_text)
