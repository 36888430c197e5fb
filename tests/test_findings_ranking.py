"""Findings ranked by meaning: complete and in the same order on SQLite and PostgreSQL, for
questions near the caller's findings and for questions only other users' scouts are about.

PostgreSQL ranks a half-precision copy (engine/findings/halfvec.py) and the best of it
again with the full vectors; these tests hold it to the exact cosine order.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import uuid
from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from engine import migrate
from engine.db import Database
from engine.findings import cosine as cosine_rank
from engine.findings import halfvec, shards, store
from engine.reembed import resize_column
from engine.tables import scout_executions, scouts, users
from tests.conftest import EMBEDDING_DIM

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def near(rng: random.Random, centre: list[float], spread: float) -> list[float]:
    return [c + rng.gauss(0.0, spread) for c in centre]


class World:
    """Users with scouts, each scout's findings clustered around its own topic."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.vectors: dict[uuid.UUID, list[float]] = {}
        self.owner: dict[uuid.UUID, uuid.UUID] = {}
        self.scout_of: dict[uuid.UUID, uuid.UUID] = {}

    # Only the columns every revision from 0009 on has: the migration test writes these
    # before upgrading.
    async def user(self, email: str) -> uuid.UUID:
        user_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            await conn.execute(users.insert().values(
                id=user_id, email=email, password_hash="x", created_at=NOW))
        return user_id

    async def scout(self, user_id: uuid.UUID) -> uuid.UUID:
        scout_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            await conn.execute(scouts.insert().values(
                id=scout_id, user_id=user_id, title="t", search_queries=["q"], created_at=NOW,
                updated_at=NOW))
        return scout_id

    async def findings(self, user_id: uuid.UUID, scout_id: uuid.UUID,
                       vectors: list[list[float]],
                       ids: list[uuid.UUID] | None = None) -> list[uuid.UUID]:
        rows: list[dict[str, Any]] = []
        for i, vector in enumerate(vectors):
            execution_id = ids[i] if ids else uuid.uuid4()
            at = NOW + timedelta(minutes=len(self.vectors) + i)
            rows.append({
                "id": execution_id, "scout_id": scout_id, "state": "done", "trigger": "schedule",
                "engine_version": 1, "checkpoint": {}, "deadline_at": at, "started_at": at,
                "completed_at": at, "created_at": at, "summary_text": f"finding {execution_id}",
                "summary_embedding": vector})
            self.vectors[execution_id] = vector
            self.owner[execution_id] = user_id
            self.scout_of[execution_id] = scout_id
        async with self.db.transaction() as conn:
            await conn.execute(scout_executions.insert(), rows)
        return [r["id"] for r in rows]

    def expected(self, user_id: uuid.UUID, question: list[float], limit: int,
                 scout_id: uuid.UUID | None = None) -> list[uuid.UUID]:
        """The exact top ``limit`` by cosine, ties by id, over the float32 vectors stored."""
        def stored(v: list[float]) -> list[float]:
            return list(array("f", v))
        mine = [e for e, owner in self.owner.items() if owner == user_id
                and (scout_id is None or self.scout_of[e] == scout_id)]
        return sorted(mine, key=lambda e: (-cosine(stored(self.vectors[e]), question), e))[:limit]

    async def nearest(self, user_id: uuid.UUID, question: list[float], limit: int,
                      scout_id: uuid.UUID | None = None) -> list[uuid.UUID]:
        async with self.db.read() as conn:
            hits = await store.nearest(conn, user_id, question, limit, scout_id)
        return [h.execution_id for h in hits]


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


async def _crowd(world: World, rng: random.Random) -> dict[str, Any]:
    """Alice follows three topics; Bob and Carol follow others and have many more findings,
    some of them right around the question Alice asks about Bob's topic."""
    topics = [[rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIM)] for _ in range(6)]
    alice, bob, carol = [await world.user(f"{n}@example.com") for n in ("alice", "bob", "carol")]
    alice_scouts = [await world.scout(alice) for _ in range(3)]
    for scout, topic in zip(alice_scouts, topics[:3], strict=True):
        await world.findings(alice, scout, [near(rng, topic, 0.4) for _ in range(60)])
    for user, topic in ((bob, topics[3]), (carol, topics[4]), (bob, topics[5])):
        await world.findings(user, await world.scout(user),
                             [near(rng, topic, 0.3) for _ in range(150)])
    return {"alice": alice, "bob": bob, "topics": topics, "alice_scouts": alice_scouts}


async def _many_users(world: World, db: Database, rng: random.Random, prefix: str, *,
                      users: int, scouts: int, findings: int) -> uuid.UUID:
    """Users alike, each with ``scouts`` scouts of ``findings`` findings, and fresh
    statistics for the planner; the last user."""
    for i in range(users):
        user = await world.user(f"{prefix}{i}@example.com")
        for _ in range(scouts):
            await world.findings(user, await world.scout(user),
                                 [near(rng, [1.0] * EMBEDDING_DIM, 0.5) for _ in range(findings)])
    # Outside a transaction, as VACUUM must be; scouts too, or statistics left by earlier
    # tests (one user owning every scout) make the plan start from the findings instead.
    async with db.single() as conn:
        await conn.execute(sa.text("VACUUM ANALYZE scouts, scout_executions"))
    return user


async def test_exact_top_ten_for_own_and_for_other_users_topics(world: World) -> None:
    rng = random.Random(15)
    crowd = await _crowd(world, rng)
    alice, topics = crowd["alice"], crowd["topics"]
    for topic in topics:  # three of hers, three only Bob and Carol follow
        for _ in range(3):
            question = near(rng, topic, 0.3)
            assert await world.nearest(alice, question, 10) == world.expected(
                alice, question, 10)
    question = near(rng, topics[4], 0.3)
    assert await world.nearest(alice, question, 50) == world.expected(alice, question, 50)
    scout = crowd["alice_scouts"][1]
    assert await world.nearest(alice, question, 10, scout) == world.expected(
        alice, question, 10, scout)
    # And Bob, whose findings surround the question, sees only his own.
    found = await world.nearest(crowd["bob"], question, 10)
    assert found == world.expected(crowd["bob"], question, 10)
    assert all(world.owner[e] == crowd["bob"] for e in found)


async def test_sqlite_ranks_in_batches_to_the_same_exact_order(
    world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory stays bounded by ranking a few findings at a time; the best of every batch
    still make the exact top, across batch boundaries."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL ranks in the database")
    monkeypatch.setattr(store, "SQLITE_BATCH", 7)
    rng = random.Random(16)
    crowd = await _crowd(world, rng)
    for topic in crowd["topics"]:
        question = near(rng, topic, 0.3)
        for limit in (1, 10, 50):
            assert await world.nearest(crowd["alice"], question, limit) == world.expected(
                crowd["alice"], question, limit)


async def test_full_precision_decides_between_findings_half_precision_cannot_tell_apart(
    db: Database, world: World,
) -> None:
    user = await world.user("dora@example.com")
    scout = await world.scout(user)
    padding = [0.0] * (EMBEDDING_DIM - 2)
    # The same numbers at half precision; in full, the second is nearer to the question.
    # Ties at half precision go to the smaller id, so without the second ranking the
    # first would win.
    first, second = sorted([uuid.uuid4(), uuid.uuid4()])
    await world.findings(user, scout, [[1.0, 0.25, *padding], [1.0001, 0.25, *padding]],
                         ids=[first, second])
    if db.dialect == "postgresql":
        async with db.read() as conn:
            halves = (await conn.execute(sa.text(
                f"SELECT DISTINCT {halfvec.COLUMN}::text FROM scout_executions"))).all()
        assert len(halves) == 1
    question = [1.0, 0.0, *padding]
    async with db.read() as conn:
        best = await store.nearest(conn, user, question, 1)
        hits = await store.nearest(conn, user, question, 2)
    assert [h.execution_id for h in best] == [second]
    assert [h.execution_id for h in hits] == [second, first]
    assert hits[0].similarity is not None and hits[1].similarity is not None
    assert hits[0].similarity > hits[1].similarity


async def test_postgres_ranks_through_the_covering_index_even_with_a_generic_plan(
    db: Database, world: World,
) -> None:
    """From its sixth run a prepared statement may switch to a generic plan; that plan must
    still be able to read the caller's findings from the covering index (a partial index:
    the plan has to prove its predicate without the parameters' values). Sequential scans
    are switched off because on so few rows they would win anyway."""
    if db.dialect != "postgresql":
        pytest.skip("the covering index exists on PostgreSQL only")
    user = await _many_users(world, db, random.Random(3), "user", users=8, scouts=3,
                             findings=40)
    query = store._postgres_query(EMBEDDING_DIM, False)
    params = store._meaning_params(user, [1.0] * EMBEDDING_DIM, 10, None)

    def literal(value: Any) -> str:
        return "'" + str(value) + "'"

    async with db.read() as conn:
        compiled = query.compile(conn.sync_connection)
        bound = compiled.construct_params(params)
        values = ", ".join(literal(bound[name]) for name in compiled.positiontup or ())
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
        await raw.execute(f"PREPARE findings_probe AS {compiled}")
        plan = "\n".join(r[0] for r in await raw.fetch(
            f"EXPLAIN EXECUTE findings_probe({values})"))
        await raw.execute("DEALLOCATE findings_probe; RESET plan_cache_mode; RESET enable_seqscan")
    assert re.search(r"user_id = \$\d", plan), plan  # a generic plan indeed
    assert f"Index Only Scan using {halfvec.INDEX}" in plan, plan
    # A shard's run ids bound the scan itself, not a filter over every entry.
    assert re.search(r"Index Cond: \(\(scout_id = scouts\w*\.id\) AND \(id >= \$\d+\) "
                     r"AND \(id <= \$\d+\)\)", plan), plan


async def test_embeddings_too_large_for_the_index_are_ranked_exactly(
    world: World, monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(5)
    crowd = await _crowd(world, rng)
    # The statements are built once per shape: one an earlier test built would hide the
    # change, and the one built here must not outlive it.
    store._postgres_query.cache_clear()
    store._postgres_read.cache_clear()
    monkeypatch.setattr(halfvec, "MAX_DIM", EMBEDDING_DIM - 1)
    try:
        sql = str(store._postgres_query(EMBEDDING_DIM, False))
        assert halfvec.COLUMN not in sql and "summary_embedding" in sql
        question = near(rng, crowd["topics"][3], 0.3)
        assert await world.nearest(crowd["alice"], question, 10) == world.expected(
            crowd["alice"], question, 10)
    finally:
        store._postgres_query.cache_clear()
        store._postgres_read.cache_clear()


async def test_reembed_resizing_rebuilds_the_half_precision_copy(db: Database, world: World) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the half-precision copy exists on PostgreSQL only")
    user = await world.user("finn@example.com")
    scout = await world.scout(user)
    async with db.transaction() as conn:
        await resize_column(conn, 4)
    ids = await world.findings(user, scout, [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    assert await world.nearest(user, [0.1, 1.0, 0.0, 0.0], 2) == [ids[1], ids[0]]
    async with db.read() as conn:
        size = (await conn.execute(sa.text(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'scout_executions'::regclass "
            f"AND attname = '{halfvec.COLUMN}'"))).scalar_one()
    assert size == 4
    async with db.transaction() as conn:
        await resize_column(conn, EMBEDDING_DIM)


async def test_migration_0010_fills_the_copy_for_existing_findings_and_goes_back(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM, "0009")
    db = Database(url)
    try:
        world = World(db)
        user = await world.user("gus@example.com")
        scout = await world.scout(user)
        rng = random.Random(9)
        await world.findings(user, scout, [near(rng, [0.0] * EMBEDDING_DIM, 1.0)
                                           for _ in range(30)])
        await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
        question = near(rng, [0.0] * EMBEDDING_DIM, 1.0)
        assert await world.nearest(user, question, 5) == world.expected(user, question, 5)
        if db.dialect == "postgresql":
            async with db.read() as conn:
                filled = (await conn.execute(sa.text(
                    f"SELECT count({halfvec.COLUMN}) FROM scout_executions"))).scalar_one()
            assert filled == 30
        await asyncio.to_thread(migrate.downgrade, url, EMBEDDING_DIM, "0009")
        if db.dialect == "postgresql":
            async with db.read() as conn:
                indexes = set((await conn.execute(sa.text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'scout_executions'")
                )).scalars())
            assert "ix_scout_executions_summary_embedding_hnsw" in indexes
            assert halfvec.INDEX not in indexes
        async with db.read() as conn:
            count = (await conn.execute(sa.text(
                "SELECT count(*) FROM scout_executions WHERE summary_embedding IS NOT NULL")
            )).scalar_one()
        assert count == 30
    finally:
        await db.close()


async def test_postgres_search_plans_no_parallel_workers_however_cheap_they_look(
    db: Database, world: World,
) -> None:
    """The planner estimates a user's findings from the average per scout, so a plan with
    parallel workers would be chosen for every user alike once the table is large, and
    starting them costs more than a light user's whole search. The search's connections
    refuse workers; here the costs are lowered until the planner would take them."""
    if db.dialect != "postgresql":
        pytest.skip("parallel plans exist on PostgreSQL only")
    user = await _many_users(world, db, random.Random(4), "par", users=4, scouts=2,
                             findings=30)
    query = store._postgres_query(EMBEDDING_DIM, False)
    params = store._meaning_params(user, [1.0] * EMBEDDING_DIM, 10, None)
    cheap = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
             "SET min_parallel_index_scan_size = 0; SET min_parallel_table_scan_size = 0")
    plans: dict[str, str] = {}
    for pool in ("transaction", "single"):
        async with (db.read() if pool == "transaction" else db.single()) as conn:
            compiled = query.compile(conn.sync_connection)
            bound = compiled.construct_params(params)
            values = [bound[name] for name in compiled.positiontup or ()]
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute(cheap)
            try:
                plans[pool] = "\n".join(r[0] for r in await raw.fetch(
                    f"EXPLAIN {compiled}", *values))
            finally:
                await raw.execute("RESET parallel_setup_cost; RESET parallel_tuple_cost; "
                                  "RESET min_parallel_index_scan_size; "
                                  "RESET min_parallel_table_scan_size")
    # The same costs do make a parallel plan elsewhere: the test would see one.
    assert "Gather" in plans["transaction"], plans["transaction"]
    assert "Gather" not in plans["single"], plans["single"]
    assert f"Index Only Scan using {halfvec.INDEX}" in plans["single"], plans["single"]


# ---- shards: one search on several connections (engine/findings/shards.py) --------------


def test_shards_cover_every_run_id_once() -> None:
    for count in range(1, shards.MAX_SHARDS + 1):
        ranges = shards.id_ranges(count)
        assert len(ranges) == count
        assert ranges[0][0] == uuid.UUID(int=0)
        assert ranges[-1][1] == uuid.UUID(int=(1 << 128) - 1)
        for (_, high), (low, _) in zip(ranges, ranges[1:], strict=False):
            assert low.int == high.int + 1
        widths = {high.int - low.int for low, high in ranges}
        assert max(widths) - min(widths) <= 1
    for wrong in (0, shards.MAX_SHARDS + 1):
        with pytest.raises(ValueError):
            shards.id_ranges(wrong)


async def test_every_shard_count_gives_the_exact_order_and_each_finding_once(
    db: Database, world: World,
) -> None:
    """Findings whose ids sit right on the shards' edges, and a neighbour with better
    matches: one connection or several, the answer is the exact cosine order."""
    import aiohttp

    from engine.clients.ollama import OllamaClient
    from engine.findings.query import FindingsQuery
    from engine.findings.search import FindingsSearch
    from tests.fakes.fake_ollama import FakeOllama

    rng = random.Random(21)
    async with FakeOllama(embed_dim=EMBEDDING_DIM) as fake, aiohttp.ClientSession() as session:
        ollama = OllamaClient(session, fake.url, "qwen2.5:7b", "nomic-embed-text")
        question = fake.vector_for("what is new")
        alice, bob = await world.user("ann@example.com"), await world.user("ben@example.com")
        # The last id before each cut of the id space into 2, 3, 4 and 7 equal parts, the
        # first after it, and the very first and last ids.
        space = 1 << 128
        cuts = {space * i // count for count in (2, 3, 4, 7) for i in range(1, count)}
        edges = sorted({uuid.UUID(int=n) for cut in cuts for n in (cut - 1, cut)}
                       | {uuid.UUID(int=0), uuid.UUID(int=space - 1)})
        ids = [*edges, *(uuid.uuid4() for _ in range(10))]
        first, second = await world.scout(alice), await world.scout(alice)
        await world.findings(alice, first, [near(rng, question, 1.5) for _ in ids[::2]],
                             ids[::2])
        await world.findings(alice, second, [near(rng, question, 1.5) for _ in ids[1::2]],
                             ids[1::2])
        await world.findings(bob, await world.scout(bob),
                             [near(rng, question, 0.1) for _ in range(30)])
        assert len(ids) <= 50  # so every one of Alice's findings is in the answer
        expected = [str(e) for e in world.expected(alice, question, 50)]
        for count in (1, 2, 3, 4, 7):
            search = FindingsSearch(db, ollama, EMBEDDING_DIM, count)
            found = await search.search(alice, FindingsQuery("what is new", 50))
            assert [str(f["execution_id"]) for f in found] == expected, count
            found = await search.search(alice, FindingsQuery("what is new", 3))
            assert [str(f["execution_id"]) for f in found] == expected[:3], count


async def test_migration_0015_keys_the_index_by_run_id_and_goes_back(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    if not url.startswith("postgresql"):
        pytest.skip("the covering index exists on PostgreSQL only")

    async def definition(db: Database) -> str:
        async with db.read() as conn:
            return str((await conn.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": halfvec.INDEX})).scalar_one())

    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM, "0014")
    db = Database(url)
    try:
        assert "(scout_id) INCLUDE (id, summary_half)" in await definition(db)
        world = World(db)
        user = await world.user("hal@example.com")
        rng = random.Random(3)
        await world.findings(user, await world.scout(user),
                             [near(rng, [0.0] * EMBEDDING_DIM, 1.0) for _ in range(20)])
        await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
        assert "(scout_id, id) INCLUDE (summary_half)" in await definition(db)
        question = near(rng, [0.0] * EMBEDDING_DIM, 1.0)
        assert await world.nearest(user, question, 5) == world.expected(user, question, 5)
        await asyncio.to_thread(migrate.downgrade, url, EMBEDDING_DIM, "0014")
        assert "(scout_id) INCLUDE (id, summary_half)" in await definition(db)
    finally:
        await db.close()


async def test_a_search_given_up_mid_statement_leaves_every_connection_usable(
    db: Database, world: World,
) -> None:
    """A browser that goes away cancels the request while its shards' statements run;
    the connections go back to the pool and the next searches are answered."""
    if db.dialect != "postgresql":
        pytest.skip("shards run on PostgreSQL only")
    import aiohttp

    from engine.clients.ollama import OllamaClient
    from engine.findings.query import FindingsQuery
    from engine.findings.search import FindingsSearch
    from tests.fakes.fake_ollama import FakeOllama

    rng = random.Random(8)
    async with FakeOllama(embed_dim=EMBEDDING_DIM) as fake, aiohttp.ClientSession() as session:
        ollama = OllamaClient(session, fake.url, "qwen2.5:7b", "nomic-embed-text")
        question = fake.vector_for("anything new")
        user = await world.user("ida@example.com")
        await world.findings(user, await world.scout(user),
                             [near(rng, question, 1.0) for _ in range(20)])
        expected = [str(e) for e in world.expected(user, question, 10)]
        search = FindingsSearch(db, ollama, EMBEDDING_DIM, 2)
        # Once beforehand, so the shards' statements are prepared on their connections:
        # while a statement is being parsed, pg_stat_activity does not show its text yet.
        found = await search.search(user, FindingsQuery("anything new", 10))
        assert [str(f["execution_id"]) for f in found] == expected
        # Another transaction holds the table, so both shards' statements wait on it.
        async with db.transaction() as blocker:
            await blocker.execute(sa.text("LOCK TABLE scout_executions IN ACCESS EXCLUSIVE MODE"))
            task = asyncio.create_task(search.search(user, FindingsQuery("anything new", 10)))
            async with db.read() as watcher:
                for _ in range(200):
                    waiting = (await watcher.execute(sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%summary_half%'"))).scalar_one()
                    if waiting == 2:
                        break
                    await asyncio.sleep(0.01)
            assert waiting == 2
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        for _ in range(3):
            found = await search.search(user, FindingsQuery("anything new", 10))
            assert [str(f["execution_id"]) for f in found] == expected


def test_sqlite_scores_are_the_cosine_of_the_stored_float32_vectors() -> None:
    rng = random.Random(5)
    stored = [[rng.gauss(0, 1) for _ in range(EMBEDDING_DIM)] for _ in range(30)]
    stored.append([0.0] * EMBEDDING_DIM)  # a zero vector matches nothing, and breaks nothing
    question = [rng.gauss(0, 1) for _ in range(EMBEDDING_DIM)]
    norm = math.sqrt(sum(x * x for x in question))
    packed = [array("f", v).tobytes() for v in stored]
    scores = cosine_rank.similarities(np.asarray([x / norm for x in question]), packed)
    as_stored = [list(array("f", p)) for p in packed]
    expected = [cosine(question, v) if any(v) else 0.0 for v in as_stored]
    assert scores.tolist() == pytest.approx(expected, abs=1e-12)


def test_sqlite_ties_at_the_cut_are_decided_by_id() -> None:
    ids = [uuid.UUID(int=n) for n in (9, 3, 7, 1, 5)]
    scores = np.asarray([0.5, 0.9, 0.5, 0.2, 0.5])
    # Three findings share the second place; the two lowest ids among them get it.
    assert cosine_rank.best_by_similarity(scores, ids, 3) == [
        (0.9, ids[1]), (0.5, ids[4]), (0.5, ids[2])]
    assert cosine_rank.best_by_similarity(scores, ids, 10) == [
        (0.9, ids[1]), (0.5, ids[4]), (0.5, ids[2]), (0.5, ids[0]), (0.2, ids[3])]
