"""How long an email stays "accepted by the SMTP server but not recorded as sent".

    .venv/bin/python -m bench.send_window [--emails 200]

A worker killed inside that window sends the email again after its claim lapses. The SMTP
sink notes the moment it answers DATA with 250; the window ends when the commit of
`sent_at` returns. Measured for the outbox as built (`Notifier.send_due`) and for the way it
used to record a send (aiosmtplib.send, which waits for QUIT's reply, then a fresh
transaction), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import sqlalchemy as sa

from bench.common import database
from engine.clients.mailer import Mailer
from engine.db import Database
from engine.notify import Notifier
from engine.storage import outbox
from engine.storage.users import create_user
from engine.tables import notifications
from tests.fakes.smtp_sink import SmtpSink


class StampingSink(SmtpSink):
    """Notes when each message was accepted (just before the 250 goes out)."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: dict[str, float] = {}

    def _add(self, delivery: Any) -> None:
        super()._add(delivery)
        self.accepted[str(delivery.message["Message-ID"])] = time.perf_counter()


async def queue(db: Database, mailer: Mailer, count: int) -> None:
    notifier = Notifier(db, mailer, "http://scouts.test")
    now = notifier.clock()
    async with db.transaction() as conn:
        await conn.execute(sa.delete(notifications))
        user = await create_user(conn, f"u{time.time_ns()}@example.com", "x", now)
        assert user is not None
        for _ in range(count):
            await notifier._enqueue(conn, {"user_id": user["id"], "id": None}, None,
                                    "findings", _Content(), now)


class _Content:
    subject = "New findings"
    text = "Something happened."
    html = "<p>Something happened.</p>"


async def windows_now(db: Database, sink: StampingSink, count: int) -> list[float]:
    mailer = Mailer(sink.url, "Scouts <scouts@bench.test>")
    await queue(db, mailer, count)
    notifier = Notifier(db, mailer, "http://scouts.test", worker_id="bench")
    recorded: dict[str, float] = {}
    deliver = notifier._deliver

    async def timed(item: dict[str, Any], now: Any) -> bool:
        # Ends after the commit and the connection's return to the pool: a little late.
        delivered = await deliver(item, now)
        recorded[str(item["id"])] = time.perf_counter()
        return delivered

    notifier._deliver = timed  # type: ignore[method-assign]
    try:
        while await notifier.send_due(notifier.clock()):
            pass
    finally:
        await mailer.close()
    async with db.read() as conn:
        ids = dict((await conn.execute(sa.select(notifications.c.id,
                                                 notifications.c.message_id))).all())
    return [recorded[str(row_id)] - sink.accepted[mid] for row_id, mid in ids.items()]


async def windows_before(db: Database, sink: StampingSink, count: int) -> list[float]:
    mailer = Mailer(sink.url, "Scouts <scouts@bench.test>")
    await queue(db, mailer, count)
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(notifications))).mappings().all()
    windows = []
    for row in rows:
        message = EmailMessage()
        message["From"] = "scouts@bench.test"
        message["To"] = row["to_address"]
        message["Subject"] = row["subject"]
        message["Message-ID"] = row["message_id"]
        message.set_content(row["text_body"])
        await aiosmtplib.send(message, hostname=sink.host, port=sink.port)
        async with db.transaction() as conn:
            await outbox.mark_sent(conn, row["id"], row["created_at"])
        windows.append(time.perf_counter() - sink.accepted[row["message_id"]])
    return windows


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms (n={len(ms)})"


async def main_async(count: int) -> None:
    sink = StampingSink()
    sink.start()
    try:
        for kind in ("sqlite", "postgresql"):
            async with database(kind) as url:
                db = Database(url)
                try:
                    before = await windows_before(db, sink, count)
                    now = await windows_now(db, sink, count)
                finally:
                    await db.close()
            print(f"{kind:10s} before: {summary(before)}")
            print(f"{kind:10s} now:    {summary(now)}")
    finally:
        sink.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.emails))


if __name__ == "__main__":
    main()
