"""The relay: follows a service's events table (the outbox) and publishes it to Kafka in order.

At-least-once by construction: the durable position moves only after Kafka acknowledged
every message up to it (acks=all, idempotent producer), so a crash anywhere republishes
from the last saved position and loses nothing; consumers drop the repeats by event id.
Only one relay per (schema, topic) publishes at a time: a PostgreSQL advisory lock elects it.

`Relay.run` is one leadership session on one connection: the lock, every read and the
position save go through it, and any database or Kafka error ends it. A service runs it
under its supervisor (`Relay.supervised`), which starts a new session after a backoff; the
lock is then taken again on the new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.codec import to_kafka
from shared.errors import InfrastructureUnavailable
from shared.store import EventStore
from shared.supervisor import Supervisor, TaskControl
from shared.topics import topic_for

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
        stall_seconds: float = 3.0,
    ) -> None:
        self.store = store
        self.producer = producer
        self.topic = topic or topic_for(store.service)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stall_seconds = stall_seconds
        self._s = f'"{store.schema}"'
        self._wakeup = asyncio.Event()
        self._control: TaskControl | None = None
        self._leading = "publishing"

    async def published_position(self, connection: asyncpg.Connection | None = None) -> int:
        """The durable position: every event up to it is acknowledged by Kafka."""
        value: int | None = await (connection or self.store.pool).fetchval(
            f"SELECT position FROM {self._s}.relay_positions WHERE topic = $1", self.topic
        )
        return value or 0

    async def progress(self, timeout: float | None = None) -> RelayProgress:
        """Published position, last committed position and so the lag (one query).

        `timeout` bounds both the wait for a pooled connection and the query (asyncpg's own
        timeouts, which leave the connection usable, unlike cancelling the call from outside).
        """
        async with self.store.pool.acquire(timeout=timeout) as conn:
            row = await conn.fetchrow(
                f"SELECT (SELECT position FROM {self._s}.relay_positions WHERE topic = $1) "
                f"AS published, (SELECT last_position FROM {self._s}.log_head WHERE singleton) "
                "AS last",
                self.topic,
                timeout=timeout,
            )
        assert row is not None
        return RelayProgress(self.topic, row["published"] or 0, row["last"] or 0)

    async def _save_position(self, position: int, connection: asyncpg.Connection | None) -> None:
        await (connection or self.store.pool).execute(
            f"INSERT INTO {self._s}.relay_positions (topic, position) VALUES ($1, $2) "
            "ON CONFLICT (topic) DO UPDATE SET position = EXCLUDED.position, updated_at = now() "
            f"WHERE {self._s}.relay_positions.position < EXCLUDED.position",
            self.topic,
            position,
        )

    async def publish_batch(self, connection: asyncpg.Connection | None = None) -> int:
        """Publish the next batch after the durable position; return how many were published.

        With `connection` (the leader's), every read and the position save go through it: a
        relay that lost its session, and with it the leadership lock, cannot move the position.
        """
        position = await self.published_position(connection)
        events = await self.store.read_all_raw(position, self.batch_size, connection=connection)
        if not events:
            return 0
        try:
            deliveries = []
            for event in events:
                record = to_kafka(event, self.store.service)
                # send() only enqueues; awaiting every delivery below is what makes it durable.
                deliveries.append(
                    await self.producer.send(
                        self.topic, value=record.value, key=record.key, headers=record.headers
                    )
                )
            await self._acknowledged(asyncio.gather(*deliveries), len(events))
        except KafkaError as e:
            raise InfrastructureUnavailable(f"publishing to {self.topic} failed: {e}") from e
        await self._save_position(events[-1].position, connection)
        log.debug(
            "relay.published", topic=self.topic, count=len(events), position=events[-1].position
        )
        return len(events)

    async def _acknowledged(self, deliveries: asyncio.Future[list[object]], count: int) -> None:
        # The producer retries by itself while the broker is away, which keeps every message
        # once on the topic; meanwhile the relay tells its supervisor that it waits, so that
        # /health shows the stall instead of a relay that looks fine.
        done, _ = await asyncio.wait({deliveries}, timeout=self.stall_seconds)
        if done:
            deliveries.result()
            return
        log.warning("relay.stalled", topic=self.topic, count=count)
        if self._control is not None:
            self._control.failing(
                InfrastructureUnavailable(f"{count} events wait for Kafka to acknowledge them")
            )
        await deliveries
        if self._control is not None:
            self._control.running(self._leading)

    async def drain(self, connection: asyncpg.Connection | None = None) -> int:
        """Publish until nothing committed is left unpublished; return how many were published."""
        total = 0
        while published := await self.publish_batch(connection):
            total += published
        return total

    async def supervised(self, control: TaskControl) -> None:
        """The relay as a supervised task: one leadership session; the supervisor reruns it."""
        self._control = control
        try:
            await self.run(control.stop)
        finally:
            self._control = None

    async def run(
        self, stop: asyncio.Event, on_batch: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """Relay until `stop` is set: woken by NOTIFY on append, polling as a fallback.

        One leadership session: any database or Kafka error ends it with that error (the
        supervisor runs it again); the published position is in PostgreSQL, so the next
        session resumes from it.
        """
        lock_key = f"caseline-relay-{self.store.schema}-{self.topic}"
        leader: asyncpg.Connection = await self.store.pool.acquire()
        try:
            # A lost session (the server restarted) ends the wait at once; the next query
            # on it then fails and ends this session.
            leader.add_termination_listener(self._on_lost)
            # A session lock: held while this connection lives, released if the process dies.
            standing_by = False
            while not await leader.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lock_key):
                if not standing_by:
                    standing_by = True
                    self._report("standby: another relay publishes this outbox")
                    log.info("relay.standby", topic=self.topic, reason="another relay publishes")
                if await _wait(stop, 2.0):
                    return
            await leader.add_listener(self.store.notify_channel, self._on_notify)
            self._leading = "publishing"
            self._report(self._leading)
            log.info("relay.started", topic=self.topic, schema=self.store.schema)
            while not stop.is_set():
                self._wakeup.clear()
                published = await self.drain(leader)
                if published and on_batch is not None:
                    await on_batch(published)
                if not published:
                    await _wait_any(stop, self._wakeup, self.poll_seconds)
            log.info("relay.stopped", topic=self.topic)
        finally:
            await self._let_go(leader)

    async def _let_go(self, leader: asyncpg.Connection) -> None:
        # The pool does not reset sessions (`create_pool`): the connection goes back without
        # its listener and its session lock, or is closed; a connection the server dropped is
        # discarded by the pool. Nothing here may mask the error that ended the session.
        with contextlib.suppress(Exception):
            leader.remove_termination_listener(self._on_lost)
        try:
            if not leader.is_closed():
                await leader.remove_listener(self.store.notify_channel, self._on_notify)
                await leader.execute("SELECT pg_advisory_unlock_all()")
        except Exception:  # noqa: BLE001 - never hand the pool a connection that may hold the lock
            leader.terminate()
        try:
            await asyncio.wait_for(self.store.pool.release(leader), 5.0)
        except Exception:  # noqa: BLE001 - the pool has terminated it already
            log.debug("relay.session_dropped", topic=self.topic)

    def _report(self, detail: str) -> None:
        if self._control is not None:
            self._control.running(detail)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, _payload: object) -> None:
        self._wakeup.set()

    def _on_lost(self, _conn: object) -> None:
        log.warning("relay.session_lost", topic=self.topic)
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
        supervisor = Supervisor()
        supervisor.spawn(f"relay:{relay.topic}", "relay", relay.supervised)
        await (stop or asyncio.Event()).wait()
        await supervisor.stop()
    finally:
        await producer.stop()
        await pool.close()
