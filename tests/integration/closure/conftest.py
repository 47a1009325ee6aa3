"""The running closure app its integration tests share, fed by real upstream events.

Closure reads intake's, careplan's, monitoring's and the directory's topics through their
contracts. These tests record those services' real contract events in event stores of their
own (a schema per service) and publish them with the kit's relay to topics of the module's
own, so closure's consumers read exactly what the other services would publish. The
agencies' calendar is a clock the tests move.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from services.closure.bootstrap import Topics, build
from services.directory.contract import (
    AgencyRegistered,
    ServiceOffered,
    StaffJoined,
)
from services.intake.contract import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseSource,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    Severity,
)
from shared.auth import issue_token
from shared.envelope import DomainEvent, Role
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings, load_settings
from shared.store import EventStore
from shared.vocabulary import NeedDomain, ResourceKind
from tests import harness
from tests.harness import unique as unique
from tests.integration import upstream
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import until_known
from tests.integration.upstream import Clock, Upstream

WAIT_SECONDS = 30.0
T = TypeVar("T")
TODAY = date(2026, 6, 1)


@dataclass
class Stack:
    """Topics, schemas, upstream services, the clock, and how to run the closure app."""

    settings: Settings
    topics: Topics
    schema: str
    intake: Upstream
    careplan: Upstream
    monitoring: Upstream
    directory: Upstream
    producer: AIOKafkaProducer
    clock: Clock = field(default_factory=lambda: Clock(TODAY))
    scheduler_seconds: float = 0.2

    def app(self) -> FastAPI:
        return build(
            self.settings,
            topics=self.topics,
            today=self.clock,
            scheduler_seconds=self.scheduler_seconds,
        )

    def auth(self, agency: str, staff: str, role: Role) -> dict[str, str]:
        token = issue_token(self.settings, agency_id=agency, staff_id=staff, role=role)
        return {"Authorization": f"Bearer {token}"}


@dataclass
class Running:
    """A running closure app."""

    stack: Stack
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def pool(self) -> asyncpg.Pool:
        pool: asyncpg.Pool = self.app.state.runtime.pool
        return pool

    async def events(self, stream: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT event_type FROM events WHERE case_id = $1 ORDER BY stream_version", stream
        )
        return [r["event_type"] for r in rows]

    async def count(self, event_type: str) -> int:
        value: int = await self.pool.fetchval(
            "SELECT count(*) FROM events WHERE event_type = $1", event_type
        )
        return value


@asynccontextmanager
async def stack_of(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    """A stack of its own: topics, schemas and upstream stores, dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    topics = Topics.in_namespace(f"test-{suffix}")
    schema = f"t_closure_{suffix}"
    settings = load_settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        db_schema=schema,
        relay_poll_seconds=0.05,
    )
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    upstream: dict[str, Upstream] = {}
    for service in ("intake", "careplan", "monitoring", "directory"):
        store = EventStore(pg_pool, service, schema=f"t_{service}_{suffix}")
        await store.migrate()
        upstream[service] = Upstream(store, Relay(store, producer, topic=getattr(topics, service)))
    try:
        async with fresh_topics(
            kafka_bootstrap,
            topics.closure,
            topics.intake,
            topics.careplan,
            topics.monitoring,
            topics.directory,
        ):
            yield Stack(
                settings,
                topics,
                schema,
                upstream["intake"],
                upstream["careplan"],
                upstream["monitoring"],
                upstream["directory"],
                producer,
            )
    finally:
        await producer.stop()
        for name in (schema, *(u.store.schema for u in upstream.values())):
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@asynccontextmanager
async def running(stack: Stack) -> AsyncIterator[Running]:
    """The closure app, started and (at the end of the block) stopped."""
    app = stack.app()
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://closure") as http:
            yield Running(stack, app, http)


@pytest.fixture(scope="module")
async def stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    async with stack_of(database_url, kafka_bootstrap, pg_pool) as built:
        yield built


@pytest.fixture(scope="module")
async def closure(stack: Stack) -> AsyncIterator[Running]:
    async with running(stack) as app:
        await enroll_auditor(app)
        yield app


async def eventually(probe: Callable[[], Awaitable[T]], holds: Callable[[T], bool], what: str) -> T:
    """The harness's `eventually`, with closure's longer bound (a fan-out of hundreds)."""
    return await harness.eventually(probe, holds, what, timeout=WAIT_SECONDS)


async def enroll_auditor(app: Running) -> None:
    """The network's auditor `auditor-1`, enrolled in the directory and known to closure."""
    await upstream.enroll_auditor(app.stack.directory, app.pool)


@dataclass(frozen=True)
class Agency:
    """An agency with a case manager, a second manager and a supervisor, and their tokens."""

    agency_id: str
    manager: dict[str, str]
    other_manager: dict[str, str]
    supervisor: dict[str, str]
    admin: dict[str, str]


async def agency(
    app: Running, *offers: NeedDomain, capacity: int = 5, department: str | None = None
) -> Agency:
    """A new agency in the directory with staff closure knows, offering a service in each
    of `offers`."""
    agency_id = unique("ag")
    staff = [
        ("mgr-1", "case_manager"),
        ("mgr-2", "case_manager"),
        ("sup-1", "supervisor"),
        ("adm-1", "agency_admin"),
    ]
    await app.stack.directory.record(
        agency_id,
        agency_id,
        AgencyRegistered(
            agency_id=agency_id, name="Welfare", region="Seoul", registered_on=date(2025, 1, 1)
        ),
        *(
            StaffJoined(
                staff_id=s,
                name=s,
                role=r,
                caseload_limit=600,
                department_id=department,
                joined_on=date(2025, 1, 6),
            )
            for s, r in staff
        ),
        *(
            ServiceOffered(
                service_id=f"{agency_id}-{domain.value}",
                name="Service",
                need_domain=domain,
                resource=ResourceKind.FORMAL,
                department_id=department,
                capacity=capacity,
            )
            for domain in offers
        ),
    )
    for s, r in staff:
        await until_known(app.pool, agency_id, s, Role(r))
    # The services come after the staff in the agency's stream: wait for them too.
    await eventually(
        lambda: app.pool.fetchval(
            "SELECT count(*) FROM network_services WHERE agency_id = $1", agency_id
        ),
        lambda n: n == len(offers),
        f"the services of {agency_id} known",
    )
    auth = app.stack.auth
    return Agency(
        agency_id,
        auth(agency_id, "mgr-1", Role.CASE_MANAGER),
        auth(agency_id, "mgr-2", Role.CASE_MANAGER),
        auth(agency_id, "sup-1", Role.SUPERVISOR),
        auth(agency_id, "adm-1", Role.AGENCY_ADMIN),
    )


async def open_case(
    app: Running,
    at: Agency,
    *needs: NeedDomain,
    client_id: str | None = None,
    consent_for: tuple[str, ...] = (),
    manager: str = "mgr-1",
    wait: bool = True,
) -> tuple[str, str]:
    """A case intake found, registered, assessed and assigned at `at`, with a referral
    consent naming `consent_for`; returns (case id, client id) once closure knows it."""
    case_id = unique("case")
    client_id = client_id or unique("client")
    payloads: list[DomainEvent] = [
        CaseFound(source=CaseSource.WALK_IN),
        ClientRegistered(client_id=client_id, returning_client=False),
        CaseAssessed(
            needs=tuple(
                AssessedNeed(domain=d, severity=Severity.MODERATE)
                for d in (needs or (NeedDomain.HOUSING,))
            ),
            interpreter_needed=False,
            cultural_needs_recorded=True,
        ),
        CaseAssigned(
            staff_id=manager,
            agency_id=at.agency_id,
            override=False,
            override_reason=None,
            caseload_after=1,
            caseload_limit=600,
        ),
    ]
    if consent_for:
        payloads.append(
            ConsentRecorded(
                consent_id=unique("consent"),
                client_id=client_id,
                agencies=consent_for,
                purposes=(ConsentPurpose.REFERRAL, ConsentPurpose.RECORD_TRANSFER),
                valid_from=TODAY - timedelta(days=30),
                valid_until=TODAY + timedelta(days=365),
            )
        )
    await app.stack.intake.record(case_id, at.agency_id, *payloads)
    if wait:
        await until_case_known(app, case_id, client_id, bool(consent_for))
    return case_id, client_id


async def until_case_known(app: Running, case_id: str, client_id: str, consent: bool) -> None:
    """Wait until closure learned the case's manager and its client's served provider and
    consent."""

    async def learned() -> tuple[list[str], list[str]]:
        return await app.events(case_id), await app.events(f"client:{client_id}")

    def complete(value: tuple[list[str], list[str]]) -> bool:
        case, client = value
        return (
            "ManagerLearned" in case
            and "ServedLearned" in client
            and ("ConsentLearned" in client or not consent)
        )

    await eventually(learned, complete, f"case {case_id} learned")


async def answer(response: httpx.Response, code: int) -> Any:
    """The JSON of a response that must have `code`."""
    assert response.status_code == code, response.text
    return response.json()
