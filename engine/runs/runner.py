"""Advancing one claimed run by exactly one transition, and persisting it atomically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.clients.errors import ServiceBusy, ServiceError
from engine.clock import utcnow
from engine.config import Settings
from engine.db import Database
from engine.notify import Notifier
from engine.runs.machine import ENGINE_VERSION, WORKING_STATES, next_state
from engine.runs.steps import STEPS, Outcome, StepContext, failure, step_record
from engine.runs.toolbox import Toolbox
from engine.storage import runs as run_store
from engine.storage.sanitize import clean, clean_text
from engine.storage.vectors import most_similar
from engine.views import service_wait_reason

log = logging.getLogger(__name__)

DUPLICATE_SIMILARITY = 0.85
DISABLE_AFTER_FAILURES = 3
MAX_WAIT = timedelta(minutes=10)
# Owners read this when the database refused a step's result; the exception is logged and
# kept in the run's error_detail for the operator.
SAVE_FAILED = "the run's progress could not be saved"


async def end_run_from_outside(
    conn: AsyncConnection, run: dict[str, Any], message: str, now: datetime,
    *, cancelled: bool = False, worker: str | None = None, detail: str | None = None,
) -> bool:
    """Fail a run that no worker is committing (deadline sweep, cancel), whoever holds its
    lease: the holder's own commit is guarded by the state and will find it changed.
    With ``worker``, only while that worker still holds it.

    False when the run left its state first."""
    values: dict[str, Any] = {
        "state": next_state(run["state"], "fail"),
        "checkpoint": {**(run["checkpoint"] or {}), "failed_in": run["state"]},
        "completed_at": now, "error_message": message, "lease_owner": None,
        "lease_expires_at": None, "next_run_at": None, "wait_reason": None,
        "error_detail": detail, "transitions": run["transitions"] + 1,
    }
    if cancelled:
        values["cancelled_at"] = now
    if not await run_store.update_guarded(conn, run["id"], expected_state=run["state"],
                                          worker=worker, values=values):
        return False
    description = "Run cancelled" if cancelled else "Run failed"
    await run_store.add_step(conn, run["id"], step_record("analyze", description, now,
                                                          error=message),
                             values["transitions"])
    return True


@dataclass
class Claim:
    """A leased run with what its steps read: the scout and its recent findings, loaded
    in the claim's transaction. ``held`` says whether this worker still holds the lease
    after the last transition (see `Runner.advance`'s ``hold``)."""

    execution: dict[str, Any]
    scout: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    held: bool = True


class LostRun(Exception):
    """The run changed under us (cancelled, or the lease was taken over): drop our work."""


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """How long a run waits after its services stayed busy ``attempts`` times in a row."""
    seconds = max(retry_after or 0.0, 15.0 * 2 ** min(attempts, 6))
    return min(timedelta(seconds=seconds), MAX_WAIT)


def days_ago(then: datetime, now: datetime) -> int:
    return max(0, (now - then).days)


class Runner:
    def __init__(
        self, db: Database, tools: Toolbox, notifier: Notifier, settings: Settings,
        worker_id: str, clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.tools = tools
        self.notifier = notifier
        self.settings = settings
        self.worker_id = worker_id
        self.clock = clock
        self.lease = timedelta(seconds=settings.run_lease_seconds)

    async def advance(self, claim: Claim, now: datetime, *, hold: bool = False) -> str:
        """Run one transition of a run this worker has leased; returns what happened.

        With ``hold`` the commit keeps the lease when the run can go straight on, so a
        worker drives a run through several transitions without claiming it again; each
        transition is still its own committed transaction. ``claim`` is updated to the
        committed row."""
        execution = claim.execution
        ctx = StepContext(
            execution=execution, scout=claim.scout, tools=self.tools, now=now,
            embedding_dim=self.settings.embedding_dim,
            earlier_findings=[(f["summary_text"], days_ago(f["completed_at"], now))
                              for f in claim.findings],
        )
        claim.held = False
        heartbeat = asyncio.create_task(self._keep_lease(execution["id"]))
        try:
            outcome = await self._run_step(ctx)
        except ServiceBusy as exc:
            return await self._postpone(execution, exc)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        try:
            claim.held = await self.commit(execution, claim.scout, outcome, now, hold=hold)
        except LostRun:
            log.info("run %s changed while worker %s advanced it; work dropped",
                     execution["id"], self.worker_id)
            return "lost"
        except Exception as exc:
            # Keeping the lease would leave the run idle until it lapses, then redo the
            # step and fail the same way, lease after lease, until the deadline.
            log.exception("saving step %s of run %s failed", execution["state"],
                          execution["id"])
            return await self._commit_failed(execution, claim.scout, exc)
        return outcome.trigger

    async def release(self, claim: Claim) -> None:
        """Give back a lease this worker holds between transitions (on shutdown)."""
        if not claim.held:
            return
        claim.held = False
        execution = claim.execution
        async with self.db.transaction() as conn:
            await run_store.update_guarded(
                conn, execution["id"], expected_state=execution["state"],
                worker=self.worker_id, values={"lease_owner": None, "lease_expires_at": None})

    async def _run_step(self, ctx: StepContext) -> Outcome:
        state = ctx.execution["state"]
        checkpoint = ctx.execution["checkpoint"] or {}
        if ctx.execution["engine_version"] != ENGINE_VERSION:
            return failure(checkpoint, f"started by engine version "
                           f"{ctx.execution['engine_version']}, this worker runs "
                           f"{ENGINE_VERSION}; resume it to restart it", ctx.now, state)
        try:
            return await STEPS[state](ctx)
        except ServiceBusy:
            raise
        except ServiceError as exc:
            return failure(checkpoint, str(exc), ctx.now, state)
        except Exception as exc:  # a bug must not leave the run spinning forever
            log.exception("step %s of run %s crashed", state, ctx.execution["id"])
            return failure(checkpoint, f"internal error in {state}: {type(exc).__name__}",
                           ctx.now, state)

    async def _keep_lease(self, execution_id: uuid.UUID) -> None:
        """Refresh the lease while a slow step runs, so no one takes the run over."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.db.transaction() as conn:
                alive = await run_store.extend_lease(
                    conn, execution_id, self.worker_id, self.clock() + self.lease)
            if not alive:
                return

    async def _postpone(self, execution: dict[str, Any], exc: ServiceBusy) -> str:
        # Counted from when the step gave up, not from the tick's start: a step that hung
        # for minutes would otherwise get a retry time already in the past.
        gave_up = self.clock()
        attempts = execution["attempts"] + 1
        wait = backoff(attempts - 1, exc.retry_after)
        values = {
            "attempts": attempts,
            "next_run_at": gave_up + wait,
            "wait_reason": clean_text(service_wait_reason(exc.service, exc.hint,
                                                          exc.retry_after is not None)),
            "error_detail": clean_text(f"{exc} (worker {self.worker_id})")[:2000],
            "lease_owner": None,
            "lease_expires_at": None,
        }
        async with self.db.transaction() as conn:
            await run_store.update_guarded(conn, execution["id"], expected_state=execution["state"],
                                           worker=self.worker_id, values=values)
        log.info("run %s waits %s: %s", execution["id"], wait, exc)
        return "waiting"

    async def _commit_failed(
        self, execution: dict[str, Any], scout: dict[str, Any], exc: Exception
    ) -> str:
        """Release the run and record why. A database that is away or busy heals, so the
        run waits and retries; anything else would fail the same way again, so the run
        fails now instead of spinning until its deadline."""
        now = self.clock()
        detail = clean_text(f"saving the {execution['state']} step failed: "
                            f"{type(exc).__name__}: {exc} (worker {self.worker_id})")[:2000]
        try:
            async with self.db.transaction() as conn:
                if _heals_by_itself(exc):
                    attempts = execution["attempts"] + 1
                    await run_store.update_guarded(
                        conn, execution["id"], expected_state=execution["state"],
                        worker=self.worker_id, values={
                            "attempts": attempts,
                            "next_run_at": now + backoff(attempts - 1, None),
                            "wait_reason": SAVE_FAILED,
                            "error_detail": detail, "lease_owner": None,
                            "lease_expires_at": None,
                        })
                    return "waiting"
                if await end_run_from_outside(conn, execution, SAVE_FAILED, now,
                                              worker=self.worker_id, detail=detail):
                    await self.record_failure(conn, scout, SAVE_FAILED, now)
        except Exception:
            # The database is unreachable even for this; the lease lapses on its own.
            log.exception("could not record the failed save of run %s", execution["id"])
            return "error"
        return "fail"

    async def commit(
        self, execution: dict[str, Any], scout: dict[str, Any], outcome: Outcome, now: datetime,
        *, hold: bool = False,
    ) -> bool:
        """New state + checkpoint + history row (+ results, bookkeeping, emails): one
        transaction, or nothing. ``execution`` is updated to what was committed; True when
        the lease was kept (``hold`` and the run is still working)."""
        new_state = next_state(execution["state"], outcome.trigger)
        keep = hold and new_state in WORKING_STATES
        values: dict[str, Any] = {
            "state": new_state,
            "checkpoint": outcome.checkpoint,
            "transitions": execution["transitions"] + 1,
            "attempts": 0,
            "next_run_at": None,
            "wait_reason": None,
            "error_detail": None,
            "lease_owner": self.worker_id if keep else None,
            "lease_expires_at": self.clock() + self.lease if keep else None,
        }
        # The step began with the tick; it ends now, after its calls to the services.
        step = {**outcome.step, "completed_at": max(now, self.clock())}
        if new_state in WORKING_STATES and self.db.dialect == "postgresql":
            # Nothing but the run and its history changes: one statement is the whole
            # transaction, and it cleans the services' text itself while encoding it
            # (see run_store.advance_working). It goes through the driver, so a pooled
            # connection on which SQLAlchemy began nothing runs it in autocommit, and the
            # worker needs no second pool of connections.
            async with self.db.engine.connect() as conn:
                stored = await run_store.advance_working(
                    conn, execution["id"], expected_state=execution["state"],
                    worker=self.worker_id, values=values, step=step, now=utcnow())
            if stored is None:
                raise LostRun(execution["id"])
            for listener in self.db.on_announce:
                listener()
            execution.update(stored)
            return keep
        outcome = _storable(outcome)
        values["checkpoint"] = outcome.checkpoint
        step = {**outcome.step, "completed_at": step["completed_at"]}
        notify = False
        async with self.db.transaction() as conn:
            if new_state == "done":
                results, notify = await self._results(conn, execution, scout, outcome, now)
                values.update(results)
            elif new_state == "failed":
                values.update(completed_at=now, error_message=outcome.error)
            if not await run_store.update_guarded(
                conn, execution["id"], expected_state=execution["state"],
                worker=self.worker_id, values=values,
            ):
                raise LostRun(execution["id"])
            await run_store.add_step(conn, execution["id"], step, values["transitions"])
            if new_state == "done":
                await run_store.record_scout_success(conn, scout["id"], now)
                if notify:
                    await self.notifier.findings(conn, scout, execution["id"],
                                                 values["results_summary"]["response"], now)
            elif new_state == "failed":
                await self.record_failure(conn, scout, outcome.error or "failed", now)
        execution.update(values)
        return keep

    async def _results(
        self, conn: AsyncConnection, execution: dict[str, Any], scout: dict[str, Any],
        outcome: Outcome, now: datetime,
    ) -> tuple[dict[str, Any], bool]:
        """What a finished run stores, and whether its owner gets an email."""
        assert outcome.answer is not None
        answer = dict(outcome.answer)
        duplicate = False
        if outcome.embedding is not None:
            nearest = await most_similar(conn, scout["id"], outcome.embedding, k=1,
                                         exclude=execution["id"])
            if nearest and nearest[0].similarity >= DUPLICATE_SIMILARITY:
                duplicate = True
                answer["response"] += (
                    "\n\n_Already reported: this matches an earlier finding "
                    f"(\u201c{nearest[0].summary_text}\u201d), so no email was sent._"
                )
        values = {
            "completed_at": now,
            "results_summary": answer,
            "summary_text": outcome.summary,
            "summary_embedding": outcome.embedding,
            "is_duplicate": duplicate,
        }
        return values, answer["taskCompleted"] and not duplicate

    async def record_failure(
        self, conn: AsyncConnection, scout: dict[str, Any], error: str, now: datetime
    ) -> None:
        disabled = await run_store.record_scout_failure(conn, scout["id"], now,
                                                        DISABLE_AFTER_FAILURES)
        if disabled:
            log.warning("scout %s deactivated after %d failed runs", scout["id"],
                        DISABLE_AFTER_FAILURES)
            await self.notifier.scout_disabled(conn, scout, error, now)


def _storable(outcome: Outcome) -> Outcome:
    """The outcome with every text the services produced made safe for the database."""
    return replace(
        outcome, checkpoint=clean(outcome.checkpoint), step=clean(outcome.step),
        error=clean(outcome.error), answer=clean(outcome.answer),
        summary=clean(outcome.summary),
    )


def _heals_by_itself(exc: Exception) -> bool:
    """A lost connection or a locked database, as opposed to data the database refuses."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, OSError,
                            TimeoutError))
