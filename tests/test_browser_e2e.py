"""The web front end, checked from the project's single test command.

* ``npm run lint`` and ``npm run typecheck`` in ``frontend/`` must pass.
* ``frontend/e2e/full-stack.sh`` drives Chromium through the whole product (sign up, the
  chat configures a scout through tool calls, activate, Run now, the finished report
  appears, sign out, a second account gets "not found") against the real backend and the
  fakes of Ollama, SearXNG and Crawl4AI. Screenshots land in ``test-artifacts/browser-e2e``.

``scripts/test`` installs what these need (Debian chromium, ``npm ci``). Set
``SKIP_BROWSER_TESTS=1`` for a quick local run without the browser flow.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
FULL_STACK = FRONTEND / "e2e" / "full-stack.sh"
ARTIFACTS = ROOT / "test-artifacts" / "browser-e2e"
E2E_TIMEOUT_SECONDS = 600
NPM_TIMEOUT_SECONDS = 300
# The script stops its services in an EXIT trap; give it this long after SIGTERM.
CLEANUP_GRACE_SECONDS = 30


def _tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _frontend_env() -> dict[str, str]:
    return {**os.environ, "NEXT_TELEMETRY_DISABLED": "1", "CI": os.environ.get("CI", "1")}


def _require_node_modules() -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed; the front end needs Node 20+ (see frontend/README.md)")
    if not (FRONTEND / "node_modules").is_dir():
        pytest.fail("frontend/node_modules is missing: run `npm ci` in frontend/ (scripts/test does)")


def _run_npm_script(name: str) -> None:
    _require_node_modules()
    proc = subprocess.run(
        ["npm", "run", "--silent", name],
        cwd=FRONTEND,
        env=_frontend_env(),
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
    )
    assert proc.returncode == 0, (
        f"`npm run {name}` failed (exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}"
    )


def test_frontend_lint_passes() -> None:
    _run_npm_script("lint")


def test_frontend_typecheck_passes() -> None:
    _run_npm_script("typecheck")


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ask the script to clean up (its trap stops every service), then make sure it is gone.

    The whole process group gets the signal: bash runs its trap only once the foreground
    command (the browser driver, a build) has ended, so that command must stop too.
    """
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=CLEANUP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(
    os.environ.get("SKIP_BROWSER_TESTS") == "1",
    reason="SKIP_BROWSER_TESTS=1: browser end-to-end flow skipped on request",
)
def test_full_browser_flow_against_real_backend() -> None:
    _require_node_modules()
    if not os.access(FULL_STACK, os.X_OK):
        pytest.fail(f"{FULL_STACK} is missing or not executable")
    env = {
        **_frontend_env(),
        "PYTHON": sys.executable,
        "E2E_ARTIFACTS": str(ARTIFACTS),
        "TICK_SECONDS": "1",
    }
    # Own session, so a timeout can signal the script without hitting pytest itself.
    proc = subprocess.Popen(
        ["bash", str(FULL_STACK)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=E2E_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        _stop(proc)
        output, _ = proc.communicate()
        pytest.fail(
            f"browser flow did not finish within {E2E_TIMEOUT_SECONDS}s; "
            f"screenshots and logs in {ARTIFACTS}\n{_tail(output)}"
        )
    except BaseException:
        _stop(proc)  # e.g. Ctrl-C: never leave the stack running
        raise
    assert proc.returncode == 0, (
        f"browser flow failed (exit {proc.returncode}); screenshots and logs in {ARTIFACTS}\n"
        f"{_tail(output)}"
    )
    # Guard against a flow that silently ran nothing: every step must have passed.
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    assert summary.endswith("passed, 0 failed"), f"unexpected summary {summary!r}\n{_tail(output)}"
    assert "SKIP" not in output, _tail(output)
    assert any(ARTIFACTS.glob("*-report.png")), "the report page was not captured"
