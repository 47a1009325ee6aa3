"""The application step every command takes: load the stream, decide, append at that version."""

# RuleViolation and NotFound live in shared.errors (pure domains raise them); they are
# re-exported here for the application layer.

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, RecordedEvent
from shared.errors import ConcurrencyError, NotFound, RuleViolation
from shared.store import EventStore

S = TypeVar("S")

__all__ = [
    "CommandContext",
    "CommandResult",
    "NotFound",
    "RuleViolation",
    "fold",
    "load_state",
    "run_command",
]


class CommandContext(BaseModel):
    """Who issues a command, for which agency, and in answer to what."""

    model_config = ConfigDict(frozen=True)

    agency_id: str = Field(min_length=1)
    actor: Actor
    correlation_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None

    def envelope(self, stream_id: str, payload: DomainEvent) -> Envelope[Any]:
        """Wrap one decided event in metadata naming this context."""
        return Envelope(
            metadata=EventMetadata(
                case_id=stream_id,
                agency_id=self.agency_id,
                actor=self.actor,
                correlation_id=self.correlation_id,
                causation_id=self.causation_id,
            ),
            payload=payload,
        )


@dataclass(frozen=True)
class CommandResult(Generic[S]):
    """The state after a command, the events it recorded and the stream's new version."""

    state: S
    recorded: list[RecordedEvent[Any]]
    stream_version: int


def fold(initial: S, evolve: Callable[[S, Any], S], events: Sequence[DomainEvent]) -> S:
    """The state a sequence of events leads to."""
    state = initial
    for event in events:
        state = evolve(state, event)
    return state


async def load_state(
    store: EventStore, stream_id: str, initial: S, evolve: Callable[[S, Any], S]
) -> tuple[S, int]:
    """Fold a stream from the store; return the state and the version it was read at."""
    history = await store.read_stream(stream_id)
    return fold(initial, evolve, [e.payload for e in history]), len(history)


async def run_command(
    store: EventStore,
    stream_id: str,
    *,
    initial: S,
    evolve: Callable[[S, Any], S],
    decide: Callable[[S], Sequence[DomainEvent]],
    context: CommandContext,
    expected_version: int | None = None,
) -> CommandResult[S]:
    """Load, decide, append at the loaded version (or `expected_version` when the caller read it).

    Raises what `decide` raises (a `RuleViolation`, nothing written) and `ConcurrencyError`
    when another writer appended in between (nothing written either).
    """
    state, version = await load_state(store, stream_id, initial, evolve)
    if expected_version is not None and expected_version != version:
        raise ConcurrencyError(stream_id, expected_version, version)
    decided = list(decide(state))
    if not decided:
        return CommandResult(state, [], version)
    appended = await store.append(
        stream_id, version, [context.envelope(stream_id, e) for e in decided]
    )
    return CommandResult(
        fold(state, evolve, decided), list(appended.events), appended.stream_version
    )
