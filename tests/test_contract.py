"""The OpenAPI document is the contract: schemathesis over every operation of
/api/openapi.json, against a real server on PostgreSQL, with every check on.

Operations are read from the document itself, so endpoints added later are tested
without editing this file; only the streams listed in EXCLUDED are left out.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from api.app import build_services, create_app
from api.openapi import openapi_document
from engine.config import Settings
from engine.db import Database
from tests.conftest import EMBEDDING_DIM, _empty_tables
from tests.fakes.fake_ollama import FakeOllama, ScriptedReply
from tests.fakes.fixtures import fake_ollama  # noqa: F401

# (method, path) -> why schemathesis cannot test it.
EXCLUDED: dict[tuple[str, str], str] = {
    ("get", "/api/events"): "server-sent event stream: the response never ends, so no "
    "check can read it; tests/ covers it with a real stream consumer",
}
# Rules JSON Schema cannot state, so a schema-valid request may still get 422 there.
# (method path) -> why.
MAY_REFUSE_VALID: dict[str, str] = {
    "POST /api/chat": "the conversation must end with the user's turn and that turn must "
    "hold text; JSON Schema has no way to speak of the last item of an array",
    "GET /api/scouts/{id}/executions": "`before` is an opaque cursor from next_cursor; "
    "a string the server never issued is refused",
    "GET /api/places": "`lat` and `lng` count only together (a point); an OpenAPI query "
    "parameter cannot be required only when another one is present",
    "POST /api/auth/password-reset/confirm": "a token counts only when the server emailed it "
    "and it is neither used nor expired; any other well-formed token is refused",
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
MAX_EXAMPLES = 5
SEED = 20261128
TIME_BUDGET_SECONDS = 240


def _config() -> str:
    """A schemathesis.toml allowing 422 for valid-looking data only where listed above."""
    blocks = [
        f'[[operations]]\ninclude-name = "{name}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {ACCEPTED!r}\n"
        for name in MAY_REFUSE_VALID
    ]
    return "\n".join(blocks).replace("'", '"')


@pytest.fixture
async def server(
    postgres_url: str, fake_ollama: FakeOllama  # noqa: F811
) -> AsyncIterator[TestServer]:
    # The chat gets a model that always answers, so a conversation schemathesis manages to
    # start on a real scout streams a reply like in production.
    fake_ollama.responder = lambda _body: ScriptedReply(content="Noted.")
    fake_ollama.embed_dim = EMBEDDING_DIM  # findings search embeds the question
    settings = Settings.from_env({
        "DATABASE_URL": postgres_url,
        "APP_ENV": "test",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "OLLAMA_URL": fake_ollama.url,
    })
    db = Database(postgres_url, pool_size=5)
    await _empty_tables(db)
    services = build_services(settings, db=db, bcrypt_rounds=4)
    async with TestServer(create_app(services, own_database=False), host="127.0.0.1") as srv:
        yield srv
    await services.engine.close()
    await db.close()


async def _bearer(server: TestServer) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(
        server.make_url("/api/auth/signup"),
        json={"email": "contract@example.com", "password": "correct horse"},
    ) as resp:
        assert resp.status == 201
        return str((await resp.json())["access_token"])


async def test_schemathesis_finds_no_failures(server: TestServer, tmp_path: Path) -> None:
    token = await _bearer(server)
    described = {(m, p) for p, ops in openapi_document()["paths"].items() for m in ops}
    excluded_paths = sorted({p for m, p in EXCLUDED if (m, p) in described})
    cli = Path(sys.executable).parent / "schemathesis"
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config())
    args = [
        str(cli), "--config-file", str(config), "run", str(server.make_url("/api/openapi.json")),
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--header", f"Authorization: Bearer {token}",
        "--workers", "1",
        "--request-timeout", "20",
        "--no-shrink",
        "--continue-on-failure",
        "--report", "junit", "--report-dir", str(tmp_path),
        *[arg for path in excluded_paths for arg in ("--exclude-path", path)],
    ]
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}, cwd=tmp_path,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIME_BUDGET_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    # The figures and warnings, for whoever runs this with -s.
    print(text[text.find("WARNINGS"):] if "WARNINGS" in text else text[-2000:])
