"""Intake's use cases on a case: load it, check who may act on it, decide and write in one
transaction.

Every command goes through intake's one `CommandPath` (`ports.Intake.path`, built in
`bootstrap.py`): the case is read on the pool (`path.load`), the principal's standing on it
is checked (`ports.existing_case`), then `path.run` opens ONE transaction in which the
command's decide function reads what the rules need from outside the case (possible
duplicates, a case manager's roster entry and caseload, under an advisory lock, so two
registrations of one person or two assignments to one manager are serialised), writes what
the command touches besides the events (a vault record, a reseal, a review-queue row), and
returns the events; the path appends them at the version read and its `on_recorded` hook
updates the case summary. A refusal or a race writes nothing anywhere.

Pooled connections: a request holds at most ONE at a time, and never waits for another
while it holds one (the case's stream is read before its transaction's connection is taken,
and everything read inside the transaction is read on that connection). With every pooled
connection held by a request waiting for a second one, every request would wait for good,
`/health` included. Every wait for a connection is bounded (`CommandPath.acquire_timeout`):
past it the request answers 503 with Retry-After and has written nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from services.intake.adapters.vault import VaultRecord
from services.intake.application.clients import accessor_of, acting_on_case, lock_client
from services.intake.application.ports import (
    CaseOnRecord,
    CaseResult,
    Decide,
    Intake,
    existing_case,
    new_case_id,
    new_client_id,
    on_record,
    run_on_case,
)
from services.intake.domain.access import known_to, sort_possible_duplicates
from services.intake.domain.caseload import StaffLoad
from services.intake.domain.client import PersonalDetails
from services.intake.domain.commands import (
    AssessCase,
    AssignCase,
    IntakeCommand,
    OpenCase,
    ReassignCase,
    RecordConsent,
    RegisterClient,
    RegisterReturningClient,
    RosterEntry,
    WithdrawConsent,
)
from services.intake.domain.errors import no_case
from services.intake.domain.events import ConsentPurpose, OverrideReason, ReassignmentReason
from services.intake.domain.model import CaseState, consent_allows, decide
from shared.application import Loaded, NotFound, UnitOfWork
from shared.auth import Principal, ensure_same_agency
from shared.envelope import DomainEvent, Role
from shared.logging import event_context, get_logger

log = get_logger("caseline.intake")


def _deciding(command: IntakeCommand) -> Decide:
    async def decided(state: CaseState, _: UnitOfWork[CaseState]) -> Sequence[DomainEvent]:
        return decide(state, command)

    return decided


async def act(
    intake: Intake, principal: Principal, case_id: str, command: IntakeCommand
) -> CaseResult:
    """A command the case alone decides (screening, withdrawing a consent)."""
    case = await existing_case(intake, principal, case_id)
    return await run_on_case(intake, principal, case, _deciding(command))


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
    return await run_on_case(intake, principal, case, _deciding(command))


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
        return client_id, await run_on_case(intake, principal, case, decide_and_seal)


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
        await lock_client(uow.conn, client_id)
        matches = await intake.vault.clients_with_index(uow.conn, index)
        footprint = await intake.read_model.client_footprint(uow.conn, client_id)
        command = RegisterReturningClient(
            client_id=client_id,
            known_to_agency=known_to(footprint, case.agency_id, intake.today()),
            matches=client_id in matches,
        )
        return decide(state, command)

    with event_context(client_id=client_id):
        return await run_on_case(intake, principal, case, decide_link)


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

    return consent_id, await run_on_case(intake, principal, case, decide_consent)


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
                uow.conn, accessor_of(principal), state.client_id, acting_on_case(principal)
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

    return await run_on_case(intake, principal, case, decide_and_note)


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

    return await run_on_case(intake, principal, case, decide_on_roster)


async def caseloads(intake: Intake, principal: Principal, agency_id: str) -> list[StaffLoad]:
    """An agency's staff with their caseloads against their limits (R12: overload visible)."""
    ensure_same_agency(principal, agency_id)
    async with intake.connection() as conn:
        return await intake.read_model.agency_loads(conn, agency_id)


# --- the vault: reading and erasure -----------------------------------------------------------


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
