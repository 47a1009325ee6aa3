"""A relay killed mid-run loses nothing, and the consumer still applies every event once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.codec import ReceivedEvent
from shared.consumer import Backoff, DeadLetterQueue, IdempotentConsumer, subscribe_idempotent
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore
from tests.harness import eventually
from tests.integration.kafka_reading import read_topic
from tests.kit_events import noted, test_registry

CASES = [f"crash-case-{n}" for n in range(20)]
CALLER = Path(sys.executable).parent / "caseline"


async def _append_rounds(store: EventStore, rounds: range, per_append: int = 5) -> int:
    appended = 0
    for r in rounds:
        for case in CASES:
            version = await store.stream_version(case)
            await store.append(
                case, version, [noted(case, f"r{r}", r * per_append + i) for i in range(per_append)]
            )
            appended += per_append
    return appended


def _start_relay(
    schema: str, topic: str, database_url: str, bootstrap: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CASELINE_LOG_FORMAT": "json",
        "CASELINE_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            str(CALLER),
            "relay",
            "intake",
            "--schema",
            schema,
            "--topic",
            topic,
            "--batch-size",
            "25",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


class RelayDyingBeforeItSaves(Relay):
    """A relay that crashes after Kafka acknowledged a batch, before saving its position."""

    async def _save_position(self, position: int, connection: asyncpg.Connection | None) -> None:
        raise SystemExit("relay process died between publishing and saving")


async def test_a_killed_relay_loses_nothing_and_effects_happen_exactly_once(
    pg_pool: asyncpg.Pool,
    schema_name: str,
    kafka_topic: str,
    kafka_bootstrap: str,
    database_url: str,
) -> None:
    store = EventStore(pg_pool, "intake", schema=schema_name, events=test_registry)
    await store.migrate()
    total = await _append_rounds(store, range(10))

    # A crash at the worst moment, deterministically: published and acknowledged, not saved.
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        with pytest.raises(SystemExit):
            await RelayDyingBeforeItSaves(store, producer, topic=kafka_topic, batch_size=40).drain()
    finally:
        await producer.stop()
    relay_position = f'SELECT coalesce(max(position), 0) FROM "{schema_name}".relay_positions'
    assert await pg_pool.fetchval(relay_position) == 0

    # Then a real relay process, killed with SIGKILL mid-run while writers go on.
    relay = _start_relay(schema_name, kafka_topic, database_url, kafka_bootstrap)
    try:

        async def some_published() -> bool:
            return (await pg_pool.fetchval(relay_position)) >= 300

        await eventually(some_published, what="published some events", timeout=60)
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)
    finally:
        if relay.poll() is None:
            relay.kill()
    killed_at = await pg_pool.fetchval(relay_position)
    assert 0 < killed_at < total
    total += await _append_rounds(store, range(10, 14))

    relay = _start_relay(schema_name, kafka_topic, database_url, kafka_bootstrap)
    try:

        async def all_published() -> bool:
            return (await pg_pool.fetchval(relay_position)) == total

        await eventually(all_published, what="caught up after the restart", timeout=60)
    finally:
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(20) == 0, relay.stderr.read().decode() if relay.stderr else ""

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total + 40)
    published = Counter(dict(r.headers)["ce_id"].decode() for r in records)
    stored = {str(e.event_id) for e in await store.read_all_raw(0, total + 1)}
    assert set(published) == stored, "every committed event reached Kafka"
    repeats = sum(n - 1 for n in published.values())
    assert repeats >= 40, "the batch published before the crash was published again"

    # The consumer reads every message, repeats included, and applies each event once.
    await pg_pool.execute(
        f'CREATE TABLE "{schema_name}".effects (event_id uuid, case_id text, seq int)'
    )

    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        await conn.execute(
            f'INSERT INTO "{schema_name}".effects VALUES ($1, $2, $3)',
            event.envelope.metadata.event_id,
            event.envelope.metadata.case_id,
            event.envelope.payload.seq,
        )

    dlq_producer: AIOKafkaProducer = idempotent_producer(kafka_bootstrap)
    await dlq_producer.start()
    consumer = IdempotentConsumer(
        f"crash-test-{uuid.uuid4().hex[:8]}",
        pg_pool,
        schema=schema_name,
        events=test_registry,
        handle=apply,
        dead_letters=DeadLetterQueue(dlq_producer),
    )
    await consumer.migrate()
    broker = KafkaBroker(kafka_bootstrap)
    subscribe_idempotent(
        broker,
        consumer,
        kafka_topic,
        group_id=consumer.name,
        backoff=Backoff(initial=0.05, maximum=0.5),
    )
    await broker.start()
    try:

        async def all_messages_settled() -> bool:
            offsets = await consumer.stored_offsets()
            return sum(offsets.values()) == len(records)

        await eventually(all_messages_settled, what="every message settled", timeout=90)
    finally:
        await broker.stop()
        await dlq_producer.stop()

    applied = await pg_pool.fetch(
        f'SELECT event_id, count(*) AS n FROM "{schema_name}".effects GROUP BY event_id'
    )
    assert {str(r["event_id"]) for r in applied} == stored
    assert all(r["n"] == 1 for r in applied), "an effect was applied twice"
    per_case = await pg_pool.fetch(
        f'SELECT case_id, array_agg(seq ORDER BY seq) AS seqs FROM "{schema_name}".effects '
        "GROUP BY case_id"
    )
    assert all(list(r["seqs"]) == list(range(len(r["seqs"]))) for r in per_case)
