"""Recompute every stored summary embedding with the configured model.

Needed after changing OLLAMA_EMBED_MODEL or EMBEDDING_DIM (and after importing data from the
original Open Scouts, whose OpenAI vectors had 1536 numbers). On PostgreSQL the column and
its half-precision copy for findings search are rebuilt for the new size first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.clients.ollama import OllamaClient
from engine.db import Database
from engine.errors import ValidationFailed
from engine.findings import halfvec
from engine.tables import scout_executions

log = logging.getLogger(__name__)

BATCH = 32


async def column_dimension(conn: AsyncConnection) -> int | None:
    """The vector size PostgreSQL's column was created with (None on SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    result = await conn.execute(sa.text(
        "SELECT atttypmod FROM pg_attribute "
        "WHERE attrelid = 'scout_executions'::regclass AND attname = 'summary_embedding'"))
    return int(result.scalar_one())


async def resize_column(conn: AsyncConnection, dim: int) -> None:
    """Old vectors are meaningless in the new space, so they are dropped, not converted.

    The generated half-precision copy depends on the column, so it goes first and comes
    back sized for the new vectors (if they fit an index entry)."""
    for statement in halfvec.drop_statements():
        await conn.execute(sa.text(statement))
    await conn.execute(sa.text(
        f"ALTER TABLE scout_executions ALTER COLUMN summary_embedding TYPE vector({int(dim)}) "
        "USING NULL"))
    for statement in halfvec.create_statements(dim):
        await conn.execute(sa.text(statement))


async def reembed(
    db: Database, ollama: OllamaClient, dim: int,
    progress: Callable[[int, int], None] | None = None,
    *, resume: bool = False, batch_size: int = BATCH,
) -> int:
    """Embed every summary; with ``resume``, only those an interrupted run left without one.

    Each batch commits on its own, and a fresh start first clears every vector, so what an
    interruption leaves behind is exactly the rows still missing a vector: a resumed run
    picks up there and never mixes vectors of two models.
    """
    probe = (await ollama.embed(["dimension probe"]))[0]
    if len(probe) != dim:
        raise ValidationFailed(
            f"{ollama.embed_model} returns vectors of {len(probe)} numbers but EMBEDDING_DIM "
            f"is {dim}; set EMBEDDING_DIM={len(probe)} and run this again")
    missing = scout_executions.c.summary_embedding.is_(None)
    has_text = scout_executions.c.summary_text.is_not(None)
    async with db.transaction() as conn:
        current = await column_dimension(conn)
        if current is not None and current != dim:
            log.info("resizing summary_embedding from %s to %s", current, dim)
            await resize_column(conn, dim)
        elif not resume:
            await conn.execute(scout_executions.update().where(~missing)
                               .values(summary_embedding=None))
        total = int((await conn.execute(
            sa.select(sa.func.count()).where(missing, has_text))).scalar_one())
    done = 0
    last: Any = None
    while True:
        query = (sa.select(scout_executions.c.id, scout_executions.c.summary_text)
                 .where(missing, has_text).order_by(scout_executions.c.id).limit(batch_size))
        if last is not None:
            query = query.where(scout_executions.c.id > last)
        async with db.read() as conn:
            batch = (await conn.execute(query)).all()
        if not batch:
            return done
        vectors = await ollama.embed([r.summary_text for r in batch])
        async with db.transaction() as conn:
            for row, vector in zip(batch, vectors, strict=True):
                # A run that finished meanwhile already has a vector from this model.
                await conn.execute(scout_executions.update()
                                   .where(scout_executions.c.id == row.id, missing)
                                   .values(summary_embedding=vector))
        done += len(batch)
        last = batch[-1].id
        if progress:
            progress(done, max(total, done))
