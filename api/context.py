"""What every handler can reach: settings and the engine's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from engine.accounts.password_reset import PasswordReset
from engine.accounts.sessions import Accounts
from engine.clients.ollama import OllamaClient
from engine.config import Settings
from engine.db import Database
from engine.engine import ScoutEngine
from engine.runs.controls import RunControls
from engine.runs.executions import Executions
from engine.scouts import Scouts


@dataclass
class Services:
    settings: Settings
    db: Database
    accounts: Accounts
    scouts: Scouts
    engine: ScoutEngine
    clock: Callable[[], datetime]
    # The chat's Ollama client: the engine's HTTP session, with quicker retries because a
    # person is waiting for the answer.
    chat_ollama: OllamaClient
    password_reset: PasswordReset

    @property
    def executions(self) -> Executions:
        return self.engine.executions

    @property
    def controls(self) -> RunControls:
        return self.engine.controls


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def now(request: web.Request) -> datetime:
    return request.app[SERVICES].clock()
