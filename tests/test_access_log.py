"""The access log line: what an operator needs, never a credential."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from api.access_log import QuickAccessLogger


def test_a_line_per_request_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access")
    access = QuickAccessLogger(logger, "")
    request = make_mocked_request(
        "GET", "/api/scouts?page=2",
        headers={"Authorization": "Bearer secret.jwt.value", "User-Agent": "curl/8",
                 "Cookie": "session=hunter2", "Referer": "https://x.test/reset?token=abc"})
    response = web.Response(status=200)
    with caplog.at_level(logging.INFO, logger="test.access"):
        assert access.enabled
        access.log(request, response, 0.0123)
    line = caplog.records[-1].getMessage()
    assert '"GET /api/scouts?page=2 HTTP/1.1" 200 ' in line  # size: what was sent
    assert line.endswith('"curl/8" 12.3ms')
    for secret in ("secret.jwt.value", "hunter2", "token=abc"):
        assert secret not in line


def test_nothing_is_formatted_below_info(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access.quiet")
    with caplog.at_level(logging.WARNING, logger="test.access.quiet"):
        assert not QuickAccessLogger(logger, "").enabled
