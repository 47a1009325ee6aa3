"""The running directory app the directory's integration tests share, and their helpers.

One directory app per test module, in a schema of its own and on topics of its own, so that
the read model sees exactly that module's events; every test uses agencies of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.closure import contract as closure_contract
from services.directory import contract as directory_contract
from services.directory.bootstrap import Topics, build
from services.intake import contract as intake_contract
from shared.envelope import (
    Actor,
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    Role,
)
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore
from shared.vocabulary import NeedDomain
from tests.harness import bearer, running_service, unique_schema, unique_topic
from tests.harness import eventually as eventually
from tests.harness import unique as unique
from tests.integration.members import enroll_in_directory, until_known

# The directory's events and, of intake's, the ones the directory reads (its contract's
# classes) plus one it passes over, in a registry of this module's own.
events = EventRegistry()
for _cls in (
    *directory_contract.PUBLISHED,
    intake_contract.CaseAssigned,
    intake_contract.CaseReassigned,
    intake_contract.CaseScreenedIn,
    closure_contract.CaseTerminated,
):
    events.register(_cls)


def case_assigned(staff_id: str, agency_id: str, *, override: bool = False) -> DomainEvent:
    """Intake's assignment of a case, as its contract fixes it."""
    return intake_contract.CaseAssigned(
        staff_id=staff_id,
        agency_id=agency_id,
        override=override,
        override_reason=intake_contract.OverrideReason.TEMPORARY_COVER if override else None,
        caseload_after=1,
        caseload_limit=1,
    )


def case_reassigned(from_staff_id: str, to_staff_id: str) -> DomainEvent:
    """Intake's move of a case to another case manager."""
    return intake_contract.CaseReassigned(
        from_staff_id=from_staff_id,
        to_staff_id=to_staff_id,
        reason=intake_contract.ReassignmentReason.CASELOAD_BALANCING,
    )


def case_screened_in() -> DomainEvent:
    """An intake event the directory has no use for."""
    return intake_contract.CaseScreenedIn(presenting_problems=(NeedDomain.HOUSING,), chronic=True)


@dataclass(frozen=True)
class Directory:
    """The running directory app and what the tests need around it."""

    http: httpx.AsyncClient
    settings: Settings
    schema: str
    topics: Topics
    intake: EventStore
    intake_relay: Relay
    pool: asyncpg.Pool
    """The directory's own pool (its schema on the search path)."""
    closure: EventStore
    closure_relay: Relay

    def auth(
        self, role: Role, agency_id: str = "network", staff_id: str = "admin-1"
    ) -> dict[str, str]:
        return bearer(self.settings, role, agency_id, staff_id)

    def network_admin(self) -> dict[str, str]:
        """Network administrator admin-1, enrolled when the directory started."""
        return self.auth(Role.NETWORK_ADMIN)

    def auditor(self) -> dict[str, str]:
        """Network auditor auditor-1, enrolled when the directory started."""
        return self.auth(Role.AUDITOR, "network", "auditor-1")

    async def events_of(self, pool: asyncpg.Pool, agency_id: str) -> int:
        count: int = await pool.fetchval(
            f'SELECT count(*) FROM "{self.schema}".events WHERE case_id = $1', agency_id
        )
        return count


@pytest.fixture(scope="module")
async def directory(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Directory]:
    topics = Topics(
        directory=unique_topic("directory"),
        intake=unique_topic("intake"),
        closure=unique_topic("closure"),
    )
    intake = EventStore(pg_pool, "intake", schema=unique_schema("intake"), events=events)
    await intake.migrate()
    closure = EventStore(pg_pool, "closure", schema=unique_schema("closure"), events=events)
    await closure.migrate()
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        async with running_service(
            lambda settings: build(settings, topics=topics, events=events),
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            schema=unique_schema("directory"),
            topics=(topics.directory, topics.intake, topics.closure),
            base_url="http://directory",
        ) as running:
            runtime = running.app.state.runtime
            await enroll_in_directory(runtime.store, "admin-1")
            await enroll_in_directory(runtime.store, "auditor-1", "auditor")
            await until_known(runtime.pool, "network", "admin-1", Role.NETWORK_ADMIN)
            await until_known(runtime.pool, "network", "auditor-1", Role.AUDITOR)
            yield Directory(
                running.http,
                running.settings,
                running.schema,
                topics,
                intake,
                Relay(intake, producer, topic=topics.intake),
                running.pool,
                closure,
                Relay(closure, producer, topic=topics.closure),
            )
    finally:
        await producer.stop()
        for store in (intake, closure):
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')


async def get_json(d: Directory, url: str, **params: Any) -> Any:
    answer = await d.http.get(url, params=params, headers=d.auditor())
    assert answer.status_code in (200, 404), answer.text
    return answer.json() if answer.status_code == 200 else None


async def register(d: Directory, name: str = "Seoul Welfare", region: str = "Seoul") -> str:
    agency = unique("ag")
    answer = await d.http.post(
        "/agencies",
        json={"agency_id": agency, "name": name, "region": region},
        headers=d.network_admin(),
    )
    assert answer.status_code == 201, answer.text
    return agency


async def post(d: Directory, url: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
    answer = await d.http.post(url, json=body, headers=d.network_admin())
    assert answer.status_code == expect, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def add_member(d: Directory, agency: str, staff: str, role: str) -> dict[str, str]:
    """A staff member of `agency` with `role`, once the directory knows them: their token."""
    body: dict[str, Any] = {
        "staff_id": staff,
        "name": staff.title(),
        "role": role,
        "joined_on": "2025-01-06",
    }
    if role == "case_manager":
        body["caseload_limit"] = 3
    await post(d, f"/agencies/{agency}/staff", body)
    await until_known(d.pool, agency, staff, Role(role))
    return d.auth(Role(role), agency, staff)


async def add_manager(d: Directory, agency: str, staff: str, limit: int) -> None:
    await post(
        d,
        f"/agencies/{agency}/staff",
        {
            "staff_id": staff,
            "name": staff.title(),
            "role": "case_manager",
            "caseload_limit": limit,
            "joined_on": "2025-01-06",
        },
    )


async def assign(d: Directory, agency: str, *assignments: DomainEvent, case_id: str) -> None:
    """Record intake events for one case in an intake event store and relay them to Kafka."""
    actor = Actor(staff_id="sup-1", role=Role.SUPERVISOR)
    version = await d.intake.stream_version(case_id)
    await d.intake.append(
        case_id,
        version,
        [
            Envelope(
                metadata=EventMetadata(case_id=case_id, agency_id=agency, actor=actor), payload=p
            )
            for p in assignments
        ],
    )
    await d.intake_relay.drain()


async def terminate(d: Directory, agency: str, manager: str, *, case_id: str) -> None:
    """Closure's termination of one case (the client died), relayed to its topic."""
    ended = closure_contract.CaseTerminated(
        termination_id=unique("termination"),
        reason=closure_contract.TerminationReason.CLIENT_DIED,
        termination_class=closure_contract.TerminationClass.ENDED,
        terminated_on=date(2025, 6, 1),
        agency_id=agency,
        manager_id=manager,
    )
    actor = Actor(staff_id="closure", role=Role.SYSTEM)
    version = await d.closure.stream_version(case_id)
    await d.closure.append(
        case_id,
        version,
        [
            Envelope(
                metadata=EventMetadata(case_id=case_id, agency_id=agency, actor=actor),
                payload=ended,
            )
        ],
    )
    await d.closure_relay.drain()
