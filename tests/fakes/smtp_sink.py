"""An SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that keeps every message.

with SmtpSink() as sink:
    ... send to sink.host:sink.port (or sink.url, "smtp://127.0.0.1:PORT") ...
    sink.messages[0]["Subject"]
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Collector:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._sink._add(Delivery(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    # aiosmtpd's Controller probes its port after starting, so it cannot take port 0.
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = _free_port(host)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._controller = Controller(_Collector(self), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [d.message for d in self.deliveries]

    def _add(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
