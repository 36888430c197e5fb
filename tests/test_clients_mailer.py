"""Mailer against the SMTP sink, and the email renderers."""

from __future__ import annotations

import socket

import pytest

from engine.clients.errors import ServiceBusy, ServiceError
from engine.clients.mailer import (
    Mailer,
    parse_smtp_url,
    render_findings_email,
    render_markdown,
    render_scout_disabled_email,
)
from engine.clients.retry import RetryPolicy
from tests.fakes.fixtures import smtp_sink  # noqa: F401

FAST = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.01, jitter=0.001)
REPORT = """## Two new ramen shops in Denver

Both opened this week.

- **Menya** on Colfax, opened Nov 20 ([source](https://eater.example/menya))
- <script>alert("x")</script> Tokyo Joe's, opened Nov 22
"""
SCOUT_URL = "http://localhost:3000/scout/4b7c"


def test_findings_email_renders_markdown_escapes_html_and_links_the_scout():
    email = render_findings_email("Denver ramen", REPORT, SCOUT_URL)
    assert email.subject == "New findings: Denver ramen"
    assert "<h2>Two new ramen shops in Denver</h2>" in email.html
    assert '<a href="https://eater.example/menya">source</a>' in email.html
    assert f'href="{SCOUT_URL}"' in email.html
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert SCOUT_URL in email.text and "Menya" in email.text


def test_unsafe_link_targets_are_dropped():
    email = render_findings_email("t", "[click](javascript:alert(1))", SCOUT_URL)
    assert "javascript:" not in email.html
    assert "click" in email.html


def test_subject_cannot_carry_extra_headers():
    email = render_findings_email("Evil\r\nBcc: victim@example.com", "x", SCOUT_URL)
    assert "\n" not in email.subject and "\r" not in email.subject


def test_disabled_email_names_the_error_and_escapes_it():
    email = render_scout_disabled_email("AI tools", "Ollama <timeout> after 60 s", SCOUT_URL)
    assert email.subject == "Scout paused: AI tools"
    assert "Ollama &lt;timeout&gt; after 60 s" in email.html
    assert "Ollama <timeout> after 60 s" in email.text
    assert f'href="{SCOUT_URL}"' in email.html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mailpit:1025", ("mailpit", 1025, None, None, False, False)),
        ("smtp://mail.example", ("mail.example", 25, None, None, False, False)),
        ("smtps://u%40x:p%3Ass@mail.example", ("mail.example", 465, "u@x", "p:ss", True, False)),
        ("smtp://u:p@mail.example:587?starttls=true", ("mail.example", 587, "u", "p", False, True)),
    ],
)
def test_parse_smtp_url(url, expected):
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.username, s.password, s.use_tls, s.start_tls) == expected


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtps://h?starttls=true"])
def test_parse_smtp_url_rejects_bad_urls(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)


def test_mailer_disabled_without_url():
    assert Mailer(None, "scouts@example.com").enabled is False
    assert Mailer("", "scouts@example.com").enabled is False
    assert Mailer("smtp://h:25", "scouts@example.com").enabled is True


async def test_send_findings_email_to_the_sink(smtp_sink):
    mailer = Mailer(smtp_sink.url, "Open Scouts <scouts@example.com>", retry=FAST)
    content = render_findings_email("Denver ramen", REPORT, SCOUT_URL)
    await mailer.send("owner@example.com", content.subject, content.text, content.html)

    assert len(smtp_sink.deliveries) == 1
    delivery = smtp_sink.deliveries[0]
    assert delivery.rcpt_tos == ["owner@example.com"]
    assert delivery.mail_from == "scouts@example.com"
    assert message_from_header(delivery) == "Open Scouts <scouts@example.com>"
    message = delivery.message
    assert message["Subject"] == "New findings: Denver ramen"
    assert message["To"] == "owner@example.com"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert f'href="{SCOUT_URL}"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert SCOUT_URL in text_part.get_content()


def message_from_header(delivery) -> str:  # type: ignore[no-untyped-def]
    return str(delivery.message["From"])


async def test_send_to_several_recipients(smtp_sink):
    mailer = Mailer(smtp_sink.url, "scouts@example.com", retry=FAST)
    await mailer.send(["a@example.com", "b@example.com"], "s", "t", "<p>t</p>")
    assert smtp_sink.deliveries[0].rcpt_tos == ["a@example.com", "b@example.com"]


async def test_unreachable_smtp_server_is_busy():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = Mailer(f"smtp://127.0.0.1:{port}", "scouts@example.com", timeout=2, retry=FAST)
    with pytest.raises(ServiceBusy):
        await mailer.send("owner@example.com", "s", "t", "<p>t</p>")


async def test_send_when_disabled_is_an_error():
    with pytest.raises(ServiceError):
        await Mailer(None, "scouts@example.com").send("a@example.com", "s", "t", "h")


def test_one_report_does_not_leak_into_the_next_email() -> None:
    """The converter is reused between emails: a link defined by reference in one report
    must not turn text in the next report into that link."""
    first = render_markdown("See [the source][src].\n\n[src]: https://example.com/first\n")
    assert 'href="https://example.com/first"' in first
    second = render_markdown("Nothing linked here: [the source][src].")
    assert "href" not in second
    assert render_markdown("# Title\n\n*one*") == render_markdown("# Title\n\n*one*")
