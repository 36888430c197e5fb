"""Writes of the execution engine: creating, claiming, advancing and ending runs.

Every update that changes a run is guarded by the state (and lease owner) it expects, so a
worker whose lease was taken over or whose run was cancelled changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles

from engine.live import changes
from engine.runs.machine import ENGINE_VERSION, FINAL_STATES
from engine.storage import dropped
from engine.storage.rows import as_dict, as_dicts
from engine.storage.sanitize import clean, clean_text, storable_json
from engine.tables import scout_execution_steps, scout_executions, scouts
from engine.types import JSONType, UTCDateTime

IN_FLIGHT = scout_executions.c.state.not_in(FINAL_STATES)
INTERVALS = {"daily": timedelta(hours=24), "every_3_days": timedelta(hours=72),
             "weekly": timedelta(hours=168)}


async def insert_execution(
    conn: AsyncConnection, scout_id: uuid.UUID, trigger: str, now: datetime, deadline: timedelta
) -> dict[str, Any] | None:
    """A new run in `planning`; None if the scout already has one in flight.

    The partial unique index decides, so two dispatchers racing cannot both succeed.
    """
    execution_id = uuid.uuid4()
    values = {
        "id": execution_id,
        "scout_id": scout_id,
        "state": "planning",
        "trigger": trigger,
        "engine_version": ENGINE_VERSION,
        "checkpoint": {},
        "transitions": 0,
        "attempts": 0,
        "deadline_at": now + deadline,
        "started_at": now,
        "created_at": now,
        "is_duplicate": False,
    }
    try:
        async with conn.begin_nested():
            await conn.execute(scout_executions.insert().values(**values))
    except sa.exc.IntegrityError:
        return None
    changes.execution_changed(conn, execution_id)
    return values


async def in_flight_for_scout(conn: AsyncConnection, scout_id: uuid.UUID) -> dict[str, Any] | None:
    query = sa.select(scout_executions.c.id, scout_executions.c.state).where(
        scout_executions.c.scout_id == scout_id, IN_FLIGHT
    )
    return as_dict((await conn.execute(query)).first())


def _due(cutoffs: dict[str, Any]) -> sa.ColumnElement[bool]:
    """Active, complete scouts whose last run is older than their frequency's cutoff and
    that have no run in flight.

    Completeness is `engine.validation.is_complete` said in SQL, so dispatch never has to
    load the scouts into Python."""
    overdue = sa.or_(*[
        sa.and_(scouts.c.frequency == freq,
                sa.or_(scouts.c.last_run_at.is_(None), scouts.c.last_run_at <= cutoff))
        for freq, cutoff in cutoffs.items()
    ])
    busy = sa.exists().where(scout_executions.c.scout_id == scouts.c.id, IN_FLIGHT)
    return sa.and_(
        scouts.c.is_active.is_(True),
        *[sa.and_(column.is_not(None), column != "")
          for column in (scouts.c.title, scouts.c.goal, scouts.c.description)],
        scouts.c.location["city"].as_string() != "",
        _json_length(scouts.c.search_queries) > 0,
        overdue,
        ~busy,
    )


class _json_length(sa.sql.functions.GenericFunction[int]):
    type = sa.Integer()
    inherit_cache = True


@compiles(_json_length, "postgresql")
def _json_length_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"jsonb_array_length({compiler.process(element.clauses, **kw)})"


@compiles(_json_length, "sqlite")
def _json_length_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.clauses, **kw)})"


# Any constant shared by every worker of this database works; this one spells "scouts".
DISPATCH_LOCK = 0x73636F757473


def _dispatch_statement(dialect: str) -> sa.Insert:
    if dialect == "postgresql":
        new_id: sa.ColumnElement[Any] = sa.func.gen_random_uuid()
        insert: Any = pg_insert(scout_executions)
    else:
        # sa.Uuid is stored on SQLite as 32 hex digits, which is what this makes.
        new_id = sa.func.lower(sa.func.hex(sa.func.randomblob(16)))
        insert = sqlite_insert(scout_executions)
    now = sa.bindparam("now", type_=UTCDateTime())
    columns = {
        "id": new_id,
        "scout_id": scouts.c.id,
        "state": sa.literal("planning"),
        "trigger": sa.literal("schedule"),
        "engine_version": sa.literal(ENGINE_VERSION),
        "checkpoint": sa.bindparam("checkpoint", type_=JSONType),
        "transitions": sa.literal(0),
        "attempts": sa.literal(0),
        "deadline_at": sa.bindparam("deadline_at", type_=UTCDateTime()),
        "started_at": now,
        "created_at": now,
        "is_duplicate": sa.false(),
    }
    cutoffs = {freq: sa.bindparam(f"cutoff_{freq}", type_=UTCDateTime()) for freq in INTERVALS}
    select = sa.select(*[value.label(name) for name, value in columns.items()]).where(
        _due(cutoffs))
    # No conflict target: the partial unique index (one run in flight per scout) is what
    # turns a scout that a racing dispatcher or "run now" just started into a no-op.
    # The new ids come back so that each new run is announced to live streams.
    return (insert.from_select(list(columns), select).on_conflict_do_nothing()
            .returning(scout_executions.c.id))


DISPATCH = {dialect: _dispatch_statement(dialect) for dialect in ("postgresql", "sqlite")}
TRY_DISPATCH_LOCK = sa.select(sa.func.pg_try_advisory_xact_lock(DISPATCH_LOCK))


async def dispatch_due(conn: AsyncConnection, now: datetime, deadline: timedelta) -> int:
    """Start a run for every due scout in one statement; how many were started.

    On PostgreSQL one dispatcher at a time holds a transaction-level advisory lock and the
    others skip their turn (0) instead of redoing the same work behind it; SQLite's
    BEGIN IMMEDIATE serialises them anyway."""
    dialect = conn.dialect.name
    if dialect == "postgresql" and not (await conn.execute(TRY_DISPATCH_LOCK)).scalar_one():
        return 0
    params: dict[str, Any] = {"now": now, "deadline_at": now + deadline, "checkpoint": {}}
    params.update({f"cutoff_{freq}": now - interval for freq, interval in INTERVALS.items()})
    started = (await conn.execute(DISPATCH[dialect], params)).scalars().all()
    for execution_id in started:  # owners' open pages see the new runs (engine/live)
        changes.execution_changed(conn, execution_id)
    return len(started)


def _runnable(now: Any) -> sa.ColumnElement[bool]:
    return sa.and_(
        IN_FLIGHT,
        scout_executions.c.deadline_at > now,
        sa.or_(scout_executions.c.next_run_at.is_(None), scout_executions.c.next_run_at <= now),
        sa.or_(
            scout_executions.c.lease_expires_at.is_(None),
            scout_executions.c.lease_expires_at <= now,
        ),
    )


def _claim_statements() -> tuple[sa.Update, sa.Select[Any], sa.Update]:
    """Built once (parameters: now, limit, worker, until; SQLite's also run_id)."""
    now = sa.bindparam("now", type_=UTCDateTime())
    runnable = _runnable(now)
    candidates = sa.select(scout_executions.c.id).where(runnable).order_by(
        scout_executions.c.next_run_at.is_not(None),
        scout_executions.c.next_run_at,
        scout_executions.c.created_at,
    ).limit(sa.bindparam("limit"))
    lease = {"lease_owner": sa.bindparam("worker"),
             "lease_expires_at": sa.bindparam("until", type_=UTCDateTime())}
    # SKIP LOCKED: concurrent workers each get different rows without waiting.
    picked = candidates.with_for_update(skip_locked=True).scalar_subquery()
    postgres = (scout_executions.update().where(scout_executions.c.id.in_(picked))
                .values(**lease).returning(*scout_executions.c))
    sqlite_one = (scout_executions.update()
                  .where(scout_executions.c.id == sa.bindparam("run_id"), runnable)
                  .values(**lease).returning(*scout_executions.c))
    return postgres, candidates, sqlite_one


CLAIM_POSTGRES, CLAIM_CANDIDATES, CLAIM_SQLITE_ONE = _claim_statements()


async def claim(
    conn: AsyncConnection, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[dict[str, Any]]:
    """Take up to ``limit`` runnable runs for ``worker`` until ``now + lease``."""
    params = {"now": now, "limit": limit, "worker": worker, "until": now + lease}
    if conn.dialect.name == "postgresql":
        return as_dicts(await conn.execute(CLAIM_POSTGRES, params))
    # SQLite: BEGIN IMMEDIATE already serialises writers; the guarded UPDATE re-checks
    # each candidate so a run is never handed to two workers.
    claimed = []
    for execution_id in (await conn.execute(CLAIM_CANDIDATES, params)).scalars().all():
        result = await conn.execute(CLAIM_SQLITE_ONE, {**params, "run_id": execution_id})
        row = as_dict(result.first())
        if row is not None:
            claimed.append(row)
    return claimed


# Built once: read with every claim and written with every finished run.
SCOUTS_BY_ID = sa.select(scouts).where(scouts.c.id.in_(sa.bindparam("ids", expanding=True)))
SCOUT_SUCCEEDED = scouts.update().where(scouts.c.id == sa.bindparam("scout_id")).values(
    consecutive_failures=0, last_run_at=sa.bindparam("now", type_=UTCDateTime()))


async def scouts_by_id(
    conn: AsyncConnection, scout_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    rows = await conn.execute(SCOUTS_BY_ID, {"ids": scout_ids})
    return {row.id: dict(row._mapping) for row in rows}


def _recent_findings_statement(limit: int) -> sa.Select[Any]:
    ranked = (
        sa.select(
            scout_executions.c.scout_id,
            scout_executions.c.summary_text,
            scout_executions.c.completed_at,
            sa.func.row_number().over(
                partition_by=scout_executions.c.scout_id,
                order_by=scout_executions.c.completed_at.desc(),
            ).label("rank"),
        )
        .where(
            scout_executions.c.scout_id.in_(sa.bindparam("scout_ids", expanding=True)),
            scout_executions.c.state == "done",
            scout_executions.c.summary_text.is_not(None),
        )
        .subquery()
    )
    return (
        sa.select(ranked.c.scout_id, ranked.c.summary_text, ranked.c.completed_at)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.scout_id, ranked.c.rank)
    )


RECENT_FINDINGS = _recent_findings_statement(5)


async def recent_findings_of(
    conn: AsyncConnection, scout_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The 5 newest findings of each scout, newest first, in one statement."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {scout_id: [] for scout_id in scout_ids}
    for row in await conn.execute(RECENT_FINDINGS, {"scout_ids": scout_ids}):
        found[row.scout_id].append({"summary_text": row.summary_text,
                                    "completed_at": row.completed_at})
    return found


async def extend_lease(
    conn: AsyncConnection, execution_id: uuid.UUID, worker: str, until: datetime
) -> bool:
    result = await conn.execute(
        scout_executions.update()
        .where(scout_executions.c.id == execution_id, scout_executions.c.lease_owner == worker,
               IN_FLIGHT)
        .values(lease_expires_at=until)
    )
    return result.rowcount == 1


async def add_step(
    conn: AsyncConnection, execution_id: uuid.UUID, step: dict[str, Any], step_number: int
) -> None:
    """A history row. ``step_number`` is the run's transition counter after this
    transition (every transition writes exactly one row), so no max() query is needed."""
    await conn.execute(INSERT_STEP, {**step, "id": uuid.uuid4(), "execution_id": execution_id,
                                     "step_number": step_number})


# Statements built once: the SET/VALUES columns come from each call's parameters, so
# SQLAlchemy reuses its compiled forms without rebuilding a statement per transition.
INSERT_STEP = scout_execution_steps.insert()
_GUARD = (scout_executions.c.id == sa.bindparam("guard_id"),
          scout_executions.c.state == sa.bindparam("guard_state"))
UPDATE_IN_STATE = scout_executions.update().where(*_GUARD)
UPDATE_IN_STATE_LEASED = scout_executions.update().where(
    *_GUARD, scout_executions.c.lease_owner == sa.bindparam("guard_worker"))


async def update_guarded(
    conn: AsyncConnection,
    execution_id: uuid.UUID,
    *,
    expected_state: str,
    worker: str | None,
    values: dict[str, Any],
) -> bool:
    """Apply ``values`` only if the run is still in ``expected_state`` (and leased by
    ``worker`` when given). False means someone else changed it first."""
    params = {**values, "guard_id": execution_id, "guard_state": expected_state}
    if worker is None:
        result = await conn.execute(UPDATE_IN_STATE, params)
    else:
        result = await conn.execute(UPDATE_IN_STATE_LEASED, {**params, "guard_worker": worker})
    if result.rowcount != 1:
        return False
    changes.execution_changed(conn, execution_id)
    return True


# A working transition (the run goes on, no results to store) as ONE statement on
# PostgreSQL, sent outside any transaction block: the statement is its own transaction, so
# the guarded UPDATE, the history INSERT and the live change-log row (with its NOTIFY)
# commit together or not at all, in one round trip instead of five (BEGIN, three
# statements, COMMIT). Data-modifying CTEs all run, whether the final SELECT reads them
# or not; the history row and the change row are made from the UPDATE's RETURNING, so
# when the guard fails (lease lost, run cancelled) nothing at all is written.
WORKING_COLUMNS = ("state", "checkpoint", "transitions", "attempts", "next_run_at",
                   "wait_reason", "error_detail", "lease_owner", "lease_expires_at")
STEP_COLUMNS = ("step_type", "description", "input_data", "output_data", "status",
                "error_message", "started_at", "completed_at")


def _advance_statement() -> sa.Select[Any]:
    moved = (
        UPDATE_IN_STATE_LEASED
        .values({name: sa.bindparam(name, type_=scout_executions.c[name].type)
                 for name in WORKING_COLUMNS})
        .returning(scout_executions.c.id, scout_executions.c.scout_id)
        .cte("moved")
    )
    steps = scout_execution_steps.c
    step = scout_execution_steps.insert().from_select(
        ["id", "execution_id", "step_number", *STEP_COLUMNS],
        sa.select(sa.bindparam("step_id", type_=sa.Uuid), moved.c.id,
                  sa.bindparam("step_number", type_=sa.Integer),
                  *[sa.bindparam(f"step_{name}", type_=steps[name].type)
                    for name in STEP_COLUMNS]),
    ).cte("step")
    notified = changes.notify_runs_of(moved)
    counted = sa.select(sa.func.count()).select_from
    return sa.select(
        counted(moved).scalar_subquery().label("moved"),
        counted(notified).scalar_subquery().label("notified"),
    ).add_cte(step)


ADVANCE_POSTGRES = _advance_statement()
# Sent through the driver: SQLAlchemy's execution machinery (cache lookup, parameter
# processing, result wrapping, the greenlet hop) cost a third of this statement's CPU.
# Compiled once; constants (the channel, 'execution', 0) keep their compiled values.
_ADVANCE = ADVANCE_POSTGRES.compile(dialect=asyncpg_dialect())
ADVANCE_SQL = str(_ADVANCE)
_ADVANCE_ORDER = tuple(_ADVANCE.positiontup or ())
_ADVANCE_CONSTANTS = dict(_ADVANCE.params)
# SQLSTATE classes of failures that pass by themselves: transaction rollback (40),
# insufficient resources (53), operator intervention such as a restart (57).
_TRANSIENT = ("08", "40", "53", "57")


async def advance_working(
    conn: AsyncConnection,
    execution_id: uuid.UUID,
    *,
    expected_state: str,
    worker: str,
    values: dict[str, Any],
    step: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """`update_guarded` + `add_step` + the change-log row in one statement (PostgreSQL,
    ``conn`` with no transaction begun: the driver then runs it in autocommit).
    ``values`` holds exactly WORKING_COLUMNS and the step number is the new transition
    counter. Service text is made storable here; returns
    ``values`` as stored, or None when the guard failed and nothing was written.

    A lost connection is discarded (engine/storage/dropped.py) and raised as SQLAlchemy
    raises one; transient server failures as `sa.exc.OperationalError`."""
    checkpoint, checkpoint_json = storable_json(values["checkpoint"])
    _, input_json = storable_json(step["input_data"])
    _, output_json = storable_json(step["output_data"])
    params = {
        **values, "checkpoint": checkpoint_json,
        "guard_id": execution_id, "guard_state": expected_state, "guard_worker": worker,
        "step_id": uuid.uuid4(), "step_number": values["transitions"], "now": now,
        "step_step_type": step["step_type"], "step_description": clean_text(step["description"]),
        "step_input_data": input_json, "step_output_data": output_json,
        "step_status": step["status"], "step_error_message": clean(step["error_message"]),
        "step_started_at": step["started_at"], "step_completed_at": step["completed_at"],
    }
    args = [params[name] if name in params else _ADVANCE_CONSTANTS[name]
            for name in _ADVANCE_ORDER]
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    try:
        moved = await driver.fetchval(ADVANCE_SQL, *args)
    except Exception as exc:
        if dropped.is_dropped(raw, exc):
            # Raised as SQLAlchemy raises a disconnect, so callers treat both alike.
            dropped.discard(conn.sync_engine.pool, raw, exc)
            raise sa.exc.OperationalError(ADVANCE_SQL, None, exc,
                                          connection_invalidated=True) from exc
        if isinstance(exc, asyncpg.PostgresError):
            # The server refused the statement; the connection itself is fine.
            if str(exc.sqlstate or "").startswith(_TRANSIENT):
                raise sa.exc.OperationalError(ADVANCE_SQL, None, exc) from exc
            raise
        # The driver failed mid-statement and the connection's state is unknown: it is
        # never handed out again.
        await conn.invalidate()
        raise sa.exc.OperationalError(ADVANCE_SQL, None, exc) from exc
    return {**values, "checkpoint": checkpoint} if moved else None


async def expired_runs(
    conn: AsyncConnection, now: datetime, limit: int = 100
) -> list[dict[str, Any]]:
    """In-flight runs past their deadline that no live worker holds."""
    query = sa.select(scout_executions).where(
        IN_FLIGHT,
        scout_executions.c.deadline_at <= now,
        sa.or_(
            scout_executions.c.lease_expires_at.is_(None),
            scout_executions.c.lease_expires_at <= now,
        ),
    ).limit(limit)
    return as_dicts(await conn.execute(query))


async def record_scout_success(conn: AsyncConnection, scout_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(SCOUT_SUCCEEDED, {"scout_id": scout_id, "now": now})
    changes.scout_changed(conn, scout_id)


async def record_scout_failure(
    conn: AsyncConnection, scout_id: uuid.UUID, now: datetime, disable_after: int
) -> bool:
    """Count a failed run; True when this failure deactivated the scout."""
    result = await conn.execute(
        scouts.update()
        .where(scouts.c.id == scout_id)
        .values(consecutive_failures=scouts.c.consecutive_failures + 1, last_run_at=now)
        .returning(scouts.c.consecutive_failures, scouts.c.is_active)
    )
    row = result.first()
    changes.scout_changed(conn, scout_id)
    if row is None or not row.is_active or row.consecutive_failures < disable_after:
        return False
    await conn.execute(scouts.update().where(scouts.c.id == scout_id).values(is_active=False))
    return True


async def list_runs(
    conn: AsyncConnection, *, state: str | None, stuck_before: datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Operator listing across all users (CLI only)."""
    query = sa.select(
        scout_executions.c.id, scout_executions.c.scout_id, scout_executions.c.state,
        scout_executions.c.trigger, scout_executions.c.attempts, scout_executions.c.lease_owner,
        scout_executions.c.lease_expires_at, scout_executions.c.next_run_at,
        scout_executions.c.deadline_at, scout_executions.c.started_at,
        scout_executions.c.error_message, scout_executions.c.cancelled_at,
        scouts.c.title,
    ).join(scouts, scouts.c.id == scout_executions.c.scout_id)
    if state:
        query = query.where(scout_executions.c.state == state)
    if stuck_before is not None:
        # Stuck: in flight and either waiting, held by a lease that has lapsed, or past due.
        query = query.where(IN_FLIGHT, sa.or_(
            scout_executions.c.next_run_at > stuck_before,
            scout_executions.c.lease_expires_at <= stuck_before,
            scout_executions.c.deadline_at <= stuck_before,
            scout_executions.c.attempts > 0,
        ))
    query = query.order_by(scout_executions.c.created_at.desc()).limit(limit)
    return as_dicts(await conn.execute(query))
