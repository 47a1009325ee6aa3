"""`caseline bench kit`: event-store and relay throughput, each beside a raw baseline.

Every figure is measured in the same run as its baseline, on the same broker and database,
and printed as a ratio; nothing here passes or fails on speed.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.codec import to_kafka
from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, EventRegistry, Role
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore, create_pool

bench_events = EventRegistry()


@bench_events.register
class BenchmarkNoteRecorded(DomainEvent):
    """A case note of realistic size, written only by the benchmark."""

    service = "intake"
    note: str
    domain: str
    severity: int


_ACTOR = Actor(staff_id="bench-staff", role=Role.CASE_MANAGER)
_NOTE = "가정 방문 결과 주거 지원과 정신건강 상담 연계가 필요함. " * 3


def _envelopes(case_id: str, count: int, start: int = 0) -> list[Envelope[BenchmarkNoteRecorded]]:
    return [
        Envelope(
            metadata=EventMetadata(case_id=case_id, agency_id="agency-bench", actor=_ACTOR),
            payload=BenchmarkNoteRecorded(note=_NOTE, domain="housing", severity=(start + i) % 5),
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class Figure:
    """One measured rate beside its baseline."""

    name: str
    events: int
    seconds: float
    baseline_name: str
    baseline_seconds: float

    @property
    def rate(self) -> float:
        """Events per second of the measured path."""
        return self.events / self.seconds

    @property
    def baseline_rate(self) -> float:
        """Events per second of the raw baseline."""
        return self.events / self.baseline_seconds

    @property
    def ratio(self) -> float:
        """Measured rate as a fraction of the baseline's."""
        return self.rate / self.baseline_rate


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def _copy_baseline(pool: asyncpg.Pool, store: EventStore, schema: str) -> float:
    """asyncpg COPY of the very rows the store wrote, into a plain table of the same shape."""
    rows = await pool.fetch(
        f"SELECT position, case_id, stream_version, event_id, event_type, schema_version, "
        f'payload::text, metadata::text, previous_hash, hash FROM "{store.schema}".events '
        "ORDER BY position"
    )
    await pool.execute(
        f'CREATE TABLE "{schema}".copy_baseline (position bigint, case_id text, '
        "stream_version int, event_id uuid, event_type text, schema_version int, "
        "payload jsonb, metadata jsonb, previous_hash bytea, hash bytea)"
    )
    records = [tuple(r) for r in rows]

    async def copy() -> None:
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("copy_baseline", schema_name=schema, records=records)

    return await _timed(copy)


async def bench_store(pool: asyncpg.Pool, events: int, batch: int) -> list[Figure]:
    """Single-event and batched appends against COPY of the same rows."""
    figures = []
    for label, size in (("append, 1 event per call", 1), (f"append, {batch} per call", batch)):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        store = EventStore(pool, "intake", schema=schema, events=bench_events)
        await store.migrate()
        cases = [f"bench-case-{n}" for n in range(max(1, events // 200))]

        async def append_all(
            store: EventStore = store, size: int = size, cases: list[str] = cases
        ) -> None:
            versions = dict.fromkeys(cases, 0)
            for n in range(0, events, size):
                case = cases[(n // size) % len(cases)]
                count = min(size, events - n)
                await store.append(case, versions[case], _envelopes(case, count, n))
                versions[case] += count

        seconds = await _timed(append_all)
        baseline = await _copy_baseline(pool, store, schema)
        figures.append(Figure(label, events, seconds, "asyncpg COPY, same rows", baseline))
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return figures


async def bench_relay(pool: asyncpg.Pool, bootstrap: str, events: int) -> Figure:
    """Relay drain of a filled outbox against aiokafka producing the same bytes."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    store = EventStore(pool, "intake", schema=schema, events=bench_events)
    await store.migrate()
    cases = [f"bench-case-{n}" for n in range(max(1, events // 200))]
    per_case = events // len(cases)
    for case in cases:
        for start in range(0, per_case, 500):
            await store.append(case, start, _envelopes(case, min(500, per_case - start), start))
    total = per_case * len(cases)
    topics = [f"caseline.bench-{uuid.uuid4().hex[:8]}.v1" for _ in range(2)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        await admin.create_topics(
            [NewTopic(t, num_partitions=3, replication_factor=1) for t in topics]
        )
        records = [to_kafka(e, "intake") for e in await store.read_all_raw(0, total)]

        async def raw() -> None:
            deliveries = [
                await producer.send(topics[0], value=r.value, key=r.key, headers=r.headers)
                for r in records
            ]
            await asyncio.gather(*deliveries)

        baseline = await _timed(raw)
        relay = Relay(store, producer, topic=topics[1], batch_size=500)
        seconds = await _timed(relay.drain)
        await admin.delete_topics(topics)
    finally:
        await producer.stop()
        await admin.close()
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return Figure("relay to Kafka", total, seconds, "aiokafka, same bytes", baseline)


def render(figures: list[Figure]) -> str:
    """The figures as an aligned table."""
    lines = [
        f"{'measured':<28}{'events':>8}{'events/s':>11}   "
        f"{'baseline':<24}{'events/s':>11}{'ratio':>8}"
    ]
    for f in figures:
        lines.append(
            f"{f.name:<28}{f.events:>8}{f.rate:>11,.0f}   {f.baseline_name:<24}"
            f"{f.baseline_rate:>11,.0f}{f.ratio:>8.2f}"
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"peak resident memory of this process: {peak_mib:,.0f} MiB")
    return "\n".join(lines)


async def run_kit_benchmark(
    database_url: str, bootstrap: str, *, events: int, batch: int, progress: Callable[[str], None]
) -> list[Figure]:
    """Measure the store and the relay, each with its baseline, reporting progress."""
    pool = await create_pool(database_url, max_size=4)
    try:
        progress(f"event store: {events} events, single and batched appends ...")
        figures = await bench_store(pool, events, batch)
        progress(f"relay: {events} events to a fresh topic ...")
        figures.append(await bench_relay(pool, bootstrap, events))
    finally:
        await pool.close()
    return figures
