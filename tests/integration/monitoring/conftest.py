"""The running monitoring app its integration tests share, fed by real upstream events.

Monitoring reads intake's, careplan's, closure's and the directory's topics through their
contracts.
These tests record those services' real contract events in event stores of their own (a
schema per service) and publish them with the kit's relay to topics of the module's own, so
monitoring's consumers read exactly what the other services would publish. The agencies'
calendar is a clock the tests move. The app is started, waited for and named the way every
service's tests do it (`tests/harness.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from services.careplan.contract import (
    Delivery,
    PlanAgreed,
    PlanGoal,
    PlanItem,
    PlanVersionDrafted,
)
from services.directory.contract import AgencyRegistered, StaffJoined
from services.intake.contract import (
    CaseAssigned,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
)
from services.monitoring.bootstrap import Topics, build
from shared.envelope import Role
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore
from shared.vocabulary import NeedDomain
from tests.harness import (
    RunningService,
    bearer,
    eventually,
    running_service,
    service_settings,
    unique,
    unique_schema,
    unique_topic,
)
from tests.integration import upstream
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import until_known
from tests.integration.upstream import Clock, Upstream

START = date(2026, 3, 2)
"""The day the first plans take effect; the clock starts a week later."""


def first_week() -> Clock:
    """The monitoring tests' calendar: a week after the first plans took effect."""
    return Clock(START + timedelta(days=7))


@dataclass
class Stack:
    """Topics, schemas, upstream services, the clock, and how to build the monitoring app."""

    database_url: str
    kafka_bootstrap: str
    settings: Settings
    topics: Topics
    schema: str
    intake: Upstream
    careplan: Upstream
    directory: Upstream
    closure: Upstream
    producer: AIOKafkaProducer
    clock: Clock = field(default_factory=lambda: first_week())
    scheduler_seconds: float = 0.2

    def app(self, settings: Settings) -> FastAPI:
        """Monitoring on the stack's topics and calendar, its scheduler passing quickly."""
        return build(
            settings,
            topics=self.topics,
            today=self.clock,
            scheduler_seconds=self.scheduler_seconds,
        )

    def auth(self, agency: str, staff: str, role: Role) -> dict[str, str]:
        """A token's header for this principal (the harness's `bearer`)."""
        return bearer(self.settings, role, agency, staff)


@dataclass(frozen=True)
class Running(RunningService):
    """A running monitoring app (the harness's `RunningService`) and the stack feeding it."""

    stack: Stack

    async def events(self, case_id: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT event_type FROM events WHERE case_id = $1 ORDER BY stream_version", case_id
        )
        return [r["event_type"] for r in rows]

    async def case(self, case_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
        answer = await self.http.get(f"/cases/{case_id}", headers=headers)
        return answer.json() if answer.status_code == 200 else None


@asynccontextmanager
async def stack_of(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    """A stack of its own: topics, schemas and upstream stores, dropped afterwards."""
    topics = Topics(
        monitoring=unique_topic("monitoring"),
        intake=unique_topic("intake"),
        careplan=unique_topic("careplan"),
        directory=unique_topic("directory"),
        closure=unique_topic("closure"),
    )
    schema = unique_schema("monitoring")
    settings = service_settings(database_url, kafka_bootstrap, schema)
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    upstream: dict[str, Upstream] = {}
    for service, topic in (
        ("intake", topics.intake),
        ("careplan", topics.careplan),
        ("directory", topics.directory),
        ("closure", topics.closure),
    ):
        store = EventStore(pg_pool, service, schema=unique_schema(service))
        await store.migrate()
        upstream[service] = Upstream(store, Relay(store, producer, topic=topic))
    try:
        async with fresh_topics(
            kafka_bootstrap,
            topics.monitoring,
            topics.intake,
            topics.careplan,
            topics.directory,
            topics.closure,
        ):
            yield Stack(
                database_url,
                kafka_bootstrap,
                settings,
                topics,
                schema,
                upstream["intake"],
                upstream["careplan"],
                upstream["directory"],
                upstream["closure"],
                producer,
            )
    finally:
        await producer.stop()
        for name in (schema, *(u.store.schema for u in upstream.values())):
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@asynccontextmanager
async def running(stack: Stack) -> AsyncIterator[Running]:
    """The monitoring app, started with the harness (handed over once `/health` answers
    200) and stopped at the end of the block; the stack keeps its schema for a restart."""
    async with running_service(
        stack.app,
        database_url=stack.database_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        schema=stack.schema,
        drop_schema=False,
        base_url="http://monitoring",
    ) as served:
        yield Running(served.app, served.http, served.settings, served.schema, stack)


@pytest.fixture(scope="module")
async def stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    async with stack_of(database_url, kafka_bootstrap, pg_pool) as built:
        yield built


@pytest.fixture
async def own_stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    """A stack for one test alone (one that restarts or kills the app on it)."""
    async with stack_of(database_url, kafka_bootstrap, pg_pool) as built:
        yield built


@pytest.fixture(scope="module")
async def monitoring(stack: Stack) -> AsyncIterator[Running]:
    async with running(stack) as app:
        await enroll_auditor(app)
        yield app


async def enroll_auditor(app: Running) -> None:
    """The network's auditor `auditor-1`, enrolled in the directory and known to monitoring."""
    await upstream.enroll_auditor(app.stack.directory, app.pool)


@dataclass(frozen=True)
class Agency:
    """An agency with a case manager, a second manager and a supervisor, and their tokens."""

    agency_id: str
    manager: dict[str, str]
    other_manager: dict[str, str]
    supervisor: dict[str, str]
    manager_id: str


async def agency(app: Running) -> Agency:
    """A new agency registered in the directory, with staff monitoring knows."""
    agency_id = unique("ag")
    staff = [("mgr-1", "case_manager"), ("mgr-2", "case_manager"), ("sup-1", "supervisor")]
    await app.stack.directory.record(
        agency_id,
        agency_id,
        AgencyRegistered(
            agency_id=agency_id, name="Welfare", region="Seoul", registered_on=date(2025, 1, 1)
        ),
        *(
            StaffJoined(staff_id=s, name=s, role=r, caseload_limit=5, joined_on=date(2025, 1, 6))
            for s, r in staff
        ),
    )
    for s, r in staff:
        await until_known(app.pool, agency_id, s, Role(r))
    auth = app.stack.auth
    return Agency(
        agency_id,
        auth(agency_id, "mgr-1", Role.CASE_MANAGER),
        auth(agency_id, "mgr-2", Role.CASE_MANAGER),
        auth(agency_id, "sup-1", Role.SUPERVISOR),
        "mgr-1",
    )


GOALS = ("goal-1", "goal-2")


def plan_items(activated: date) -> tuple[PlanItem, ...]:
    """Two items: housing (ends after 60 days) and income (after 20): nothing is delayed while
    the clock stays in the plan's first weeks."""
    return (
        PlanItem(
            item_id="item-1",
            need_domain=NeedDomain.HOUSING,
            goal_id="goal-1",
            delivery=Delivery.OWN_AGENCY,
            start_on=activated,
            end_on=activated + timedelta(days=60),
        ),
        PlanItem(
            item_id="item-2",
            need_domain=NeedDomain.INCOME,
            goal_id="goal-2",
            delivery=Delivery.OWN_AGENCY,
            start_on=activated,
            end_on=activated + timedelta(days=20),
        ),
    )


async def plan_agreed(
    app: Running,
    ag: Agency,
    case_id: str,
    version: int,
    activated: date,
    declined: tuple[str, ...] = (),
) -> None:
    """Careplan drafts version `version` and the client agrees to it from `activated`."""
    await app.stack.careplan.record(
        case_id,
        ag.agency_id,
        PlanVersionDrafted(
            plan_version=version,
            plan_date=activated,
            goals=tuple(
                PlanGoal(
                    goal_id=g, target_date=activated + timedelta(days=90), strengths=("family",)
                )
                for g in GOALS
            ),
            items=plan_items(activated),
        ),
        PlanAgreed(plan_version=version, in_force_from=activated, declined_items=declined),
    )
    await eventually(
        lambda: app.case(case_id, ag.supervisor),
        lambda c: c is not None and c["plan_version"] == version,
        f"plan version {version} in force",
    )


async def case_in_force(
    app: Running,
    ag: Agency,
    *,
    purposes: tuple[ConsentPurpose, ...] = (ConsentPurpose.MONITORING,),
    activated: date = START,
    declined: tuple[str, ...] = (),
) -> str:
    """A case registered, consented, assigned to mgr-1 at intake, with plan version 1 agreed."""
    case_id = unique("case")
    await app.stack.intake.record(
        case_id,
        ag.agency_id,
        ClientRegistered(client_id=unique("client")),
        ConsentRecorded(
            consent_id=unique("consent"),
            client_id="c",
            agencies=(ag.agency_id,),
            purposes=purposes,
            valid_from=START - timedelta(days=30),
            valid_until=START + timedelta(days=365),
        ),
        CaseAssigned(
            staff_id=ag.manager_id,
            agency_id=ag.agency_id,
            override=False,
            override_reason=None,
            caseload_after=1,
            caseload_limit=5,
        ),
    )
    await eventually(
        lambda: app.case(case_id, ag.supervisor),
        lambda c: c is not None and c["manager_id"] == ag.manager_id,
        "the assignment learned",
    )
    await plan_agreed(app, ag, case_id, 1, activated, declined)
    return case_id


def review_body(**changes: Any) -> dict[str, Any]:
    """A complete, satisfied review of the two goals and items, without new needs."""
    body: dict[str, Any] = {
        "implementation": 4,
        "goals": [{"goal_id": g, "progress": "progressing"} for g in GOALS],
        "items": [{"item_id": i, "fit": "appropriate"} for i in ("item-1", "item-2")],
        "new_needs": False,
        "client_satisfied": True,
        "manager_satisfied": True,
    }
    body.update(changes)
    return body
