"""Monitoring's ports and the one way its commands run: through the kit's command path, with
the words a command brings (review notes, visit observations, form answers) sealed in the
vault inside the same unit of work, so a refusal or a race writes nothing anywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.monitoring.adapters.board import BoardReadModel
from services.monitoring.adapters.drafts import PlanDrafts
from services.monitoring.domain.commands import Command
from services.monitoring.domain.errors import R11, ClientUnknown
from services.monitoring.domain.model import MonitoringState, decide, evolve
from shared.application import (
    CommandContext,
    CommandPath,
    CommandResult,
    Loaded,
    StreamModel,
    UnitOfWork,
)
from shared.envelope import DomainEvent, RecordedEvent
from shared.store import EventStore
from shared.vault import Vault


def _start(history: Sequence[RecordedEvent[Any]]) -> MonitoringState:
    """Before the first event: the case's agency, as every event's metadata names it."""
    return MonitoringState(agency_id=history[0].metadata.agency_id if history else None)


MODEL = StreamModel(MonitoringState(), evolve, start=_start)
"""How a monitoring stream folds."""


@dataclass(frozen=True)
class Monitoring:
    """The ports monitoring's routes, consumers and scheduler share (built in `compose`)."""

    path: CommandPath[MonitoringState]
    vault: Vault
    board: BoardReadModel
    drafts: PlanDrafts
    today: Callable[[], date]

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool."""
        return self.path.pool


def command_path(store: EventStore, board: BoardReadModel) -> CommandPath[MonitoringState]:
    """The command path whose every append also rewrites the case's rows on the board."""

    async def on_recorded(conn: asyncpg.Connection, result: CommandResult[MonitoringState]) -> None:
        await board.record(conn, result.stream_id, result.state)

    return CommandPath(store, MODEL, on_recorded=on_recorded)


Sealed = tuple[str, Mapping[str, Any]]
"""A vault document a command brings: its id (`kind:id`) and its content."""


async def execute(
    ports: Monitoring,
    target: Loaded[MonitoringState] | str,
    context: CommandContext,
    command: Command,
    sealed: Sequence[Sealed] = (),
) -> CommandResult[MonitoringState]:
    """Decide `command` on the case and append what it decided; the documents in `sealed`
    are put in the vault under the client's key in the same transaction (R11)."""

    async def decide_and_seal(
        state: MonitoringState, uow: UnitOfWork[MonitoringState]
    ) -> Sequence[DomainEvent]:
        events = decide(state, command)
        if events and sealed:
            if state.client_id is None:
                raise ClientUnknown(
                    "the case's client is not known here yet: nothing about them can be kept "
                    "until intake's registration has arrived",
                    rule=R11,
                )
            for document_id, document in sealed:
                await ports.vault.put(uow.conn, state.client_id, document_id, document)
        return events

    return await ports.path.run(target, context, decide_and_seal)
