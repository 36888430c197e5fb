"""What every handler can reach: settings and the engine's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from engine.accounts import Accounts
from engine.clients.ollama import OllamaClient
from engine.config import Settings
from engine.db import Database
from engine.executions import Executions
from engine.scouts import Scouts


@dataclass
class Services:
    settings: Settings
    db: Database
    accounts: Accounts
    scouts: Scouts
    executions: Executions
    clock: Callable[[], datetime]
    extras: dict[str, Any]
    # The chat's Ollama client; create_app opens it unless one is given (tests).
    chat_ollama: OllamaClient | None = None


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def now(request: web.Request) -> datetime:
    return request.app[SERVICES].clock()
