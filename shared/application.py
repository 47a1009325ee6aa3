"""The one path every command takes: load the stream, decide, append at that version.

A service composes one `CommandPath` in its bootstrap (its store, how its streams fold, and
what it keeps beside the events, such as a summary table) and runs every command through it:

    loaded = await path.load(case_id)                  # read on the pool, bounded in time
    ...check who may act on `loaded.state`...
    result = await path.run(loaded, context, lambda state, uow: decide(state, command))

`run` opens ONE transaction (a `UnitOfWork`) on one pooled connection. Inside it the
service's `decide` may read what the rules need on `uow.conn` (under an advisory lock, say)
and write its side records (a vault entry, a review queue row); then the decided events are
appended at the version the stream was read at, and the service's `on_recorded` hook updates
what it keeps beside them. A refusal (`RuleViolation`), a race (`ConcurrencyError`) or an
outage therefore writes nothing anywhere.

A request holds at most one pooled connection at a time and never waits for a second while
it holds one: the stream is read before the transaction's connection is taken, and every
wait for a connection is bounded by `acquire_timeout` (past it: `TimeoutError`, which the
service runtime answers with 503 and Retry-After).
"""

# RuleViolation and NotFound live in shared.errors (pure domains raise them); they are
# re-exported here for the application layer.

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, RecordedEvent
from shared.errors import ConcurrencyError, NotFound, RuleViolation
from shared.idempotency import record_claim
from shared.logging import get_logger
from shared.store import EventStore

S = TypeVar("S")

__all__ = [
    "CommandContext",
    "CommandPath",
    "CommandResult",
    "Decision",
    "Loaded",
    "NotFound",
    "RuleViolation",
    "StreamModel",
    "UnitOfWork",
    "fold",
]

log = get_logger("caseline.command")

ACQUIRE_TIMEOUT_SECONDS = 5.0
"""How long a command waits for a pooled connection (or a stream read) by default."""


class CommandContext(BaseModel):
    """Who issues a command, for which agency, and in answer to what.

    `agency_id` is the agency the stream belongs to (it becomes `ce_source`); when the actor
    acts from another agency (a network administrator on an agency's case), `acting_agency_id`
    names theirs beside it.
    """

    model_config = ConfigDict(frozen=True)

    agency_id: str = Field(min_length=1)
    actor: Actor
    acting_agency_id: str | None = None
    correlation_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    derived_ids: uuid.UUID | None = None
    """A namespace: when set, each event's id is derived from the stream and the event itself
    (uuid5), so a scheduler or a fan-out that decides the same fact again after a crash
    appends nothing new (the store answers a known event id as already written)."""

    def event_id(self, stream_id: str, payload: DomainEvent) -> uuid.UUID:
        """The id of one decided event: random, or derived when `derived_ids` is set."""
        if self.derived_ids is None:
            return uuid.uuid4()
        fact = f"{stream_id}/{payload.event_type()}/{payload.model_dump_json()}"
        return uuid.uuid5(self.derived_ids, fact)

    def envelope(self, stream_id: str, payload: DomainEvent) -> Envelope[Any]:
        """Wrap one decided event in metadata naming this context."""
        return Envelope(
            metadata=EventMetadata(
                event_id=self.event_id(stream_id, payload),
                case_id=stream_id,
                agency_id=self.agency_id,
                acting_agency_id=self.acting_agency_id,
                actor=self.actor,
                correlation_id=self.correlation_id,
                causation_id=self.causation_id,
            ),
            payload=payload,
        )


def fold(initial: S, evolve: Callable[[S, Any], S], events: Sequence[DomainEvent]) -> S:
    """The state a sequence of events leads to."""
    state = initial
    for event in events:
        state = evolve(state, event)
    return state


@dataclass(frozen=True)
class StreamModel(Generic[S]):
    """How a service's streams fold into the state its rules decide on.

    `start` gives the state before the first event from the stream's history; by default it
    is `initial` (a service whose state also needs what the metadata says, such as the
    agency that opened a case, gives its own).
    """

    initial: S
    evolve: Callable[[S, Any], S]
    start: Callable[[Sequence[RecordedEvent[Any]]], S] | None = None

    def state_of(self, history: Sequence[RecordedEvent[Any]]) -> S:
        """The state a stream's recorded history leads to."""
        first = self.start(history) if self.start is not None else self.initial
        return fold(first, self.evolve, [e.payload for e in history])


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """A stream as it was read: its id, state, and the version the next append expects."""

    stream_id: str
    state: S
    version: int

    @property
    def exists(self) -> bool:
        """Whether the stream holds any event."""
        return self.version > 0


@dataclass(frozen=True)
class CommandResult(Generic[S]):
    """The state after a command, the events it recorded and the stream's new version."""

    stream_id: str
    state: S
    recorded: list[RecordedEvent[Any]]
    stream_version: int

    @property
    def events(self) -> list[DomainEvent]:
        """The recorded events' payloads."""
        return [e.payload for e in self.recorded]

    @property
    def event_types(self) -> list[str]:
        """The type names of the recorded events."""
        return [e.event_type() for e in self.events]


OnRecorded = Callable[[asyncpg.Connection, CommandResult[S]], Awaitable[None]]
"""What a service keeps beside its events, written in the command's transaction."""

Decision = Sequence[DomainEvent] | Awaitable[Sequence[DomainEvent]]
"""What a command's decide returns: the events, or (when it reads on the connection) an
awaitable of them."""


class UnitOfWork(Generic[S]):
    """One command's transaction: the connection its reads and side writes go through, and
    `record`, which appends decided events to a stream at the version it was read at."""

    def __init__(self, path: CommandPath[S], conn: asyncpg.Connection) -> None:
        self.path = path
        self.conn = conn

    async def record(
        self, loaded: Loaded[S], context: CommandContext, events: Sequence[DomainEvent]
    ) -> CommandResult[S]:
        """Append `events` to `loaded`'s stream at its version; nothing when there are none.

        Raises `ConcurrencyError` when another writer appended since the stream was read; the
        transaction then writes nothing.
        """
        if not events:
            return CommandResult(loaded.stream_id, loaded.state, [], loaded.version)
        path = self.path
        envelopes = [context.envelope(loaded.stream_id, e) for e in events]
        appended = await path.store.append(
            loaded.stream_id, loaded.version, envelopes, connection=self.conn
        )
        # The request being served (if any) learns its events, and its Idempotency-Key is
        # kept in this same transaction.
        await record_claim(
            self.conn,
            path.store.schema,
            loaded.stream_id,
            [e.metadata.event_id for e in appended.events],
        )
        result = CommandResult(
            loaded.stream_id,
            fold(loaded.state, path.model.evolve, events),
            list(appended.events),
            appended.stream_version,
        )
        if path.on_recorded is not None:
            await path.on_recorded(self.conn, result)
        log.info(
            "command.recorded",
            service=path.store.service,
            stream_id=loaded.stream_id,
            agency_id=context.agency_id,
            staff_id=context.actor.staff_id,
            events=result.event_types,
            stream_version=result.stream_version,
        )
        return result


class CommandPath(Generic[S]):
    """A service's one way to run commands, composed once in its bootstrap."""

    def __init__(
        self,
        store: EventStore,
        model: StreamModel[S],
        *,
        on_recorded: OnRecorded[S] | None = None,
        acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS,
    ) -> None:
        self.store = store
        self.model = model
        self.on_recorded = on_recorded
        self.acquire_timeout = acquire_timeout

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool."""
        return self.store.pool

    def connection(self) -> asyncpg.pool.PoolAcquireContext:
        """One pooled connection, waited for at most `acquire_timeout` (then `TimeoutError`)."""
        return self.pool.acquire(timeout=self.acquire_timeout)

    async def load(
        self, stream_id: str, *, connection: asyncpg.Connection | None = None
    ) -> Loaded[S]:
        """A stream's state and version: on `connection` when the caller holds one (a
        consumer's transaction), else on the pool (the caller then holds none), within
        `acquire_timeout`."""
        async with asyncio.timeout(self.acquire_timeout):
            history = await self.store.read_stream(stream_id, connection=connection)
        return Loaded(stream_id, self.model.state_of(history), len(history))

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork[S]]:
        """One transaction on one pooled connection; it commits when the block ends cleanly."""
        async with self.connection() as conn, conn.transaction():
            yield UnitOfWork(self, conn)

    async def run(
        self,
        target: Loaded[S] | str,
        context: CommandContext,
        decide: Callable[[S, UnitOfWork[S]], Decision],
        *,
        expected_version: int | None = None,
    ) -> CommandResult[S]:
        """Decide on a stream and append what was decided, in one transaction.

        `target` is a stream already loaded (so the caller could check who may act on it) or
        a stream id to load. `decide(state, uow)` returns the events (or an awaitable of them
        when it reads or writes on `uow.conn`). Raises what `decide` raises (a
        `RuleViolation`: nothing written) and `ConcurrencyError` when the stream is not at
        `expected_version` or another writer appended in between (nothing written either).
        """
        loaded = target if isinstance(target, Loaded) else await self.load(target)
        if expected_version is not None and expected_version != loaded.version:
            raise ConcurrencyError(loaded.stream_id, expected_version, loaded.version)
        async with self.unit_of_work() as uow:
            decided = decide(loaded.state, uow)
            events = await decided if inspect.isawaitable(decided) else decided
            return await uow.record(loaded, context, list(events))
