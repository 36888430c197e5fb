"""The soak in short: real `scouts serve` and `scouts worker` processes on PostgreSQL, two
workers, twenty runs, workers killed with SIGKILL while the runs go (bench/soak.py)."""

from __future__ import annotations

import asyncio

from bench.soak import soak
from engine import migrate
from tests.conftest import EMBEDDING_DIM, create_database


async def own_database(postgres_url: str) -> str:
    url = await create_database(postgres_url, "soak")
    await asyncio.to_thread(migrate.upgrade, url, EMBEDDING_DIM)
    return url


async def test_killed_workers_lose_no_run_and_repeat_no_step_or_email(postgres_url) -> None:
    url = await own_database(postgres_url)
    report = await soak(url, workers=2, runs=20, kills=3, kill_every=0.7,
                        give_up_after=120)
    summary = "\n".join(report.lines())
    assert report.kills >= 1, summary  # the runs outlasted at least one kill
    assert report.runs_started == 20 and report.lost == 0, summary
    assert report.terminal == 20 and report.stuck == 0 and report.done == 20, summary
    assert report.duplicated_steps == report.missing_steps == 0, summary
    assert report.steps_not_transitions == 0, summary
    assert report.findings == 20 and report.emails_min == 1, summary
    # Only a kill between the SMTP server's "250 OK" and the commit may repeat an email.
    assert report.repeated_emails == report.repeats_from_those_kills, summary
    assert report.unknown_emails == 0 and report.server_errors == 0, summary
