"""Fixtures for tests that drive the real engine against the fakes (a pytest plugin, named
in conftest.py). A module that needs the world set up otherwise defines its own ``world``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import build_services, create_app
from engine.db import Database
from tests.engine_support import World, world_for
from tests.support import FakeClock


@pytest.fixture
async def world(db: Database, database_url: str, clock: FakeClock) -> AsyncIterator[World]:
    async with world_for(db, database_url, clock) as w:
        yield w


@pytest.fixture
async def api(world: World) -> AsyncIterator[TestClient]:
    """The HTTP API over the world's own engine, database and clock."""
    services = build_services(world.settings, db=world.db, clock=world.clock, bcrypt_rounds=4,
                              engine=world.engine)
    async with TestClient(TestServer(create_app(services, own_database=False))) as client:
        yield client
