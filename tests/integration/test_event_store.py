"""The PostgreSQL event store, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.envelope import DomainEvent, Envelope, EventMetadata, EventRegistry
from shared.errors import ConcurrencyError, DuplicateEventError
from shared.store import EventStore
from tests.kit_events import MANAGER, CaseNoted, ScoreRecorded, noted, test_registry


@pytest.fixture
async def store(pg_pool: asyncpg.Pool, schema_name: str) -> AsyncIterator[EventStore]:
    store = EventStore(pg_pool, "intake", schema=schema_name, events=test_registry)
    await store.migrate()
    yield store


async def test_two_writers_at_the_same_version_one_wins_one_conflicts(store: EventStore) -> None:
    case = "case-race"
    await store.append(case, 0, [noted(case, "opened")])

    results = await asyncio.gather(
        store.append(case, 1, [noted(case, "writer A")]),
        store.append(case, 1, [noted(case, "writer B")]),
        return_exceptions=True,
    )

    wins = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(wins) == 1 and len(conflicts) == 1
    assert conflicts[0].expected_version == 1 and conflicts[0].actual_version == 2
    notes = [e.payload.note for e in await store.read_stream(case)]
    assert notes[0] == "opened" and notes[1] in {"writer A", "writer B"} and len(notes) == 2


async def test_a_retried_append_with_the_same_event_ids_writes_nothing(store: EventStore) -> None:
    case = "case-retry"
    batch = [noted(case, "first", 1), noted(case, "second", 2)]
    first = await store.append(case, 0, batch)
    again = await store.append(case, 0, batch)

    assert first.written and not again.written
    assert again.positions == first.positions and again.stream_version == 2
    assert len(await store.read_stream(case)) == 2
    assert await store.last_position() == 2


async def test_an_append_reusing_one_stored_event_id_with_new_ones_is_refused(
    store: EventStore,
) -> None:
    case = "case-mixed"
    stored = noted(case, "stored")
    await store.append(case, 0, [stored])
    with pytest.raises(DuplicateEventError):
        await store.append(case, 1, [stored, noted(case, "new")])
    assert await store.stream_version(case) == 1


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(store: EventStore) -> None:
    case = "case-stale"
    await store.append(case, 0, [noted(case, "a"), noted(case, "b")])
    with pytest.raises(ConcurrencyError) as err:
        await store.append(case, 1, [noted(case, "late")])
    assert err.value.actual_version == 2
    assert await store.last_position() == 2


async def test_streams_read_back_in_version_order_with_metadata(store: EventStore) -> None:
    case = str(uuid.uuid4())
    correlation = uuid.uuid4()
    envelopes = [
        Envelope(
            metadata=EventMetadata(
                case_id=case, agency_id="agency-busan", actor=MANAGER, correlation_id=correlation
            ),
            payload=CaseNoted(note=f"note {i}", seq=i),
        )
        for i in range(3)
    ]
    appended = await store.append(case, 0, envelopes)
    events = await store.read_stream(case)

    # What the append hands back is exactly what a later read finds.
    assert appended.events == tuple(events)

    assert [e.stream_version for e in events] == [1, 2, 3]
    assert [e.payload.seq for e in events] == [0, 1, 2]
    assert all(e.metadata.correlation_id == correlation for e in events)
    assert all(e.metadata.recorded_at is not None for e in events)
    assert events[0].metadata.event_id == envelopes[0].metadata.event_id
    assert events[1].previous_hash == events[0].hash


async def test_global_positions_are_gap_free_across_cases_and_rollbacks(
    store: EventStore,
) -> None:
    await store.append("c1", 0, [noted("c1", "x")])
    with pytest.raises(ConcurrencyError):
        await store.append("c1", 0, [noted("c1", "conflict")])
    await store.append("c2", 0, [noted("c2", "y"), noted("c2", "z")])

    events = await store.read_all_raw(0)
    assert [e.position for e in events] == [1, 2, 3]
    assert [e.case_id for e in events] == ["c1", "c2", "c2"]


async def test_a_late_commit_cannot_be_skipped_by_a_reader(
    store: EventStore, pg_pool: asyncpg.Pool
) -> None:
    """Writer A holds its transaction open; B waits, so B's position commits after A's."""
    async with pg_pool.acquire() as conn_a:
        tx = conn_a.transaction()
        await tx.start()
        await store.append("slow", 0, [noted("slow", "A")], connection=conn_a)

        writer_b = asyncio.create_task(store.append("fast", 0, [noted("fast", "B")]))
        await asyncio.sleep(0.3)
        # B cannot take a position while A's is uncommitted, and a reader sees neither yet.
        assert not writer_b.done()
        assert await store.read_all_raw(0) == []

        await tx.commit()
    result_b = await asyncio.wait_for(writer_b, 5)

    events = await store.read_all_raw(0)
    assert [(e.case_id, e.position) for e in events] == [("slow", 1), ("fast", 2)]
    assert result_b.positions == (2,)


async def test_the_database_refuses_update_delete_and_truncate_of_events(
    store: EventStore, pg_pool: asyncpg.Pool
) -> None:
    await store.append("case-x", 0, [noted("case-x", "immutable")])
    table = f'"{store.schema}".events'
    for sql in (
        f'UPDATE {table} SET payload = \'{{"note": "changed"}}\'',
        f"DELETE FROM {table}",
        f"TRUNCATE {table}",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pg_pool.execute(sql)
    assert (await store.read_stream("case-x"))[0].payload.note == "immutable"


async def _as_superuser_behind_the_store(pool: asyncpg.Pool, sql: str) -> None:
    # session_replication_role=replica skips ordinary triggers: only a superuser can do this.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql)


async def test_chain_verification_detects_an_event_altered_behind_the_store(
    store: EventStore, pg_pool: asyncpg.Pool
) -> None:
    case = "case-tampered"
    await store.append(case, 0, [noted(case, f"visit {i}", i) for i in range(1, 5)])
    assert (await store.verify_case(case)).ok

    await _as_superuser_behind_the_store(
        pg_pool,
        f"""UPDATE "{store.schema}".events SET payload = jsonb_set(payload, '{{note}}',
            '"visit never happened"') WHERE case_id = '{case}' AND stream_version = 3""",
    )

    report = await store.verify_case(case)
    assert not report.ok
    assert report.broken_at_version == 3
    assert "altered" in (report.reason or "")


async def test_chain_verification_detects_a_removed_event(
    store: EventStore, pg_pool: asyncpg.Pool
) -> None:
    case = "case-gap"
    await store.append(case, 0, [noted(case, f"n{i}") for i in range(3)])
    await store.append("other", 0, [noted("other", "tail")])
    await _as_superuser_behind_the_store(
        pg_pool,
        f"""DELETE FROM "{store.schema}".events WHERE case_id = '{case}' AND stream_version = 2""",
    )
    report = await store.verify_case(case)
    assert not report.ok and report.broken_at_version == 2

    await _as_superuser_behind_the_store(
        pg_pool, f"""DELETE FROM "{store.schema}".events WHERE case_id = 'other'"""
    )
    # A whole stream removed leaves no chain to check, but the global log counts the hole.
    reports = await store.verify_all()
    assert any(r.case_id == "*" and not r.ok for r in reports)


async def test_numbers_survive_the_jsonb_round_trip_and_still_verify(store: EventStore) -> None:
    case = "case-scores"
    for version, score in enumerate([1e20, 0.1, 3.0, -2.5e-7]):
        await store.append(
            case,
            version,
            [
                Envelope(
                    metadata=EventMetadata(case_id=case, agency_id="a", actor=MANAGER),
                    payload=ScoreRecorded(score=score),
                )
            ],
        )
    assert (await store.verify_case(case)).ok
    assert [e.payload.score for e in await store.read_stream(case)] == [1e20, 0.1, 3.0, -2.5e-7]


async def test_old_schema_versions_are_upcast_when_read(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    old_registry, new_registry = EventRegistry(), EventRegistry()

    # Two versions of one event: the class as first released, and as the code has it now.
    class NeedAssessedV1(DomainEvent):
        service = "intake"
        domain: str

        @classmethod
        def event_type(cls) -> str:
            return "NeedAssessed"

    class NeedAssessed(DomainEvent):
        service = "intake"
        schema_version = 2
        domain: str
        severity: str

    old_registry.register(NeedAssessedV1)
    new_registry.register(NeedAssessed)

    @new_registry.upcaster(NeedAssessed, from_version=1)
    def _v1_to_v2(data: dict[str, object]) -> dict[str, object]:
        return {**data, "severity": "unrated"}

    writer = EventStore(pg_pool, "intake", schema=schema_name, events=old_registry)
    await writer.migrate()
    meta = EventMetadata(case_id="c", agency_id="a", actor=MANAGER)
    await writer.append("c", 0, [Envelope(metadata=meta, payload=NeedAssessedV1(domain="housing"))])

    reader = EventStore(pg_pool, "intake", schema=schema_name, events=new_registry)
    [event] = await reader.read_stream("c")
    assert event.payload.severity == "unrated" and event.payload.domain == "housing"
    assert event.metadata.schema_version == 1  # what was written stays as written
    assert (await reader.read_stream_raw("c"))[0].payload == {"domain": "housing"}
    assert (await reader.verify_case("c")).ok
    [from_log] = await reader.read_all(0)
    assert from_log.envelope.payload == NeedAssessed(domain="housing", severity="unrated")
    assert from_log.metadata.schema_version == 1


async def test_reading_the_log_decoded_matches_decoding_each_stored_row(store: EventStore) -> None:
    acting = EventMetadata(case_id="b", agency_id="a", actor=MANAGER, acting_agency_id="lead")
    await store.append("a", 0, [noted("a", "first"), noted("a", 'quote " and \\ slash')])
    await store.append("b", 0, [Envelope(metadata=acting, payload=ScoreRecorded(score=1e20))])
    await store.append("a", 2, [noted("a", "third")])

    decoded = await store.read_all(0)

    expected = [store.decode(raw) for raw in await store.read_all_raw(0)]
    assert decoded == expected
    assert [e.position for e in decoded] == [1, 2, 3, 4]
    assert decoded[2].metadata.acting_agency_id == "lead"
    assert [e.position for e in await store.read_all(2, limit=1)] == [3]


async def test_migrate_is_idempotent(store: EventStore) -> None:
    await store.append("c", 0, [noted("c", "kept")])
    await store.migrate()
    assert len(await store.read_stream("c")) == 1
    assert isinstance(await store.read_stream("c"), list)
    assert all(isinstance(e.payload, CaseNoted) for e in await store.read_stream("c"))
