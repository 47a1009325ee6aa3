"""The infrastructure the fixtures hand out really works: a broker, a database, the topics."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from caseline.catalog import all_topics
from caseline.infra import local
from shared.topics import DLQ_TOPIC, topic_for

pytestmark = pytest.mark.infra


async def test_broker_round_trips_a_message(kafka_bootstrap: str) -> None:
    topic = f"caseline.test-local-stack.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"case-1")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"test-local-stack-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            message = await consumer.getone()
        finally:
            await consumer.stop()
        assert (message.key, message.value) == (b"case-1", b"hello")
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_the_six_caseline_topics_exist_with_three_partitions(kafka_bootstrap: str) -> None:
    topics = all_topics()
    assert set(topics) == {
        topic_for(service)
        for service in ("intake", "careplan", "monitoring", "closure", "directory")
    } | {DLQ_TOPIC}
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(list(topics))}
    finally:
        await admin.close()
    for name in topics:
        assert described[name]["error_code"] == 0, name
        assert len(described[name]["partitions"]) == 3, name


async def test_database_answers_and_allows_schemas(database_url: str) -> None:
    schema = f"test_local_stack_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'CREATE TABLE "{schema}".probe (id int PRIMARY KEY)')
        await conn.execute(f'INSERT INTO "{schema}".probe VALUES (1)')
        assert await conn.fetchval(f'SELECT count(*) FROM "{schema}".probe') == 1
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def test_second_up_reports_already_running(kafka_bootstrap: str, database_url: str) -> None:
    layout = local.LocalLayout.from_env()
    if (kafka_bootstrap, database_url) != (layout.kafka_bootstrap, layout.database_url):
        pytest.skip(
            "the infrastructure came from the environment or testcontainers, "
            "not from the local runners"
        )
    result = local.up(layout=layout)
    assert result.already_running
    assert result.started == ()
    assert result.healthy
    assert result.env() == {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
    }
