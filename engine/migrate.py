"""Run the Alembic migrations shipped in the ``migrations`` package."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def alembic_config(database_url: str, embedding_dim: int) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    config.attributes["embedding_dim"] = embedding_dim
    return config


def _outside_event_loop(work: Callable[[], None]) -> None:
    """Alembic's env.py starts its own event loop, which cannot nest inside a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        work()
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="alembic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def upgrade(database_url: str, embedding_dim: int, revision: str = "head") -> None:
    """Blocking; from async code prefer ``await asyncio.to_thread(upgrade, ...)``."""
    config = alembic_config(database_url, embedding_dim)
    _outside_event_loop(lambda: command.upgrade(config, revision))


def downgrade(database_url: str, embedding_dim: int, revision: str = "base") -> None:
    config = alembic_config(database_url, embedding_dim)
    _outside_event_loop(lambda: command.downgrade(config, revision))
