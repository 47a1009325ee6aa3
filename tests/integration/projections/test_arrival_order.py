"""Projections' read models do not depend on the order topics' events arrive in.

Each service's topic keeps its own streams in order, but nothing orders one topic against
another, and `caseline replay` rebuilds the tables in recorded-time order and compares them
row by row with the live ones. So the same events applied in two cross-topic interleavings,
each to a fresh schema on the real PostgreSQL, must leave every table identical.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.closure.contract import Provider
from services.projections.adapters.read_model import ProjectionsReadModel
from shared.application import CommandContext
from shared.codec import ReceivedEvent
from shared.envelope import Actor
from shared.store import create_pool
from tests.harness import unique, unique_schema
from tests.integration.projections.conftest import PARTNER
from tests.integration.projections.stories import referred_streams

pytestmark = pytest.mark.infra

Streams = list[list[ReceivedEvent]]


def _received(case_id: str, linked_id: str) -> Streams:
    """The story's events as consumed: one list per stream, in the stream's own order."""
    streams: Streams = []
    for service, stream_id, agency_id, events, role in referred_streams(case_id, linked_id):
        context = CommandContext(agency_id=agency_id, actor=Actor(staff_id="staff", role=role))
        streams.append(
            [
                ReceivedEvent(
                    envelope=context.envelope(stream_id, event),
                    service=service,
                    stream_version=version,
                    position=None,
                )
                for version, event in enumerate(events, start=1)
            ]
        )
    return streams


def _one_stream_after_another(streams: Streams) -> list[ReceivedEvent]:
    return [event for stream in streams for event in stream]


def _round_robin_backwards(streams: Streams) -> list[ReceivedEvent]:
    """The last stream first, one event from each stream in turn: every topic interleaved."""
    queues = [list(stream) for stream in reversed(streams)]
    order: list[ReceivedEvent] = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


@pytest.fixture
async def two_schemas(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    names = [unique_schema("proj_order_a"), unique_schema("proj_order_b")]
    admin = await create_pool(database_url, max_size=2)
    pools: list[asyncpg.Pool] = []
    try:
        for name in names:
            await admin.execute(f'CREATE SCHEMA "{name}"')
            pool = await create_pool(database_url, max_size=2, search_path=name)
            pools.append(pool)
            await ProjectionsReadModel.migrate(pool)
        yield pools[0], pools[1]
    finally:
        for pool in pools:
            await pool.close()
        for name in names:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


async def _apply(pool: asyncpg.Pool, events: list[ReceivedEvent]) -> None:
    async with pool.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await ProjectionsReadModel.apply(conn, event)


async def _tables(pool: asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the pool's schema, its rows in a fixed order."""
    names = await pool.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    tables: dict[str, list[tuple[object, ...]]] = {}
    for record in names:
        name = record["table_name"]
        rows = await pool.fetch(f'SELECT * FROM "{name}"')
        tables[name] = sorted((tuple(row.values()) for row in rows), key=repr)
    return tables


async def test_the_same_events_in_two_cross_topic_orders_leave_identical_rows_in_every_table(
    two_schemas: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    first, second = two_schemas
    streams = _received(unique("case-north"), unique("case-south"))
    in_order = _one_stream_after_another(streams)
    interleaved = _round_robin_backwards(streams)
    assert [e.envelope.metadata.event_id for e in in_order] != [
        e.envelope.metadata.event_id for e in interleaved
    ]

    await _apply(first, in_order)
    await _apply(second, interleaved)

    ours, theirs = await _tables(first), await _tables(second)
    assert {"journeys", "journey_items", "journey_forms", "events_seen"} <= set(ours)
    assert all(ours[name] for name in ("journeys", "journey_items", "events_seen"))
    for name in sorted(ours):
        assert ours[name] == theirs[name], name


async def test_a_linked_case_s_agency_is_its_own_events_whether_they_or_the_referral_come_first(
    two_schemas: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    case_id, linked_id = unique("case-north"), unique("case-south")
    streams = _received(case_id, linked_id)
    closure, linked_intake = streams[3], streams[4]
    assert linked_intake[0].envelope.metadata.case_id == linked_id
    # The referral expected one agency; the linked case's own events name another.
    completed = closure[-1]
    payload = completed.envelope.payload.model_copy(
        update={"target": Provider(agency_id="ag-expected-elsewhere")}
    )
    moved = ReceivedEvent(
        envelope=completed.envelope.model_copy(update={"payload": payload}),
        service=completed.service,
        stream_version=completed.stream_version,
        position=None,
    )
    first, second = two_schemas

    await _apply(first, [moved, *linked_intake])
    await _apply(second, [*linked_intake, moved])

    agencies = [
        await pool.fetchval("SELECT agency_id FROM journeys WHERE case_id = $1", linked_id)
        for pool in (first, second)
    ]
    assert agencies == [PARTNER, PARTNER]
    froms = [
        await pool.fetchval("SELECT referred_from_case FROM journeys WHERE case_id = $1", linked_id)
        for pool in (first, second)
    ]
    assert froms == [case_id, case_id]
