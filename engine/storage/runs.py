"""Writes of the execution engine: creating, claiming, advancing and ending runs.

Every update that changes a run is guarded by the state (and lease owner) it expects, so a
worker whose lease was taken over or whose run was cancelled changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.live import changes
from engine.machine import ENGINE_VERSION, FINAL_STATES
from engine.storage.rows import as_dict, as_dicts
from engine.tables import scout_execution_steps, scout_executions, scouts

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


async def due_scouts(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Active, configured scouts whose interval has passed and that have no run in flight."""
    overdue = sa.or_(*[
        sa.and_(scouts.c.frequency == freq,
                sa.or_(scouts.c.last_run_at.is_(None), scouts.c.last_run_at <= now - interval))
        for freq, interval in INTERVALS.items()
    ])
    busy = sa.exists().where(scout_executions.c.scout_id == scouts.c.id, IN_FLIGHT)
    query = sa.select(scouts).where(
        scouts.c.is_active.is_(True),
        scouts.c.title.is_not(None),
        scouts.c.goal.is_not(None),
        scouts.c.description.is_not(None),
        scouts.c.location.is_not(None),
        overdue,
        ~busy,
    ).order_by(scouts.c.last_run_at.is_not(None), scouts.c.last_run_at)
    return as_dicts(await conn.execute(query))


def _runnable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        IN_FLIGHT,
        scout_executions.c.deadline_at > now,
        sa.or_(scout_executions.c.next_run_at.is_(None), scout_executions.c.next_run_at <= now),
        sa.or_(
            scout_executions.c.lease_expires_at.is_(None),
            scout_executions.c.lease_expires_at <= now,
        ),
    )


async def claim(
    conn: AsyncConnection, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[dict[str, Any]]:
    """Take up to ``limit`` runnable runs for ``worker`` until ``now + lease``."""
    order = (
        scout_executions.c.next_run_at.is_not(None),
        scout_executions.c.next_run_at,
        scout_executions.c.created_at,
    )
    candidates = sa.select(scout_executions.c.id).where(_runnable(now)).order_by(*order)
    if conn.dialect.name == "postgresql":
        # SKIP LOCKED: concurrent workers each get different rows without waiting.
        picked = candidates.limit(limit).with_for_update(skip_locked=True).scalar_subquery()
        result = await conn.execute(
            scout_executions.update()
            .where(scout_executions.c.id.in_(picked))
            .values(lease_owner=worker, lease_expires_at=now + lease)
            .returning(*scout_executions.c)
        )
        return as_dicts(result)
    # SQLite: BEGIN IMMEDIATE already serialises writers; the guarded UPDATE re-checks
    # each candidate so a run is never handed to two workers.
    claimed = []
    for execution_id in (await conn.execute(candidates.limit(limit))).scalars():
        result = await conn.execute(
            scout_executions.update()
            .where(scout_executions.c.id == execution_id, _runnable(now))
            .values(lease_owner=worker, lease_expires_at=now + lease)
            .returning(*scout_executions.c)
        )
        row = as_dict(result.first())
        if row is not None:
            claimed.append(row)
    return claimed


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


async def next_step_number(conn: AsyncConnection, execution_id: uuid.UUID) -> int:
    result = await conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(scout_execution_steps.c.step_number), 0)).where(
            scout_execution_steps.c.execution_id == execution_id
        )
    )
    return int(result.scalar_one()) + 1


async def add_step(
    conn: AsyncConnection, execution_id: uuid.UUID, step: dict[str, Any]
) -> None:
    await conn.execute(
        scout_execution_steps.insert().values(
            id=uuid.uuid4(),
            execution_id=execution_id,
            step_number=await next_step_number(conn, execution_id),
            **step,
        )
    )


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
    conditions = [scout_executions.c.id == execution_id,
                  scout_executions.c.state == expected_state]
    if worker is not None:
        conditions.append(scout_executions.c.lease_owner == worker)
    result = await conn.execute(
        scout_executions.update().where(*conditions).values(**values)
    )
    if result.rowcount != 1:
        return False
    changes.execution_changed(conn, execution_id)
    return True


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


async def recent_findings(
    conn: AsyncConnection, scout_id: uuid.UUID, limit: int = 5
) -> list[dict[str, Any]]:
    query = (
        sa.select(scout_executions.c.summary_text, scout_executions.c.completed_at)
        .where(
            scout_executions.c.scout_id == scout_id,
            scout_executions.c.state == "done",
            scout_executions.c.summary_text.is_not(None),
        )
        .order_by(scout_executions.c.completed_at.desc())
        .limit(limit)
    )
    return as_dicts(await conn.execute(query))


async def record_scout_success(conn: AsyncConnection, scout_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        scouts.update().where(scouts.c.id == scout_id).values(consecutive_failures=0,
                                                              last_run_at=now)
    )
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
