"""`scouts serve` as a real process: it answers, and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
           "API_PORT": str(port), "SCHEDULER_ENABLED": "true", "TICK_SECONDS": "1",
           "OLLAMA_URL": "http://127.0.0.1:9", "LOG_LEVEL": "INFO"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health") as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "shutting down" in output and "worker" in output and "stopped" in output
    assert '"GET /api/health HTTP/1.1" 200' in output  # access log, without headers
    assert "Traceback" not in output
