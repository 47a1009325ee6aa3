"""The kit's runtime through outages: PostgreSQL and Kafka go away under load and come back.

A notes service runs on a private stack (its own PostgreSQL and Kafka, which these tests
kill and restart) while writers keep posting and /health is watched. Afterwards, without
restarting the service: every acknowledged write is in the store and on Kafka, the consumer
applied every event exactly once, the lags are back to 0, writes during the outage were
answered 503 with Retry-After (never 500), and /health answered 503 while a task was down.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from shared.auth import issue_token
from shared.envelope import Role
from shared.service import create_service_app
from shared.settings import Settings, load_settings
from tests.integration.kafka_reading import fresh_topics, read_topic
from tests.integration.members import seed_member
from tests.integration.outages import HealthWatch, Load, until_equal, until_recovered
from tests.integration.private_stack import PrivateStack
from tests.kit_service import notes_service

pytestmark = pytest.mark.infra


@dataclass(frozen=True)
class NotesService:
    """The running notes service on the private stack."""

    http: httpx.AsyncClient
    settings: Settings
    stack: PrivateStack
    schema: str
    topic: str
    pool: asyncpg.Pool

    def load(self) -> Load:
        token = issue_token(
            self.settings, agency_id="agency-outage", staff_id="staff-1", role=Role.CASE_MANAGER
        )
        headers = {"Authorization": f"Bearer {token}"}
        run = uuid.uuid4().hex[:6]

        async def write(n: int) -> tuple[str, httpx.Response]:
            case = f"case-{run}-{n}"
            answer = await self.http.post(
                f"/cases/{case}/notes", json={"note": f"note {n}"}, headers=headers
            )
            return case, answer

        return Load(write)

    async def stored(self) -> dict[str, str]:
        """Every stored event: event id -> case id (read after PostgreSQL is back)."""
        rows = await self.pool.fetch(f'SELECT event_id, case_id FROM "{self.schema}".events')
        return {str(r["event_id"]): r["case_id"] for r in rows}

    async def applied(self) -> list[str]:
        """The event ids the consumer applied, one entry per application."""
        rows = await self.pool.fetch(f'SELECT event_id FROM "{self.schema}".notes_seen')
        return [str(r["event_id"]) for r in rows]


@pytest.fixture(scope="module")
async def notes(private_stack: PrivateStack) -> AsyncIterator[NotesService]:
    schema = f"t_outage_{uuid.uuid4().hex[:8]}"
    topic = f"caseline.test-outage-{uuid.uuid4().hex[:8]}.v1"
    settings = load_settings(
        database_url=private_stack.database_url,
        kafka_bootstrap_servers=private_stack.kafka_bootstrap,
        db_schema=schema,
        relay_poll_seconds=0.05,
        health_unhealthy_after_seconds=1.0,
        consumer_watch_seconds=0.4,
        retry_after_seconds=3,
    )
    app = create_service_app(notes_service(topic), settings)
    async with (
        fresh_topics(private_stack.kafka_bootstrap, topic),
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://notes"
        ) as http,
    ):
        pool = await asyncpg.create_pool(private_stack.database_url, min_size=0, max_size=2)
        try:
            await seed_member(
                app.state.runtime.pool, "agency-outage", "staff-1", Role.CASE_MANAGER
            )
            await until_recovered(http)
            yield NotesService(http, settings, private_stack, schema, topic, pool)
        finally:
            await pool.close()


async def assert_nothing_lost_and_applied_once(notes: NotesService, load: Load) -> None:
    """Acknowledged writes stored and on Kafka; each stored event applied exactly once."""
    report = await until_recovered(notes.http)
    assert all(task["state"] == "running" for task in report["tasks"].values()), report
    stored = await notes.stored()
    acknowledged = load.acknowledged()
    assert acknowledged <= set(stored.values()), "an acknowledged write is not in the store"
    on_kafka = await read_topic(
        notes.stack.kafka_bootstrap, notes.topic, expect=len(stored), timeout=30
    )
    published = {dict(r.headers)["ce_id"].decode() for r in on_kafka}
    assert set(stored) <= published, f"{len(set(stored) - published)} stored events not on Kafka"
    applied = await until_equal(notes.applied, sorted(stored))
    dead = await notes.pool.fetch(
        f'SELECT "offset", error, reason FROM "{notes.schema}".dead_lettered_messages'
    )
    assert not dead, f"dead-lettered: {[tuple(r) for r in dead][:5]}"
    assert applied == sorted(stored), "an event was applied twice or not at all"


async def test_a_postgresql_restart_under_writes_loses_nothing_and_needs_no_service_restart(
    notes: NotesService,
) -> None:
    load = notes.load()
    async with HealthWatch(notes.http).running() as health, load.running():
        await asyncio.sleep(1.5)
        await notes.stack.kill_postgres()
        await asyncio.sleep(2.5)
        await notes.stack.start_postgres()
        await asyncio.sleep(2.0)

    assert load.statuses() <= {201, 503}, f"writes were answered {load.statuses()}"
    refused = load.refused_during_outage()
    assert refused, "no write fell into the outage"
    assert all(a.retry_after == "3" for a in refused)
    assert len(load.acknowledged()) > 20
    assert 503 in health.statuses()
    assert health.last_unhealthy is not None
    assert health.last_unhealthy["status"] == "unavailable" and health.last_unhealthy["problems"]
    await assert_nothing_lost_and_applied_once(notes, load)


async def test_a_kafka_broker_killed_under_writes_loses_nothing_and_needs_no_service_restart(
    notes: NotesService,
) -> None:
    load = notes.load()
    async with HealthWatch(notes.http).running() as health, load.running():
        await asyncio.sleep(1.5)
        await notes.stack.kill_kafka()
        await asyncio.sleep(4.0)
        await notes.stack.start_kafka()
        await asyncio.sleep(2.0)

    # Writes need PostgreSQL only: the outbox keeps them until the broker is back.
    assert load.statuses() == {201}, f"writes were answered {load.statuses()}"
    assert 503 in health.statuses(), "/health never said the relay or consumer was down"
    assert health.last_unhealthy is not None
    down = {
        name for name, task in health.last_unhealthy["tasks"].items() if task["state"] == "retrying"
    }
    assert down, health.last_unhealthy
    await assert_nothing_lost_and_applied_once(notes, load)


async def test_liveness_answers_while_the_database_is_away(notes: NotesService) -> None:
    await notes.stack.kill_postgres()
    try:
        live = await notes.http.get("/health/live")
        ready = await notes.http.get("/health")
    finally:
        await notes.stack.start_postgres()
    assert live.status_code == 200 and live.json()["status"] == "alive"
    assert ready.status_code == 503
    assert any("database" in p for p in ready.json()["problems"])
    await until_recovered(notes.http)


async def test_after_a_database_restart_one_relay_publishes_and_the_other_stands_by(
    notes: NotesService,
) -> None:
    # A second process of the same service: same schema, same outbox, same topic.
    second_app = create_service_app(notes_service(notes.topic), notes.settings)
    async with (
        LifespanManager(second_app, startup_timeout=60, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://notes-2"
        ) as second,
    ):
        await until_recovered(second)
        await notes.stack.kill_postgres()
        await asyncio.sleep(1.0)
        await notes.stack.start_postgres()
        load = notes.load()
        async with load.running():
            await asyncio.sleep(1.0)
        details = []
        for http in (notes.http, second):
            report = await until_recovered(http)
            [relay] = [t for name, t in report["tasks"].items() if name.startswith("relay:")]
            details.append(relay["detail"])
    # The leadership lock was taken again on a new session, by one of them only.
    assert sorted(details) == ["publishing", "standby: another relay publishes this outbox"]
    await assert_nothing_lost_and_applied_once(notes, load)
