"""The idempotent consumer: each Kafka event is applied once, or dead-lettered, and nothing is lost.

For one message the order is fixed:

1. decode it (`shared.codec.from_kafka`);
2. in ONE PostgreSQL transaction: insert the dedup record (consumer, event id), run the
   handler's effects on the same connection unless the record already existed, and move the
   consumer's stored position;
3. commit; only THEN acknowledge the Kafka offset.

A crash between 3's commit and the acknowledgement makes Kafka deliver the message again; the
dedup record turns that redelivery into a no-op. A message that can never be applied (not a
caseline CloudEvent, an unknown type, an invalid payload, or a handler's `ProcessingRejected`)
is published to `caseline.dlq.v1` unchanged, with headers saying why, and acknowledged after
the DLQ confirmed it. An outage (PostgreSQL or Kafka unreachable) is never dead-lettered: the
message stays unacknowledged, the consumer rewinds to it and tries again after a backoff.

A service never wires one by hand: it lists `ConsumerSpec`s (name, topics, handler, the event
types it reads) in its `ServiceSpec`, and `shared.service.open_runtime` builds each consumer,
subscribes it and runs a `ConsumerWatch` for it under the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka.broker.registrator import KafkaRegistrator
from faststream.kafka.message import KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy

from shared.codec import EXT_CORRELATION, ReceivedEvent, from_kafka
from shared.envelope import DomainEvent, EventRegistry, rfc3339
from shared.errors import CaselineError, ConcurrencyError, InfrastructureUnavailable
from shared.logging import event_context, get_logger
from shared.store import migrate_schema, quote_schema
from shared.supervisor import Backoff, TaskControl, is_outage
from shared.topics import DLQ_TOPIC

log = get_logger("caseline.consumer")

Headers = tuple[tuple[str, bytes | None], ...]
EventHandler = Callable[[asyncpg.Connection, ReceivedEvent], Awaitable[None]]
"""`async def handle(conn, event)`: applies an event's effects on `conn`, inside the
consumer's transaction. It raises `ProcessingRejected` to refuse an event for good."""


class ProcessingRejected(CaselineError):
    """A handler's refusal of an event it can never apply: the message goes to the DLQ."""


class DeadLetterHeader(StrEnum):
    """The headers added to a dead-lettered message, after all of its original ones."""

    REASON = "caseline-dlq-reason"
    ERROR = "caseline-dlq-error"
    CONSUMER = "caseline-dlq-consumer"
    TOPIC = "caseline-dlq-topic"
    PARTITION = "caseline-dlq-partition"
    OFFSET = "caseline-dlq-offset"
    AT = "caseline-dlq-at"


class Outcome(StrEnum):
    """What became of one message."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    PASSED_OVER = "passed-over"
    """Of a type the consumer does not read: not decoded, its offset moved, acknowledged."""
    DEAD_LETTERED = "dead-lettered"
    REDELIVER = "redeliver"
    """Not settled (an outage): it must not be acknowledged, Kafka delivers it again."""


def is_transient(error: BaseException) -> bool:
    """A failure of the infrastructure or a lost race, not of the message: retried, never
    dead-lettered.

    Every other `CaselineError` (a decoding error or a handler's refusal) is a verdict on the
    message and sends it to the DLQ. Anything else is a bug: the message is retried, loudly.
    """
    return is_outage(error) or isinstance(
        error,
        (
            # Another writer got to a stream first: deciding again on redelivery will do.
            ConcurrencyError,
            asyncpg.TransactionRollbackError,  # serialization failures, deadlocks
        ),
    )


_REASON_LIMIT = 2000


@dataclass(frozen=True)
class IncomingMessage:
    """One consumed Kafka message exactly as it arrived: its bytes are never re-encoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    @classmethod
    def from_record(cls, record: ConsumerRecord[Any, Any]) -> IncomingMessage:
        """Take an aiokafka record (consumed without deserializers) as it is."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple((name, value) for name, value in record.headers),
        )

    def header(self, name: str) -> str | None:
        """A header as text (the last one wins); None when absent or not UTF-8."""
        found: str | None = None
        for header_name, raw in self.headers:
            if header_name == name and raw is not None:
                try:
                    found = raw.decode("utf-8")
                except UnicodeDecodeError:
                    found = None
        return found

    def where(self) -> str:
        """`topic/partition@offset`, for messages and logs."""
        return f"{self.topic}/{self.partition}@{self.offset}"


def failure_reason(error: BaseException) -> str:
    """A human-readable reason for the DLQ header, bounded so a huge error cannot bloat it."""
    text = str(error).strip() or type(error).__name__
    if len(text) > _REASON_LIMIT:
        text = text[: _REASON_LIMIT - 1] + "…"
    return text


def error_name(error: BaseException) -> str:
    """The error's class as `module.Name`, so DLQ readers can group by it."""
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def dead_letter_headers(
    message: IncomingMessage, error: BaseException, *, consumer: str, at: datetime
) -> list[tuple[str, bytes | None]]:
    """The original headers, untouched and in order, followed by the caseline ones saying why."""
    added = {
        DeadLetterHeader.REASON: failure_reason(error),
        DeadLetterHeader.ERROR: error_name(error),
        DeadLetterHeader.CONSUMER: consumer,
        DeadLetterHeader.TOPIC: message.topic,
        DeadLetterHeader.PARTITION: str(message.partition),
        DeadLetterHeader.OFFSET: str(message.offset),
        DeadLetterHeader.AT: rfc3339(at),
    }
    return [*message.headers, *((str(name), text.encode()) for name, text in added.items())]


class DeadLetterQueue:
    """Publishes messages no consumer can apply to the DLQ topic, bytes and headers unchanged.

    Give it a producer with acks=all (`shared.relay.idempotent_producer`); its caller starts
    and stops it. A publish returns only once the broker has the message.
    """

    def __init__(self, producer: AIOKafkaProducer, *, topic: str = DLQ_TOPIC) -> None:
        self.producer = producer
        self.topic = topic

    async def send(self, message: IncomingMessage, error: BaseException, *, consumer: str) -> None:
        """Publish one message with its reason; raises `InfrastructureUnavailable` on failure."""
        value = message.value
        if value is None and message.key is None:
            # Kafka allows a message with neither; aiokafka cannot send one. An empty value
            # is the closest faithful copy (the DLQ headers still point to the original).
            value = b""
        try:
            await self.producer.send_and_wait(
                self.topic,
                value=value,
                key=message.key,
                headers=dead_letter_headers(message, error, consumer=consumer, at=_now()),
            )
        except KafkaError as e:
            raise InfrastructureUnavailable(
                f"dead-lettering {message.where()} to {self.topic} failed: {e}"
            ) from e


def _now() -> datetime:
    return datetime.now(UTC)


def _migration(s: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};

-- One row per event a consumer applied: a redelivered event finds its row and is skipped.
CREATE TABLE IF NOT EXISTS {s}.processed_messages (
    consumer      text        NOT NULL,
    event_id      uuid        NOT NULL,
    topic         text        NOT NULL,
    "partition"   integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The next offset to read per partition (Kafka's convention), moved in the same
-- transaction as the effects; it never moves back.
CREATE TABLE IF NOT EXISTS {s}.consumer_offsets (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    "partition"  integer     NOT NULL,
    "offset"     bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, "partition")
);

-- Messages sent to the DLQ, by where they were read: a redelivery of the same message is
-- not dead-lettered twice, while a message replayed from the DLQ (a new offset) is applied.
CREATE TABLE IF NOT EXISTS {s}.dead_lettered_messages (
    consumer          text        NOT NULL,
    topic             text        NOT NULL,
    "partition"       integer     NOT NULL,
    "offset"          bigint      NOT NULL,
    event_id          text,
    error             text        NOT NULL,
    reason            text        NOT NULL,
    dead_lettered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, "partition", "offset")
);
"""


EventTypes = frozenset[tuple[str, str]]
"""(service, EventName) pairs: the event types a consumer reads, as `ce_type` names them."""


def event_types(*classes: type[DomainEvent]) -> EventTypes:
    """The types a consumer reads, from the event classes it imports from contract modules."""
    return frozenset((cls.service, cls.event_type()) for cls in classes)


class IdempotentConsumer:
    """Applies each event once: effects, dedup record and position commit in one transaction.

    `reads` declares the event types it applies; a message of another caseline type is
    passed over from its `ce_type` header alone (not decoded, not dead-lettered), so a topic
    may carry types this service has never heard of. `None` reads every type `events` knows.
    """

    def __init__(
        self,
        name: str,
        pool: asyncpg.Pool,
        *,
        schema: str,
        events: EventRegistry,
        handle: EventHandler,
        dead_letters: DeadLetterQueue,
        reads: EventTypes | None = None,
    ) -> None:
        if not name:
            raise ValueError("a consumer needs a name: it keys its dedup records")
        self.name = name
        self.pool = pool
        self.schema = schema
        self.events = events
        self.handle = handle
        self.dead_letters = dead_letters
        self.reads = reads
        self.control: TaskControl | None = None
        """Set while the consumer runs under a supervisor: outcomes move its state."""
        self.outcomes: Counter[str] = Counter()
        """How many messages this process settled, by `Outcome` value (`/metrics` shows them)."""
        self.timed: Callable[[Outcome, float], None] | None = None
        """Told each message's outcome and how long it took (the runtime's metrics)."""
        self._s = quote_schema(schema)

    async def migrate(self) -> None:
        """Create the consumer's tables in the service's schema (idempotent)."""
        await migrate_schema(self.pool, self.schema, _migration(self._s))

    def _logged_as(self, message: IncomingMessage) -> AbstractContextManager[None]:
        """The log context of one message: where it was read and which event it carries."""
        return event_context(
            consumer=self.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            # Read leniently from the headers, so a message that fails to decode still logs them.
            case_id=message.header("ce_subject"),
            event_id=message.header("ce_id"),
            correlation_id=message.header(f"ce_{EXT_CORRELATION}"),
        )

    async def process(self, message: IncomingMessage) -> Outcome:
        """Apply, skip or dead-letter one message; never acknowledges it (the caller does).

        `Outcome.REDELIVER` means an outage left it unsettled: do not acknowledge it. Errors
        that are neither a `CaselineError` nor transient (`is_transient`) are bugs and propagate.
        """
        with self._logged_as(message):
            started = time.perf_counter()
            # The one place that decides between the DLQ and a retry.
            refusal: CaselineError | None = None
            try:
                try:
                    if self._passes_over(message):
                        outcome = await self._pass_over(message)
                    else:
                        outcome = await self._apply(message)
                except CaselineError as error:
                    if is_transient(error):
                        raise
                    refusal = error
                    outcome = await self._dead_letter(message, refusal)
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning(
                    "consumer.redeliver", error=error_name(error), reason=failure_reason(error)
                )
                if self.control is not None:
                    self.control.failing(error)
                self._settled(Outcome.REDELIVER, started)
                return Outcome.REDELIVER
            if self.control is not None:
                self.control.running()
            self._settled(outcome, started)
            if outcome is Outcome.PASSED_OVER:
                log.debug("consumer.passed_over", ce_type=message.header("ce_type"))
            elif refusal is None:
                log.info(f"consumer.{outcome.name.lower()}")
            else:
                log.log(
                    logging.WARNING if outcome is Outcome.DEAD_LETTERED else logging.INFO,
                    f"consumer.{outcome.name.lower()}",
                    error=error_name(refusal),
                    reason=failure_reason(refusal),
                )
            return outcome

    async def process_batch(self, messages: Sequence[IncomingMessage]) -> list[Outcome]:
        """Settle the messages a fetch returned in ONE transaction; one outcome each, in order.

        A consumer that has fallen behind gets many messages per fetch; one transaction for
        all of them (dedup records in one statement, each fresh event's effects, the
        positions once per partition) costs a fraction of one transaction each. Messages are
        applied in the order given, so each partition's order holds. When a message cannot
        be decoded or a handler refuses one, the whole transaction is rolled back and the
        messages go through `process` one at a time, which dead-letters only that one. An
        outage leaves the whole batch unsettled (`Outcome.REDELIVER` for each).
        """
        if len(messages) == 1:
            return [await self.process(messages[0])]
        started = time.perf_counter()
        try:
            try:
                outcomes = await self._apply_together(messages)
            except CaselineError as error:
                if is_transient(error):
                    raise
                return await self._one_at_a_time(messages)
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning(
                "consumer.redeliver",
                consumer=self.name,
                messages=len(messages),
                error=error_name(error),
                reason=failure_reason(error),
            )
            if self.control is not None:
                self.control.failing(error)
            each = (time.perf_counter() - started) / len(messages)
            for _ in messages:
                self._settled(Outcome.REDELIVER, time.perf_counter() - each)
            return [Outcome.REDELIVER] * len(messages)
        if self.control is not None:
            self.control.running()
        each = (time.perf_counter() - started) / len(messages)
        for message, outcome in zip(messages, outcomes, strict=True):
            self._settled(outcome, time.perf_counter() - each)
            if outcome is not Outcome.PASSED_OVER:
                with self._logged_as(message):
                    log.info(f"consumer.{outcome.name.lower()}")
        return outcomes

    async def _one_at_a_time(self, messages: Sequence[IncomingMessage]) -> list[Outcome]:
        """Each message in its own transaction; after an outage, the rest stay unsettled."""
        outcomes: list[Outcome] = []
        for message in messages:
            outcome = await self.process(message)
            outcomes.append(outcome)
            if outcome is Outcome.REDELIVER:
                break
        return outcomes + [Outcome.REDELIVER] * (len(messages) - len(outcomes))

    async def _apply_together(self, messages: Sequence[IncomingMessage]) -> list[Outcome]:
        read = [
            None if self._passes_over(m) else from_kafka(m.value, m.headers, self.events)
            for m in messages
        ]
        # The first delivery of an event in the batch is the one applied.
        first: dict[uuid.UUID, int] = {}
        for index, event in enumerate(read):
            if event is not None:
                first.setdefault(event.envelope.metadata.event_id, index)
        outcomes: list[Outcome] = []
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = {
                row["event_id"]
                for row in await conn.fetch(
                    f"INSERT INTO {self._s}.processed_messages "
                    '(consumer, event_id, topic, "partition", "offset") '
                    "SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::integer[], "
                    "$5::bigint[]) ON CONFLICT DO NOTHING RETURNING event_id",
                    self.name,
                    list(first),
                    [messages[i].topic for i in first.values()],
                    [messages[i].partition for i in first.values()],
                    [messages[i].offset for i in first.values()],
                )
            }
            for index, event in enumerate(read):
                if event is None:
                    outcomes.append(Outcome.PASSED_OVER)
                    continue
                event_id = event.envelope.metadata.event_id
                if event_id in fresh and first[event_id] == index:
                    await self.handle(conn, event)
                    outcomes.append(Outcome.PROCESSED)
                else:
                    outcomes.append(Outcome.DUPLICATE)
            ends: dict[tuple[str, int], int] = {}
            for m in messages:
                key = (m.topic, m.partition)
                ends[key] = max(ends.get(key, 0), m.offset + 1)
            await conn.execute(
                f'INSERT INTO {self._s}.consumer_offsets (consumer, topic, "partition", '
                '"offset") SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[]) '
                'ON CONFLICT (consumer, topic, "partition") DO UPDATE '
                f'SET "offset" = GREATEST({self._s}.consumer_offsets."offset", '
                'EXCLUDED."offset"), updated_at = now()',
                self.name,
                [t for t, _ in ends],
                [p for _, p in ends],
                list(ends.values()),
            )
        return outcomes

    def _settled(self, outcome: Outcome, started: float) -> None:
        self.outcomes[outcome.value] += 1
        if self.timed is not None:
            self.timed(outcome, time.perf_counter() - started)

    def _passes_over(self, message: IncomingMessage) -> bool:
        """A well-formed caseline type this consumer does not read (anything odd is decoded,
        and so dead-lettered with its reason)."""
        if self.reads is None:
            return False
        parts = (message.header("ce_type") or "").split(".")
        if len(parts) != 4 or parts[0] != "caseline" or not parts[3].startswith("v"):
            return False
        return (parts[1], parts[2]) not in self.reads

    async def _pass_over(self, message: IncomingMessage) -> Outcome:
        # The stored position still moves, so the consumer's lag counts only what it reads.
        async with self.pool.acquire() as conn, conn.transaction():
            await self._advance(conn, message)
        return Outcome.PASSED_OVER

    async def _apply(self, message: IncomingMessage) -> Outcome:
        event = from_kafka(message.value, message.headers, self.events)
        async with self.pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                f"INSERT INTO {self._s}.processed_messages "
                '(consumer, event_id, topic, "partition", "offset") VALUES ($1, $2, $3, $4, $5) '
                "ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                event.envelope.metadata.event_id,
                message.topic,
                message.partition,
                message.offset,
            )
            if first_time:
                await self.handle(conn, event)
            await self._advance(conn, message)
        return Outcome.PROCESSED if first_time else Outcome.DUPLICATE

    async def _dead_letter(self, message: IncomingMessage, error: CaselineError) -> Outcome:
        # The DLQ publish happens inside the transaction that records it: if the publish
        # fails nothing is recorded and the message is retried; if the commit fails after
        # the publish, the retry dead-letters it a second time (at least once, never lost).
        async with self.pool.acquire() as conn, conn.transaction():
            first_time = await conn.fetchval(
                f"INSERT INTO {self._s}.dead_lettered_messages "
                '(consumer, topic, "partition", "offset", event_id, error, reason) '
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
                self.name,
                message.topic,
                message.partition,
                message.offset,
                message.header("ce_id"),
                error_name(error),
                failure_reason(error),
            )
            if first_time:
                await self.dead_letters.send(message, error, consumer=self.name)
            await self._advance(conn, message)
        return Outcome.DEAD_LETTERED if first_time else Outcome.DUPLICATE

    async def _advance(self, conn: asyncpg.Connection, message: IncomingMessage) -> None:
        await conn.execute(
            f'INSERT INTO {self._s}.consumer_offsets (consumer, topic, "partition", "offset") '
            "VALUES ($1, $2, $3, $4) "
            'ON CONFLICT (consumer, topic, "partition") DO UPDATE '
            f'SET "offset" = GREATEST({self._s}.consumer_offsets."offset", EXCLUDED."offset"), '
            "updated_at = now()",
            self.name,
            message.topic,
            message.partition,
            message.offset + 1,
        )

    async def stored_offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition), as this consumer stored it."""
        rows = await self.pool.fetch(
            f'SELECT topic, "partition", "offset" FROM {self._s}.consumer_offsets '
            "WHERE consumer = $1",
            self.name,
        )
        return {(r["topic"], r["partition"]): r["offset"] for r in rows}


def faststream_can_parse(headers: Sequence[tuple[str, bytes | None]]) -> bool:
    """Whether FastStream's own parser can read these headers (it needs UTF-8 bytes)."""
    for _, raw in headers:
        if raw is None:
            return False
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


async def parse_keeping_every_message(
    fetched: ConsumerRecord[Any, Any] | tuple[ConsumerRecord[Any, Any], ...],
    parse: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """A FastStream parser that never fails on headers, so every message reaches the consumer."""
    # FastStream's parser decodes every header as UTF-8 and fails on any other bytes before
    # a handler sees the message (or the batch); the consumer would then skip it
    # unacknowledged and lose it at the next commit. Such a message is exactly one for the
    # DLQ, so FastStream gets copies without the unreadable headers and the handler still
    # gets the original records.
    records = fetched if isinstance(fetched, tuple) else (fetched,)
    if all(faststream_can_parse(record.headers) for record in records):
        return await parse(fetched)
    readable = tuple(_readable(record) for record in records)
    message = await parse(readable if isinstance(fetched, tuple) else readable[0])
    message.raw_message = fetched
    return message


def _readable(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    """A copy of the record with only the headers FastStream can decode."""
    if faststream_can_parse(record.headers):
        return record
    readable = dataclasses.replace(
        record,
        headers=[(n, v) for n, v in record.headers if faststream_can_parse([(n, v)])],
    )
    worker = getattr(record, "consumer", None)
    if worker is not None:
        # Per-partition workers hang their consumer on the record; the ack must reach it.
        readable.consumer = worker
    return readable


async def _the_message_itself(message: StreamMessage[Any]) -> Any:
    """The decoder: the handler is given the whole message, not a decoded body.

    FastStream would json-decode an application/json body and fail on invalid JSON; the
    consumer decodes the raw records itself. And a handler that asked for the message
    through FastStream's context (`KafkaMessage`) would have it looked up by a plain
    function, which FastStream runs in a worker thread: a hop to another thread and back on
    every fetch.
    """
    return message


BATCH_MAX_MESSAGES = 200
"""The most messages one fetch hands the consumer: one transaction settles them together.
A consumer that keeps up gets what has arrived since its last fetch, often one message."""

BATCH_WAIT_MS = 20
"""How long an idle consumer's fetch waits for a message, and then pauses, before the next
fetch: the most a message arriving at an idle consumer waits before it is read."""

COMMIT_EVERY_SECONDS = 0.5
"""How long a settled message's Kafka offset may wait to be committed with the next ones."""


class OffsetCommitter:
    """Commits the Kafka offsets of settled messages together, at most every half second.

    An offset commit is a round trip to the group coordinator (several milliseconds), far
    dearer than the message's own PostgreSQL transaction; committing each one held a
    catching-up consumer to about a hundred messages a second. The record of what was
    applied is PostgreSQL's (dedup record and stored position, one transaction with the
    effects), so a commit that waits, or is lost when the process stops or its partition
    moves, only means a redelivery that is recognised as a duplicate. Only offsets of
    settled messages are committed, never the consumer's read position (which may be past
    a message still being applied), so a commit never passes an unsettled message.
    """

    def __init__(self, consumer_name: str, every: float = COMMIT_EVERY_SECONDS) -> None:
        self.consumer_name = consumer_name
        self.every = every
        self._pending: dict[TopicPartition, int] = {}
        self._kafka: AIOKafkaConsumer | None = None
        self._flush: asyncio.Task[None] | None = None

    def settled(self, kafka: Any, record: ConsumerRecord[Any, Any]) -> None:
        """Note a settled message; its offset is committed within `every` seconds."""
        self._kafka = kafka
        self._pending[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._commit_later())

    async def _commit_later(self) -> None:
        await asyncio.sleep(self.every)
        offsets, self._pending = self._pending, {}
        if not offsets or self._kafka is None:
            return
        try:
            await self._kafka.commit(offsets)
        except (KafkaError, RuntimeError) as e:
            # Not assigned any more, or the consumer stopped: the effects are committed in
            # PostgreSQL, and the redelivery this causes is recognised as a duplicate.
            log.warning(
                "consumer.commit_failed",
                consumer=self.consumer_name,
                partitions=len(offsets),
                reason=str(e) or type(e).__name__,
            )


def subscribe_idempotent(
    broker: KafkaRegistrator,
    consumer: IdempotentConsumer,
    *topics: str,
    group_id: str,
    auto_offset_reset: Literal["earliest", "latest"] = "earliest",
    backoff: Backoff | None = None,
) -> LogicSubscriber[Any]:
    """Subscribe `consumer` on a `KafkaBroker` or `KafkaRouter`, acknowledging manually.

    The Kafka offset is committed only after the PostgreSQL commit (or the DLQ's
    confirmation), together with the next settled ones (`OffsetCommitter`). An unsettled
    message is rewound to and retried after a backoff, so a later commit can never skip it.
    Returns the FastStream subscriber, for a `ConsumerWatch`.
    """
    if not topics:
        raise ValueError("subscribe_idempotent needs at least one topic")
    retry = backoff or Backoff()
    offsets = OffsetCommitter(consumer.name)

    async def consume(message: Any) -> None:
        assert isinstance(message, KafkaMessage), "the decoder hands over the whole message"
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        if not records:
            return
        rewind = True
        try:
            outcomes = await consumer.process_batch(
                [IncomingMessage.from_record(r) for r in records]
            )
            rewind = Outcome.REDELIVER in outcomes
        except asyncio.CancelledError:
            # Stopping: nothing is committed past this batch, the next start reads it again.
            rewind = False
            raise
        finally:
            # Unsettled after an outage, or because an error no one classified (a bug)
            # escaped: either way rewind each partition to its first message of the batch,
            # so that no commit can pass it (the settled ones come back as duplicates).
            if rewind:
                await message.nack()
                await asyncio.sleep(retry.failed())
        if rewind:
            return
        retry.succeeded()
        for record in records:
            offsets.settled(message.consumer, record)

    consume.__name__ = f"consume_{consumer.name}".replace("-", "_").replace(".", "_")
    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=BATCH_MAX_MESSAGES,
        batch_timeout_ms=BATCH_WAIT_MS,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset=auto_offset_reset,
        parser=parse_keeping_every_message,
        decoder=_the_message_itself,
    )
    subscriber(consume)
    return subscriber


SUBSCRIBER_START_SECONDS = 30.0


@dataclass
class ConsumerLag:
    """How far a consumer is behind its topics, when it was last measured."""

    messages: int | None
    """Messages on its assigned partitions not yet applied; None before the first measure."""
    partitions: int = 0
    measured_at: datetime | None = None


class ConsumerWatch:
    """Supervises one consumer: its FastStream loop runs, Kafka and PostgreSQL answer, its lag.

    FastStream runs the consume loop and restarts it when it fails; the watch is the
    supervised task that makes the consumer's state visible: each round it asks Kafka for the
    end of every assigned partition and PostgreSQL for the consumer's stored positions. When
    either cannot answer the round fails, the supervisor shows the consumer as retrying and
    runs the watch again after a backoff; the consumer's own outcomes (a message waiting for
    the database, a message applied) move the same state in between.
    """

    def __init__(
        self,
        consumer: IdempotentConsumer,
        subscriber: LogicSubscriber[Any],
        *,
        interval: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self.subscriber = subscriber
        self.interval = interval
        self.timeout = timeout
        self.lag = ConsumerLag(None)

    async def supervised(self, control: TaskControl) -> None:
        """The supervised task: measure, report, wait; raise when a dependency fails."""
        self.consumer.control = control
        while not control.stopping:
            await self.measure()
            if self.lag.messages is not None:
                control.running(f"lag {self.lag.messages} on {self.lag.partitions} partitions")
            else:
                control.running("waiting for partitions")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(control.stop.wait(), self.interval)

    async def _restart_subscriber(self) -> None:
        # FastStream restarts a consume loop that failed; one that stopped for good (or a
        # subscriber stopped by hand) is started again here, and this round counts as failed.
        log.warning("consumer.subscriber_restarting", consumer=self.consumer.name)
        with contextlib.suppress(Exception):
            await self.subscriber.stop()
        # Joining the group takes a while; a broker that does not answer fails the round.
        await asyncio.wait_for(self.subscriber.start(), SUBSCRIBER_START_SECONDS)
        raise InfrastructureUnavailable(
            f"{self.consumer.name}: its subscriber had stopped and was started again"
        )

    async def measure(self) -> ConsumerLag:
        """Ask Kafka and PostgreSQL where the consumer stands; raise when one cannot answer."""
        kafka = self.subscriber.consumer
        loops = getattr(self.subscriber, "tasks", [])
        if kafka is None or not self.subscriber.running or (loops and all(t.done() for t in loops)):
            await self._restart_subscriber()
        kafka = self.subscriber.consumer
        assert kafka is not None
        stored = await asyncio.wait_for(self.consumer.stored_offsets(), self.timeout)
        assignment = sorted(kafka.assignment())
        if not assignment:
            # A rebalance, or a broker away: this at least proves the broker answers. With
            # no partition the lag is unknown, never an old figure that looks caught up.
            await asyncio.wait_for(kafka.topics(), self.timeout)
            self.lag = ConsumerLag(None, 0, _now())
            return self.lag
        ends = await asyncio.wait_for(kafka.end_offsets(assignment), self.timeout)
        unread = [tp for tp in assignment if (tp.topic, tp.partition) not in stored]
        starts = (
            await asyncio.wait_for(kafka.beginning_offsets(unread), self.timeout) if unread else {}
        )
        behind = 0
        for tp in assignment:
            applied_up_to = stored.get((tp.topic, tp.partition), starts.get(tp, 0))
            behind += max(0, ends[tp] - applied_up_to)
        self.lag = ConsumerLag(behind, len(assignment), _now())
        return self.lag
