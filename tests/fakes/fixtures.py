"""pytest-asyncio fixtures for the fakes. Import the ones a test module needs:

from tests.fakes.fixtures import fake_ollama, http_session  # noqa: F401
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_searxng import FakeSearxng
from tests.fakes.smtp_sink import SmtpSink

CRAWL4AI_TOKEN = "test-token"


@pytest_asyncio.fixture
async def fake_ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        yield server


@pytest_asyncio.fixture
async def fake_searxng() -> AsyncIterator[FakeSearxng]:
    async with FakeSearxng() as server:
        yield server


@pytest_asyncio.fixture
async def fake_crawl4ai() -> AsyncIterator[FakeCrawl4AI]:
    async with FakeCrawl4AI(token=CRAWL4AI_TOKEN) as server:
        yield server


@pytest_asyncio.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    # Starting waits for the server thread; keep that off the event loop.
    await asyncio.to_thread(sink.start)
    try:
        yield sink
    finally:
        await asyncio.to_thread(sink.stop)


@pytest_asyncio.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
