"""The two ways a finding is found: nearest summaries by meaning, and a plain text match.

A finding is a finished run with a summary. Every query is scoped to the caller through the
scout's owner. PostgreSQL ranks all of the caller's findings at half precision from a
covering index (engine/findings/halfvec.py) and the best of them again with the full
vectors; SQLite ranks the packed float32 vectors with numpy. Both order by the same
cosine similarity of the full vectors, ties by id.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import HALFVEC, VECTOR
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.db import Database
from engine.findings import halfvec
from engine.findings.shards import EVERY_ID, IdRange
from engine.storage.prepared import PreparedRead
from engine.tables import scout_executions as runs
from engine.tables import scouts

# How many more candidates than asked for are ranked again at full precision. Half
# precision moves a cosine by about 1e-5 for 768 numbers, so only findings that close to
# the last place could swap; 20 spare places cover them with room to spare, and each costs
# one primary-key lookup and reading one full vector.
RERANK_MARGIN = 20
# Findings SQLite ranks at a time: about 3 MB of 768-number vectors.
SQLITE_BATCH = 1024
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
# SQLite's vector as stored: packed float32 bytes (engine.types.Embedding), 4 a number.
_PACKED = sa.type_coerce(runs.c.summary_embedding, sa.LargeBinary)
# PostgreSQL only and generated, so not part of engine.tables (see engine/findings/halfvec).
_half = sa.literal_column(f"scout_executions.{halfvec.COLUMN}", HALFVEC())


def _findings_of(by_scout: bool) -> list[sa.ColumnElement[bool]]:
    """Parameters ``user_id`` (and ``scout_id`` when ``by_scout``)."""
    where = [
        scouts.c.user_id == sa.bindparam("user_id", type_=sa.Uuid),
        # Inline, not a parameter: a prepared statement's generic plan can then still
        # prove the partial indexes' predicates (state = 'done').
        runs.c.state == sa.literal_column("'done'"),
        runs.c.summary_text.is_not(None),
    ]
    if by_scout:
        where.append(runs.c.scout_id == sa.bindparam("scout_id", type_=sa.Uuid))
    return where


def _in_range() -> sa.ColumnElement[bool]:
    """Parameters ``id_low`` and ``id_high`` (both included): one shard of the findings
    (engine/findings/shards.py), every one of them for a search on one connection."""
    return runs.c.id.between(sa.bindparam("id_low", type_=sa.Uuid),
                             sa.bindparam("id_high", type_=sa.Uuid))


def _params(user_id: uuid.UUID, scout_id: uuid.UUID | None, **more: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"user_id": user_id, **more}
    if scout_id is not None:
        params["scout_id"] = scout_id
    return params


def _hit(row: Mapping[Any, Any], similarity: float | None) -> Hit:
    return Hit(row["id"], row["scout_id"], row["title"], row["completed_at"],
               row["summary_text"], row["report"] or "", bool(row["is_duplicate"]), similarity)


# ---- by meaning ---------------------------------------------------------------------------


async def nearest(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], limit: int,
    scout_id: uuid.UUID | None = None, ids: IdRange = EVERY_ID,
) -> list[Hit]:
    """The caller's ``limit`` findings closest to ``vector``, best first; on PostgreSQL
    only those whose run id is in ``ids``."""
    if conn.dialect.name == "postgresql":
        rows = (await conn.execute(_postgres_query(len(vector), scout_id is not None),
                                   _meaning_params(user_id, vector, limit, scout_id, ids)
                                   )).mappings().all()
        return _ranked(rows)
    return await _nearest_sqlite(conn, user_id, vector, limit, scout_id)


def vector_literal(vector: Sequence[float]) -> str:
    """The question in pgvector's text form, nine significant digits (every float32 reads
    back exactly). Made once per search however many shards send it: about 0.25 ms for
    768 numbers, while asyncpg spent 0.45 ms encoding the same numbers as a real[] for
    every statement (it checks each element for nested arrays)."""
    return "[" + ",".join([f"{v:.9g}" for v in vector]) + "]"


def _meaning_params(user_id: uuid.UUID, vector: Sequence[float], limit: int,
                    scout_id: uuid.UUID | None, ids: IdRange = EVERY_ID,
                    literal: str | None = None) -> dict[str, Any]:
    """``literal``: vector_literal(vector), when the caller has it already."""
    return _params(user_id, scout_id, query_vector=literal or vector_literal(vector),
                   limit=limit, candidates=limit + RERANK_MARGIN,
                   id_low=ids[0], id_high=ids[1])


def _question(dim: int) -> sa.CTE:
    """The question (parameter ``query_vector``) as a full and as a unit half-precision
    vector, converted once per statement.

    MATERIALIZED keeps it a one-row table: inlined, a prepared statement's generic plan
    would convert the question again for every finding it compares."""
    numbers = sa.bindparam("query_vector", type_=sa.Text)
    full = sa.cast(numbers, VECTOR(dim))
    return (
        sa.select(full.label("full"),
                  sa.cast(sa.func.l2_normalize(full), HALFVEC(dim)).label("half"))
        .cte("question")
        .prefix_with("MATERIALIZED")
    )


@functools.lru_cache(maxsize=32)
def _postgres_query(dim: int, by_scout: bool) -> sa.Select[Any]:
    """Parameters: see _meaning_params. Built once per shape: building it took several
    times longer than running it for a light user."""
    if not halfvec.fits(dim):
        return exact_query(dim, by_scout)
    question = _question(dim)
    # Every one of the caller's findings in the shard, ranked at half precision: an
    # index-only scan over the covering index, one range per scout.
    candidates = (
        sa.select(runs.c.id)
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id).join(question, sa.true()))
        .where(*_findings_of(by_scout), _in_range(), _half.is_not(None))
        .order_by(_half.op("<=>", return_type=sa.Float)(question.c.half), runs.c.id)
        .limit(sa.bindparam("candidates", type_=sa.Integer))
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    distance = runs.c.summary_embedding.op("<=>", return_type=sa.Float)(question.c.full)
    return (
        sa.select(*_COLUMNS, distance.label("distance"))
        .select_from(
            candidates.join(runs, runs.c.id == candidates.c.id)
            .join(scouts, scouts.c.id == runs.c.scout_id)
            .join(question, sa.true()))
        .order_by(distance, runs.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


@functools.lru_cache(maxsize=32)
def exact_query(dim: int, by_scout: bool) -> sa.Select[Any]:
    """Every one of the caller's findings ranked with its full vector: the reference the
    benchmark checks against, and the search itself for embeddings too large to index.
    Parameters as _postgres_query's."""
    question = _question(dim)
    distance = runs.c.summary_embedding.op("<=>", return_type=sa.Float)(question.c.full)
    return (
        sa.select(*_COLUMNS, distance.label("distance"))
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id).join(question, sa.true()))
        .where(*_findings_of(by_scout), _in_range(), runs.c.summary_embedding.is_not(None))
        .order_by(distance, runs.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


def _ranked(rows: Sequence[Mapping[Any, Any]]) -> list[Hit]:
    ordered = sorted(rows, key=lambda r: (float(r["distance"]), r["id"]))
    return [_hit(r, 1.0 - float(r["distance"])) for r in ordered]


@functools.lru_cache(maxsize=2)
def _sqlite_query(by_scout: bool) -> sa.Select:
    """The caller's vectors of the question's size (parameter ``packed_size``, in bytes),
    as stored, for numpy; the id too as stored (32 hex digits, ordered as the UUIDs are):
    making a UUID of every candidate's id cost more than ranking them."""
    return (
        sa.select(sa.type_coerce(runs.c.id, sa.String).label("stored_id"),
                  _PACKED.label("packed"))
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        # A vector of another size comes from an earlier model (`scouts reembed`).
        .where(*_findings_of(by_scout), runs.c.summary_embedding.is_not(None),
               sa.func.length(_PACKED) == sa.bindparam("packed_size", type_=sa.Integer))
    )


async def _nearest_sqlite(
    conn: AsyncConnection, user_id: uuid.UUID, vector: Sequence[float], limit: int,
    scout_id: uuid.UUID | None,
) -> list[Hit]:
    query = _sqlite_query(scout_id is not None)
    params = _params(user_id, scout_id, packed_size=len(vector) * 4)
    # Imported here: an install on PostgreSQL never needs numpy, and every `scouts`
    # process would otherwise load it at start-up.
    from engine.findings import cosine

    # In batches, so memory stays the same however many findings the user has; the best
    # of each batch hold the best of all.
    candidates: list[tuple[float, str]] = []
    rows = await conn.stream(query, params)
    async for batch in rows.partitions(SQLITE_BATCH):
        candidates += cosine.best(vector, [row.packed for row in batch],
                                  [row.stored_id for row in batch], limit)
    candidates.sort(key=lambda c: (-c[0], c[1]))
    best = [(similarity, uuid.UUID(hex=raw)) for similarity, raw in candidates[:limit]]
    if not best:
        return []
    details = {
        row.id: row for row in (await conn.execute(
            sa.select(*_COLUMNS)
            .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
            .where(runs.c.id.in_([execution_id for _, execution_id in best]))))
    }
    return [_hit(details[execution_id]._mapping, similarity)
            for similarity, execution_id in best]


# ---- by text ------------------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """Distinct lower-case words of the query, punctuation at their ends dropped."""
    words: list[str] = []
    for raw in text.lower().split():
        word = raw.strip(".,;:!?\"'()[]{}")
        if word and word not in words:
            words.append(word)
    return words[:MAX_WORDS]


def _pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: sa.ColumnElement[Any], pattern: sa.BindParameter[str]
              ) -> sa.ColumnElement[bool]:
    return sa.func.lower(sa.func.coalesce(column, "")).like(pattern, escape="\\")


def _not_rankable(sized: bool) -> sa.ColumnElement[bool]:
    unembedded = runs.c.summary_embedding.is_(None)
    if not sized:
        # PostgreSQL's column has one size for every row.
        return unembedded
    # SQLite keeps vectors of an earlier model until `scouts reembed`; they cannot be
    # compared with the question's, so they are searched by their words too.
    return sa.or_(unembedded, sa.func.length(_PACKED)
                  != sa.bindparam("packed_size", type_=sa.Integer))


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
    sized = dim is not None and conn.dialect.name != "postgresql"
    params = _text_params(user_id, scout_id, words, limit)
    if sized:
        params["packed_size"] = (dim or 0) * 4
    rows = (await conn.execute(_text_query(len(words), scout_id is not None, sized),
                               params)).mappings().all()
    return [_hit(r, None) for r in rows]


def _text_params(user_id: uuid.UUID, scout_id: uuid.UUID | None, words: list[str],
                 limit: int) -> dict[str, Any]:
    return _params(user_id, scout_id, text_limit=limit,
                   **{f"word_{i}": _pattern(w) for i, w in enumerate(words)})


@functools.lru_cache(maxsize=64)
def _text_query(word_count: int, by_scout: bool, sized: bool) -> sa.Select[Any]:
    """Parameters: see _text_params (and ``packed_size`` when ``sized``)."""
    patterns = [sa.bindparam(f"word_{i}", type_=sa.String) for i in range(word_count)]
    return (
        sa.select(*_COLUMNS, sa.cast(sa.null(), sa.Float).label("distance"))
        .select_from(runs.join(scouts, scouts.c.id == runs.c.scout_id))
        .where(
            *_findings_of(by_scout),
            _not_rankable(sized),
            *(sa.or_(_contains(runs.c.summary_text, p), _contains(_report, p))
              for p in patterns))
        .order_by(runs.c.completed_at.desc(), runs.c.id)
        .limit(sa.bindparam("text_limit", type_=sa.Integer))
    )


@functools.lru_cache(maxsize=64)
def _postgres_read(dim: int, by_scout: bool, word_count: int) -> PreparedRead:
    """The ranking, and with words the text match too, as one statement (the text branch
    has no distance), run at the driver: SQLAlchemy's execution path cost the API about a
    millisecond of CPU per statement, as much as a typical user's whole ranking."""
    meaning = _postgres_query(dim, by_scout)
    if not word_count:
        return PreparedRead(meaning)
    return PreparedRead(sa.union_all(meaning, _text_query(word_count, by_scout, False)))


# ---- both at once -------------------------------------------------------------------------


async def find(
    db: Database, user_id: uuid.UUID, vector: Sequence[float], text: str, limit: int,
    scout_id: uuid.UUID | None = None, ids: IdRange = EVERY_ID, by_words: bool = True,
    literal: str | None = None,
) -> tuple[list[Hit], list[Hit]]:
    """(by meaning, by words) for one question: what GET /api/findings merges.

    On PostgreSQL one statement without a transaction around it, ranking by meaning the
    runs whose id is in ``ids`` only, and matching words only when ``by_words`` (one shard
    of a search does it for all); on SQLite two reads in one transaction. ``literal``:
    vector_literal(vector), when the caller has it already."""
    if db.dialect != "postgresql":
        async with db.read() as conn:
            return (await _nearest_sqlite(conn, user_id, vector, limit, scout_id),
                    await text_matches(conn, user_id, text, limit, scout_id, len(vector)))
    words = words_of(text) if by_words else []
    params = _meaning_params(user_id, vector, limit, scout_id, ids, literal)
    if words:
        params.update(_text_params(user_id, scout_id, words, limit))
    rows = await db.fetch_prepared(
        _postgres_read(len(vector), scout_id is not None, len(words)), **params)
    by_text = [_hit(r, None) for r in rows if r["distance"] is None]
    return _ranked([r for r in rows if r["distance"] is not None]), by_text

