"""The running template app its integration tests share, on the real Kafka and PostgreSQL.

One app per test module, in a schema of its own and on topics of its own (its own topic,
and a directory topic of its own that tells it who the members are), so nothing another
test or engineer publishes reaches it. A copy of the template keeps this file, renamed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from services._template.bootstrap import Topics, build
from services.directory.contract import AgencyRegistered, StaffJoined
from shared.auth import issue_token
from shared.clock import agency_today
from shared.envelope import Role
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings, load_settings
from shared.store import EventStore
from tests.harness import eventually as eventually
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import until_known
from tests.integration.upstream import Upstream

WAIT_SECONDS = 15.0
T = TypeVar("T")

AGENCY = "ag-template"
OTHER_AGENCY = "ag-template-other"
MEMBERS = {
    "cm-1": (AGENCY, Role.CASE_MANAGER),
    "sup-1": (AGENCY, Role.SUPERVISOR),
    "admin-1": (AGENCY, Role.AGENCY_ADMIN),
    "sup-2": (OTHER_AGENCY, Role.SUPERVISOR),
}
"""The staff of the two test agencies, as the directory records them."""


@dataclass(frozen=True)
class TemplateApp:
    """The running template app and what its tests need around it."""

    http: httpx.AsyncClient
    settings: Settings
    schema: str
    pool: asyncpg.Pool
    """The template's own pool (its schema on the search path)."""

    def auth(self, staff_id: str) -> dict[str, str]:
        agency_id, role = MEMBERS[staff_id]
        token = issue_token(self.settings, agency_id=agency_id, staff_id=staff_id, role=role)
        return {"Authorization": f"Bearer {token}"}

    async def events(self, stream_id: str | None = None) -> int:
        """How many events the template's store holds (of one stream, or all)."""
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM events WHERE $1::text IS NULL OR case_id = $1", stream_id
        )
        return count


async def publish_members(store: EventStore, relay: Relay) -> None:
    """Publish the test agencies and their staff on the test's directory topic, as the
    directory would: its contract's events, from a directory store of the test's own."""
    directory = Upstream(store, relay)
    today = agency_today()
    for agency_id in (AGENCY, OTHER_AGENCY):
        registered = AgencyRegistered(
            agency_id=agency_id, name="Template Centre", region="Seoul", registered_on=today
        )
        await directory.record(agency_id, agency_id, registered)
    for staff_id, (agency_id, role) in MEMBERS.items():
        joined = StaffJoined(
            staff_id=staff_id,
            name=staff_id.title(),
            role=role.value,  # type: ignore[arg-type]
            caseload_limit=5 if role is Role.CASE_MANAGER else 0,
            joined_on=today,
        )
        await directory.record(agency_id, agency_id, joined)


@pytest.fixture(scope="module")
async def template(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[TemplateApp]:
    suffix = uuid.uuid4().hex[:10]
    topics = Topics(
        template=f"caseline.test-template-{suffix}.v1",
        directory=f"caseline.test-directory-{suffix}.v1",
    )
    schema = f"t_template_{suffix}"
    directory_schema = f"t_template_directory_{suffix}"
    settings = load_settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        db_schema=schema,
        relay_poll_seconds=0.05,
    )
    directory = EventStore(pg_pool, "directory", schema=directory_schema)
    await directory.migrate()
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    app = build(settings, topics=topics)
    async with fresh_topics(kafka_bootstrap, topics.template, topics.directory):
        try:
            async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://template"
                ) as http:
                    pool = app.state.runtime.pool
                    relay = Relay(directory, producer, topic=topics.directory)
                    await publish_members(directory, relay)
                    for staff_id, (agency_id, role) in MEMBERS.items():
                        await until_known(pool, agency_id, staff_id, role)
                    yield TemplateApp(http, settings, schema, pool)
        finally:
            await producer.stop()
            for name in (schema, directory_schema):
                await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
