"""Container health probe for the api and worker services.

python:3.11-slim has neither curl nor wget, so the image ships this script as
/usr/local/bin/scouts-healthcheck. It uses only the standard library and exits 0 when
healthy, 1 otherwise (the only codes Docker's HEALTHCHECK distinguishes).

    scouts-healthcheck http://127.0.0.1:8000/api/health   # 2xx from the URL
    scouts-healthcheck --database                         # TCP connect to DATABASE_URL's host
    scouts-healthcheck --heartbeat FILE MAX_AGE           # FILE touched < MAX_AGE s ago
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 4.0
DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432}


def check_http(url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when the URL answers with a 2xx status."""
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        # HTTPError (4xx/5xx) is a URLError subclass: unhealthy, as is no answer at all.
        return False


def database_address(database_url: str) -> tuple[str, int] | None:
    """Host and port to probe, or None for a file database (nothing to reach)."""
    parts = urlsplit(database_url)
    dialect = parts.scheme.split("+", 1)[0]
    if dialect == "sqlite":
        return None
    if not parts.hostname:
        raise ValueError(f"DATABASE_URL has no host (dialect {dialect!r})")
    port = parts.port or DEFAULT_PORTS.get(dialect)
    if port is None:
        raise ValueError(f"DATABASE_URL has no port and {dialect!r} has no known default")
    return parts.hostname, port


def check_database(database_url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when the database server accepts a TCP connection (or is a local file)."""
    try:
        address = database_address(database_url)
    except ValueError:
        return False
    if address is None:
        return True
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def check_heartbeat(path: str, max_age: float, now: float | None = None) -> bool:
    """True when the worker loop touched ``path`` within ``max_age`` seconds."""
    try:
        age = (time.time() if now is None else now) - os.stat(path).st_mtime
    except OSError:
        return False
    return age <= max_age


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--heartbeat":
        try:
            max_age = float(argv[2])
        except ValueError:
            print("MAX_AGE must be a number of seconds", file=sys.stderr)
            return 2
        return 0 if check_heartbeat(argv[1], max_age) else 1
    if len(argv) != 1:
        print("usage: scouts-healthcheck URL | --database | --heartbeat FILE MAX_AGE",
              file=sys.stderr)
        return 2
    if argv[0] == "--database":
        healthy = check_database(os.environ.get("DATABASE_URL", ""))
    else:
        healthy = check_http(argv[0])
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
