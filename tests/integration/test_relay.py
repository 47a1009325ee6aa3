"""The relay, from the events table through a real Kafka broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from shared.errors import ConcurrencyError
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore, create_pool
from tests.harness import eventually
from tests.integration.kafka_reading import read_topic
from tests.kit_events import noted, test_registry

WRITERS = 4
EVENTS_PER_WRITER = 1000
CASES = [f"case-{n:02d}" for n in range(12)]


@pytest.fixture
async def store(pg_pool: asyncpg.Pool, schema_name: str) -> AsyncIterator[EventStore]:
    store = EventStore(pg_pool, "intake", schema=schema_name, events=test_registry)
    await store.migrate()
    yield store


async def _writer(store: EventStore, writer: int) -> int:
    """Append EVENTS_PER_WRITER events in small batches across shared cases, retrying conflicts."""
    written = conflicts = 0
    step = 0
    while written < EVENTS_PER_WRITER:
        case = CASES[(writer * 7 + step) % len(CASES)]
        size = min(1 + (step % 4), EVENTS_PER_WRITER - written)
        step += 1
        batch = [noted(case, f"w{writer}", written + i) for i in range(size)]
        while True:
            version = await store.stream_version(case)
            try:
                await store.append(case, version, batch)
                break
            except ConcurrencyError:
                conflicts += 1
        written += size
    return conflicts


async def test_four_concurrent_writers_are_published_whole_and_in_stream_order(
    store: EventStore, kafka_bootstrap: str, kafka_topic: str
) -> None:
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    relay = Relay(store, producer, topic=kafka_topic, batch_size=200, poll_seconds=0.1)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.gather(*(_writer(store, w) for w in range(WRITERS)))
        total = WRITERS * EVENTS_PER_WRITER
        assert await store.last_position() == total
        await eventually(relay.progress, lambda p: p.lag == 0, "published", timeout=60)
        assert (await relay.progress()).published_position == total
    finally:
        stop.set()
        await asyncio.wait_for(relaying, 10)
        await producer.stop()

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    stored = {e.event_id.hex: e for e in await store.read_all_raw(0, total + 1)}
    published = [dict(r.headers)["ce_id"].decode().replace("-", "") for r in records]
    assert len(published) == total
    assert set(published) == set(stored)

    versions_seen: dict[str, list[int]] = defaultdict(list)
    partitions_of_case: dict[str, set[int]] = defaultdict(set)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        case = record.key.decode()
        versions_seen[case].append(int(dict(record.headers)["ce_streamversion"]))
        partitions_of_case[case].add(record.partition)
    for case, versions in versions_seen.items():
        assert versions == list(range(1, len(versions) + 1)), f"{case} out of order or gapped"
        assert len(partitions_of_case[case]) == 1
        assert len(versions) == await store.stream_version(case)


async def test_a_relayed_message_is_read_by_the_cloudevents_sdk(
    store: EventStore, kafka_bootstrap: str, kafka_topic: str
) -> None:
    envelope = noted("case-ce", "home visit booked", 3, agency="agency-incheon-2")
    await store.append("case-ce", 0, [envelope])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        assert await Relay(store, producer, topic=kafka_topic).drain() == 1
    finally:
        await producer.stop()

    [record] = await read_topic(kafka_bootstrap, kafka_topic, expect=1)
    event = from_binary(
        KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value),
        JSONFormat(),
    )

    meta = envelope.metadata
    assert event.get_id() == str(meta.event_id)
    assert event.get_type() == "caseline.intake.CaseNoted.v1"
    assert event.get_source() == "/agencies/agency-incheon-2/intake"
    assert event.get_subject() == "case-ce"
    assert event.get_time() == meta.occurred_at.astimezone(UTC)
    assert event.get_extension("partitionkey") == "case-ce"
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {"note": "home visit booked", "seq": 3}
    assert event.get_extension("correlationid") == str(meta.correlation_id)
    assert record.key == b"case-ce"
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_partitionkey"] == b"case-ce"
    assert datetime.fromisoformat(headers["ce_time"].decode()) == meta.occurred_at
    assert json.loads(record.value) == {"note": "home visit booked", "seq": 3}


async def test_a_second_relay_on_the_same_outbox_stands_by(
    store: EventStore, kafka_bootstrap: str, kafka_topic: str
) -> None:
    await store.append("case-one", 0, [noted("case-one", f"n{i}", i) for i in range(5)])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    stop = asyncio.Event()
    leader = Relay(store, producer, topic=kafka_topic, poll_seconds=0.1)
    standby = Relay(store, producer, topic=kafka_topic, poll_seconds=0.1)
    first = asyncio.create_task(leader.run(stop))
    await asyncio.sleep(0.5)
    second = asyncio.create_task(standby.run(stop))
    try:
        await asyncio.sleep(1.0)
        assert not second.done()
        assert (await leader.progress()).lag == 0
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(asyncio.gather(first, second), 10)
        await producer.stop()
    records = await read_topic(kafka_bootstrap, kafka_topic, expect=5, timeout=5)
    assert len(records) == 5  # the standby published nothing twice


async def test_a_stopped_relay_gives_its_connection_back_without_its_lock_or_listener(
    store: EventStore, database_url: str, kafka_bootstrap: str, kafka_topic: str
) -> None:
    # Pools do not reset sessions on release (`create_pool`): the relay must undo its own.
    pool = await create_pool(database_url, min_size=2, max_size=2)
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    stop = asyncio.Event()
    try:
        own = EventStore(pool, "intake", schema=store.schema, events=test_registry)
        await own.append("case-one", 0, [noted("case-one", "n0", 0)])
        relay = Relay(own, producer, topic=kafka_topic, poll_seconds=0.1)
        running = asyncio.create_task(relay.run(stop))
        await eventually(relay.progress, lambda p: p.lag == 0, "relay caught up", timeout=30)
        stop.set()
        await asyncio.wait_for(running, 10)
        # Both of the pool's connections at once: one of them is the one the relay led on.
        async with pool.acquire() as first, pool.acquire() as second:
            for conn in (first, second):
                locks = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid = pg_backend_pid()"
                )
                listening = await conn.fetch("SELECT pg_listening_channels()")
                assert locks == 0 and listening == []
    finally:
        await producer.stop()
        await pool.close()


async def test_the_relay_resumes_from_its_durable_position(
    store: EventStore, kafka_bootstrap: str, kafka_topic: str
) -> None:
    await store.append("case-r", 0, [noted("case-r", "before", 1)])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        assert await Relay(store, producer, topic=kafka_topic).drain() == 1
        await store.append("case-r", 1, [noted("case-r", "after", 2)])
        # A new relay instance (as after a restart) starts where the last one saved.
        assert await Relay(store, producer, topic=kafka_topic).drain() == 1
    finally:
        await producer.stop()
    with pytest.raises(ConcurrencyError):
        await store.append("case-r", 1, [noted("case-r", "stale")])
    records = await read_topic(kafka_bootstrap, kafka_topic, expect=2)
    assert [json.loads(r.value)["note"] for r in records] == ["before", "after"]
