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

from caseline.infra.private_stack import PrivateStack
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import bearer, running_service, unique_schema, unique_topic
from tests.integration.kafka_reading import read_topic
from tests.integration.outages import HealthWatch, Load, until_equal, until_recovered
from tests.kit_service import build as build_notes

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
        headers = bearer(self.settings, Role.CASE_MANAGER, "agency-outage", "staff-1")
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
    topic = unique_topic("outage")
    async with running_service(
        lambda settings: build_notes(settings, topic=topic),
        database_url=private_stack.database_url,
        kafka_bootstrap=private_stack.kafka_bootstrap,
        schema=unique_schema("outage"),
        topics=(topic,),
        base_url="http://notes",
        drop_schema=False,  # the private stack goes away whole
        health_unhealthy_after_seconds=1.0,
        consumer_watch_seconds=0.4,
        retry_after_seconds=3,
    ) as running:
        pool = await asyncpg.create_pool(private_stack.database_url, min_size=0, max_size=2)
        try:
            await running.as_member(Role.CASE_MANAGER, "agency-outage", "staff-1")
            await until_recovered(running.http)
            yield NotesService(
                running.http, running.settings, private_stack, running.schema, topic, pool
            )
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
    async with running_service(
        lambda _: build_notes(notes.settings, topic=notes.topic),  # the first one's settings
        database_url=notes.stack.database_url,
        kafka_bootstrap=notes.stack.kafka_bootstrap,
        schema=notes.schema,
        base_url="http://notes-2",
        drop_schema=False,
    ) as running:
        second = running.http
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
