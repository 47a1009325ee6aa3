"""The relay: follows a service's events table (the outbox) and publishes it to Kafka in order.

At-least-once by construction: the durable position moves only after Kafka acknowledged
every message up to it (acks=all, idempotent producer), so a crash anywhere republishes
from the last saved position and loses nothing; consumers drop the repeats by event id.
Only one relay per (schema, topic) publishes at a time: a PostgreSQL advisory lock elects it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.codec import to_kafka
from shared.errors import InfrastructureUnavailable
from shared.infra.topics import topic_for
from shared.store import EventStore

log = structlog.get_logger("caseline.relay")


def idempotent_producer(bootstrap_servers: str, **overrides: object) -> AIOKafkaProducer:
    """A producer that neither loses (acks=all) nor duplicates on retry (idempotence)."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap_servers,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 30_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


@dataclass(frozen=True)
class RelayProgress:
    """Where the relay stands: the last published position and the log's last position."""

    topic: str
    published_position: int
    last_position: int

    @property
    def lag(self) -> int:
        """Events committed but not yet published."""
        return self.last_position - self.published_position


class Relay:
    """Publishes one service's committed events to its topic, in commit order."""

    def __init__(
        self,
        store: EventStore,
        producer: AIOKafkaProducer,
        *,
        topic: str | None = None,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.producer = producer
        self.topic = topic or topic_for(store.service)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._s = f'"{store.schema}"'
        self._wakeup = asyncio.Event()

    async def published_position(self) -> int:
        """The durable position: every event up to it is acknowledged by Kafka."""
        value: int | None = await self.store.pool.fetchval(
            f"SELECT position FROM {self._s}.relay_positions WHERE topic = $1", self.topic
        )
        return value or 0

    async def progress(self) -> RelayProgress:
        """Published position, last committed position and so the lag."""
        return RelayProgress(
            self.topic, await self.published_position(), await self.store.last_position()
        )

    async def _save_position(self, position: int) -> None:
        await self.store.pool.execute(
            f"INSERT INTO {self._s}.relay_positions (topic, position) VALUES ($1, $2) "
            "ON CONFLICT (topic) DO UPDATE SET position = EXCLUDED.position, updated_at = now() "
            f"WHERE {self._s}.relay_positions.position < EXCLUDED.position",
            self.topic,
            position,
        )

    async def publish_batch(self) -> int:
        """Publish the next batch after the durable position; return how many were published."""
        position = await self.published_position()
        events = await self.store.read_all_raw(position, self.batch_size)
        if not events:
            return 0
        deliveries = []
        try:
            for event in events:
                record = to_kafka(event, self.store.service)
                # send() only enqueues; awaiting every delivery below is what makes it durable.
                deliveries.append(
                    await self.producer.send(
                        self.topic, value=record.value, key=record.key, headers=record.headers
                    )
                )
            await asyncio.gather(*deliveries)
        except KafkaError as e:
            raise InfrastructureUnavailable(f"publishing to {self.topic} failed: {e}") from e
        await self._save_position(events[-1].position)
        log.debug(
            "relay.published", topic=self.topic, count=len(events), position=events[-1].position
        )
        return len(events)

    async def drain(self) -> int:
        """Publish until nothing committed is left unpublished; return how many were published."""
        total = 0
        while published := await self.publish_batch():
            total += published
        return total

    async def run(
        self, stop: asyncio.Event, on_batch: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """Relay until `stop` is set: woken by NOTIFY on append, polling as a fallback."""
        async with self.store.pool.acquire() as leader:
            lock_key = f"caseline-relay-{self.store.schema}-{self.topic}"
            # A session lock: held while this connection lives, released if the process dies.
            while not await leader.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock_key):
                log.info("relay.standby", topic=self.topic, reason="another relay is publishing")
                if await _wait(stop, 2.0):
                    return
            await leader.add_listener(self.store.notify_channel, self._on_notify)
            log.info("relay.started", topic=self.topic, schema=self.store.schema)
            try:
                while not stop.is_set():
                    self._wakeup.clear()
                    published = await self.drain()
                    if published and on_batch is not None:
                        await on_batch(published)
                    if not published:
                        await _wait_any(stop, self._wakeup, self.poll_seconds)
            finally:
                await leader.remove_listener(self.store.notify_channel, self._on_notify)
                await leader.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key)
                log.info("relay.stopped", topic=self.topic)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, _payload: object) -> None:
        self._wakeup.set()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def _wait_any(stop: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def run_relay(
    database_url: str,
    bootstrap_servers: str,
    service: str,
    *,
    schema: str | None = None,
    topic: str | None = None,
    batch_size: int = 500,
    poll_seconds: float = 0.5,
    stop: asyncio.Event | None = None,
) -> None:
    """Run one relay process until stopped: pool, producer, relay loop, clean shutdown."""
    from shared.store import create_pool

    pool = await create_pool(database_url, min_size=1, max_size=3)
    producer = idempotent_producer(bootstrap_servers)
    try:
        store = EventStore(pool, service, schema=schema)
        await store.migrate()
        await producer.start()
        relay = Relay(
            store, producer, topic=topic, batch_size=batch_size, poll_seconds=poll_seconds
        )
        await relay.run(stop or asyncio.Event())
    finally:
        await producer.stop()
        await pool.close()
