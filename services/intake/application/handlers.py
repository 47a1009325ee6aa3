"""Intake's use cases: load a case, check who may act on it, decide and write in one transaction.

Every command goes through intake's one `CommandPath` (built in `bootstrap.py`): the case is
read on the pool (`path.load`), the principal's standing on it is checked, then `path.run`
opens ONE transaction in which the command's decide function reads what the rules need from
outside the case (possible duplicates, a case manager's roster entry and caseload, under an
advisory lock, so two registrations of one person or two assignments to one manager are
serialised), writes what the command touches besides the events (a vault record, a reseal,
a review-queue row), and returns the events; the path appends them at the version read and
its `on_recorded` hook updates the case summary. A refusal or a race writes nothing anywhere.

Pooled connections: a request holds at most ONE at a time, and never waits for another
while it holds one (the case's stream is read before its transaction's connection is taken,
and everything read inside the transaction is read on that connection). With every pooled
connection held by a request waiting for a second one, every request would wait for good,
`/health` included. Every wait for a connection is bounded (`CommandPath.acquire_timeout`):
past it the request answers 503 with Retry-After and has written nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import asyncpg

from services.intake.adapters.network_review import NetworkReview, ReviewItem
from services.intake.adapters.read_model import IntakeReadModel
from services.intake.adapters.vault import PiiVault, UnknownClient, VaultRecord
from services.intake.domain.access import (
    ClientFootprint,
    cases_to_erase,
    known_to,
    read_access,
    sort_possible_duplicates,
)
from services.intake.domain.caseload import StaffLoad
from services.intake.domain.client import PersonalDetails
from services.intake.domain.commands import (
    AssessCase,
    AssignCase,
    EraseClient,
    IntakeCommand,
    OpenCase,
    ReassignCase,
    RecordConsent,
    RegisterClient,
    RegisterReturningClient,
    RosterEntry,
    WithdrawConsent,
)
from services.intake.domain.errors import no_case, no_client
from services.intake.domain.events import ConsentPurpose, OverrideReason, ReassignmentReason
from services.intake.domain.model import CaseState, consent_allows, decide, evolve
from shared.application import (
    CommandContext,
    CommandPath,
    CommandResult,
    Loaded,
    NotFound,
    StreamModel,
    UnitOfWork,
)
from shared.auth import Principal, ensure_same_agency
from shared.clock import agency_today
from shared.envelope import DomainEvent, RecordedEvent, Role
from shared.errors import CaselineError, ConcurrencyError
from shared.grants import CASE_AGENCY, AccessDecision, Accessor
from shared.logging import event_context, get_logger

log = get_logger("caseline.intake")

ERASURE_ATTEMPTS = 5
"""An erasure reads its cases before it takes its connection; a race makes it read again."""

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


async def _run(
    intake: Intake, principal: Principal, case: CaseOnRecord, decide_on: Decide
) -> CaseResult:
    with event_context(case_id=case.case_id):
        return await intake.path.run(case.loaded, case.context(principal), decide_on)


def _deciding(command: IntakeCommand) -> Decide:
    async def decided(state: CaseState, _: UnitOfWork[CaseState]) -> Sequence[DomainEvent]:
        return decide(state, command)

    return decided


async def act(
    intake: Intake, principal: Principal, case_id: str, command: IntakeCommand
) -> CaseResult:
    """A command the case alone decides (screening, withdrawing a consent)."""
    case = await existing_case(intake, principal, case_id)
    return await _run(intake, principal, case, _deciding(command))


# --- stage 1: case finding, registration, consent ---------------------------------------------


async def open_case(intake: Intake, principal: Principal, command: OpenCase) -> CaseResult:
    """Open a case, under an id intake chooses, in the principal's agency."""
    loaded = await intake.path.load(new_case_id())
    if loaded.exists:
        # A random id already taken: another agency's case is no case at all; the
        # principal's own is refused as already open.
        case = on_record(loaded)
        if not principal.may_act_for(case.agency_id):
            raise no_case(case.case_id)
    else:
        opened = CaseState.opened_in(principal.agency_id)
        case = CaseOnRecord(replace(loaded, state=opened), principal.agency_id)
    return await _run(intake, principal, case, _deciding(command))


async def register_client(
    intake: Intake,
    principal: Principal,
    case_id: str,
    details: PersonalDetails,
    *,
    confirm_new_client: bool = False,
) -> tuple[str, CaseResult]:
    """Register a new person as the case's client; their details go to the vault, sealed.

    A client with the same name and birth date that the case's agency knows is flagged
    (`PossibleDuplicateClient`, naming them) before any record is made, unless
    `confirm_new_client`. One it does not know is never named to it (R11): the registration
    goes on as a new client, and the pair goes to the network administrators' review queue
    in the same transaction, so the answer is the one a person unknown to the network gets.
    """
    case = await existing_case(intake, principal, case_id)
    index = intake.vault.duplicate_index(details.name, details.birth_date)
    client_id = new_client_id()

    async def decide_and_seal(state: CaseState, uow: UnitOfWork[CaseState]) -> list[DomainEvent]:
        await intake.vault.lock_index(uow.conn, index)
        matches = await intake.vault.clients_with_index(uow.conn, index)
        found = sort_possible_duplicates(
            await intake.read_model.client_footprints(uow.conn, matches),
            case.agency_id,
            intake.today(),
        )
        command = RegisterClient(
            client_id=client_id,
            possible_duplicates=found.shown,
            confirm_new_client=confirm_new_client,
        )
        events = decide(state, command)
        await intake.vault.put(uow.conn, client_id, case.agency_id, details)
        if found.for_network_review:
            await intake.review.add(
                uow.conn,
                agency_id=case.agency_id,
                case_id=case_id,
                client_id=client_id,
                possible_duplicates_of=found.for_network_review,
            )
            log.info(
                "intake.possible_duplicate_for_network_review",
                matches=len(found.for_network_review),
            )
        return events

    with event_context(client_id=client_id):
        return client_id, await _run(intake, principal, case, decide_and_seal)


async def register_returning_client(
    intake: Intake,
    principal: Principal,
    case_id: str,
    client_id: str,
    *,
    name: str,
    birth_date: date,
) -> CaseResult:
    """Register a client the vault knows, matched by name and birth date, never by id alone.

    A client the case's agency does not know (R11) answers as an id nobody holds (404). The
    client's lock serialises the link with an erasure of the same client.
    """
    case = await existing_case(intake, principal, case_id)
    index = intake.vault.duplicate_index(name, birth_date)

    async def decide_link(state: CaseState, uow: UnitOfWork[CaseState]) -> list[DomainEvent]:
        await intake.vault.lock_index(uow.conn, index)
        await _lock_client(uow.conn, client_id)
        matches = await intake.vault.clients_with_index(uow.conn, index)
        footprint = await intake.read_model.client_footprint(uow.conn, client_id)
        command = RegisterReturningClient(
            client_id=client_id,
            known_to_agency=known_to(footprint, case.agency_id, intake.today()),
            matches=client_id in matches,
        )
        return decide(state, command)

    with event_context(client_id=client_id):
        return await _run(intake, principal, case, decide_link)


async def record_consent(
    intake: Intake,
    principal: Principal,
    case_id: str,
    *,
    agencies: Sequence[str],
    purposes: Sequence[ConsentPurpose],
    valid_from: date | None,
    valid_until: date,
) -> tuple[str, CaseResult]:
    """Record the client's consent (R4) to agencies the directory knows; returns its id."""
    case = await existing_case(intake, principal, case_id)
    consent_id = f"consent-{uuid.uuid4().hex[:16]}"
    today = intake.today()

    async def decide_consent(state: CaseState, uow: UnitOfWork[CaseState]) -> list[DomainEvent]:
        known = await intake.read_model.agencies_in_directory(uow.conn, agencies)
        command = RecordConsent(
            consent_id=consent_id,
            agencies=tuple(agencies),
            purposes=tuple(purposes),
            valid_from=valid_from or today,
            valid_until=valid_until,
            agencies_in_directory=tuple(known),
            today=today,
        )
        return decide(state, command)

    return consent_id, await _run(intake, principal, case, decide_consent)


async def withdraw_consent(
    intake: Intake, principal: Principal, case_id: str, consent_id: str
) -> CaseResult:
    """The client withdraws a consent from today on (R4)."""
    command = WithdrawConsent(consent_id=consent_id, today=intake.today())
    return await act(intake, principal, case_id, command)


# --- stage 2: assessment ----------------------------------------------------------------------


async def assess(
    intake: Intake,
    principal: Principal,
    case_id: str,
    command: AssessCase,
    *,
    cultural_needs: str | None,
) -> CaseResult:
    """Assess the case; cultural needs given here go to the vault, only a flag to the event.

    The event says whether the client's cultural needs are on record: given now, or already
    in the vault (R11).
    """
    case = await existing_case(intake, principal, case_id)

    async def decide_and_note(state: CaseState, uow: UnitOfWork[CaseState]) -> list[DomainEvent]:
        record: VaultRecord | None = None
        if state.client_id is not None and not state.client_erased:
            # Staff acting on the case (`existing_case` checked it) read its client.
            record = await intake.vault.read(
                uow.conn, accessor_of(principal), state.client_id, _acting_on_case(principal)
            )
        recorded_before = bool(record and record.details and record.details.cultural_needs)
        recorded = recorded_before or cultural_needs is not None
        events = decide(state, command.model_copy(update={"cultural_needs_recorded": recorded}))
        if cultural_needs is not None and record is not None and record.details is not None:
            updated = PersonalDetails.model_validate(
                {**record.details.model_dump(), "cultural_needs": cultural_needs}
            )
            await intake.vault.update(uow.conn, record.client_id, updated)
        return events

    return await _run(intake, principal, case, decide_and_note)


# --- assignment (R12) -------------------------------------------------------------------------


async def assign(
    intake: Intake,
    principal: Principal,
    case_id: str,
    staff_id: str,
    override_reason: OverrideReason | None,
) -> CaseResult:
    """Assign the case to a case manager of its agency with room, or by override (R12)."""

    def command(manager: RosterEntry) -> AssignCase:
        return AssignCase(
            manager=manager,
            by_role=principal.role,
            override_reason=override_reason,
            today=intake.today(),
        )

    return await _to_manager(intake, principal, case_id, staff_id, command)


async def reassign(
    intake: Intake,
    principal: Principal,
    case_id: str,
    to_staff_id: str,
    reason: ReassignmentReason,
    override_reason: OverrideReason | None,
) -> CaseResult:
    """Move the case to another case manager, checking their room (R12)."""

    def command(manager: RosterEntry) -> ReassignCase:
        return ReassignCase(
            to_manager=manager,
            reason=reason,
            by_role=principal.role,
            by_staff_id=principal.staff_id,
            override_reason=override_reason,
            today=intake.today(),
        )

    return await _to_manager(intake, principal, case_id, to_staff_id, command)


async def _to_manager(
    intake: Intake,
    principal: Principal,
    case_id: str,
    staff_id: str,
    command: Callable[[RosterEntry], AssignCase | ReassignCase],
) -> CaseResult:
    """Decide an assignment on the manager's roster entry, read under their lock so two
    assignments to one manager never both see the same caseload."""
    case = await existing_case(intake, principal, case_id)

    async def decide_on_roster(state: CaseState, uow: UnitOfWork[CaseState]) -> list[DomainEvent]:
        await intake.read_model.lock_staff(uow.conn, staff_id)
        load = await intake.read_model.staff_load(uow.conn, staff_id, case.agency_id)
        if load is None:
            raise NotFound(
                f"staff {staff_id!r} is not on intake's roster (it learns staff from "
                "caseline.directory.v1)"
            )
        return decide(state, command(load.roster_entry()))

    return await _run(intake, principal, case, decide_on_roster)


async def caseloads(intake: Intake, principal: Principal, agency_id: str) -> list[StaffLoad]:
    """An agency's staff with their caseloads against their limits (R12: overload visible)."""
    ensure_same_agency(principal, agency_id)
    async with intake.connection() as conn:
        return await intake.read_model.agency_loads(conn, agency_id)


# --- the vault: reading and erasure -----------------------------------------------------------


async def _lock_client(conn: asyncpg.Connection, client_id: str) -> None:
    """Serialise what changes a client's cases (a link, an erasure) until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"intake-client:{client_id}"
    )


def accessor_of(principal: Principal) -> Accessor:
    """Who reads the vault, as its access log records them (ids and codes)."""
    return Accessor(
        staff_id=principal.staff_id, role=principal.role.value, agency_id=principal.agency_id
    )


def _acting_on_case(principal: Principal) -> AccessDecision:
    # A network administrator acts on any agency's case (`Principal.may_act_for`).
    if principal.role is Role.NETWORK_ADMIN:
        return AccessDecision.allow("network_admin")
    return AccessDecision.allow(CASE_AGENCY)


async def read_client(intake: Intake, principal: Principal, client_id: str) -> VaultRecord:
    """A client's personal details (R11): for staff of an agency with the client's case, or
    of an agency a consent in force names for referral or record transfer; else 404.

    Every read, allowed or refused, is a row of the vault's access log (its own statement,
    outside any transaction: a refusal's row stays though the request answers 404).
    """
    async with intake.connection() as conn:
        footprint = await intake.read_model.client_footprint(conn, client_id)
        decision = read_access(footprint, principal.agency_id, intake.today())
        try:
            record = await intake.vault.read(conn, accessor_of(principal), client_id, decision)
        except UnknownClient as e:
            raise no_client(client_id) from e
    # A log line too: who read whose record, never what it holds.
    log.info(
        "vault.read",
        client_id=client_id,
        staff_id=principal.staff_id,
        agency_id=principal.agency_id,
        allowed=decision.allowed,
        basis=decision.basis,
        erased=record.erased if record else None,
    )
    if record is None:
        # The same answer whether the client does not exist or is not theirs to read:
        # an id must not confirm that a person is known somewhere in the network.
        raise no_client(client_id)
    return record


class ClientCasesChanged(ConcurrencyError):
    """A client's cases changed between reading them and taking the erasure's lock (a race)."""

    def __init__(self, client_id: str, read: int, now: int) -> None:
        CaselineError.__init__(
            self, f"client {client_id}: {read} cases were read, {now} are on record now"
        )
        self.case_id, self.expected_version, self.actual_version = client_id, read, now


async def erase_client(intake: Intake, principal: Principal, client_id: str) -> list[CaseResult]:
    """Destroy the client's key (crypto-shredding) and record `ClientErased` on each case.

    Who may (R11, `access.cases_to_erase`): staff of the one agency holding the client's
    cases, or a network administrator when they span agencies. Each `ClientErased` names
    its case's agency; a network administrator's own agency is recorded beside it.

    The cases' streams are read before the erasure's connection is taken (reading them on
    the pool while holding it would need a second connection); the unit of work then checks
    under the client's lock that the cases are still those read, and each append checks its
    version: a concurrent writer makes the erasure read again, a few times at most.
    """
    with event_context(client_id=client_id):
        for attempt in range(1, ERASURE_ATTEMPTS + 1):
            async with intake.connection() as conn:
                footprint = await intake.read_model.client_footprint(conn, client_id)
            cases = cases_to_erase(footprint, principal.agency_id, principal.role, intake.today())
            loaded = [on_record(await intake.path.load(case_id)) for case_id in cases]
            try:
                results = await _erase(intake, principal, footprint, loaded)
            except ConcurrencyError:
                if attempt == ERASURE_ATTEMPTS:
                    raise
                continue
            log.info(
                "vault.erased", client_id=client_id, staff_id=principal.staff_id, cases=len(cases)
            )
            return results
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _erase(
    intake: Intake, principal: Principal, footprint: ClientFootprint, cases: list[CaseOnRecord]
) -> list[CaseResult]:
    client_id = footprint.client_id
    results: list[CaseResult] = []
    async with intake.path.unit_of_work() as uow:
        await _lock_client(uow.conn, client_id)
        now = await intake.read_model.client_footprint(uow.conn, client_id)
        if now.cases != footprint.cases:
            raise ClientCasesChanged(client_id, len(footprint.cases), len(now.cases))
        await intake.vault.erase(uow.conn, client_id)
        for case in cases:
            events = decide(case.loaded.state, EraseClient(client_id=client_id))
            with event_context(case_id=case.case_id):
                results.append(await uow.record(case.loaded, case.context(principal), events))
    return results


async def possible_duplicates_for_review(intake: Intake, limit: int) -> list[ReviewItem]:
    """The network administrators' queue of possible duplicates no agency was told of (R11)."""
    async with intake.connection() as conn:
        return await intake.review.items(conn, limit)


async def case_state(intake: Intake, principal: Principal, case_id: str) -> Loaded[CaseState]:
    """A case as its events leave it, for staff of its agency, network admins and auditors."""
    case = on_record(await intake.path.load(case_id))
    if principal.role is not Role.AUDITOR and not principal.may_act_for(case.agency_id):
        raise no_case(case_id)
    return case.loaded


async def consent_check(
    intake: Intake,
    principal: Principal,
    case_id: str,
    agency_id: str,
    purpose: ConsentPurpose,
    on: date | None,
) -> tuple[date, bool]:
    """R4: the day asked about (today when none) and whether the client's consent lets the
    agency use their information for the purpose that day."""
    loaded = await case_state(intake, principal, case_id)
    day = on or intake.today()
    return day, consent_allows(loaded.state, agency_id, purpose, day)
