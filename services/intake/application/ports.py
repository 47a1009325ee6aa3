"""Intake's ports and the case a command acts on: what every use case starts from.

`Intake` holds the ports composed once in `bootstrap.py`: the one `CommandPath` every command
goes through (its `on_recorded` hook keeps the case summary), the vault adapter and the read
models. `existing_case` reads a case on the pool (never with a connection held, bounded in
time) and answers `NotFound` for a case the principal's agency may not act on, exactly as for
an id nobody holds (R11).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from services.intake.adapters.network_review import NetworkReview
from services.intake.adapters.read_model import IntakeReadModel
from services.intake.adapters.vault import PiiVault
from services.intake.domain.errors import no_case
from services.intake.domain.model import CaseState, evolve
from shared.application import (
    CommandContext,
    CommandPath,
    CommandResult,
    Loaded,
    StreamModel,
    UnitOfWork,
)
from shared.auth import Principal
from shared.clock import agency_today
from shared.envelope import DomainEvent, RecordedEvent
from shared.logging import event_context

CaseResult = CommandResult[CaseState]
"""What a command did to one case: its new state and version, and the events recorded."""


def _opened_in(history: Sequence[RecordedEvent[Any]]) -> CaseState:
    # The first event's metadata names the agency the case was opened in.
    return CaseState.opened_in(history[0].metadata.agency_id if history else None)


CASE_MODEL = StreamModel(CaseState(), evolve, start=_opened_in)
"""How a case's stream folds into the state intake's rules decide on."""


def new_client_id() -> str:
    """A pseudonymous client id: random, derived from nothing about the person."""
    return f"client-{uuid.uuid4().hex}"


def new_case_id() -> str:
    """A case id intake chooses: one the caller chose would be refused when another agency
    holds it, and so tell the caller that it exists (R11)."""
    return f"case-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Intake:
    """The ports intake's use cases work with, composed once when the service starts."""

    path: CommandPath[CaseState]
    vault: PiiVault
    read_model: IntakeReadModel
    review: NetworkReview = field(default_factory=NetworkReview)
    clock: Callable[[], date] = field(default=agency_today)

    def connection(self) -> asyncpg.pool.PoolAcquireContext:
        """One pooled connection for a read, waited for within the path's bound."""
        return self.path.connection()

    def today(self) -> date:
        """Today's date for the rules."""
        return self.clock()


# --- which case, acted on by whom ------------------------------------------------------------


@dataclass(frozen=True)
class CaseOnRecord:
    """A case that exists, as read, with the agency it was opened in."""

    loaded: Loaded[CaseState]
    agency_id: str

    @property
    def case_id(self) -> str:
        """The case's id (its stream)."""
        return self.loaded.stream_id

    def context(self, principal: Principal) -> CommandContext:
        """The principal acting on this case: the metadata names the case's agency (so
        `ce_source`), and the actor's own agency beside it when it is another."""
        return context_for(principal, self.agency_id)


def context_for(principal: Principal, case_agency_id: str) -> CommandContext:
    """A command by `principal` on a case of `case_agency_id`."""
    acting = principal.agency_id if principal.agency_id != case_agency_id else None
    return CommandContext(
        agency_id=case_agency_id, actor=principal.actor(), acting_agency_id=acting
    )


def on_record(loaded: Loaded[CaseState]) -> CaseOnRecord:
    """The case as read, with its agency; `NotFound` when it has no event."""
    agency = loaded.state.agency_id
    if not loaded.exists or agency is None:
        raise no_case(loaded.stream_id)
    return CaseOnRecord(loaded, agency)


async def existing_case(intake: Intake, principal: Principal, case_id: str) -> CaseOnRecord:
    """A case the principal's agency may act on; `NotFound` otherwise, whoever holds it."""
    case = on_record(await intake.path.load(case_id))
    if not principal.may_act_for(case.agency_id):
        raise no_case(case_id)
    return case


Decide = Callable[[CaseState, UnitOfWork[CaseState]], Awaitable[Sequence[DomainEvent]]]
"""A command's decide function: it may read and write on the unit of work's connection."""


async def run_on_case(
    intake: Intake, principal: Principal, case: CaseOnRecord, decide_on: Decide
) -> CaseResult:
    """Run a command's decide function on a case in one unit of work, the principal acting."""
    with event_context(case_id=case.case_id):
        return await intake.path.run(case.loaded, case.context(principal), decide_on)
