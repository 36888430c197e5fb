"""Static checks of the Python code, run with the tests so CI enforces them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format",
                             "concise", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_engine_never_imports_the_api_or_aiohttp_web() -> None:
    for path in (ROOT / "engine").rglob("*.py"):
        for name in imports_of(path):
            assert not name.startswith("api"), f"{path} imports {name}"
            assert name not in ("aiohttp.web", "aiohttp.web_request"), f"{path} imports {name}"


def test_no_forbidden_frameworks() -> None:
    forbidden = ("fastapi", "flask", "django", "pydantic")
    for folder in ("engine", "api", "migrations"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in imports_of(path):
                assert name.split(".")[0] not in forbidden, f"{path} imports {name}"
