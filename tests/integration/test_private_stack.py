"""The private stack's fault controls: PostgreSQL and Kafka crash and come back with their data.

Everything here runs against the module's own `private_stack` (a temporary folder, free
ports); the shared stack other test runs use must come out of it untouched.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from caseline.infra import local, system
from caseline.infra.local import LocalLayout
from caseline.infra.private_stack import PrivateStack

pytestmark = pytest.mark.infra


def _shared_pids() -> tuple[int | None, int | None]:
    """Pids of the shared stack's broker and postmaster (None when not ours to see)."""
    shared = LocalLayout.from_env()
    return local.kafka_pid(shared), local.postgres_pid(shared)


async def _write_durably(url: str, table: str, note: str) -> None:
    """Insert a row whose commit is on disk: the local cluster runs synchronous_commit=off,
    so an immediate restart or a SIGKILL may lose the last fraction of a second of commits."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (note text PRIMARY KEY)")
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = on")
            await conn.execute(f"INSERT INTO {table} VALUES ($1)", note)
    finally:
        await conn.close()


async def _notes(url: str, table: str) -> set[str]:
    """All notes of `table`, read over a brand-new connection."""
    conn = await asyncpg.connect(url)
    try:
        return {row["note"] for row in await conn.fetch(f"SELECT note FROM {table}")}
    finally:
        await conn.close()


async def test_postgres_restart_keeps_rows_and_the_pool_reconnects(
    private_stack: PrivateStack,
) -> None:
    shared_before = _shared_pids()
    url = private_stack.database_url
    await _write_durably(url, "restart_probe", "before the restart")
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2)
    try:
        # Both pooled connections are open (and idle in the pool) when the server goes.
        async with pool.acquire() as first, pool.acquire() as second:
            old_backends = {
                await first.fetchval("SELECT pg_backend_pid()"),
                await second.fetchval("SELECT pg_backend_pid()"),
            }
        old_pid = local.postgres_pid(private_stack.layout)

        waited = await private_stack.restart_postgres()
        print(f"\nPostgreSQL restart -m immediate: {waited:.2f} s")

        assert local.postgres_pid(private_stack.layout) not in (None, old_pid)
        assert await _notes(url, "restart_probe") == {"before the restart"}
        # No retry anywhere: acquire() finds the closed connections and opens new ones.
        new_backends = {await pool.fetchval("SELECT pg_backend_pid()") for _ in range(4)}
        assert new_backends.isdisjoint(old_backends)
        await pool.execute("INSERT INTO restart_probe VALUES ('through the old pool')")
    finally:
        await pool.close()
    assert await _notes(url, "restart_probe") == {"before the restart", "through the old pool"}
    assert _shared_pids() == shared_before


async def test_postgres_killed_starts_again_from_its_stale_pid_file(
    private_stack: PrivateStack,
) -> None:
    shared_before = _shared_pids()
    layout = private_stack.layout
    url = private_stack.database_url
    await _write_durably(url, "kill_probe", "before the kill")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        assert await pool.fetchval("SELECT 1") == 1

        killed = await private_stack.kill_postgres()
        assert local.postgres_pid(layout) is None
        # As after a real crash: the lock file still names the dead postmaster.
        assert system._read_pid(layout.pg_data / "postmaster.pid") == killed
        assert not await local.database_answers(url, timeout=1.0)

        waited = await private_stack.start_postgres()
        print(f"\nPostgreSQL start after SIGKILL: {waited:.2f} s")
        assert local.postgres_pid(layout) not in (None, killed)
        assert await _notes(url, "kill_probe") == {"before the kill"}
        assert await pool.fetchval("SELECT 1") == 1

        # `up()` copes with the same situation (what `caseline up` does after a crash).
        killed = await private_stack.kill_postgres()
        started = asyncio.get_running_loop().time()
        result = await asyncio.to_thread(local.up, kafka=False, layout=layout, echo=print)
        print(f"up(kafka=False) after SIGKILL: {asyncio.get_running_loop().time() - started:.2f} s")
        assert result.started == ("postgres",)
        assert result.postgres.pid not in (None, killed)
        assert await _notes(url, "kill_probe") == {"before the kill"}
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
    assert _shared_pids() == shared_before


async def test_kafka_killed_comes_back_with_its_messages(private_stack: PrivateStack) -> None:
    shared = LocalLayout.from_env()
    shared_before = _shared_pids()
    bootstrap = private_stack.kafka_bootstrap
    topic = f"caseline.test-private-{uuid.uuid4().hex[:10]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=10000
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"before the kill", key=b"case-1")

        killed = await private_stack.kill_kafka()
        assert local.kafka_pid(private_stack.layout) is None
        assert not private_stack.layout.kafka_pid_file.exists()
        assert not await local.kafka_answers(bootstrap, timeout=1.0)

        waited = await private_stack.start_kafka()
        print(f"\nKafka start after SIGKILL: {waited:.2f} s")
        assert local.kafka_pid(private_stack.layout) not in (None, killed)

        # The producer made before the crash reconnects by itself.
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(
            producer.send_and_wait(topic, b"after the restart", key=b"case-1"), 60
        )
        print(f"old producer sent again after {asyncio.get_running_loop().time() - started:.2f} s")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-private-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        values: list[bytes | None] = []
        async with asyncio.timeout(30):
            while len(values) < 2:
                batches = await consumer.getmany(timeout_ms=1000)
                values += [m.value for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()
    assert values == [b"before the kill", b"after the restart"]

    # The shared broker never noticed.
    assert _shared_pids() == shared_before
    assert await local.kafka_answers(shared.kafka_bootstrap)
