"""The front end's server sets X-Forwarded-For itself, so a browser cannot choose the address
that the API's login limits count (api/auth_routes.py client_address)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "frontend" / "serve.mjs"
# Stands in for Next's standalone server.js: answers with the header it was given.
ECHO_SERVER = """
const http = require("node:http");
http.createServer((req, res) => res.end(req.headers["x-forwarded-for"] || "-"))
  .listen(Number(process.env.PORT), "127.0.0.1");
"""

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def forwarded_for(tmp_path: Path, sent: str | None, **env: str) -> str:
    (tmp_path / "server.js").write_text(ECHO_SERVER)
    port = free_port()
    proc = subprocess.Popen(["node", str(SERVE), str(tmp_path)],
                            env={**os.environ, "PORT": str(port), **env})
    try:
        deadline = time.monotonic() + 10
        while True:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/")
            if sent is not None:
                request.add_header("X-Forwarded-For", sent)
            try:
                with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310
                    return resp.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_browser_cannot_choose_its_forwarded_address(tmp_path: Path) -> None:
    assert forwarded_for(tmp_path, "6.6.6.6") == "127.0.0.1"
    assert forwarded_for(tmp_path, None) == "127.0.0.1"


def test_behind_a_reverse_proxy_the_connecting_address_is_appended(tmp_path: Path) -> None:
    assert forwarded_for(tmp_path, "6.6.6.6", KEEP_FORWARDED_FOR="true") == "6.6.6.6, 127.0.0.1"
