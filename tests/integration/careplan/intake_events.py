"""Intake's real events on a test's own intake topic, for careplan tested without intake.

The events are intake's contract classes, appended to an intake event store in a schema of
the test's own and published by the kit's relay, exactly as intake's would be: careplan
learns the case through its consumer, the way it does in production.
"""

from __future__ import annotations

import asyncpg

from services.intake.contract import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    ClientRegistered,
    Risk,
)
from shared.application import CommandContext
from shared.envelope import Actor, DomainEvent, Role, registry
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore
from shared.vocabulary import NeedDomain
from tests.harness import unique, unique_schema


def assigned_case(agency_id: str, manager_id: str) -> list[DomainEvent]:
    """A case found, registered, assessed (income and housing, a crisis) and assigned."""
    return [
        CaseFound(source="walk_in"),
        ClientRegistered(client_id=unique("client")),
        CaseAssessed(
            needs=(
                AssessedNeed(domain=NeedDomain.INCOME, severity="moderate"),
                AssessedNeed(domain=NeedDomain.HOUSING, severity="high"),
            ),
            strengths=("motivation",),
            risks=(Risk(kind="homelessness", level="high"),),
            crisis=True,
            interpreter_needed=False,
            cultural_needs_recorded=False,
        ),
        CaseAssigned(
            staff_id=manager_id,
            agency_id=agency_id,
            override=False,
            override_reason=None,
            caseload_after=1,
            caseload_limit=10,
        ),
    ]


async def publish_intake_case(
    pool: asyncpg.Pool, kafka_bootstrap: str, topic: str, agency_id: str, manager_id: str
) -> str:
    """Record an assigned case in an intake store of its own and publish it to `topic`."""
    schema = unique_schema("intake_feed")
    case_id = unique("case")
    store = EventStore(pool, "intake", schema=schema, events=registry)
    await store.migrate()
    context = CommandContext(
        agency_id=agency_id, actor=Actor(staff_id=manager_id, role=Role.CASE_MANAGER)
    )
    events = assigned_case(agency_id, manager_id)
    await store.append(case_id, 0, [context.envelope(case_id, e) for e in events])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        await Relay(store, producer, topic=topic).drain()
    finally:
        await producer.stop()
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return case_id
