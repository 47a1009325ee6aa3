"""Kafka for tests: topics of a test's own, and reading a whole topic back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message on `topic` from the beginning, waiting until at least `expect` arrived."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < expect and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


@asynccontextmanager
async def fresh_topics(bootstrap: str, *names: str, partitions: int = 3) -> AsyncIterator[None]:
    """Create topics for the block (auto-creation is off on caseline brokers); delete after."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
        yield
        await admin.delete_topics(list(names))
    finally:
        await admin.close()
