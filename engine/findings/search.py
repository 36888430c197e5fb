"""GET /api/findings: the caller's findings ranked by how close they are in meaning."""

from __future__ import annotations

import asyncio
import heapq
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa

from engine.clients.errors import ClientFailure, ModelMissing, ServiceBusy
from engine.clients.ollama import OllamaClient
from engine.db import Database
from engine.errors import DomainError, NotFound
from engine.findings import halfvec
from engine.findings.excerpt import excerpt
from engine.findings.query import FindingsQuery
from engine.findings.shards import IdRange, id_ranges
from engine.findings.store import Hit, find, vector_literal, words_of
from engine.storage import scouts as scout_store


class SearchUnavailable(DomainError):
    """The embedding model cannot be reached or used; the search may work later (503)."""

    code = "search_unavailable"


def _unavailable(exc: ClientFailure) -> SearchUnavailable:
    if isinstance(exc, ModelMissing):
        return SearchUnavailable(f"Search is unavailable: {exc.message}")
    if isinstance(exc, ServiceBusy):
        return SearchUnavailable(
            "Search is unavailable: Ollama did not answer. Check that it is running and "
            "that OLLAMA_URL points at it.")
    return SearchUnavailable(f"Search is unavailable: {exc.message}")


def finding_view(hit: Hit, words: list[str]) -> dict[str, Any]:
    return {
        "execution_id": hit.execution_id,
        "scout_id": hit.scout_id,
        "scout_title": hit.scout_title,
        "completed_at": hit.completed_at,
        "summary": hit.summary,
        "excerpt": excerpt(hit.report, words),
        "similarity": None if hit.similarity is None else round(hit.similarity, 4),
        "match": "text" if hit.similarity is None else "meaning",
        "is_duplicate": hit.is_duplicate,
    }


def merge(by_meaning: list[Hit], by_text: list[Hit], limit: int) -> list[Hit]:
    """Meaning first, best first; runs without an embedding that contain the words get up
    to half the places (at the end), so a search never hides them behind weaker neighbours.
    """
    text = by_text[: max(1, limit // 2)] if by_text else []
    return [*by_meaning[: limit - len(text)], *text][:limit]


def _stale_column(exc: Exception) -> bool:
    message = str(exc)
    # Sized for another EMBEDDING_DIM, or (for embeddings too large for an index entry
    # before) the half-precision copy was never made.
    return ("different vector dimensions" in message
            or "different halfvec dimensions" in message
            or f'"{halfvec.COLUMN}" does not exist' in message)


def _rank(hit: Hit) -> tuple[float, uuid.UUID]:
    return (-(hit.similarity or 0.0), hit.execution_id)


@dataclass
class FindingsSearch:
    db: Database
    ollama: OllamaClient
    embedding_dim: int
    # PostgreSQL: how many connections one search ranks the caller's findings on at once
    # (FINDINGS_SEARCH_SHARDS; engine/findings/shards.py).
    shards: int = 2

    async def search(self, user_id: uuid.UUID, query: FindingsQuery) -> list[dict[str, Any]]:
        if query.scout_id is not None:
            async with self.db.read() as conn:
                if await scout_store.get_scout(conn, user_id, query.scout_id) is None:
                    raise NotFound("scout not found")
        vector = await self._embed(query.text)
        try:
            if self.db.dialect == "postgresql":
                by_meaning, by_text = await self._find_sharded(user_id, vector, query)
            else:
                by_meaning, by_text = await find(
                    self.db, user_id, vector, query.text, query.limit, query.scout_id)
        except (sa.exc.DBAPIError, asyncpg.PostgresError) as exc:
            if not _stale_column(exc):
                raise
            # EMBEDDING_DIM was changed but the column still has the old size.
            raise SearchUnavailable(
                "Search is unavailable: the stored summaries have another size than "
                f"EMBEDDING_DIM={self.embedding_dim}; run `scouts reembed`") from None
        words = words_of(query.text)
        return [finding_view(h, words) for h in merge(by_meaning, by_text, query.limit)]

    async def _find_sharded(self, user_id: uuid.UUID, vector: list[float],
                            query: FindingsQuery) -> tuple[list[Hit], list[Hit]]:
        """One statement per shard, each on its own connection without a transaction
        around it, all at once; the first also matches words."""

        literal = vector_literal(vector)

        async def shard(index: int, ids: IdRange) -> tuple[list[Hit], list[Hit]]:
            return await find(self.db, user_id, vector, query.text, query.limit,
                              query.scout_id, ids, by_words=index == 0, literal=literal)

        ranges = id_ranges(self.shards)
        if len(ranges) == 1:
            return await shard(0, ranges[0])
        tasks = [asyncio.ensure_future(shard(i, ids)) for i, ids in enumerate(ranges)]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            # The first failure is the search's (unwrapped, unlike a TaskGroup's); the
            # other shards are not left running on their connections.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        # Every finding is in one shard only: the best of the shards' best are the best.
        best = heapq.nsmallest(query.limit, (hit for meaning, _ in parts for hit in meaning),
                               key=_rank)
        return best, parts[0][1]

    async def _embed(self, text: str) -> list[float]:
        try:
            [vector] = await self.ollama.embed([text])
        except ClientFailure as exc:
            raise _unavailable(exc) from exc
        if len(vector) != self.embedding_dim:
            raise SearchUnavailable(
                f"Search is unavailable: {self.ollama.embed_model} returns vectors of "
                f"{len(vector)} numbers but EMBEDDING_DIM is {self.embedding_dim}; set "
                "EMBEDDING_DIM to match and run `scouts reembed`")
        return vector
