"""Intake's use cases: load a case, look up what the rules need, decide, write in one transaction.

Each command runs the pure `decide` and then, in ONE PostgreSQL transaction, writes what it
touches besides the events (a vault record, a reseal, an erased key) and appends the events
at the version it read, then updates the case summary. A refusal or a race therefore writes
nothing anywhere. What decide needs from outside the case (possible duplicates, a case
manager's roster entry and caseload) is read inside that transaction, under an advisory
lock, so two registrations of one person or two assignments to one manager are serialised.

Pooled connections: a request holds at most ONE at a time, and never waits for another
while it holds one (the case's stream is read before its transaction's connection is taken,
and everything read inside the transaction is read on that connection). With every pooled
connection held by a request waiting for a second one, every request would wait for good,
`/health` included. Every wait for a connection is bounded (`Intake.acquire_timeout`): past
it the request answers 503 with Retry-After and has written nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.intake.adapters.network_review import NetworkReview, ReviewItem
from services.intake.adapters.read_model import IntakeReadModel, StaffLoad
from services.intake.domain.access import (
    ClientFootprint,
    cases_to_erase,
    known_to,
    read_access,
    sort_possible_duplicates,
)
from services.intake.domain.client import PersonalDetails
from services.intake.domain.events import ConsentPurpose
from services.intake.domain.model import (
    AssessCase,
    AssignCase,
    CaseState,
    EraseClient,
    IntakeCommand,
    OpenCase,
    OverrideReason,
    ReassignCase,
    ReassignmentReason,
    RecordConsent,
    RegisterClient,
    RegisterReturningClient,
    RosterEntry,
    WithdrawConsent,
    decide,
    evolve,
    fold_case,
    no_client,
)
from services.intake.vault.store import PiiVault, UnknownClient, VaultRecord
from shared.application import CommandContext, NotFound, fold
from shared.auth import Principal, ensure_same_agency
from shared.envelope import DomainEvent, Envelope, Role
from shared.errors import CaselineError, ConcurrencyError
from shared.grants import CASE_AGENCY, AccessDecision, Accessor
from shared.logging import event_context, get_logger
from shared.store import EventStore

log = get_logger("caseline.intake")

ACQUIRE_TIMEOUT_SECONDS = 5.0
"""How long a request waits for a pooled connection (or a stream read) before answering 503."""

ERASURE_ATTEMPTS = 5
"""An erasure reads its cases before it takes its connection; a race makes it read again."""

AGENCY_TIME_ZONE = ZoneInfo("Asia/Seoul")
"""Dates (consent periods, withdrawals) are the agencies' calendar dates."""


def agency_today() -> date:
    """Today's date where the agencies are."""
    return datetime.now(AGENCY_TIME_ZONE).date()


def new_client_id() -> str:
    """A pseudonymous client id: random, derived from nothing about the person."""
    return f"client-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Intake:
    """The ports intake's use cases work with, composed once per app."""

    store: EventStore
    vault: PiiVault
    read_model: IntakeReadModel
    review: NetworkReview = field(default_factory=NetworkReview)
    clock: Callable[[], date] = field(default=agency_today)
    acquire_timeout: float = ACQUIRE_TIMEOUT_SECONDS

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool."""
        return self.store.pool

    def connection(self) -> asyncpg.pool.PoolAcquireContext:
        """One pooled connection, waited for at most `acquire_timeout` (then `TimeoutError`)."""
        return self.pool.acquire(timeout=self.acquire_timeout)

    def today(self) -> date:
        """Today's date for the rules."""
        return self.clock()


@dataclass(frozen=True)
class Outcome:
    """What a command did to one case: its new state and version, and the events recorded."""

    case_id: str
    state: CaseState
    events: tuple[DomainEvent, ...]
    stream_version: int

    @property
    def event_types(self) -> list[str]:
        """The type names of the recorded events."""
        return [e.event_type() for e in self.events]


# --- loading ---------------------------------------------------------------------------------


async def load_case(store: EventStore, case_id: str) -> tuple[CaseState, int]:
    """A case's state and the version it was read at; the first event names its agency."""
    history = await store.read_stream(case_id)
    agency = history[0].metadata.agency_id if history else None
    return fold_case(agency, [e.payload for e in history]), len(history)


async def read_case(intake: Intake, case_id: str) -> tuple[CaseState, int]:
    """`load_case` for a request: never with a connection held, and bounded in time.

    The store reads through the pool (one connection, given back before this returns), so
    the caller must hold none; the bound covers the wait for that connection and the read.
    """
    async with asyncio.timeout(intake.acquire_timeout):
        return await load_case(intake.store, case_id)


def no_case(case_id: str) -> NotFound:
    """The one answer for a case id that does not exist or belongs to another agency."""
    # Telling the two apart (403 naming the agency, or "already open") would confirm that
    # a case exists elsewhere in the network and whose it is (R11).
    return NotFound(f"no case {case_id!r}")


async def existing_case(
    intake: Intake, case_id: str, principal: Principal
) -> tuple[CaseState, int]:
    """A case the principal's agency may act on; `NotFound` otherwise, whoever holds it."""
    state, version = await read_case(intake, case_id)
    if version == 0 or state.agency_id is None or not principal.may_act_for(state.agency_id):
        raise no_case(case_id)
    return state, version


class CaseContext(CommandContext):
    """A command on a case: the metadata names the case's agency (and so `ce_source`), and
    the actor's own agency separately when it is another (a network administrator's act)."""

    acting_agency_id: str | None = None

    def envelope(self, stream_id: str, payload: DomainEvent) -> Envelope[Any]:
        """Wrap one decided event in metadata naming the case's agency and the actor's."""
        wrapped = super().envelope(stream_id, payload)
        if self.acting_agency_id is None:
            return wrapped
        metadata = wrapped.metadata.model_copy(update={"acting_agency_id": self.acting_agency_id})
        return Envelope(metadata=metadata, payload=payload)


def _context(principal: Principal, case_agency_id: str) -> CaseContext:
    acting = principal.agency_id if principal.agency_id != case_agency_id else None
    return CaseContext(agency_id=case_agency_id, actor=principal.actor(), acting_agency_id=acting)


async def _record(
    intake: Intake,
    conn: asyncpg.Connection,
    case_id: str,
    state: CaseState,
    version: int,
    events: Sequence[DomainEvent],
    context: CommandContext,
) -> Outcome:
    """Append decided events at `version` on `conn` and update the case summary with them."""
    if not events:
        return Outcome(case_id, state, (), version)
    envelopes = [context.envelope(case_id, e) for e in events]
    await intake.store.append(case_id, version, envelopes, connection=conn)
    after = fold(state, evolve, events)
    new_version = version + len(events)
    await intake.read_model.save_case(conn, case_id, after, new_version)
    log.info(
        "intake.recorded",
        case_id=case_id,
        agency_id=context.agency_id,
        staff_id=context.actor.staff_id,
        events=[e.event_type() for e in events],
        stream_version=new_version,
    )
    return Outcome(case_id, after, tuple(events), new_version)


async def _decide_and_record(
    intake: Intake,
    case_id: str,
    principal: Principal,
    command: IntakeCommand,
) -> Outcome:
    """The plain path: a case the principal may act on, a command, one transaction."""
    state, version = await existing_case(intake, case_id, principal)
    with event_context(case_id=case_id):
        events = decide(state, command)
        async with intake.connection() as conn, conn.transaction():
            assert state.agency_id is not None
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )


# --- stage 1: case finding, registration, consent ---------------------------------------------


async def open_case(
    intake: Intake, principal: Principal, case_id: str, command: OpenCase
) -> Outcome:
    """Open a case in the principal's agency; another agency's case id is no case at all."""
    state, version = await read_case(intake, case_id)
    if version == 0:
        state = CaseState.opened_in(principal.agency_id)
    elif state.agency_id is None or not principal.may_act_for(state.agency_id):
        raise no_case(case_id)
    agency = state.agency_id or principal.agency_id
    with event_context(case_id=case_id):
        events = decide(state, command)
        async with intake.connection() as conn, conn.transaction():
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, agency)
            )


async def register_client(
    intake: Intake,
    principal: Principal,
    case_id: str,
    details: PersonalDetails,
    *,
    confirm_new_client: bool = False,
) -> tuple[str, Outcome]:
    """Register a new person as the case's client; their details go to the vault, sealed.

    A client with the same name and birth date that the case's agency knows is flagged
    (`PossibleDuplicateClient`, naming them) before any record is made, unless
    `confirm_new_client`. One it does not know is never named to it (R11): the registration
    goes on as a new client, and the pair goes to the network administrators' review queue
    in the same transaction, so the answer is the one a person unknown to the network gets.
    """
    state, version = await existing_case(intake, case_id, principal)
    assert state.agency_id is not None
    index = intake.vault.duplicate_index(details.name, details.birth_date)
    client_id = new_client_id()
    with event_context(case_id=case_id, client_id=client_id):
        async with intake.connection() as conn, conn.transaction():
            await intake.vault.lock_index(conn, index)
            matches = await intake.vault.clients_with_index(conn, index)
            found = sort_possible_duplicates(
                await intake.read_model.client_footprints(conn, matches),
                state.agency_id,
                intake.today(),
            )
            command = RegisterClient(
                client_id=client_id,
                possible_duplicates=found.shown,
                confirm_new_client=confirm_new_client,
            )
            events = decide(state, command)
            await intake.vault.put(conn, client_id, state.agency_id, details)
            if found.for_network_review:
                await intake.review.add(
                    conn,
                    agency_id=state.agency_id,
                    case_id=case_id,
                    client_id=client_id,
                    possible_duplicates_of=found.for_network_review,
                )
                log.info(
                    "intake.possible_duplicate_for_network_review",
                    matches=len(found.for_network_review),
                )
            outcome = await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )
    return client_id, outcome


async def register_returning_client(
    intake: Intake,
    principal: Principal,
    case_id: str,
    client_id: str,
    *,
    name: str,
    birth_date: date,
) -> Outcome:
    """Register a client the vault knows, matched by name and birth date, never by id alone.

    A client the case's agency does not know (R11) answers as an id nobody holds (404). The
    client's lock serialises the link with an erasure of the same client.
    """
    state, version = await existing_case(intake, case_id, principal)
    assert state.agency_id is not None
    index = intake.vault.duplicate_index(name, birth_date)
    with event_context(case_id=case_id, client_id=client_id):
        async with intake.connection() as conn, conn.transaction():
            await intake.vault.lock_index(conn, index)
            await _lock_client(conn, client_id)
            matches = await intake.vault.clients_with_index(conn, index)
            footprint = await intake.read_model.client_footprint(conn, client_id)
            command = RegisterReturningClient(
                client_id=client_id,
                known_to_agency=known_to(footprint, state.agency_id, intake.today()),
                matches=client_id in matches,
            )
            events = decide(state, command)
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )


async def record_consent(
    intake: Intake,
    principal: Principal,
    case_id: str,
    *,
    agencies: Sequence[str],
    purposes: Sequence[ConsentPurpose],
    valid_from: date | None,
    valid_until: date,
) -> tuple[str, Outcome]:
    """Record the client's consent (R4) to agencies the directory knows; returns its id."""
    consent_id = f"consent-{uuid.uuid4().hex[:16]}"
    today = intake.today()
    command = RecordConsent(
        consent_id=consent_id,
        agencies=tuple(agencies),
        purposes=tuple(purposes),
        valid_from=valid_from or today,
        valid_until=valid_until,
        # Agencies are never unregistered: what is known now stays known at the append.
        agencies_in_directory=tuple(await _agencies_in_directory(intake, agencies)),
        today=today,
    )
    return consent_id, await _decide_and_record(intake, case_id, principal, command)


async def _agencies_in_directory(intake: Intake, agencies: Sequence[str]) -> list[str]:
    async with intake.connection() as conn:
        return await intake.read_model.agencies_in_directory(conn, agencies)


async def withdraw_consent(
    intake: Intake, principal: Principal, case_id: str, consent_id: str
) -> Outcome:
    """The client withdraws a consent from today on (R4)."""
    command = WithdrawConsent(consent_id=consent_id, today=intake.today())
    return await _decide_and_record(intake, case_id, principal, command)


# --- stage 2: screening and assessment --------------------------------------------------------


async def screen(
    intake: Intake, principal: Principal, case_id: str, command: IntakeCommand
) -> Outcome:
    """Screen a case in or out (R2)."""
    return await _decide_and_record(intake, case_id, principal, command)


async def assess(
    intake: Intake,
    principal: Principal,
    case_id: str,
    command: Callable[[bool], AssessCase],
    *,
    cultural_needs: str | None,
) -> Outcome:
    """Assess the case; cultural needs given here go to the vault, only a flag to the event.

    `command(cultural_needs_recorded)` builds the assessment once the vault says whether
    the client's cultural needs are on record (R11).
    """
    state, version = await existing_case(intake, case_id, principal)
    assert state.agency_id is not None
    with event_context(case_id=case_id):
        async with intake.connection() as conn, conn.transaction():
            recorded_before = False
            record: VaultRecord | None = None
            if state.client_id is not None and not state.client_erased:
                # Staff acting on the case (`existing_case` checked it) read its client.
                record = await intake.vault.read(
                    conn, accessor_of(principal), state.client_id, _acting_on_case(principal)
                )
                assert record is not None
                recorded_before = bool(record.details and record.details.cultural_needs)
            events = decide(state, command(recorded_before or cultural_needs is not None))
            if cultural_needs is not None and record is not None and record.details is not None:
                updated = PersonalDetails.model_validate(
                    {**record.details.model_dump(), "cultural_needs": cultural_needs}
                )
                await intake.vault.update(conn, record.client_id, updated)
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )


# --- assignment (R12) -------------------------------------------------------------------------


def _roster_entry(load: StaffLoad) -> RosterEntry:
    return RosterEntry(
        staff_id=load.staff_id,
        agency_id=load.agency_id,
        role=load.role,
        active=load.active,
        caseload_limit=load.caseload_limit,
        caseload=load.caseload,
    )


async def _staff_on_roster(
    intake: Intake, conn: asyncpg.Connection, staff_id: str, agency_id: str
) -> RosterEntry:
    await intake.read_model.lock_staff(conn, staff_id)
    load = await intake.read_model.staff_load(conn, staff_id, agency_id)
    if load is None:
        raise NotFound(
            f"staff {staff_id!r} is not on intake's roster (it learns staff from "
            "caseline.directory.v1)"
        )
    return _roster_entry(load)


async def assign(
    intake: Intake,
    principal: Principal,
    case_id: str,
    staff_id: str,
    override_reason: OverrideReason | None,
) -> Outcome:
    """Assign the case to a case manager of its agency with room, or by override (R12)."""
    state, version = await existing_case(intake, case_id, principal)
    assert state.agency_id is not None
    with event_context(case_id=case_id):
        async with intake.connection() as conn, conn.transaction():
            manager = await _staff_on_roster(intake, conn, staff_id, state.agency_id)
            command = AssignCase(
                manager=manager,
                by_role=principal.role,
                override_reason=override_reason,
                today=intake.today(),
            )
            events = decide(state, command)
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )


async def reassign(
    intake: Intake,
    principal: Principal,
    case_id: str,
    to_staff_id: str,
    reason: ReassignmentReason,
    override_reason: OverrideReason | None,
) -> Outcome:
    """Move the case to another case manager, checking their room (R12)."""
    state, version = await existing_case(intake, case_id, principal)
    assert state.agency_id is not None
    with event_context(case_id=case_id):
        async with intake.connection() as conn, conn.transaction():
            manager = await _staff_on_roster(intake, conn, to_staff_id, state.agency_id)
            command = ReassignCase(
                to_manager=manager,
                reason=reason,
                by_role=principal.role,
                by_staff_id=principal.staff_id,
                override_reason=override_reason,
                today=intake.today(),
            )
            events = decide(state, command)
            return await _record(
                intake, conn, case_id, state, version, events, _context(principal, state.agency_id)
            )


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


async def erase_client(intake: Intake, principal: Principal, client_id: str) -> list[Outcome]:
    """Destroy the client's key (crypto-shredding) and record `ClientErased` on each case.

    Who may (R11, `access.cases_to_erase`): staff of the one agency holding the client's
    cases, or a network administrator when they span agencies. Each `ClientErased` names
    its case's agency; a network administrator's own agency is recorded beside it.

    The cases' streams are read before the erasure's connection is taken (reading them on
    the pool while holding it would need a second connection); the transaction then checks
    under the client's lock that the cases are still those read, and each append checks its
    version: a concurrent writer makes the erasure read again, a few times at most.
    """
    with event_context(client_id=client_id):
        for attempt in range(1, ERASURE_ATTEMPTS + 1):
            async with intake.connection() as conn:
                footprint = await intake.read_model.client_footprint(conn, client_id)
            cases = cases_to_erase(footprint, principal.agency_id, principal.role, intake.today())
            loaded = [(case_id, *await read_case(intake, case_id)) for case_id in cases]
            try:
                outcomes = await _erase(intake, principal, footprint, loaded)
            except ConcurrencyError:
                if attempt == ERASURE_ATTEMPTS:
                    raise
                continue
            log.info(
                "vault.erased", client_id=client_id, staff_id=principal.staff_id, cases=len(cases)
            )
            return outcomes
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _erase(
    intake: Intake,
    principal: Principal,
    footprint: ClientFootprint,
    loaded: list[tuple[str, CaseState, int]],
) -> list[Outcome]:
    client_id = footprint.client_id
    outcomes: list[Outcome] = []
    async with intake.connection() as conn, conn.transaction():
        await _lock_client(conn, client_id)
        now = await intake.read_model.client_footprint(conn, client_id)
        if now.cases != footprint.cases:
            raise ClientCasesChanged(client_id, len(footprint.cases), len(now.cases))
        await intake.vault.erase(conn, client_id)
        for case_id, state, version in loaded:
            assert state.agency_id is not None
            events = decide(state, EraseClient(client_id=client_id))
            context = _context(principal, state.agency_id)
            outcomes.append(await _record(intake, conn, case_id, state, version, events, context))
    return outcomes


async def possible_duplicates_for_review(intake: Intake, limit: int) -> list[ReviewItem]:
    """The network administrators' queue of possible duplicates no agency was told of (R11)."""
    async with intake.connection() as conn:
        return await intake.review.items(conn, limit)


async def case_state(intake: Intake, principal: Principal, case_id: str) -> tuple[CaseState, int]:
    """A case as its events leave it, for staff of its agency, network admins and auditors."""
    state, version = await read_case(intake, case_id)
    if version == 0 or state.agency_id is None:
        raise no_case(case_id)
    if principal.role is not Role.AUDITOR and not principal.may_act_for(state.agency_id):
        raise no_case(case_id)
    return state, version
