"""Read a whole topic back from Kafka, for tests that check what the relay published."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


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
                TopicPartition(topic, p)
                for p in sorted(consumer.partitions_for_topic(topic) or [])
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
