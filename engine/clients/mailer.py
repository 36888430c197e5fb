"""SMTP mail (aiosmtplib) and the two emails the engine sends.

``SMTP_URL`` forms: ``smtp://[user:pass@]host[:port]`` (plain, port 25),
``smtp://host:587?starttls=true`` (upgrade with STARTTLS), ``smtps://host[:port]``
(implicit TLS, port 465). Plain ``smtp://`` never upgrades on its own: a dev sink such as
Mailpit may offer STARTTLS with a self-signed certificate, and silently trying it would fail.
"""

from __future__ import annotations

import asyncio
import html as html_lib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree.ElementTree import Element

import aiosmtplib
import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from engine.clients.errors import ServiceError
from engine.clients.retry import DEFAULT_POLICY, RetryPolicy, TransientFailure, call_with_retry

SERVICE = "smtp"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool


def parse_smtp_url(url: str) -> SmtpSettings:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host")
    query = parse_qs(parts.query)
    start_tls = query.get("starttls", ["false"])[-1].lower() in _TRUE
    use_tls = scheme == "smtps"
    if use_tls and start_tls:
        raise ValueError("SMTP_URL cannot use both smtps:// and starttls=true")
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def _is_transient_smtp(exc: Exception) -> bool:
    if isinstance(
        exc,
        (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            ConnectionError,
            TimeoutError,
        ),
    ):
        return True
    # 4xx replies ("421 try again later", "451 local error") are temporary by definition.
    code = getattr(exc, "code", None)
    return isinstance(code, int) and 400 <= code < 500


class Mailer:
    def __init__(
        self,
        smtp_url: str | None,
        mail_from: str,
        timeout: float = 30,
        retry: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self._settings = parse_smtp_url(smtp_url) if smtp_url else None
        self._mail_from = mail_from
        self._timeout = timeout
        self._retry = retry
        self._quitting: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._settings is not None

    async def close(self) -> None:
        """Let the connections of sent messages finish saying goodbye."""
        if self._quitting:
            await asyncio.gather(*self._quitting, return_exceptions=True)

    @property
    def sender_domain(self) -> str:
        """The domain of MAIL_FROM, for Message-IDs."""
        address = parseaddr(self._mail_from)[1] or self._mail_from
        return address.rpartition("@")[2] or "localhost"

    def new_message_id(self) -> str:
        """A Message-ID for one outbox row: made once at enqueue, reused on every retry, so
        a repeated delivery is recognisable as the same message."""
        return make_msgid(domain=self.sender_domain)

    async def send(
        self, to: str | Sequence[str], subject: str, text: str, html: str,
        *, message_id: str | None = None,
    ) -> None:
        """Send a text + HTML alternative message. Check ``enabled`` first.

        Pass the same ``message_id`` on every retry of one email: receivers and their
        filters use it to recognise a repeat."""
        settings = self._settings
        if settings is None:
            raise ServiceError(SERVICE, "mail is off (SMTP_URL is empty)")
        recipients = [to] if isinstance(to, str) else list(to)
        message = EmailMessage()
        message["From"] = self._mail_from
        message["To"] = ", ".join(recipients)
        message["Subject"] = " ".join(subject.split())
        if message_id:
            message["Message-ID"] = message_id
        message.set_content(text)
        message.add_alternative(html, subtype="html")

        async def attempt() -> None:
            client = aiosmtplib.SMTP(
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                use_tls=settings.use_tls,
                start_tls=settings.start_tls,
                timeout=self._timeout,
            )
            try:
                await client.connect()
                await client.send_message(
                    message,
                    sender=parseaddr(self._mail_from)[1] or self._mail_from,
                    recipients=recipients,
                )
            except (aiosmtplib.SMTPException, OSError) as exc:
                client.close()
                detail = f"{type(exc).__name__}: {exc}"
                if _is_transient_smtp(exc):
                    raise TransientFailure(f"SMTP server not reachable: {detail}") from exc
                raise ServiceError(SERVICE, f"SMTP server refused the mail: {detail}") from exc
            # The server took the message with its "250" to DATA. QUIT's answer is awaited
            # in the background: the caller records "sent" one round trip sooner, and a
            # crash in that round trip would otherwise send the email a second time.
            quitting = asyncio.create_task(_quit(client))
            self._quitting.add(quitting)
            quitting.add_done_callback(self._quitting.discard)

        await call_with_retry(SERVICE, attempt, self._retry)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        pass  # the message was accepted already; a rude goodbye loses nothing
    finally:
        client.close()


# ---- rendering -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


_SAFE_SCHEMES = ("http://", "https://", "mailto:")


class _DropUnsafeLinks(Treeprocessor):
    """Remove link/image targets with schemes such as ``javascript:``."""

    def run(self, root: Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is not None and not value.strip().lower().startswith(_SAFE_SCHEMES):
                    del element.attrib[attribute]


class _UntrustedMarkdown(Extension):
    """Treat raw HTML in the markdown as text: the report is model output."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_DropUnsafeLinks(md), "drop_unsafe_links", 0)


# Building a Markdown converter (its parser and extensions) cost a worker more CPU than
# converting a report, so each thread keeps one and resets it between documents.
_converters = threading.local()


def render_markdown(text: str) -> str:
    """Markdown to HTML with raw HTML escaped and only http(s)/mailto links kept."""
    converter: markdown.Markdown | None = getattr(_converters, "md", None)
    if converter is None:
        converter = markdown.Markdown(extensions=[_UntrustedMarkdown()], output_format="html")
        _converters.md = converter
    return converter.reset().convert(text)


def _one_line(text: str, limit: int = 120) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _page(title: str, body_html: str, scout_url: str, link_text: str) -> str:
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif;max-width:640px;'
        'margin:0 auto;line-height:1.5">'
        f'<p style="color:#666;font-size:13px">{html_lib.escape(title)}</p>'
        f"{body_html}"
        f'<p><a href="{html_lib.escape(scout_url, quote=True)}">'
        f"{html_lib.escape(link_text)}</a></p>"
        '<p style="color:#999;font-size:12px">Sent by Open Scouts.</p>'
        "</body></html>"
    )


def render_findings_email(scout_title: str, report_markdown: str, scout_url: str) -> EmailContent:
    title = _one_line(scout_title)
    subject = f"New findings: {title}"
    text = f"{report_markdown.strip()}\n\nOpen the scout: {scout_url}\n"
    body = _page(f"Scout: {title}", render_markdown(report_markdown), scout_url, "Open the scout")
    return EmailContent(subject, text, body)


def render_scout_disabled_email(scout_title: str, last_error: str, scout_url: str) -> EmailContent:
    title = _one_line(scout_title)
    subject = f"Scout paused: {title}"
    explanation = (
        f'Your scout "{title}" failed three runs in a row, so it has been turned off. '
        "Check its settings and turn it back on when you are ready."
    )
    error_line = _one_line(last_error, 500) or "unknown error"
    text = f"{explanation}\n\nLast error: {error_line}\n\nOpen the scout: {scout_url}\n"
    body_html = (
        f"<p>{html_lib.escape(explanation)}</p>"
        f"<p><strong>Last error:</strong> {html_lib.escape(error_line)}</p>"
    )
    return EmailContent(
        subject, text, _page(f"Scout: {title}", body_html, scout_url, "Open the scout")
    )
