"""The demo's mail server: accepts mail over SMTP (RFC 5321) on 127.0.0.1 and keeps it.

``scripts/start --demo`` points ``SMTP_URL`` at it, so "Send a test email" and a run's
report email go through the real mailer and are caught here instead of being delivered;
each one is printed (subject and recipients) to the demo services' log. It needs only the
standard library, since the demo installs the project without its test extra (the tests
use ``smtp_sink.py``, on aiosmtpd).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@dataclass
class DemoMail:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    # As Mailpit does: an address such as "zoë@…" is taken. Off, it is a server that
    # refuses them.
    advertises_smtputf8: bool = True
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        reply("220 demo-mail ESMTP ready")
        recipients: list[str] = []
        try:
            while line := await reader.readline():
                verb = line.decode("utf-8", "replace").strip().split(" ", 1)[0].upper()
                if verb == "EHLO":
                    reply("250-demo-mail")
                    reply("250-8BITMIME")
                    if self.advertises_smtputf8:
                        reply("250-SMTPUTF8")
                    reply(f"250 SIZE {MAX_MESSAGE_BYTES}")
                elif verb == "HELO":
                    reply("250 demo-mail")
                elif verb == "MAIL":
                    recipients = []
                    reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(line.decode("utf-8", "replace").split(":", 1)[-1].strip(" <>\r\n"))
                    reply("250 OK")
                elif verb == "DATA":
                    if not recipients:
                        reply("503 RCPT first")
                        continue
                    reply("354 End data with <CR><LF>.<CR><LF>")
                    await writer.drain()
                    self._keep(await self._data(reader), recipients)
                    reply("250 OK: caught by the demo mail server")
                elif verb in ("RSET", "NOOP"):
                    recipients = [] if verb == "RSET" else recipients
                    reply("250 OK")
                elif verb == "QUIT":
                    reply("221 Bye")
                    break
                else:
                    reply("502 Command not implemented")
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _data(reader: asyncio.StreamReader) -> bytes:
        lines = []
        while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
            # A leading dot was doubled by the sender (RFC 5321 §4.5.2).
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _keep(self, raw: bytes, recipients: list[str]) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        print(f"demo mail caught: {message['Subject']!r} for {', '.join(recipients)}", flush=True)
