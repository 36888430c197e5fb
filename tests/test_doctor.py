"""`scouts doctor` and GET /api/health?deep=1 against the fakes: one line per service,
the fix when something is wrong, exit code 1, and no secrets."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from engine.config import Settings
from engine.ops.doctor import Doctor, Report
from tests.fakes.fake_crawl4ai import FakeCrawl4AI
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_searxng import FakeSearxng, result
from tests.fakes.fixtures import CRAWL4AI_TOKEN, smtp_sink  # noqa: F401
from tests.fakes.smtp_sink import SmtpSink
from tests.support import signup

ROOT = Path(__file__).resolve().parent.parent
DIM = 8


class Stack:
    def __init__(self, ollama: FakeOllama, searxng: FakeSearxng, crawl4ai: FakeCrawl4AI,
                 smtp: SmtpSink) -> None:
        self.ollama, self.searxng, self.crawl4ai, self.smtp = ollama, searxng, crawl4ai, smtp

    def env(self) -> dict[str, str]:
        return {
            "APP_ENV": "test",
            "OLLAMA_URL": self.ollama.url,
            "EMBEDDING_DIM": str(DIM),
            "SEARXNG_URL": self.searxng.url,
            "CRAWL4AI_URL": self.crawl4ai.url,
            "CRAWL4AI_TOKEN": CRAWL4AI_TOKEN,
            "SMTP_URL": f"smtp://mailer:hunter2-secret@127.0.0.1:{self.smtp.port}",
        }

    def settings(self) -> Settings:
        return Settings.from_env(self.env())


@pytest_asyncio.fixture
async def stack(smtp_sink: SmtpSink) -> AsyncIterator[Stack]:  # noqa: F811
    async with FakeOllama(embed_dim=DIM) as ollama, FakeSearxng() as searxng, \
            FakeCrawl4AI(token=CRAWL4AI_TOKEN) as crawl4ai:
        searxng.set_default(result("https://weather.example/", "Weather"))
        yield Stack(ollama, searxng, crawl4ai, smtp_sink)


async def report_for(settings: Settings) -> Report:
    async with aiohttp.ClientSession() as session:
        return await Doctor(settings, session).report(fresh=True)


def by_name(report: Report) -> dict[str, str]:
    return {c.name: c.line() for c in report.checks}


async def test_everything_ready(stack: Stack) -> None:
    report = await report_for(stack.settings())
    assert report.ok, report.lines()
    assert [c.name for c in report.checks] == ["ollama", "embedding", "searxng", "crawl4ai",
                                               "smtp"]
    assert stack.searxng.requests[0]["format"] == "json"


async def test_ollama_down_names_the_setting(stack: Stack) -> None:
    settings = replace(stack.settings(), ollama_url="http://127.0.0.1:9")
    report = await report_for(settings)
    assert not report.ok
    assert "FAIL  ollama" in by_name(report)["ollama"] and "OLLAMA_URL" in by_name(report)["ollama"]
    assert "embedding" not in by_name(report)


async def test_missing_models_say_what_to_pull(stack: Stack) -> None:
    stack.ollama.models = {"nomic-embed-text:latest"}
    line = by_name(await report_for(stack.settings()))["ollama"]
    assert "`ollama pull qwen2.5:7b`" in line and "nomic" not in line.split("fix:")[1]


async def test_wrong_embedding_dimension_gives_the_right_value(stack: Stack) -> None:
    settings = replace(stack.settings(), embedding_dim=768)
    line = by_name(await report_for(settings))["embedding"]
    assert line.startswith("FAIL") and "EMBEDDING_DIM=8" in line and "scouts reembed" in line


async def test_searxng_with_every_engine_failing(stack: Stack) -> None:
    stack.searxng.engines_failing(("google", "timeout"), ("bing", "Suspended: CAPTCHA"))
    line = by_name(await report_for(stack.settings()))["searxng"]
    assert line.startswith("FAIL") and "bing (suspended), google (timeout)" in line


async def test_searxng_without_json_format(stack: Stack) -> None:
    stack.searxng.json_enabled = False
    line = by_name(await report_for(stack.settings()))["searxng"]
    assert line.startswith("FAIL") and "formats: [html, json]" in line


async def test_crawl4ai_wrong_token_and_down(stack: Stack) -> None:
    settings = replace(stack.settings(), crawl4ai_token="wrong")
    line = by_name(await report_for(settings))["crawl4ai"]
    assert line.startswith("FAIL") and "HTTP 401" in line and "CRAWL4AI_TOKEN" in line
    assert stack.crawl4ai.crawled_urls == []  # checking the token fetched nothing

    stack.crawl4ai.health_status = 503
    line = by_name(await report_for(stack.settings()))["crawl4ai"]
    assert line.startswith("FAIL") and "/health answered HTTP 503" in line


async def test_smtp_down_and_off(stack: Stack) -> None:
    settings = replace(stack.settings(), smtp_url="smtp://mailer:hunter2-secret@127.0.0.1:9")
    report = await report_for(settings)
    assert by_name(report)["smtp"].startswith("FAIL")
    assert "hunter2" not in "\n".join(report.lines())
    report = await report_for(replace(stack.settings(), smtp_url=""))
    assert by_name(report)["smtp"].startswith("ok") and "mail is off" in by_name(report)["smtp"]


async def run_doctor(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "doctor", cwd=ROOT,
        env={**os.environ, **env, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_the_command_prints_a_line_per_service_and_exits_1_when_one_is_down(
    stack: Stack,
) -> None:
    code, out = await run_doctor(stack.env())
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line.split()[1] for line in lines[:-1]] == ["ollama", "embedding", "searxng",
                                                        "crawl4ai", "smtp"]
    assert lines[-1] == "all services ready"

    await stack.crawl4ai.stop()
    code, out = await run_doctor(stack.env())
    assert code == 1
    assert "FAIL  crawl4ai   not reachable" in out and "CRAWL4AI_URL" in out
    for secret in (CRAWL4AI_TOKEN, "hunter2-secret"):
        assert secret not in out


@pytest.fixture
async def deep_client(stack: Stack, database_url: str, db, clock):  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from api.app import build_services, create_app

    settings = Settings.from_env({**stack.env(), "DATABASE_URL": database_url,
                                  "JWT_SECRET": "test-secret-that-is-long-enough-0123456789"})
    services = build_services(settings, db=db, clock=clock, bcrypt_rounds=4)
    try:
        async with TestClient(TestServer(create_app(services, own_database=False))) as client:
            yield client
    finally:
        await services.engine.close()


async def test_deep_health_is_for_signed_in_users(deep_client, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    async with deep_client.get("/api/health?deep=1") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"]
    async with deep_client.get("/api/health") as resp:  # plain health stays cheap and open
        assert resp.status == 200 and "checks" not in await resp.json()
    assert stack.searxng.requests == [] and stack.ollama.requests == []

    user = await signup(deep_client, "ops@example.com")
    async with deep_client.get("/api/health?deep=1", headers=user.headers) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert body["status"] == "ok"
    assert [c["name"] for c in body["checks"]] == ["database", "ollama", "embedding", "searxng",
                                                   "crawl4ai", "smtp"]
    text = str(body)
    assert "127.0.0.1" not in text and "hunter2" not in text and CRAWL4AI_TOKEN not in text

    stack.searxng.engines_failing(("google", "timeout"))
    async with deep_client.get("/api/health?deep=1", headers=user.headers) as resp:
        assert resp.status == 200  # cached for a short while: no search storm
    assert len(stack.searxng.requests) == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_log_the_report_at_start_up(command: str, tmp_path: Path) -> None:
    import signal
    import subprocess
    import threading
    import time

    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
           "API_PORT": str(_closed_port()), "OLLAMA_URL": dead, "SEARXNG_URL": dead,
           "CRAWL4AI_URL": dead, "CRAWL4AI_TOKEN": "secret-token-123", "SMTP_URL": "",
           "LOG_LEVEL": "INFO", "TICK_SECONDS": "1"}
    if command == "worker":
        subprocess.run([sys.executable, "-m", "api.cli", "migrate"], cwd=ROOT, env=env,
                       check=True, capture_output=True, timeout=60)
    process = subprocess.Popen([sys.executable, "-m", "api.cli", command], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 40
        while not any("some services are not ready" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    for check in ("FAIL  ollama", "FAIL  searxng", "FAIL  crawl4ai", "ok    smtp"):
        assert check in output, output
    assert "secret-token-123" not in output and "Traceback" not in output
    started = "API listening" if command == "serve" else "worker"
    assert output.index(started) < output.index("doctor:")  # start-up did not wait for it
