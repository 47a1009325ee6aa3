"""Closure's ports and the one way its commands run: through the kit's command path.

A decision that may issue a referral reads the network and the client's history inside the
command's own transaction (`facts_on`), so what it decided on and what it appended are one
consistent moment. An accepted referral also records, in the same transaction, that the
target has now served the client (R9 (a)).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.closure.adapters.board import BoardReadModel
from services.closure.adapters.network import NetworkReadModel
from services.closure.domain.commands import (
    DEFAULT_ANSWER_DAYS,
    AcceptReferral,
    ClientCommand,
    Command,
    LearnServed,
    ReferralFacts,
)
from services.closure.domain.events import ServedVia
from services.closure.domain.model import (
    CaseState,
    ClientRecord,
    decide,
    decide_client,
    evolve,
    evolve_client,
)
from services.closure.domain.referral import ClientHistory
from shared.application import (
    CommandContext,
    CommandPath,
    CommandResult,
    Loaded,
    StreamModel,
    UnitOfWork,
)
from shared.envelope import Actor, DomainEvent, Role
from shared.store import EventStore

CASE_MODEL = StreamModel(CaseState(), evolve)
"""How a case stream folds."""

CLIENT_MODEL = StreamModel(ClientRecord(), evolve_client)
"""How a client stream folds."""

CLOSURE_SYSTEM = Actor(staff_id="closure-service", role=Role.SYSTEM)
"""Who the events closure decides on its own (fan-out, scheduler, learning) name."""


def client_stream(client_id: str) -> str:
    """The id of a client's stream in closure's store."""
    return f"client:{client_id}"


@dataclass(frozen=True)
class Closure:
    """The ports closure's routes, consumers and scheduler share (built in `compose`)."""

    cases: CommandPath[CaseState]
    clients: CommandPath[ClientRecord]
    board: BoardReadModel
    network: NetworkReadModel
    today: Callable[[], date]
    answer_days: int = DEFAULT_ANSWER_DAYS
    escalate_after_days: int = 7

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool."""
        return self.cases.pool


def case_path(store: EventStore, board: BoardReadModel) -> CommandPath[CaseState]:
    """The command path whose every case append also rewrites the case's board rows."""

    async def on_recorded(conn: asyncpg.Connection, result: CommandResult[CaseState]) -> None:
        await board.record(conn, result.stream_id, result.state)

    return CommandPath(store, CASE_MODEL, on_recorded=on_recorded)


async def facts_on(
    ports: Closure, conn: asyncpg.Connection, state: CaseState, today: date
) -> ReferralFacts:
    """The network and the client's history as closure knows them now, read on `conn`."""
    history = ClientHistory()
    if state.client_id is not None:
        record = await ports.clients.load(client_stream(state.client_id), connection=conn)
        history = record.state.history()
    return ReferralFacts(
        today=today,
        network=await ports.network.snapshot(conn, today),
        history=history,
        answer_days=ports.answer_days,
    )


CommandWithFacts = Callable[[ReferralFacts], Command]
"""A command that needs the referral facts, built once they are read."""

After = Callable[[UnitOfWork[CaseState], CaseState], Awaitable[None]]
"""A write beside a decision's events, in its transaction (only when it decided events)."""


async def execute(
    ports: Closure,
    target: Loaded[CaseState] | str,
    context: CommandContext,
    command: Command | CommandWithFacts,
    *,
    after: After | None = None,
) -> CommandResult[CaseState]:
    """Decide a command on a case and append what it decided, in one transaction; a command
    given as a function of the referral facts gets them read in that transaction."""

    async def decide_here(state: CaseState, uow: UnitOfWork[CaseState]) -> Sequence[DomainEvent]:
        if callable(command):
            built = command(await facts_on(ports, uow.conn, state, ports.today()))
        else:
            built = command
        events = decide(state, built)
        if events and after is not None:
            await after(uow, state)
        return events

    return await ports.cases.run(target, context, decide_here)


async def learn_on_client(
    ports: Closure,
    conn: asyncpg.Connection,
    client_id: str,
    context: CommandContext,
    command: ClientCommand,
) -> None:
    """Apply a learned fact to a client's stream on `conn` (each fact once)."""
    loaded = await ports.clients.load(client_stream(client_id), connection=conn)
    events = decide_client(loaded.state, command)
    if events:
        await UnitOfWork(ports.clients, conn).record(loaded, context, events)


async def accept_referral(
    ports: Closure,
    loaded: Loaded[CaseState],
    context: CommandContext,
    command: AcceptReferral,
) -> CommandResult[CaseState]:
    """The target accepts; in the same transaction the client's record learns that the
    target now serves them, so no later referral goes there again (R9 (a))."""

    async def served(uow: UnitOfWork[CaseState], state: CaseState) -> None:
        referral = state.referral
        if state.client_id is None or referral is None or referral.target is None:
            return
        await learn_on_client(
            ports,
            uow.conn,
            state.client_id,
            context,
            LearnServed(
                provider=referral.target,
                via=ServedVia.ACCEPTED_REFERRAL,
                source_id=referral.referral_id,
            ),
        )

    return await execute(ports, loaded, context, command, after=served)


SYSTEM_IDS = uuid.UUID("8a3e51c4-2f7b-4d0e-b1a6-5c9d7e2f4a10")
"""The namespace of the ids of events closure decides on its own (fan-out, scheduler): the
same decision always has the same id, so one repeated after a crash is a no-op in the store."""


def system_context(agency_id: str, causation_id: uuid.UUID | None = None) -> CommandContext:
    """The context of a decision closure takes on its own, with derived event ids."""
    return CommandContext(
        agency_id=agency_id,
        actor=CLOSURE_SYSTEM,
        causation_id=causation_id,
        derived_ids=SYSTEM_IDS,
    )
