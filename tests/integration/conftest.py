"""Fixtures for the event-kit tests: a pool and a fresh store schema per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from caseline.infra import private_stack as private_stacks
from shared.store import create_pool
from tests.integration.kafka_reading import fresh_topics


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=12)
    yield pool
    await pool.close()


@pytest.fixture
async def schema_name(pg_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A schema of its own for each test, so tests never see each other's events; dropped after."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    # DROP SCHEMA is not UPDATE/DELETE on events: the append-only triggers do not apply.
    await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def kafka_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh three-partition topic for one test."""
    name = f"caseline.test-{uuid.uuid4().hex[:10]}.v1"
    async with fresh_topics(kafka_bootstrap, name):
        yield name


@pytest.fixture(scope="module")
async def private_stack() -> AsyncIterator[private_stacks.PrivateStack]:
    """A Kafka broker and PostgreSQL cluster of the module's own, which its tests may crash.

    Never the shared stack: a temporary folder and free ports, stopped and deleted after
    the module. Restart and kill it with `await private_stack.restart_postgres()` etc.
    """
    async with private_stacks.private_stack() as stack:
        yield stack
