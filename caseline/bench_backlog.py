"""`caseline bench backlog`: a day's backlog, published by a relay and applied by a consumer.

A relay that was down for a day, or a consumer that fell behind, must catch up in order,
apply every event once, and do it in bounded memory: both read and settle a batch at a time,
never the whole backlog. This fills an outbox of its own while no relay runs, then starts a
relay on it and an idempotent consumer on the topic it fills, and prints their rates beside a
raw aiokafka read of the same messages, the process's resident memory before and at its peak
during each catch-up, and what it checked: every message on the topic once and in commit
order on its partition, every event applied once and each case's events in stream order.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker

from caseline.bench import _envelopes, bench_events
from shared.codec import ReceivedEvent
from shared.consumer import DeadLetterQueue, IdempotentConsumer, subscribe_idempotent
from shared.errors import CaselineError
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore, create_pool
from shared.topics import ensure_topics

Progress = Callable[[str], None]

EVENTS_PER_CASE = 100
"""A backlog spread over many cases, as a day's work is; each case's order is checked."""


PARTITIONS = 3
"""The backlog topic's partitions, as the network's topics have by default."""


class BacklogNotCaughtUp(CaselineError):
    """The relay or the consumer did not finish the backlog within its bound."""


@dataclass(frozen=True)
class BacklogFigures:
    """What one backlog run measured and checked."""

    events: int
    fill_seconds: float
    relay_seconds: float
    raw_read_seconds: float
    consumer_seconds: float
    rss_before_mib: float
    relay_peak_mib: float
    consumer_peak_mib: float
    on_topic: int
    distinct_on_topic: int
    out_of_commit_order: int
    applied: int
    out_of_stream_order: int

    @property
    def held(self) -> bool:
        """Every event published once in commit order, and applied once in stream order."""
        return (
            self.on_topic == self.distinct_on_topic == self.applied == self.events
            and self.out_of_commit_order == 0
            and self.out_of_stream_order == 0
        )


def resident_mib() -> float:
    """This process's resident memory now (Linux `/proc`), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@asynccontextmanager
async def peak_memory() -> AsyncIterator[list[float]]:
    """Sample resident memory every 50 ms while the block runs; yields [peak] (MiB)."""
    peak = [resident_mib()]
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_mib())
            with suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.05)

    sampler = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        done.set()
        await sampler
        peak[0] = max(peak[0], resident_mib())


async def _until(check: Callable[[], object], what: str, bound: float, progress: Progress) -> float:
    """Wait until `check()` (awaited) is true; the seconds it took. Reports every 5 s."""
    started = time.perf_counter()
    reported = started
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.perf_counter() - started
        now = time.perf_counter()
        if now - started > bound:
            raise BacklogNotCaughtUp(f"{what}: not done after {bound:.0f} s")
        if now - reported >= 5:
            reported = now
            progress(f"  {what} ... {now - started:.0f} s")
        await asyncio.sleep(0.2)


async def _fill(store: EventStore, events: int, progress: Progress) -> float:
    """Append the backlog, a case's events a hundred at a time (no relay runs)."""
    started = time.perf_counter()
    cases = max(1, events // EVENTS_PER_CASE)
    written = 0
    for n in range(cases):
        count = events // cases + (1 if n < events % cases else 0)
        await store.append(f"backlog-case-{n}", 0, _envelopes(f"backlog-case-{n}", count))
        written += count
        if n % max(1, cases // 10) == 0:
            progress(f"  backlog: {written:,} of {events:,} events written")
    return time.perf_counter() - started


async def _read_topic(bootstrap: str, topic: str, events: int) -> tuple[float, int, int, int]:
    """Read the topic from the start with a bare aiokafka consumer (the baseline): seconds,
    messages, distinct event ids, and messages whose position is not above the previous one
    on their partition (the relay's commit order)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        seen: set[bytes] = set()
        last: dict[int, int] = {}
        count = disorder = 0
        while count < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if not batches:
                break
            for tp, records in batches.items():
                for record in records:
                    headers = dict(record.headers)
                    position = int(headers["ce_position"])
                    if position <= last.get(tp.partition, 0):
                        disorder += 1
                    last[tp.partition] = position
                    seen.add(headers["ce_id"])
                    count += 1
        return time.perf_counter() - started, count, len(seen), disorder
    finally:
        await consumer.stop()


async def _applied(pool: asyncpg.Pool, schema: str) -> int:
    return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".applied'))


async def _out_of_stream_order(pool: asyncpg.Pool, schema: str) -> int:
    """Events applied after a later event of their case (by the order they were applied)."""
    return int(
        await pool.fetchval(
            f"SELECT count(*) FROM (SELECT stream_version, lag(stream_version) OVER "
            f'(PARTITION BY case_id ORDER BY seq) AS before FROM "{schema}".applied) t '
            "WHERE before IS NOT NULL AND stream_version <> before + 1"
        )
    )


async def run_backlog_benchmark(
    database_url: str, bootstrap: str, *, events: int, progress: Progress
) -> BacklogFigures:
    """Fill an outbox, catch a relay and then a consumer up on it; measure and check both."""
    run = uuid.uuid4().hex[:10]
    schema, topic = f"bench_backlog_{run}", f"caseline.bench-backlog-{run}.v1"
    pool = await create_pool(database_url, max_size=4)
    producer = idempotent_producer(bootstrap)
    await producer.start()
    try:
        store = EventStore(pool, "intake", schema=schema, events=bench_events)
        await store.migrate()
        await ensure_topics(bootstrap, [topic], PARTITIONS)
        progress(f"backlog of {events:,} events in {schema}, no relay running ...")
        fill_seconds = await _fill(store, events, progress)
        rss_before = resident_mib()

        progress("relay starts on the backlog ...")
        bound = max(120.0, events / 200)
        stop = asyncio.Event()
        relay = Relay(store, producer, topic=topic)
        async with peak_memory() as relay_peak:
            task = asyncio.create_task(relay.run(stop))
            relay_seconds = await _until(
                lambda: _published_all(relay), "relay publishing", bound, progress
            )
            stop.set()
            await task
        progress("a bare aiokafka read of the topic (the baseline) ...")
        raw_seconds, on_topic, distinct, disorder = await _read_topic(bootstrap, topic, events)

        progress("an idempotent consumer starts at the topic's beginning ...")
        consumer_seconds, consumer_peak = await _consume(
            pool, producer, bootstrap, schema, topic, events, bound, progress
        )
        return BacklogFigures(
            events=events,
            fill_seconds=fill_seconds,
            relay_seconds=relay_seconds,
            raw_read_seconds=raw_seconds,
            consumer_seconds=consumer_seconds,
            rss_before_mib=rss_before,
            relay_peak_mib=relay_peak[0],
            consumer_peak_mib=consumer_peak,
            on_topic=on_topic,
            distinct_on_topic=distinct,
            out_of_commit_order=disorder,
            applied=await _applied(pool, schema),
            out_of_stream_order=await _out_of_stream_order(pool, schema),
        )
    finally:
        await producer.stop()
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await pool.close()
        await _delete_topic(bootstrap, topic)


async def _published_all(relay: Relay) -> bool:
    return (await relay.progress()).lag == 0


async def _consume(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    bootstrap: str,
    schema: str,
    topic: str,
    events: int,
    bound: float,
    progress: Progress,
) -> tuple[float, float]:
    """The kit's idempotent consumer over the whole topic: seconds, and peak memory (MiB)."""
    await pool.execute(
        f'CREATE TABLE "{schema}".applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL, '
        "case_id text NOT NULL, stream_version integer NOT NULL)"
    )

    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        meta = event.envelope.metadata
        await conn.execute(
            f'INSERT INTO "{schema}".applied (event_id, case_id, stream_version) '
            "VALUES ($1, $2, $3)",
            meta.event_id,
            meta.case_id,
            event.stream_version,
        )

    consumer = IdempotentConsumer(
        "bench.backlog",
        pool,
        schema=schema,
        events=bench_events,
        handle=apply,
        dead_letters=DeadLetterQueue(producer),
    )
    await consumer.migrate()
    broker = KafkaBroker(bootstrap, logger=None)
    subscribe_idempotent(broker, consumer, topic, group_id=f"{schema}.backlog")
    async with peak_memory() as peak:
        await broker.start()
        try:
            seconds = await _until(
                lambda: _applied_all(pool, schema, events), "consumer applying", bound, progress
            )
        finally:
            await broker.stop()
    return seconds, peak[0]


async def _applied_all(pool: asyncpg.Pool, schema: str, events: int) -> bool:
    return await _applied(pool, schema) >= events


async def _delete_topic(bootstrap: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


def render_backlog(f: BacklogFigures) -> str:
    """The figures and the checks, as lines for a terminal."""
    rate = f.events / f.relay_seconds
    consumed = f.events / f.consumer_seconds
    raw = f.on_topic / f.raw_read_seconds if f.raw_read_seconds else 0.0
    return "\n".join(
        [
            f"backlog of {f.events:,} events (written in {f.fill_seconds:.1f} s)",
            f"relay catch-up     {rate:>10,.0f} events/s   "
            f"memory {f.rss_before_mib:,.0f} -> peak {f.relay_peak_mib:,.0f} MiB",
            f"consumer catch-up  {consumed:>10,.0f} events/s   "
            f"memory peak {f.consumer_peak_mib:,.0f} MiB   "
            f"({consumed / raw if raw else 0:.3f}x a bare aiokafka read, {raw:,.0f} msgs/s)",
            f"on the topic: {f.on_topic:,} messages, {f.distinct_on_topic:,} distinct, "
            f"{f.out_of_commit_order} out of commit order on their partition",
            f"applied: {f.applied:,}, {f.out_of_stream_order} out of stream order",
            "every event published once in commit order and applied once in order: "
            + ("yes" if f.held else "NO"),
        ]
    )
