"""The idempotent consumer and its dead-letter queue, on a real Kafka broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from shared.codec import KafkaRecord, ReceivedEvent, to_kafka
from shared.consumer import (
    DLQ_TOPIC,
    Backoff,
    DeadLetterHeader,
    DeadLetterQueue,
    EventHandler,
    IdempotentConsumer,
    IncomingMessage,
    Outcome,
    ProcessingRejected,
    event_types,
    subscribe_idempotent,
)
from shared.relay import idempotent_producer
from shared.store import EventStore
from tests.harness import eventually
from tests.kit_events import CaseNoted, noted, test_registry

WAIT_SECONDS = 15.0


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    yield client
    await client.close()


@pytest.fixture
async def make_topic(admin: AIOKafkaAdminClient) -> AsyncIterator[Callable[[int], Awaitable[str]]]:
    """Create topics of this test's own (auto-creation is off); delete them afterwards."""
    created: list[str] = []

    async def create(partitions: int = 1) -> str:
        name = _unique("test.consumer")
        await admin.create_topics([NewTopic(name, partitions, 1)])
        created.append(name)
        return name

    yield create
    if created:
        await admin.delete_topics(created)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def store(pg_pool: asyncpg.Pool, schema_name: str) -> EventStore:
    store = EventStore(pg_pool, "intake", schema=schema_name, events=test_registry)
    await store.migrate()
    # The consuming service's effects: one row per application of an event, no uniqueness,
    # so that an effect applied twice would show as two rows.
    await pg_pool.execute(
        f'CREATE TABLE "{schema_name}".notes_seen (event_id uuid, case_id text, note text)'
    )
    return store


def recording_handler(schema: str) -> EventHandler:
    """A handler whose effect is a `notes_seen` row, written on the consumer's connection."""

    async def handle(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        assert isinstance(event.envelope.payload, CaseNoted)
        await conn.execute(
            f'INSERT INTO "{schema}".notes_seen VALUES ($1, $2, $3)',
            event.envelope.metadata.event_id,
            event.envelope.metadata.case_id,
            event.envelope.payload.note,
        )

    return handle


async def stored_records(store: EventStore, case_id: str, *notes: str) -> list[KafkaRecord]:
    """Append `noted` events to the store, then encode them as the relay would publish them."""
    version = await store.stream_version(case_id)
    await store.append(case_id, version, [noted(case_id, n, i) for i, n in enumerate(notes)])
    return [to_kafka(e, "intake") for e in await store.read_stream_raw(case_id, version + 1)]


def with_header(record: KafkaRecord, name: str, value: bytes) -> list[tuple[str, bytes]]:
    """The record's headers with one replaced (or added), order kept."""
    headers = [(n, value if n == name else v) for n, v in record.headers]
    if all(n != name for n, _ in record.headers):
        headers.append((name, value))
    return headers


async def send(
    producer: AIOKafkaProducer,
    topic: str,
    value: bytes,
    key: bytes,
    headers: Sequence[tuple[str, bytes]],
) -> None:
    await producer.send_and_wait(topic, value=value, key=key, headers=list(headers))


async def send_record(producer: AIOKafkaProducer, topic: str, record: KafkaRecord) -> None:
    await send(producer, topic, record.value, record.key, record.headers)


@asynccontextmanager
async def running(
    kafka_bootstrap: str, consumer: IdempotentConsumer, topic: str, group_id: str
) -> AsyncIterator[KafkaBroker]:
    """A real FastStream broker running the consumer on `topic` for the block."""
    broker = KafkaBroker(kafka_bootstrap)
    subscribe_idempotent(
        broker, consumer, topic, group_id=group_id, backoff=Backoff(initial=0.05, maximum=0.5)
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def make_consumer(
    store: EventStore,
    producer: AIOKafkaProducer,
    handle: EventHandler | None = None,
) -> IdempotentConsumer:
    consumer = IdempotentConsumer(
        _unique("closure-test"),
        store.pool,
        schema=store.schema,
        events=test_registry,
        handle=handle or recording_handler(store.schema),
        dead_letters=DeadLetterQueue(producer),
    )
    await consumer.migrate()
    return consumer


async def end_offsets(
    admin: AIOKafkaAdminClient, kafka_bootstrap: str, topic: str
) -> dict[TopicPartition, int]:
    """The offset after the last message of each of the topic's partitions."""
    [description] = await admin.describe_topics([topic])
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
        return ends
    finally:
        await reader.stop()


async def dead_letters_of(
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
    since: dict[TopicPartition, int],
    consumer: str,
    *,
    topic: str = DLQ_TOPIC,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The DLQ messages `consumer` sent between `since` and the DLQ's end now."""
    until = await end_offsets(admin, kafka_bootstrap, topic)
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        reader.assign([tp for tp in until if until[tp] > since.get(tp, 0)])
        for partition in reader.assignment():
            reader.seek(partition, since.get(partition, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while any(await behind(reader, until)):
            if loop.time() > deadline:
                raise AssertionError("timed out reading the DLQ")
            batch = await reader.getmany(timeout_ms=200)
            for records in batch.values():
                found.extend(
                    r
                    for r in records
                    if (DeadLetterHeader.CONSUMER.value, consumer.encode()) in r.headers
                )
        return found
    finally:
        await reader.stop()


async def behind(reader: AIOKafkaConsumer, until: dict[TopicPartition, int]) -> list[bool]:
    return [await reader.position(tp) < until[tp] for tp in reader.assignment()]


def dlq_header(record: ConsumerRecord[bytes, bytes], name: DeadLetterHeader) -> str:
    [value] = [v for n, v in record.headers if n == name.value]
    return bytes(value).decode()


def original_headers(record: ConsumerRecord[bytes, bytes]) -> list[tuple[str, bytes]]:
    return [(n, v) for n, v in record.headers if not n.startswith("caseline-dlq-")]


async def count(pool: asyncpg.Pool, sql: str, *args: object) -> int:
    value: int = await pool.fetchval(sql, *args)
    return value


async def count_is(store: EventStore, sql: str, expected: int) -> bool:
    return await count(store.pool, sql.format(s=f'"{store.schema}"')) == expected


async def stored_offset_is(
    consumer: IdempotentConsumer, topic: str, partition: int, offset: int
) -> bool:
    return (await consumer.stored_offsets()).get((topic, partition)) == offset


async def kafka_committed_is(
    kafka_bootstrap: str, group: str, ends: dict[TopicPartition, int]
) -> bool:
    # A client of the group that never subscribes reads its committed offsets without
    # joining it, so it does not disturb the running consumer.
    reader = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        for partition, end in ends.items():
            if end and await reader.committed(partition) != end:
                return False
        return True
    finally:
        await reader.stop()


async def test_unreadable_messages_go_to_the_dlq_intact_and_later_messages_are_processed(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    consumer = await make_consumer(store, producer)
    dlq_start = await end_offsets(admin, kafka_bootstrap, DLQ_TOPIC)
    [template] = await stored_records(store, "case-template", "template")
    not_json = (b"\x00{this is not json", template.key, template.headers)
    unknown = (
        template.value,
        template.key,
        with_header(template, "ce_type", b"caseline.intake.NoSuchThing.v1"),
    )
    invalid = (b'{"seq": 7}', template.key, template.headers)  # `note` is required
    binary_header = (template.value, template.key, with_header(template, "x-trace", b"\xff\xfe"))
    refused = [not_json, unknown, invalid, binary_header]
    for value, key, headers in refused:
        await send(producer, topic, value, key, headers)
    good = await stored_records(store, "case-after", "first", "second")
    for record in good:
        await send_record(producer, topic, record)

    async with running(kafka_bootstrap, consumer, topic, _unique("group")):
        await eventually(
            lambda: count_is(store, "SELECT count(*) FROM {s}.notes_seen", 2),
            what="both valid messages after the refused ones are applied",
        )
        dead = await dead_letters_of(admin, kafka_bootstrap, dlq_start, consumer.name)

    assert len(dead) == 4
    by_offset = {int(dlq_header(r, DeadLetterHeader.OFFSET)): r for r in dead}
    assert sorted(by_offset) == [0, 1, 2, 3]
    for offset, (value, key, headers) in enumerate(refused):
        letter = by_offset[offset]
        assert letter.value == value
        assert letter.key == key
        assert original_headers(letter) == list(headers)
        assert dlq_header(letter, DeadLetterHeader.TOPIC) == topic
        assert dlq_header(letter, DeadLetterHeader.PARTITION) == "0"
        assert dlq_header(letter, DeadLetterHeader.AT).endswith("Z")
    errors = {o: dlq_header(r, DeadLetterHeader.ERROR) for o, r in by_offset.items()}
    assert errors == {
        0: "shared.codec.MalformedMessage",
        1: "shared.errors.UnknownEventType",
        2: "shared.errors.SchemaError",
        3: "shared.codec.MalformedMessage",
    }
    assert "not JSON" in dlq_header(by_offset[0], DeadLetterHeader.REASON)
    assert "NoSuchThing" in dlq_header(by_offset[1], DeadLetterHeader.REASON)
    assert "note" in dlq_header(by_offset[2], DeadLetterHeader.REASON)
    assert "x-trace" in dlq_header(by_offset[3], DeadLetterHeader.REASON)
    notes = await store.pool.fetch(f'SELECT note FROM "{store.schema}".notes_seen ORDER BY note')
    assert [r["note"] for r in notes] == ["first", "second"]
    assert (
        await count(store.pool, f'SELECT count(*) FROM "{store.schema}".dead_lettered_messages')
        == 4
    )


async def test_a_message_delivered_twice_takes_effect_once(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    consumer = await make_consumer(store, producer)
    [record] = await stored_records(store, "case-twice", "only once")
    await send_record(producer, topic, record)
    await send_record(producer, topic, record)

    async with running(kafka_bootstrap, consumer, topic, _unique("group")):
        await eventually(
            lambda: stored_offset_is(consumer, topic, 0, 2), what="both deliveries are settled"
        )

    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 1)
    rows = await store.pool.fetch(
        f'SELECT consumer, event_id, "offset" FROM "{store.schema}".processed_messages'
    )
    [event] = await store.read_stream_raw("case-twice")
    assert [(r["consumer"], r["event_id"], r["offset"]) for r in rows] == [
        (consumer.name, event.event_id, 0)
    ]


async def test_a_refusing_handler_rolls_back_its_effects_and_the_dedup_record(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    record_note = recording_handler(store.schema)

    async def refuse_after_writing(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        await record_note(conn, event)
        if event.envelope.payload.note == "refuse me":
            raise ProcessingRejected("the case was closed before this note arrived")

    consumer = await make_consumer(store, producer, refuse_after_writing)
    dlq_start = await end_offsets(admin, kafka_bootstrap, DLQ_TOPIC)
    refused, accepted = await stored_records(store, "case-refusal", "refuse me", "accept me")
    await send_record(producer, topic, refused)
    await send_record(producer, topic, accepted)

    async with running(kafka_bootstrap, consumer, topic, _unique("group")):
        await eventually(
            lambda: stored_offset_is(consumer, topic, 0, 2), what="both messages are settled"
        )
        [letter] = await dead_letters_of(admin, kafka_bootstrap, dlq_start, consumer.name)

    notes = await store.pool.fetch(f'SELECT note FROM "{store.schema}".notes_seen')
    assert [r["note"] for r in notes] == ["accept me"]
    processed = await store.pool.fetch(f'SELECT "offset" FROM "{store.schema}".processed_messages')
    assert [r["offset"] for r in processed] == [1]
    assert letter.value == refused.value and original_headers(letter) == refused.headers
    assert dlq_header(letter, DeadLetterHeader.ERROR) == "shared.consumer.ProcessingRejected"
    assert dlq_header(letter, DeadLetterHeader.REASON) == (
        "the case was closed before this note arrived"
    )


async def test_kafka_commits_and_postgresql_records_the_same_offsets_after_processing(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(3)
    consumer = await make_consumer(store, producer)
    group = _unique("group")
    records = [
        record
        for n in range(6)
        for record in await stored_records(store, f"case-offsets-{n}", "a", "b")
    ]
    for record in records:
        await send_record(producer, topic, record)

    async with running(kafka_bootstrap, consumer, topic, group):
        await eventually(
            lambda: count_is(store, "SELECT count(*) FROM {s}.notes_seen", len(records)),
            what="every message is applied",
        )
        ends = await end_offsets(admin, kafka_bootstrap, topic)
        await eventually(
            lambda: kafka_committed_is(kafka_bootstrap, group, ends),
            what="Kafka has every offset committed",
        )

    stored = await consumer.stored_offsets()
    assert stored == {(tp.topic, tp.partition): end for tp, end in ends.items() if end > 0}
    assert sum(ends.values()) == len(records)


async def test_an_outage_is_retried_not_dead_lettered_and_takes_effect_once(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    record_note = recording_handler(store.schema)
    attempts: list[str] = []

    async def lose_the_connection_once(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        await record_note(conn, event)
        attempts.append(event.envelope.payload.note)
        if attempts.count("unlucky") == 1 and event.envelope.payload.note == "unlucky":
            # A real outage: PostgreSQL ends this session mid-transaction.
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    consumer = await make_consumer(store, producer, lose_the_connection_once)
    for record in await stored_records(store, "case-outage", "unlucky", "next"):
        await send_record(producer, topic, record)

    async with running(kafka_bootstrap, consumer, topic, _unique("group")):
        await eventually(
            lambda: stored_offset_is(consumer, topic, 0, 2), what="both messages are settled"
        )

    assert attempts == ["unlucky", "unlucky", "next"]
    notes = await store.pool.fetch(f'SELECT note FROM "{store.schema}".notes_seen ORDER BY note')
    assert [r["note"] for r in notes] == ["next", "unlucky"]
    assert await count_is(store, "SELECT count(*) FROM {s}.dead_lettered_messages", 0)


async def test_a_handler_bug_is_retried_rather_than_skipped(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    record_note = recording_handler(store.schema)
    attempts: list[str] = []

    async def fail_once(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        attempts.append(event.envelope.payload.note)
        if attempts == ["flaky"]:
            raise RuntimeError("a bug that a redeploy fixes")
        await record_note(conn, event)

    consumer = await make_consumer(store, producer, fail_once)
    for record in await stored_records(store, "case-bug", "flaky", "next"):
        await send_record(producer, topic, record)

    async with running(kafka_bootstrap, consumer, topic, _unique("group")):
        await eventually(
            lambda: stored_offset_is(consumer, topic, 0, 2), what="both messages are settled"
        )

    assert attempts == ["flaky", "flaky", "next"]
    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 2)
    assert await count_is(store, "SELECT count(*) FROM {s}.dead_lettered_messages", 0)


async def test_reading_the_topic_again_from_the_start_changes_nothing(
    store: EventStore,
    producer: AIOKafkaProducer,
    make_topic: Callable[[int], Awaitable[str]],
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    consumer = await make_consumer(store, producer)
    dlq_start = await end_offsets(admin, kafka_bootstrap, DLQ_TOPIC)
    first, second = await stored_records(store, "case-replay", "one", "two")
    await send_record(producer, topic, first)
    await send(producer, topic, b"not json", first.key, first.headers)
    await send_record(producer, topic, second)

    # A second group under the same consumer name: every message is delivered again, as
    # after a crash before any offset was committed.
    for _ in range(2):
        async with running(kafka_bootstrap, consumer, topic, _unique("group")):
            await eventually(
                lambda: stored_offset_is(consumer, topic, 0, 3), what="the topic is settled"
            )
            await eventually(
                lambda: count_is(store, "SELECT count(*) FROM {s}.notes_seen", 2),
                what="effects applied",
            )
        await store.pool.execute(
            f'UPDATE "{store.schema}".consumer_offsets SET "offset" = 0 WHERE consumer = $1',
            consumer.name,
        )

    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 2)
    assert await count_is(store, "SELECT count(*) FROM {s}.processed_messages", 2)
    dead = await dead_letters_of(admin, kafka_bootstrap, dlq_start, consumer.name)
    assert len(dead) == 1


async def test_while_the_dlq_cannot_be_reached_the_message_waits_and_nothing_after_it_passes(
    store: EventStore,
    make_topic: Callable[[int], Awaitable[str]],
    admin: AIOKafkaAdminClient,
    kafka_bootstrap: str,
) -> None:
    topic = await make_topic(1)
    # A DLQ topic that does not exist yet (auto-creation is off): publishing to it fails.
    missing_dlq = _unique("test.dlq")
    impatient = idempotent_producer(kafka_bootstrap, request_timeout_ms=500)
    await impatient.start()
    try:
        consumer = IdempotentConsumer(
            _unique("closure-test"),
            store.pool,
            schema=store.schema,
            events=test_registry,
            handle=recording_handler(store.schema),
            dead_letters=DeadLetterQueue(impatient, topic=missing_dlq),
        )
        await consumer.migrate()
        [record] = await stored_records(store, "case-dlq-down", "after the bad one")
        await send(impatient, topic, b"not json", record.key, record.headers)
        await send_record(impatient, topic, record)

        async with running(kafka_bootstrap, consumer, topic, _unique("group")):
            await asyncio.sleep(2.0)
            assert await consumer.stored_offsets() == {}
            assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 0)
            assert await count_is(store, "SELECT count(*) FROM {s}.dead_lettered_messages", 0)

            await admin.create_topics([NewTopic(missing_dlq, 1, 1)])
            await eventually(
                lambda: stored_offset_is(consumer, topic, 0, 2), what="both messages are settled"
            )
    finally:
        await impatient.stop()
    try:
        dead = await dead_letters_of(admin, kafka_bootstrap, {}, consumer.name, topic=missing_dlq)
    finally:
        await admin.delete_topics([missing_dlq])
    assert [d.value for d in dead] == [b"not json"]
    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 1)


async def test_process_reports_what_became_of_each_message(
    store: EventStore, producer: AIOKafkaProducer
) -> None:
    consumer = await make_consumer(store, producer)
    [record] = await stored_records(store, "case-outcomes", "hello")

    def at(offset: int, value: bytes) -> IncomingMessage:
        return IncomingMessage(
            "test.consumer.direct", 0, offset, record.key, value, tuple(record.headers)
        )

    assert await consumer.process(at(0, record.value)) is Outcome.PROCESSED
    assert await consumer.process(at(0, record.value)) is Outcome.DUPLICATE
    assert await consumer.process(at(5, record.value)) is Outcome.DUPLICATE
    assert await consumer.process(at(6, b"[")) is Outcome.DEAD_LETTERED
    assert await consumer.process(at(6, b"[")) is Outcome.DUPLICATE
    assert await consumer.stored_offsets() == {("test.consumer.direct", 0): 7}


async def test_types_a_consumer_does_not_read_are_passed_over_and_those_it_claims_are_not(
    store: EventStore, producer: AIOKafkaProducer
) -> None:
    consumer = IdempotentConsumer(
        _unique("roster-test"),
        store.pool,
        schema=store.schema,
        events=test_registry,
        handle=recording_handler(store.schema),
        dead_letters=DeadLetterQueue(producer),
        # It reads notes, and claims a type its registry does not know (a deployment that
        # forgot to import a contract): that one must reach the DLQ, not vanish.
        reads=event_types(CaseNoted) | {("intake", "NoSuchThing")},
    )
    await consumer.migrate()
    [record] = await stored_records(store, "case-types", "a note")

    def typed(offset: int, ce_type: bytes) -> IncomingMessage:
        headers = tuple(with_header(record, "ce_type", ce_type))
        return IncomingMessage("test.consumer.types", 0, offset, record.key, record.value, headers)

    # Another service's type this one has never heard of, and a known type it does not read.
    assert await consumer.process(typed(0, b"caseline.careplan.PlanDrafted.v1")) is (
        Outcome.PASSED_OVER
    )
    assert await consumer.process(typed(1, b"caseline.intake.ScoreRecorded.v1")) is (
        Outcome.PASSED_OVER
    )
    assert await consumer.process(typed(2, b"caseline.intake.CaseNoted.v1")) is Outcome.PROCESSED
    assert await consumer.process(typed(3, b"caseline.intake.NoSuchThing.v1")) is (
        Outcome.DEAD_LETTERED
    )
    assert await consumer.stored_offsets() == {("test.consumer.types", 0): 4}
    dead = await store.pool.fetch(
        f'SELECT "offset", error FROM "{store.schema}".dead_lettered_messages WHERE consumer = $1',
        consumer.name,
    )
    assert [(r["offset"], r["error"]) for r in dead] == [(3, "shared.errors.UnknownEventType")]
    assert await count(store.pool, f'SELECT count(*) FROM "{store.schema}".notes_seen') == 1


async def test_a_batch_is_settled_in_order_with_each_event_applied_once(
    store: EventStore, producer: AIOKafkaProducer
) -> None:
    consumer = await make_consumer(store, producer)
    first, second, third = await stored_records(store, "case-batch", "one", "two", "three")

    def at(offset: int, record: KafkaRecord, value: bytes | None = None) -> IncomingMessage:
        return IncomingMessage(
            "test.consumer.batch",
            offset % 2,
            offset,
            record.key,
            record.value if value is None else value,
            tuple(record.headers),
        )

    assert await consumer.process(at(0, first)) is Outcome.PROCESSED
    outcomes = await consumer.process_batch(
        [at(1, first), at(2, second), at(3, second), at(4, third)]
    )

    assert outcomes == [Outcome.DUPLICATE, Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.PROCESSED]
    notes = await store.pool.fetch(f'SELECT note FROM "{store.schema}".notes_seen ORDER BY note')
    assert [n["note"] for n in notes] == ["one", "three", "two"]
    assert await consumer.stored_offsets() == {
        ("test.consumer.batch", 0): 5,
        ("test.consumer.batch", 1): 4,
    }


async def test_a_poisoned_message_in_a_batch_is_dead_lettered_alone(
    store: EventStore, producer: AIOKafkaProducer
) -> None:
    consumer = await make_consumer(store, producer)
    before, after = await stored_records(store, "case-batch-poison", "before", "after")

    def at(offset: int, record: KafkaRecord, value: bytes | None = None) -> IncomingMessage:
        return IncomingMessage(
            "test.consumer.poison",
            0,
            offset,
            record.key,
            record.value if value is None else value,
            tuple(record.headers),
        )

    outcomes = await consumer.process_batch([at(0, before), at(1, before, b"["), at(2, after)])

    assert outcomes == [Outcome.PROCESSED, Outcome.DEAD_LETTERED, Outcome.PROCESSED]
    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 2)
    assert await count_is(store, "SELECT count(*) FROM {s}.dead_lettered_messages", 1)
    assert await consumer.stored_offsets() == {("test.consumer.poison", 0): 3}


async def test_a_batch_that_meets_an_outage_is_left_unsettled_with_nothing_written(
    store: EventStore, producer: AIOKafkaProducer
) -> None:
    calls = 0

    async def flaky(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        nonlocal calls
        calls += 1
        await recording_handler(store.schema)(conn, event)
        if calls == 2:
            raise asyncpg.exceptions.DeadlockDetectedError("a lost race, as after a deadlock")

    consumer = await make_consumer(store, producer, flaky)
    records = await stored_records(store, "case-batch-outage", "a", "b", "c")
    messages = [
        IncomingMessage("test.consumer.outage", 0, n, r.key, r.value, tuple(r.headers))
        for n, r in enumerate(records)
    ]

    assert await consumer.process_batch(messages) == [Outcome.REDELIVER] * 3
    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 0)
    assert await consumer.stored_offsets() == {}

    assert await consumer.process_batch(messages) == [Outcome.PROCESSED] * 3
    assert await count_is(store, "SELECT count(*) FROM {s}.notes_seen", 3)
