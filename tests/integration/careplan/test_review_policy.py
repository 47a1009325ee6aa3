"""Careplan's review policy (R6d) inside a consumer's transaction, on the real database.

The consumer holds one pooled connection for the whole message (the effects, the dedup record
and its position commit together). The policy reads the case's stream on that connection, so
a pool whose every connection is held by such a transaction never leaves it waiting for a
second one; the return to planning is written in the same transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.careplan.adapters import board, facts
from services.careplan.application.handlers import Careplan, compose_path
from services.monitoring.contract import PlanRevisionRequired
from shared.application import CommandContext
from shared.codec import ReceivedEvent
from shared.envelope import Actor, Role, registry
from shared.settings import load_settings
from shared.store import EventStore, create_pool
from shared.vault import Vault
from shared.vocabulary import NeedDomain
from tests.harness import unique


@pytest.fixture
async def one_connection(database_url: str, schema_name: str) -> AsyncIterator[asyncpg.Pool]:
    """A careplan pool of a single connection, on a migrated schema of the test's own."""
    pool = await create_pool(database_url, max_size=1, search_path=schema_name)
    try:
        await EventStore(pool, "careplan", schema=schema_name, events=registry).migrate()
        await facts.migrate(pool)
        await board.migrate(pool)
        yield pool
    finally:
        await pool.close()


def _review(case_id: str, agency_id: str, review_id: str) -> ReceivedEvent:
    context = CommandContext(
        agency_id=agency_id, actor=Actor(staff_id="cm-review", role=Role.CASE_MANAGER)
    )
    payload = PlanRevisionRequired(
        plan_version=1, review_id=review_id, need_domains=(NeedDomain.EMPLOYMENT,)
    )
    return ReceivedEvent(context.envelope(case_id, payload), "monitoring", 1, None)


async def test_a_review_returns_the_case_to_planning_on_the_consumers_only_connection_r6d(
    one_connection: asyncpg.Pool, schema_name: str
) -> None:
    pool = one_connection
    store = EventStore(pool, "careplan", schema=schema_name, events=registry)
    ports = Careplan(compose_path(store), Vault.from_settings(load_settings(), "careplan"), pool)
    case_id = unique("case")
    review = _review(case_id, unique("ag"), unique("review"))

    # The consumer's transaction holds the pool's one connection, as it holds one of N.
    async with pool.acquire() as conn, conn.transaction():
        await ports.revision_required(conn, review)
    # The same review again (a redelivery the dedup record did not catch): nothing new.
    async with pool.acquire() as conn, conn.transaction():
        await ports.revision_required(conn, review)

    recorded = await store.read_stream(case_id)
    assert [type(e.envelope.payload).__name__ for e in recorded] == ["CaseReturnedToPlanning"]
    assert recorded[0].metadata.causation_id == review.envelope.metadata.event_id
    returned = await pool.fetchval(
        "SELECT returned_to_planning FROM plan_cases WHERE case_id = $1", case_id
    )
    assert returned is True


async def test_a_review_arriving_after_the_case_ended_sends_it_back_nowhere_r6d_r8(
    one_connection: asyncpg.Pool, schema_name: str
) -> None:
    pool = one_connection
    store = EventStore(pool, "careplan", schema=schema_name, events=registry)
    ports = Careplan(compose_path(store), Vault.from_settings(load_settings(), "careplan"), pool)
    case_id, agency_id = unique("case"), unique("ag")
    await pool.execute(
        "INSERT INTO case_facts (case_id, agency_id, assigned, terminated_on) "
        "VALUES ($1, $2, true, current_date)",
        case_id,
        agency_id,
    )

    # Passed by, not refused: a refusal would dead-letter a review that is simply too late.
    async with pool.acquire() as conn, conn.transaction():
        await ports.revision_required(conn, _review(case_id, agency_id, unique("review")))

    assert await store.read_stream(case_id) == []
