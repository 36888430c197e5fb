"""Small pieces of the hot paths: the transition table, bcrypt's own thread pool, JSON."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from api.jsonio import dumps
from engine.accounts import auth
from engine.runs.machine import STATES, TRANSITIONS, IllegalTransition, next_state


def test_every_declared_transition_and_nothing_else_is_legal() -> None:
    legal = {(src, trigger): dest for trigger, source, dest, _ in TRANSITIONS
             for src in ([source] if isinstance(source, str) else source)}
    triggers = {trigger for trigger, *_ in TRANSITIONS}
    for state in STATES:
        for trigger in triggers:
            if (state, trigger) in legal:
                assert next_state(state, trigger) == legal[(state, trigger)]
            else:
                with pytest.raises(IllegalTransition):
                    next_state(state, trigger)
    with pytest.raises(IllegalTransition):
        next_state("planning", "no_such_trigger")


async def test_bcrypt_never_takes_more_than_its_own_threads(monkeypatch) -> None:
    """Twenty logins at once hash at most BCRYPT_THREADS at a time, leaving the event loop
    a core (on the default executor they all ran at once)."""
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow_checkpw(password: bytes, hashed: bytes) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)  # stands in for the hash's CPU time, in a worker thread
        with lock:
            running -= 1
        return True

    monkeypatch.setattr(auth.bcrypt, "checkpw", slow_checkpw)
    hashed = auth._DUMMY_HASH
    results = await asyncio.gather(*(auth.verify_password("pw", hashed) for _ in range(20)))
    assert all(results)
    assert peak == auth.BCRYPT_THREADS


@pytest.mark.skipif(not hasattr(threading, "get_native_id") or not hasattr(os, "getpriority"),
                    reason="per-thread priorities are a Linux feature")
async def test_hashing_runs_at_a_lower_priority_than_the_event_loop() -> None:
    """On a busy machine the scheduler serves the event loop's thread before a login's
    hash, so other requests do not queue behind bcrypt."""
    seen: list[int] = []

    def nice_of_this_thread() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    await asyncio.get_running_loop().run_in_executor(auth._bcrypt_pool, nice_of_this_thread)
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen[0] > loop_nice or seen[0] == 19
    assert await auth.verify_password("pw", await auth.hash_password("pw", rounds=4))


def test_responses_encode_times_and_ids_as_before() -> None:
    when = datetime(2026, 3, 3, 12, 30, 5, 123456, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert dumps({"at": when, "id": ident, "whole": when.replace(microsecond=0)}) == (
        b'{"at":"2026-03-03T12:30:05.123456+00:00",'
        b'"id":"12345678-1234-5678-1234-567812345678","whole":"2026-03-03T12:30:05+00:00"}')


def test_is_complete_agrees_with_the_missing_fields_it_reports() -> None:
    import itertools

    from engine.validation import is_complete, missing_fields

    filled = {"title": "T", "goal": "G", "description": "D", "search_queries": ["q"],
              "frequency": "daily", "location": {"city": "Denver"}}
    empties: dict[str, list[object]] = {
        "title": [None, ""], "goal": [None, ""], "description": [None, ""],
        "search_queries": [None, []], "frequency": [None, ""],
        "location": [None, {}, {"city": ""}, {"latitude": 1.0}]}
    for mask in itertools.product((False, True), repeat=len(filled)):
        for pick in range(4):
            scout = {key: (value if keep else empties[key][pick % len(empties[key])])
                     for keep, (key, value) in zip(mask, filled.items(), strict=True)}
            assert is_complete(scout) == (not missing_fields(scout)), scout
    assert is_complete(filled) and not is_complete({})
