"""Soak: the API and N worker processes on embedded PostgreSQL, workers killed at random.

    .venv/bin/python -m bench.soak --workers 3 --runs 200             # no kills
    .venv/bin/python -m bench.soak --workers 3 --runs 200 --kills 30  # SIGKILL 30 times

Everything runs as real processes: `scouts serve`, N `scouts worker`, the fake Ollama,
SearXNG and Crawl4AI (`python -m tests.fakes.serve`); the SMTP sink listens in this process.
Owners sign up and start their scouts through the API; while the runs go, a worker is
killed with SIGKILL every so often and a fresh one takes its place. The leases and claims
are a few seconds long (via their settings) so the dead worker's runs and emails are taken
over quickly.

Printed at the end: runs started / terminal / stuck, duplicated and missing step numbers,
emails per finding (min/max, counted by Message-ID at the SMTP sink) and the API's 5xx
answers. Right after each kill the soak looks for emails the dead worker had claimed but
not marked sent although the SMTP sink already holds them: those were killed inside the
send window (between the server's "250 OK" and the commit of "sent"), the one way the
outbox may send a row twice. Every repeated email is checked against that list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from bench.common import DENVER_SCOUT, EMBEDDING_DIM, ROOT, database, free_port
from engine.db import Database
from engine.tables import notifications, scout_execution_steps, scout_executions
from tests.fakes.smtp_sink import SmtpSink

SCOUTS_PER_OWNER = 20
TERMINAL = ("done", "failed")



@dataclass
class SoakReport:
    workers: int
    runs_requested: int
    kills: int = 0
    runs_started: int = 0
    terminal: int = 0
    done: int = 0
    failed: int = 0
    stuck: int = 0
    lost: int = 0  # started through the API but no run in the database
    duplicated_steps: int = 0
    missing_steps: int = 0
    steps_not_transitions: int = 0
    findings: int = 0
    emails_min: int = 0
    emails_max: int = 0
    repeated_emails: int = 0
    kills_in_send_window: int = 0
    repeats_from_those_kills: int = 0
    unknown_emails: int = 0
    server_errors: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"workers {self.workers}, runs {self.runs_requested}, SIGKILLs {self.kills}, "
            f"{self.seconds:.0f} s",
            f"runs started {self.runs_started} / terminal {self.terminal} "
            f"(done {self.done}, failed {self.failed}) / stuck {self.stuck} / lost {self.lost}",
            f"step numbers duplicated {self.duplicated_steps}, missing {self.missing_steps}; "
            f"runs whose steps != transitions {self.steps_not_transitions}",
            f"findings {self.findings}: emails per finding min {self.emails_min} "
            f"max {self.emails_max}; repeated {self.repeated_emails}, of them after a kill "
            f"inside the send window {self.repeats_from_those_kills} "
            f"(kills inside it: {self.kills_in_send_window}); "
            f"emails for no finding {self.unknown_emails}",
            f"API 5xx answers {self.server_errors}",
            *(f"failed run: {reason}" for reason in self.failures[:5]),
        ]




class Fleet:
    """The child processes, started and stopped together."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self._count = 0

    def _start(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the child
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def scouts(self, *args: str) -> list[str]:
        return [str(Path(sys.executable).with_name("scouts")), *args]

    def start_worker(self) -> None:
        self._count += 1
        self.workers.append(self._start(self.scouts("worker"), f"worker-{self._count}",
                                        self.env))

    def start_api(self) -> None:
        env = {**self.env, "SCHEDULER_ENABLED": "false"}
        self.others.append(self._start(self.scouts("serve", "--no-migrate"), "api", env))

    def kill_a_worker(self, rng: random.Random) -> int:
        victim = self.workers.pop(rng.randrange(len(self.workers)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.start_worker()
        return victim.pid

    def stop(self) -> None:
        children = self.workers + self.others
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def start_fakes(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    port_file = workdir / "fakes.json"
    fakes = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.serve", "--port-file", str(port_file),
         "--chunk-delay", "0", "--embed-dim", str(EMBEDDING_DIM)],
        cwd=ROOT, stdout=open(workdir / "fakes.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if fakes.poll() is not None or time.monotonic() > deadline:
            fakes.kill()
            raise RuntimeError(f"the fakes did not start; see {workdir / 'fakes.log'}")
        time.sleep(0.05)
    return fakes, json.loads(port_file.read_text())


class Api:
    """An HTTP client that counts the server's 5xx answers."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.server_errors = 0

    async def call(self, method: str, path: str, token: str | None = None,
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, self.base + path, json=body,
                                        headers=headers) as resp:
            if resp.status >= 500:
                self.server_errors += 1
            data = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, data

    async def wait_ready(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                status, _ = await self.call("GET", "/api/health")
                if status == 200:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("the API did not start")


async def start_runs(api: Api, runs: int) -> tuple[int, list[tuple[str, str]]]:
    """Sign owners up, give each up to SCOUTS_PER_OWNER scouts and start every scout once.
    Returns the runs the API accepted and (token, execution id) pairs to watch."""
    gate = asyncio.Semaphore(8)
    started: list[tuple[str, str]] = []

    async def one_owner(index: int, count: int) -> None:
        async with gate:
            status, session = await api.call(
                "POST", "/api/auth/signup",
                body={"email": f"soak{index}@example.com", "password": "soak-password-1"})
            assert status == 201, session
        token = session["access_token"]
        for _ in range(count):
            async with gate:
                status, body = await api.call("POST", "/api/scouts", token, DENVER_SCOUT)
                assert status == 201, body
                status, body = await api.call("POST", f"/api/scouts/{body['scout']['id']}/run",
                                              token)
            if status == 202:
                started.append((token, body["execution"]["id"]))

    owners = -(-runs // SCOUTS_PER_OWNER)
    await asyncio.gather(*(one_owner(i, min(SCOUTS_PER_OWNER, runs - i * SCOUTS_PER_OWNER))
                           for i in range(owners)))
    return len(started), started


async def in_flight(db: Database) -> tuple[int, int]:
    """Runs not yet terminal, and emails not yet sent."""
    async with db.read() as conn:
        runs = (await conn.execute(sa.select(sa.func.count()).where(
            scout_executions.c.state.not_in(TERMINAL)))).scalar_one()
        emails = (await conn.execute(sa.select(sa.func.count()).where(
            notifications.c.sent_at.is_(None)))).scalar_one()
    return int(runs), int(emails)


async def caught_in_send_window(db: Database, pid: int, sink: ArrivalLog) -> set[str]:
    """Message-IDs the killed worker had claimed and not marked sent, yet delivered."""
    async with db.read() as conn:
        claimed = (await conn.execute(sa.select(notifications.c.message_id).where(
            notifications.c.sent_at.is_(None),
            notifications.c.claimed_by.like(f"%:{pid}:%")))).scalars().all()
    return {message_id for message_id in claimed if message_id in sink.arrivals}


async def collect(db: Database, report: SoakReport, started: list[tuple[str, str]],
                  sink: SmtpSink, in_window: set[str]) -> None:
    async with db.read() as conn:
        runs = (await conn.execute(sa.select(scout_executions))).mappings().all()
        steps = (await conn.execute(sa.select(
            scout_execution_steps.c.execution_id, scout_execution_steps.c.step_number)
        )).all()
        mails = (await conn.execute(sa.select(
            notifications.c.execution_id, notifications.c.message_id,
            notifications.c.kind))).all()
    by_id = {str(r["id"]): r for r in runs}
    report.lost = sum(1 for _, execution_id in started if execution_id not in by_id)
    report.terminal = sum(1 for r in runs if r["state"] in TERMINAL)
    report.done = sum(1 for r in runs if r["state"] == "done")
    report.failed = sum(1 for r in runs if r["state"] == "failed")
    report.stuck = len(runs) - report.terminal
    report.failures = [str(r["error_message"]) for r in runs if r["state"] == "failed"]
    numbers: dict[str, list[int]] = {}
    for execution_id, number in steps:
        numbers.setdefault(str(execution_id), []).append(number)
    for r in runs:
        seen = numbers.get(str(r["id"]), [])
        report.duplicated_steps += len(seen) - len(set(seen))
        report.missing_steps += len(set(range(1, max(seen, default=0) + 1)) - set(seen))
        report.steps_not_transitions += len(seen) != r["transitions"]

    received = Counter(str(m["Message-ID"]) for m in sink.messages)
    finding_ids = {str(m.message_id) for m in mails if m.kind == "findings"}
    findings = [r for r in runs if r["state"] == "done" and not r["is_duplicate"]
                and (r["results_summary"] or {}).get("taskCompleted")]
    message_of = {str(m.execution_id): str(m.message_id) for m in mails
                  if m.kind == "findings"}
    per_finding = [received.get(message_of.get(str(r["id"]), ""), 0) for r in findings]
    report.findings = len(findings)
    report.emails_min = min(per_finding, default=0)
    report.emails_max = max(per_finding, default=0)
    repeats = {mid: n for mid, n in received.items() if n > 1}
    report.repeated_emails = sum(n - 1 for n in repeats.values())
    report.kills_in_send_window = len(in_window)
    report.repeats_from_those_kills = sum(n - 1 for mid, n in repeats.items()
                                          if mid in in_window)
    report.unknown_emails = sum(n for mid, n in received.items() if mid not in finding_ids)


class ArrivalLog(SmtpSink):
    """The sink, also noting when each Message-ID arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: dict[str, list[float]] = {}

    def _add(self, delivery: Any) -> None:
        super()._add(delivery)
        self.arrivals.setdefault(str(delivery.message["Message-ID"]), []).append(time.time())


async def soak(database_url: str, *, workers: int, runs: int, kills: int = 0,
               kill_every: float = 1.0, seed: int = 1, give_up_after: float = 600,
               workdir: Path | None = None) -> SoakReport:
    """Run the soak against an empty, migrated PostgreSQL database."""
    rng = random.Random(seed)
    report = SoakReport(workers=workers, runs_requested=runs)
    began = time.monotonic()
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="soak-")
        workdir = Path(own_tmp.name)
    sink = ArrivalLog()
    sink.start()
    fakes, urls = start_fakes(workdir)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url, "APP_ENV": "development", "API_HOST": "127.0.0.1",
        "API_PORT": str(port), "JWT_SECRET": "soak-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM), "OLLAMA_URL": urls["ollama"],
        "OLLAMA_CHAT_MODEL": "qwen2.5:7b", "OLLAMA_EMBED_MODEL": "nomic-embed-text",
        "SEARXNG_URL": urls["searxng"], "CRAWL4AI_URL": urls["crawl4ai"],
        "CRAWL4AI_TOKEN": urls["crawl4ai_token"], "SCRAPE_ALLOW_HOSTS": "127.0.0.1",
        "SMTP_URL": sink.url, "MAIL_FROM": "Scouts <scouts@soak.test>",
        "TICK_SECONDS": "1", "RUN_LEASE_SECONDS": "4", "MAIL_CLAIM_SECONDS": "4",
        "WORKER_CONCURRENCY": "4", "LOG_LEVEL": "WARNING",
    }
    fleet = Fleet(workdir, env)
    db = Database(database_url)
    kills_done = 0
    in_window: set[str] = set()
    try:
        fleet.start_api()
        async with aiohttp.ClientSession() as session:
            api = Api(session, f"http://127.0.0.1:{port}")
            await api.wait_ready()
            for _ in range(workers):
                fleet.start_worker()
            report.runs_started, started = await start_runs(api, runs)
            next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * kill_every
            deadline = time.monotonic() + give_up_after
            while time.monotonic() < deadline:
                if kills > kills_done and time.monotonic() >= next_kill:
                    pid = fleet.kill_a_worker(rng)
                    kills_done += 1
                    in_window |= await caught_in_send_window(db, pid, sink)
                    next_kill = time.monotonic() + rng.uniform(0.5, 1.5) * kill_every
                # Owners watch their runs meanwhile, as the page does.
                for token, execution_id in rng.sample(started, min(3, len(started))):
                    await api.call("GET", f"/api/executions/{execution_id}", token)
                runs_left, emails_left = await in_flight(db)
                if runs_left == 0 and emails_left == 0:
                    break
                await asyncio.sleep(0.3)
            # A worker killed inside the send window repeats the email after the claim.
            await asyncio.sleep(1.0)
            report.server_errors = api.server_errors
        report.kills = kills_done
        await collect(db, report, started, sink, in_window)
    finally:
        await db.close()
        fleet.stop()
        fakes.send_signal(signal.SIGTERM)
        try:
            fakes.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fakes.kill()
            fakes.wait()
        sink.stop()
        if own_tmp is not None:
            own_tmp.cleanup()
    report.seconds = time.monotonic() - began
    return report


async def main_async(args: argparse.Namespace) -> SoakReport:
    async with database("postgresql") as url:
        return await soak(url, workers=args.workers, runs=args.runs, kills=args.kills,
                          kill_every=args.kill_every, seed=args.seed,
                          give_up_after=args.timeout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=0, help="SIGKILLs to deal out")
    parser.add_argument("--kill-every", type=float, default=1.0,
                        help="mean seconds between kills")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    report = asyncio.run(main_async(args))
    print(json.dumps(asdict(report), indent=2) if args.json else "\n".join(report.lines()))


if __name__ == "__main__":
    main()
