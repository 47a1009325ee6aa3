"""Careplan's command handlers: every command through the one `CommandPath`.

Inside the command's unit of work the handler reads what the rules need (the case's facts
from intake, a service from the directory) on the transaction's connection, runs the pure
`decide`, seals the words that go with it (goals' wording, informal helpers' names, notes)
in careplan's vault, and the read models follow in `on_recorded`. A refusal, a race or an
outage therefore writes nothing anywhere: no event, no vault document, no board row.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.careplan.adapters import board, facts
from services.careplan.domain.commands import (
    CareplanCommand,
    CaseFacts,
    NetworkService,
    ReturnToPlanning,
)
from services.careplan.domain.errors import CaseEnded
from services.careplan.domain.events import CareplanEvent
from services.careplan.domain.model import CarePlan, decide, evolve
from services.monitoring.contract import PlanRevisionRequired
from shared.application import (
    CommandContext,
    CommandPath,
    CommandResult,
    NotFound,
    StreamModel,
    UnitOfWork,
)
from shared.clock import agency_today
from shared.codec import ReceivedEvent
from shared.store import EventStore
from shared.vault import Vault
from shared.vocabulary import NeedDomain

MODEL = StreamModel(CarePlan(), evolve)
"""How a careplan stream folds into the plan its rules decide on."""


@dataclass(frozen=True)
class Words:
    """A vault document written with a command: whose, which, what (never in an event)."""

    document_id: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Lookups:
    """What a command may need from the network, read inside its transaction."""

    conn: asyncpg.Connection
    case: CaseFacts

    async def service(self, agency_id: str | None, service_id: str | None) -> NetworkService | None:
        """A service of the directory as careplan learned it."""
        if agency_id is None or service_id is None:
            return None
        return await facts.network_service(self.conn, agency_id, service_id, agency_today())

    async def own_room(self, need: NeedDomain) -> bool:
        """Whether the case's agency offers `need` with open places (R6a)."""
        return await facts.has_room(self.conn, self.case.agency_id, need)


Build = Callable[[CarePlan, Lookups], Any]
"""Builds the command from the plan and the lookups; may be a coroutine function."""


@dataclass(frozen=True)
class Careplan:
    """Careplan's ports, composed once in the bootstrap: its command path and vault."""

    path: CommandPath[CarePlan]
    vault: Vault
    pool: asyncpg.Pool

    async def case(self, case_id: str) -> CaseFacts:
        """What careplan knows of a case from intake; `NotFound` when intake never named it."""
        found = await facts.case_facts(self.pool, case_id)
        if found is None:
            raise NotFound(f"case {case_id} is not known")
        return found

    async def load(self, case_id: str) -> tuple[CaseFacts, CarePlan, int]:
        """A case's facts, plan and stream version."""
        found = await self.case(case_id)
        loaded = await self.path.load(case_id)
        return found, loaded.state, loaded.version

    async def handle(
        self,
        case_id: str,
        context: CommandContext,
        build: Build,
        *,
        words: Callable[[list[CareplanEvent]], Words | None] | None = None,
    ) -> CommandResult[CarePlan]:
        """Run one command on a case's stream in one unit of work.

        `build` makes the command from the plan and the facts read in the transaction;
        `words`, given the decided events, names the vault document to seal with them.
        """

        async def decide_in(state: CarePlan, uow: UnitOfWork[CarePlan]) -> list[CareplanEvent]:
            found = await facts.case_facts(uow.conn, case_id)
            if found is None:
                raise NotFound(f"case {case_id} is not known")
            built = build(state, Lookups(uow.conn, found))
            command: CareplanCommand = await built if inspect.isawaitable(built) else built
            events = decide(state, command)
            document = words(events) if words is not None and events else None
            if document is not None and found.client_id is not None:
                await self.vault.put(
                    uow.conn, found.client_id, document.document_id, document.document
                )
            return events

        return await self.path.run(case_id, context, decide_in)

    async def revision_required(self, conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """R6d: monitoring's review found new needs, so the case goes back to planning.

        Runs in the consumer's transaction (the dedup record, the event and the board commit
        together); the domain records one `CaseReturnedToPlanning` per review however often
        the review arrives. A concurrent command on the case makes it retry, never lose it.
        A case closure ended meanwhile goes back nowhere (R8): the review passes by.
        """
        payload = event.envelope.payload
        meta = event.envelope.metadata
        if not isinstance(payload, PlanRevisionRequired):
            return
        case_id = meta.case_id
        found = await facts.case_facts(conn, case_id) or CaseFacts(
            case_id=case_id, agency_id=meta.agency_id
        )
        # On the consumer's own connection: a second pooled one, taken while this one is held,
        # could wait for ever once every pooled connection is a consumer's waiting the same way.
        loaded = await self.path.load(case_id, connection=conn)
        command = ReturnToPlanning(
            case=found,
            today=agency_today(),
            plan_version=payload.plan_version,
            review_id=payload.review_id,
            need_domains=payload.need_domains,
        )
        context = CommandContext(
            agency_id=found.agency_id,
            actor=meta.actor,
            correlation_id=meta.correlation_id,
            causation_id=meta.event_id,
        )
        try:
            events = decide(loaded.state, command)
        except CaseEnded:
            return
        await UnitOfWork(self.path, conn).record(loaded, context, events)


def compose_path(store: EventStore) -> CommandPath[CarePlan]:
    """Careplan's command path: its store, how a plan folds, and the board kept beside it."""

    async def on_recorded(conn: asyncpg.Connection, result: CommandResult[CarePlan]) -> None:
        agency_id = result.recorded[-1].metadata.agency_id
        await board.record(conn, agency_id, result)

    return CommandPath(store, MODEL, on_recorded=on_recorded)
