"""scripts/start: --demo brings its own services; without it, missing services are named."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START = ROOT / "scripts" / "start"
STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_", "SEARXNG_", "CRAWL4AI_", "DEMO_", "SMTP_"))}
    return {**env, "VENV": str(ROOT / ".venv"), "API_HOST": "127.0.0.1",
            "APP_ENV": "development", "LOG_LEVEL": "WARNING", **extra}


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read())


def _post_json(url: str, body: object, token: str | None = None) -> object:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read())


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM as Ctrl-C would; the script's trap stops what it started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"scripts/start exited early ({proc.returncode})")
        try:
            _get_json(url)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the API did not come up")


def test_demo_starts_its_own_services_and_stops_them(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, API_PORT=str(port),
               DEMO_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}")
    proc = subprocess.Popen([str(START), "--api-only", "--demo"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        _wait_up(f"http://127.0.0.1:{port}/api/health", proc)
        assert _get_json(f"http://127.0.0.1:{port}/api/config") == {"demo_mode": True}
        # Email works in the demo: the test email is caught by the demo's mail server.
        token = _post_json(f"http://127.0.0.1:{port}/api/auth/signup",
                           {"email": "new@example.com", "password": "correct horse"})
        assert isinstance(token, dict)
        sent = _post_json(f"http://127.0.0.1:{port}/api/preferences/test-email", {},
                          token["access_token"])
        assert sent == {"sent_to": "new@example.com"}
    finally:
        _stop(proc)
    output = proc.stdout.read() if proc.stdout else ""
    assert "Demo mode" in output
    assert "not reachable" not in output
    assert (tmp_path / "demo.db").exists()
    fake_ports = [int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)\)", output)]
    assert len(fake_ports) == 3
    # Nothing it started is left listening: the API's and the fakes' ports are free again.
    for used in (port, *fake_ports):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", used))


def test_without_demo_each_missing_service_is_named(tmp_path: Path) -> None:
    port = _free_port()
    closed = f"http://127.0.0.1:{_free_port()}"
    env = _env(tmp_path, API_PORT=str(port), OLLAMA_URL=closed, SEARXNG_URL=closed,
               CRAWL4AI_URL=closed,
               DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'scouts.db'}")
    proc = subprocess.Popen([str(START), "--api-only"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        _wait_up(f"http://127.0.0.1:{port}/api/health", proc)
        assert _get_json(f"http://127.0.0.1:{port}/api/config") == {"demo_mode": False}
    finally:
        _stop(proc)
    output = proc.stdout.read() if proc.stdout else ""
    for service in ("Ollama", "SearXNG", "Crawl4AI"):
        assert f"{service} is not reachable at {closed}" in output
    assert "scripts/start --demo" in output


pytestmark = pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "scouts").exists(),
                                reason="needs the project's .venv (scripts/test creates it)")
