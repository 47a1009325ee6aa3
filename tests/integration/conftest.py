"""Fixtures for the event-kit tests: a pool and a fresh store schema per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.store import create_pool


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=12)
    yield pool
    await pool.close()


@pytest.fixture
def schema_name() -> str:
    """A schema of its own for each test, so tests never see each other's events."""
    return f"t_{uuid.uuid4().hex[:12]}"
