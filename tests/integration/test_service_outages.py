"""Intake and the directory through outages, wired to each other as in production.

Both services run on a private stack with their production topics: the directory's staff
reach intake's roster over Kafka, intake's events reach the directory's read model. While
writes go to both, PostgreSQL is killed and started again, then the Kafka broker. Without
restarting either service: every acknowledged write is in its store and on Kafka, each
consumer applied every event once, both /health answered 503 during the outage and the lags
return to 0.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from caseline.infra.private_stack import PrivateStack
from services.directory.bootstrap import build as build_directory
from services.intake.adapters.read_model import ROSTER_EVENTS
from services.intake.bootstrap import build as build_intake
from shared.envelope import Role
from shared.settings import Settings
from shared.topics import topic_for
from tests.harness import bearer, running_service
from tests.integration.kafka_reading import read_topic
from tests.integration.members import enroll_in_directory, until_known
from tests.integration.outages import HealthWatch, Load, until_equal, until_recovered

pytestmark = pytest.mark.infra


@dataclass(frozen=True)
class Pair:
    """Intake and the directory, running on the private stack."""

    intake: httpx.AsyncClient
    directory: httpx.AsyncClient
    settings: Settings
    stack: PrivateStack
    pool: asyncpg.Pool
    agency_id: str

    def headers(self, role: Role, agency_id: str, staff_id: str) -> dict[str, str]:
        return bearer(self.settings, role, agency_id, staff_id)

    def directory_load(self) -> Load:
        """Odd writes register an agency, even ones add a case manager to the pair's agency."""
        admin = self.headers(Role.NETWORK_ADMIN, "network", "netadmin-1")
        run = uuid.uuid4().hex[:6]

        async def write(n: int) -> tuple[str, httpx.Response]:
            if n % 2:
                agency = f"ag-{run}-{n}"
                body = {"agency_id": agency, "name": f"복지관 {n}", "region": "Seoul"}
                return agency, await self.directory.post("/agencies", json=body, headers=admin)
            staff = f"cm-{run}-{n}"
            body = {
                "staff_id": staff,
                "name": f"Case manager {n}",
                "role": "case_manager",
                "caseload_limit": 5,
                "joined_on": "2024-01-02",
            }
            answer = await self.directory.post(
                f"/agencies/{self.agency_id}/staff", json=body, headers=admin
            )
            return staff, answer

        return Load(write, writers=2, pause=0.05)

    def intake_load(self) -> Load:
        """Each write opens a case in the pair's agency."""
        manager = self.headers(Role.CASE_MANAGER, self.agency_id, "cm-first")

        async def write(n: int) -> tuple[str, httpx.Response]:
            answer = await self.intake.post("/cases", json={"source": "walk_in"}, headers=manager)
            key = answer.json()["case_id"] if answer.status_code == 201 else f"refused-{n}"
            return key, answer

        return Load(write, writers=2, pause=0.05)

    async def stored(self, schema: str) -> dict[str, tuple[str, str, dict[str, object]]]:
        """event id -> (stream id, type, payload) of every event in a service's store."""
        rows = await self.pool.fetch(
            f"SELECT event_id, case_id, event_type, payload::text FROM {schema}.events"
        )
        return {
            str(r["event_id"]): (r["case_id"], r["event_type"], json.loads(r["payload"]))
            for r in rows
        }

    async def processed(self, schema: str, consumer: str) -> list[str]:
        rows = await self.pool.fetch(
            f"SELECT event_id FROM {schema}.processed_messages WHERE consumer = $1", consumer
        )
        return [str(r["event_id"]) for r in rows]

    async def rows(self, query: str) -> int:
        count: int = await self.pool.fetchval(query)
        return count


@pytest.fixture(scope="module")
async def pair(private_stack: PrivateStack) -> AsyncIterator[Pair]:
    # Production schemas and topics: the private stack is theirs alone and goes away whole.
    on_private_stack: dict[str, Any] = {
        "database_url": private_stack.database_url,
        "kafka_bootstrap": private_stack.kafka_bootstrap,
        "schema": None,
        "drop_schema": False,
        "health_unhealthy_after_seconds": 1.0,
        "consumer_watch_seconds": 0.4,
    }
    async with (
        running_service(build_directory, base_url="http://d", **on_private_stack) as directory,
        running_service(build_intake, base_url="http://i", **on_private_stack) as intake,
    ):
        ih, dh, settings = intake.http, directory.http, intake.settings
        directory_app, intake_app = directory.app, intake.app
        pool = await asyncpg.create_pool(private_stack.database_url, min_size=0, max_size=2)
        try:
            made = Pair(ih, dh, settings, private_stack, pool, f"ag-home-{uuid.uuid4().hex[:6]}")
            # The load's tokens are for registered members: the network administrator enrolled
            # as `caseline enroll` does, the case manager registered in the directory.
            await enroll_in_directory(directory_app.state.runtime.store, "netadmin-1")
            intake_pool = intake_app.state.runtime.pool
            for service_pool in (directory_app.state.runtime.pool, intake_pool):
                await until_known(service_pool, "network", "netadmin-1", Role.NETWORK_ADMIN)
            admin = made.headers(Role.NETWORK_ADMIN, "network", "netadmin-1")
            registered = await dh.post(
                "/agencies",
                json={"agency_id": made.agency_id, "name": "마포복지관", "region": "Seoul"},
                headers=admin,
            )
            assert registered.status_code == 201, registered.text
            first = await dh.post(
                f"/agencies/{made.agency_id}/staff",
                json={
                    "staff_id": "cm-first",
                    "name": "Case manager",
                    "role": "case_manager",
                    "caseload_limit": 500,
                    "joined_on": "2024-01-02",
                },
                headers=admin,
            )
            assert first.status_code == 201, first.text
            await until_known(intake_pool, made.agency_id, "cm-first", Role.CASE_MANAGER)
            await until_recovered(dh)
            await until_recovered(ih)
            yield made
        finally:
            await pool.close()


async def assert_both_recovered_whole(pair: Pair, directory: Load, intake: Load) -> None:
    for http in (pair.directory, pair.intake):
        report = await until_recovered(http)
        assert all(task["state"] == "running" for task in report["tasks"].values()), report

    directory_events = await pair.stored("directory")
    intake_events = await pair.stored("intake")
    agencies = {s for s, t, _ in directory_events.values() if t == "AgencyRegistered"}
    staff = {str(p["staff_id"]) for _, t, p in directory_events.values() if t == "StaffJoined"}
    assert {k for k in directory.acknowledged() if k.startswith("ag-")} <= agencies
    assert {k for k in directory.acknowledged() if k.startswith("cm-")} <= staff
    assert intake.acknowledged() <= {s for s, _, _ in intake_events.values()}

    for service, stored in (("directory", directory_events), ("intake", intake_events)):
        records = await read_topic(
            pair.stack.kafka_bootstrap, topic_for(service), expect=len(stored), timeout=30
        )
        published = {dict(r.headers)["ce_id"].decode() for r in records}
        missing = set(stored) - published
        assert not missing, f"{len(missing)} {service} events are not on Kafka"

    # Each consumer applied every event of the types it reads, once (the others it passed
    # over; its lag of 0 says it went past them too).
    claimed = {"CaseAssigned", "CaseReassigned"}
    wanted = sorted(
        [*directory_events, *(e for e, (_, t, _) in intake_events.items() if t in claimed)]
    )
    read_model = await until_equal(
        lambda: pair.processed("directory", "directory.read-model"), wanted
    )
    assert read_model == wanted
    roster_types = {cls.event_type() for cls in ROSTER_EVENTS}
    wanted = sorted(e for e, (_, t, _) in directory_events.items() if t in roster_types)
    assert await until_equal(lambda: pair.processed("intake", "intake.roster"), wanted) == wanted
    assert await pair.rows("SELECT count(*) FROM directory.agencies") == len(agencies)
    assert await pair.rows("SELECT count(*) FROM intake.staff_roster") == len(staff)


@dataclass
class Outcome:
    """What the writes and the health watchers of both services saw through an outage."""

    directory: Load
    intake: Load
    health: tuple[HealthWatch, HealthWatch]

    def health_statuses(self) -> list[set[int]]:
        return [watch.statuses() for watch in self.health]


async def through_outage(
    pair: Pair, stop: Callable[[], Awaitable[object]], start: Callable[[], Awaitable[object]]
) -> Outcome:
    """Write to both services and watch their health while a server is stopped, then started."""
    directory, intake = pair.directory_load(), pair.intake_load()
    watches = (HealthWatch(pair.directory), HealthWatch(pair.intake))
    async with (
        watches[0].running(),
        watches[1].running(),
        directory.running(),
        intake.running(),
    ):
        await asyncio.sleep(1.5)
        await stop()
        await asyncio.sleep(2.5)
        await start()
        await asyncio.sleep(2.0)
    return Outcome(directory, intake, watches)


async def test_a_postgresql_kill_under_writes_to_both_services_needs_no_restart(
    pair: Pair,
) -> None:
    seen = await through_outage(pair, pair.stack.kill_postgres, pair.stack.start_postgres)

    # 409: two writers adding staff to one agency raced on its stream (nothing written).
    for load in (seen.directory, seen.intake):
        assert load.statuses() <= {201, 409, 503}, load.statuses()
        assert load.refused_during_outage() and all(
            a.retry_after for a in load.refused_during_outage()
        )
    assert all(503 in statuses for statuses in seen.health_statuses())
    await assert_both_recovered_whole(pair, seen.directory, seen.intake)


async def test_a_kafka_broker_killed_under_writes_to_both_services_needs_no_restart(
    pair: Pair,
) -> None:
    seen = await through_outage(pair, pair.stack.kill_kafka, pair.stack.start_kafka)

    # Writes need PostgreSQL only: the outbox keeps them until the broker is back.
    assert seen.directory.statuses() <= {201, 409} and seen.intake.statuses() == {201}
    assert all(503 in statuses for statuses in seen.health_statuses())
    await assert_both_recovered_whole(pair, seen.directory, seen.intake)
