"""What `caseline chaos` checks once the faults are over and the network is at rest.

Every event a service named in a 2xx answer (`Caseline-Recorded-Events`) must be in its
store, on its topic and, when projections reads its type, applied by projections. No effect
may be applied twice: no stream holds two events of one type decided from the same cause,
and projections' read models equal a fresh replay of the stores (the drift check of
`caseline verify`). The dead-letter topic must hold the poison the run published and
nothing else.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from caseline.replay import projection_sources
from shared.consumer import DeadLetterHeader
from shared.settings import Settings
from shared.store import quote_schema
from shared.topics import DLQ_TOPIC


@dataclass
class TopicContents:
    """Every message's `ce_id` on a topic, counted (a relay restarted mid-batch publishes
    some events again; consumers apply them once)."""

    ids: Counter[str] = field(default_factory=Counter)
    dead_letters: list[tuple[str, str]] = field(default_factory=list)
    """On the DLQ: (original ce_id, consumer that gave up on it)."""

    @property
    def republished(self) -> int:
        """Messages beyond the first copy of each event."""
        return sum(n - 1 for n in self.ids.values() if n > 1)


async def read_topics(bootstrap: str, topics: Iterable[str]) -> dict[str, TopicContents]:
    """Read each topic from its beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    contents: dict[str, TopicContents] = {}
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        contents = {topic: TopicContents() for topic in topics}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    headers = {name: value for name, value in record.headers}
                    ce_id = (headers.get("ce_id") or b"").decode(errors="replace")
                    contents[tp.topic].ids[ce_id] += 1
                    if tp.topic == DLQ_TOPIC:
                        by = headers.get(DeadLetterHeader.CONSUMER.value) or b""
                        contents[tp.topic].dead_letters.append((ce_id, by.decode()))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return contents


@dataclass
class AckAudit:
    """Acknowledged events, and where each was found."""

    acknowledged: int = 0
    in_store: int = 0
    on_kafka: int = 0
    projected: int = 0
    """Acknowledged events of a type projections reads, applied by projections."""
    to_project: int = 0
    missing: list[str] = field(default_factory=list)
    """Examples: `<service> <event id>: <where it is missing>`."""


async def audit_acknowledged(
    pool: asyncpg.Pool,
    settings: Settings,
    acknowledged: Mapping[str, set[str]],
    topics: Mapping[str, TopicContents],
) -> AckAudit:
    """Find every acknowledged event (by service) in its store, on its topic, in projections."""
    audit = AckAudit()
    sources = projection_sources(settings, {})
    for service, ids in sorted(acknowledged.items()):
        audit.acknowledged += len(ids)
        rows = await pool.fetch(
            f"SELECT event_id::text, event_type FROM {quote_schema(service)}.events "
            "WHERE event_id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in ids],
        )
        stored = {r["event_id"]: r["event_type"] for r in rows}
        audit.in_store += len(stored)
        audit.missing += [f"{service} {i}: not in its store" for i in sorted(ids - set(stored))]
        published = topics.get(f"caseline.{service}.v1", TopicContents()).ids
        on_topic = [i for i in ids if i in published]
        audit.on_kafka += len(on_topic)
        audit.missing += [f"{service} {i}: not on Kafka" for i in sorted(ids - set(on_topic))]
        readers: dict[str, list[str]] = defaultdict(list)
        for event_id, event_type in stored.items():
            for source in sources:
                if source.service == service and (
                    source.reads is None or (service, event_type) in source.reads
                ):
                    readers[event_id].append(source.consumer)
        if not readers:
            continue
        applied = {
            (r["consumer"], r["event_id"])
            for r in await pool.fetch(
                "SELECT consumer, event_id::text FROM projections.processed_messages "
                "WHERE event_id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in readers],
            )
        }
        for event_id, consumers in readers.items():
            audit.to_project += 1
            if all((c, event_id) in applied for c in consumers):
                audit.projected += 1
            else:
                audit.missing.append(f"{service} {event_id}: not applied by projections")
    return audit


async def effects_decided_twice(pool: asyncpg.Pool, services: Iterable[str]) -> dict[str, int]:
    """Per store, groups of events of one type in one stream decided from the same cause
    with the same payload: what a consumer applying one message twice would leave."""
    found: dict[str, int] = {}
    for service in services:
        found[service] = await pool.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM "
            f"{quote_schema(service)}.events WHERE metadata->>'causation_id' IS NOT NULL "
            "GROUP BY case_id, event_type, metadata->>'causation_id', payload "
            "HAVING count(*) > 1) AS twice"
        )
    return found


async def applied_twice(pool: asyncpg.Pool, schemas: Iterable[str]) -> int:
    """Consumers' dedup records naming one event twice for one consumer (the primary key
    forbids it; counted so the report shows it was looked at)."""
    total = 0
    for schema in schemas:
        exists = await pool.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{quote_schema(schema)}.processed_messages"
        )
        if exists:
            total += await pool.fetchval(
                "SELECT count(*) FROM (SELECT 1 FROM "
                f"{quote_schema(schema)}.processed_messages GROUP BY consumer, event_id "
                "HAVING count(*) > 1) AS twice"
            )
    return total
