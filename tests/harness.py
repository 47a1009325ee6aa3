"""The one way the tests run a service, wait for an eventual effect, name things and act as someone.

Every integration test that starts a service app starts it with `running_service`: in a
schema of its own and on topics of its own (`unique_schema`, `unique_topic`), on the real
broker and database, and it is handed over only once `/health` answers 200. Everything that
waits for a consumer, a relay or a read model waits with `eventually`, so one deadline and one
failure message (with the last value seen) hold for the whole suite. Tokens are minted with
the run's own secrets (`tests/conftest.py` puts them in the environment before any settings are
read), for a principal the service knows (`as_member`).

`landed_services()` is the one list of services that exist, for tests about every service.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, overload

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from caseline.catalog import runnable_services, services_root
from shared import principals
from shared.auth import issue_token
from shared.envelope import Role
from shared.settings import Settings, load_settings
from tests.integration.kafka_reading import fresh_topics

T = TypeVar("T")

WAIT_SECONDS = 20.0
"""How long an eventual effect (a consumer, a relay, a read model) may take on a shared machine."""

SERVICES_DIR = services_root()


def landed_services(root: Path | None = None) -> tuple[str, ...]:
    """The services that exist (`caseline.catalog.runnable_services`), for tests about every
    service: a new service is covered the day it lands."""
    return runnable_services(root)


def unique(prefix: str) -> str:
    """`prefix` and eight random hex digits: an id no other test, run or engineer shares."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def unique_schema(name: str) -> str:
    """A PostgreSQL schema name of one test's own (`t_<name>_<hex>`; never a service's own)."""
    return f"t_{name}_{uuid.uuid4().hex[:10]}"


def unique_topic(name: str) -> str:
    """A Kafka topic of one test's own, in the `caseline.test-*` family the tests clean up."""
    return f"caseline.test-{name}-{uuid.uuid4().hex[:10]}.v1"


def _holds(value: object) -> bool:
    return bool(value)


@overload
async def eventually(
    probe: Callable[[], Awaitable[T]],
    holds: Callable[[T], bool] = ...,
    what: str = ...,
    *,
    timeout: float = ...,
    interval: float = ...,
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T],
    holds: Callable[[T], bool] = ...,
    what: str = ...,
    *,
    timeout: float = ...,
    interval: float = ...,
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    holds: Callable[[Any], bool] = _holds,
    what: str = "so",
    *,
    timeout: float = WAIT_SECONDS,
    interval: float = 0.05,
) -> Any:
    """Ask `probe` (sync or async) until `holds(value)`; the value, or fail with the last one.

    Consumers, relays and read models are eventually consistent: a test asks again rather
    than sleeping a guessed while, and a bound keeps a broken pipeline from hanging the run.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if holds(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout:.0f} s still not {what}: {value!r}", pytrace=False)
        await asyncio.sleep(interval)


def token_for(
    settings: Settings, role: Role, agency_id: str = "network", staff_id: str = "staff-1"
) -> str:
    """A bearer token for this principal, signed with the run's secret (from the settings)."""
    return issue_token(settings, agency_id=agency_id, staff_id=staff_id, role=role)


def bearer(
    settings: Settings, role: Role, agency_id: str = "network", staff_id: str = "staff-1"
) -> dict[str, str]:
    """The Authorization header of a token for this principal, signed with the run's secret."""
    return {"Authorization": f"Bearer {token_for(settings, role, agency_id, staff_id)}"}


async def seed_member(
    pool: asyncpg.Pool, agency_id: str, staff_id: str, role: Role, *, joined_on: date | None = None
) -> None:
    """Record a member straight into a service's principals: standing without a directory
    (the kit's test services have none; a service tested alone has none running)."""
    async with pool.acquire() as conn, conn.transaction():
        await principals.record_agency_registered(conn, agency_id)
        await principals.record_member_joined(
            conn, agency_id, staff_id, role, joined_on or date(2024, 1, 1)
        )


def service_settings(
    database_url: str, kafka_bootstrap: str, schema: str | None, **overrides: Any
) -> Settings:
    """Settings of a service under test: the given infrastructure, its schema, a quick relay."""
    values: dict[str, Any] = {"relay_poll_seconds": 0.05, **overrides}
    if schema is not None:
        values["db_schema"] = schema
    return load_settings(
        database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, **values
    )


@dataclass(frozen=True)
class RunningService:
    """A service app started by `running_service`, and what a test needs around it."""

    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    schema: str

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's own pool (its schema on the search path)."""
        pool: asyncpg.Pool = self.app.state.runtime.pool
        return pool

    def auth(
        self, role: Role, agency_id: str = "network", staff_id: str = "staff-1"
    ) -> dict[str, str]:
        """A token's header for this principal (who must have standing: see `as_member`)."""
        return bearer(self.settings, role, agency_id, staff_id)

    async def as_member(
        self, role: Role, agency_id: str = "network", staff_id: str = "staff-1"
    ) -> dict[str, str]:
        """Record the principal as a member in the service's principals, then its token.

        For a service tested without a directory: with one, enroll or register the member
        there and wait until the service knows them (`members.until_known`).
        """
        await seed_member(self.pool, agency_id, staff_id, role)
        return self.auth(role, agency_id, staff_id)


async def until_healthy(http: httpx.AsyncClient, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until `/health` answers 200; its report."""
    answer: httpx.Response = await eventually(
        lambda: http.get("/health"),
        lambda answer: answer.status_code == 200,
        "healthy (/health 200)",
        timeout=timeout,
        interval=0.1,
    )
    report: dict[str, Any] = answer.json()
    return report


@asynccontextmanager
async def running_service(
    build: Callable[[Settings], FastAPI],
    *,
    database_url: str,
    kafka_bootstrap: str,
    schema: str | None,
    topics: Sequence[str] = (),
    base_url: str = "http://service",
    drop_schema: bool = True,
    **settings: Any,
) -> AsyncIterator[RunningService]:
    """Run the app `build(settings)` makes until the block ends; stop it, drop its schema.

    `topics` are created fresh for the block and deleted after (give none when the caller
    owns them, or when they are production topics on a private stack). `schema=None` leaves
    the service its own schema (its name): for a private stack only, never the shared one.
    The app is handed over once `/health` answers 200, so a test starts from a service whose
    relay and consumers run.
    """
    service_settings_ = service_settings(database_url, kafka_bootstrap, schema, **settings)
    app = build(service_settings_)
    async with AsyncExitStack() as stack:
        if topics:
            await stack.enter_async_context(fresh_topics(kafka_bootstrap, *topics))
        if drop_schema and schema is not None:
            stack.push_async_callback(_drop_schema, database_url, schema)
        manager = await stack.enter_async_context(
            LifespanManager(app, startup_timeout=60, shutdown_timeout=30)
        )
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=base_url)
        )
        await until_healthy(http)
        yield RunningService(app, http, service_settings_, app.state.runtime.schema)


async def _drop_schema(database_url: str, schema: str) -> None:
    # DROP SCHEMA is not UPDATE/DELETE on events: the append-only triggers do not apply.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def run_command(
    args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a `caseline` command as a user does, in a session of its own: on a timeout the
    whole session is killed, the service processes it started included, so none is left
    running against the stack the next tests use."""
    process = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(args, process.returncode, out, err)
