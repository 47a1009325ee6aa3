"""Intake's rules: the case state, `decide` and `evolve` (stages 1 and 2, docs/domain.md).

Pure: no I/O. `decide(state, command)` hands each command to the one function that decides
it and returns the events, or raises an `IntakeError` (`errors.py`) naming the rule that
refuses; `evolve(state, event)` folds one event into the state.

Stage order (R1): found -> registered (with consent, R4) -> screened in (R2) -> assessed ->
assigned (R12). A client screened out leaves intake with an information-and-referral outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from services.intake.domain.caseload import manager_can_take
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
    ScreenIn,
    ScreenOut,
    WithdrawConsent,
)
from services.intake.domain.errors import (
    R1,
    R2,
    R4,
    R11,
    R12,
    ClientWasErased,
    ConsentNotRecordable,
    ConsentNotWithdrawable,
    ManagerCannotTake,
    NoClientYet,
    NoConsent,
    NotEligible,
    NotTheCasesClient,
    PossibleDuplicateClient,
    ReturningClientMismatch,
    WrongStage,
    no_client,
)
from services.intake.domain.events import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseloadOverrideRecorded,
    CaseReassigned,
    CaseScreenedIn,
    CaseScreenedOut,
    CaseSource,
    ClientErased,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    ConsentWithdrawn,
    InformationAndReferral,
    PossibleDuplicateAcknowledged,
    Risk,
    ScreenOutReason,
    StrengthKind,
)
from shared.envelope import DomainEvent
from shared.vocabulary import NeedDomain

# --- state ----------------------------------------------------------------------------------


class Stage(StrEnum):
    """Where a case stands in intake (R1)."""

    NEW = "new"
    FOUND = "found"
    REGISTERED = "registered"
    SCREENED_IN = "screened_in"
    SCREENED_OUT = "screened_out"
    ASSESSED = "assessed"
    ASSIGNED = "assigned"


@dataclass(frozen=True)
class Consent:
    """One consent of the client: who may use their information, for what, and when (R4)."""

    consent_id: str
    agencies: tuple[str, ...]
    purposes: tuple[ConsentPurpose, ...]
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None

    def allows(self, agency_id: str, purpose: ConsentPurpose, on_date: date) -> bool:
        """Whether this consent lets `agency_id` use the information for `purpose` that day."""
        if self.withdrawn_on is not None and on_date >= self.withdrawn_on:
            return False
        return (
            agency_id in self.agencies
            and purpose in self.purposes
            and self.valid_from <= on_date <= self.valid_until
        )


@dataclass(frozen=True)
class Assignment:
    """The case manager carrying the case."""

    staff_id: str
    agency_id: str
    override: bool


@dataclass(frozen=True)
class CaseState:
    """A case as intake's events leave it. `agency_id` is the agency the case was opened in."""

    agency_id: str | None = None
    stage: Stage = Stage.NEW
    source: CaseSource | None = None
    referring_agency_id: str | None = None
    referring_case_id: str | None = None
    client_id: str | None = None
    client_erased: bool = False
    consents: tuple[Consent, ...] = ()
    presenting_problems: tuple[NeedDomain, ...] = ()
    chronic: bool = False
    screen_out_reason: ScreenOutReason | None = None
    information_and_referral: InformationAndReferral | None = None
    needs: tuple[AssessedNeed, ...] = ()
    strengths: tuple[StrengthKind, ...] = ()
    risks: tuple[Risk, ...] = ()
    crisis: bool = False
    interpreter_needed: bool | None = None
    assignment: Assignment | None = None

    @classmethod
    def opened_in(cls, agency_id: str | None) -> CaseState:
        """The state before the first event of a case opened (or to be opened) in an agency."""
        return cls(agency_id=agency_id)

    def consent(self, consent_id: str) -> Consent | None:
        """The consent recorded under an id, if any."""
        return next((c for c in self.consents if c.consent_id == consent_id), None)

    def consent_in_force(self, consent: Consent, on_date: date) -> bool:
        """R4: whether a consent of this case is in force that day (never once the client was
        erased, nor once withdrawn)."""
        return (
            not self.client_erased
            and consent.withdrawn_on is None
            and consent.valid_from <= on_date <= consent.valid_until
        )


def consent_allows(
    state: CaseState, agency_id: str, purpose: ConsentPurpose, on_date: date
) -> bool:
    """R4: whether the client's consent lets `agency_id` use their information for `purpose`.

    Later services ask this before sharing anything with another agency. A withdrawn consent
    allows nothing from the day it was withdrawn; an erased client allows nothing at all.
    """
    if state.client_erased or state.client_id is None:
        return False
    return any(c.allows(agency_id, purpose, on_date) for c in state.consents)


# --- decide ---------------------------------------------------------------------------------

_NEXT_STEP = {
    Stage.NEW: "open the case",
    Stage.FOUND: "register the client",
    Stage.REGISTERED: "screen the case",
    Stage.SCREENED_IN: "assess the case",
    Stage.ASSESSED: "assign a case manager",
    Stage.ASSIGNED: "go on in care planning",
}


def _require_stage(state: CaseState, wanted: Stage, doing: str) -> None:
    if state.stage is wanted:
        return
    if state.stage is Stage.SCREENED_OUT:
        raise WrongStage(
            f"cannot {doing}: the case was screened out of case management "
            "(its client got information and referral instead)",
            rule=R1,
        )
    raise WrongStage(
        f"cannot {doing} at stage {state.stage.value!r}: "
        f"next the case must {_NEXT_STEP[state.stage]}",
        rule=R1,
    )


def _require_client(state: CaseState, doing: str) -> str:
    if state.client_id is None:
        raise NoClientYet(f"cannot {doing}: the case has no registered client yet", rule=R1)
    if state.client_erased:
        raise ClientWasErased(f"cannot {doing}: the client's personal data was erased", rule=R11)
    return state.client_id


def _require_case_management_consent(state: CaseState, today: date, doing: str) -> None:
    agency = state.agency_id or ""
    if not consent_allows(state, agency, ConsentPurpose.CASE_MANAGEMENT, today):
        raise NoConsent(
            f"cannot {doing}: no consent of the client allows agency {agency!r} to use their "
            f"information for case management on {today.isoformat()}; record it first",
            rule=R4,
        )


def _open(state: CaseState, command: OpenCase) -> list[DomainEvent]:
    if state.stage is not Stage.NEW:
        raise WrongStage("the case is already open", rule=R1)
    return [
        CaseFound(
            source=command.source,
            referring_agency_id=command.referring_agency_id,
            referring_case_id=command.referring_case_id,
        )
    ]


def _register(state: CaseState, command: RegisterClient) -> list[DomainEvent]:
    _require_stage(state, Stage.FOUND, "register the client")
    others = tuple(c for c in command.possible_duplicates if c != command.client_id)
    if others and not command.confirm_new_client:
        raise PossibleDuplicateClient(
            "a client with the same name and birth date is already registered: register "
            "that client, or confirm that this is a new person (confirm_new_client)",
            others,
            rule=R12,
        )
    events: list[DomainEvent] = []
    if others:
        events.append(
            PossibleDuplicateAcknowledged(client_id=command.client_id, possible_duplicate_of=others)
        )
    events.append(ClientRegistered(client_id=command.client_id))
    return events


def _register_returning(state: CaseState, command: RegisterReturningClient) -> list[DomainEvent]:
    _require_stage(state, Stage.FOUND, "register the client")
    if not command.known_to_agency:
        raise no_client(command.client_id)
    if not command.matches:
        raise ReturningClientMismatch(
            f"client {command.client_id!r} does not match the name and birth date "
            "given (or was erased): register the person as a new client",
            rule=R12,
        )
    return [ClientRegistered(client_id=command.client_id, returning_client=True)]


def _record_consent(state: CaseState, command: RecordConsent) -> list[DomainEvent]:
    client = _require_client(state, "record consent")
    if state.consent(command.consent_id) is not None:
        raise ConsentNotRecordable(f"consent {command.consent_id!r} is already recorded", rule=R4)
    if command.valid_until < command.today:
        raise ConsentNotRecordable("that consent would already have expired", rule=R4)
    if command.valid_until < command.valid_from:
        raise ConsentNotRecordable("a consent ends on or after the day it starts", rule=R4)
    known = set(command.agencies_in_directory)
    unknown = [a for a in command.agencies if a not in known]
    if unknown:
        raise ConsentNotRecordable(
            "a consent names agencies of the network; the directory knows no agency "
            f"{', '.join(repr(a) for a in unknown)}",
            rule=R4,
        )
    return [
        ConsentRecorded(
            consent_id=command.consent_id,
            client_id=client,
            agencies=command.agencies,
            purposes=command.purposes,
            valid_from=command.valid_from,
            valid_until=command.valid_until,
        )
    ]


def _withdraw_consent(state: CaseState, command: WithdrawConsent) -> list[DomainEvent]:
    client = _require_client(state, "withdraw consent")
    consent = state.consent(command.consent_id)
    if consent is None:
        raise ConsentNotWithdrawable(f"the case has no consent {command.consent_id!r}", rule=R4)
    if consent.withdrawn_on is not None:
        raise ConsentNotWithdrawable(
            f"consent {command.consent_id!r} was withdrawn on {consent.withdrawn_on.isoformat()}",
            rule=R4,
        )
    return [
        ConsentWithdrawn(
            consent_id=command.consent_id, client_id=client, withdrawn_on=command.today
        )
    ]


def _ready_to_screen(state: CaseState, today: date) -> None:
    _require_stage(state, Stage.REGISTERED, "screen the case")
    _require_client(state, "screen the case")
    _require_case_management_consent(state, today, "screen the case")


def _screen_in(state: CaseState, command: ScreenIn) -> list[DomainEvent]:
    _ready_to_screen(state, command.today)
    if len(set(command.presenting_problems)) < 2 and not command.chronic:
        raise NotEligible(
            "case management is for complex, multiple or chronic needs: one acute "
            "problem is screened out with information and referral",
            rule=R2,
        )
    return [
        CaseScreenedIn(
            presenting_problems=tuple(dict.fromkeys(command.presenting_problems)),
            chronic=command.chronic,
        )
    ]


def _screen_out(state: CaseState, command: ScreenOut) -> list[DomainEvent]:
    _ready_to_screen(state, command.today)
    return [
        CaseScreenedOut(
            presenting_problems=tuple(dict.fromkeys(command.presenting_problems)),
            reason=command.reason,
            information_and_referral=command.information_and_referral,
        )
    ]


def _assess(state: CaseState, command: AssessCase) -> list[DomainEvent]:
    _require_stage(state, Stage.SCREENED_IN, "assess the case")
    _require_client(state, "assess the case")
    _require_case_management_consent(state, command.today, "assess the case")
    return [
        CaseAssessed(
            needs=command.needs,
            strengths=tuple(dict.fromkeys(command.strengths)),
            risks=command.risks,
            crisis=command.crisis,
            interpreter_needed=command.interpreter_needed,
            cultural_needs_recorded=command.cultural_needs_recorded,
        )
    ]


def _assign(state: CaseState, command: AssignCase) -> list[DomainEvent]:
    if state.stage is Stage.ASSIGNED:
        raise WrongStage("the case is already assigned: reassign it instead", rule=R1)
    _require_stage(state, Stage.ASSESSED, "assign the case")
    _require_client(state, "assign the case")
    _require_case_management_consent(state, command.today, "assign the case")
    manager = command.manager
    override = manager_can_take(state.agency_id, manager, command.by_role, command.override_reason)
    return [
        CaseAssigned(
            staff_id=manager.staff_id,
            agency_id=manager.agency_id,
            override=override,
            override_reason=command.override_reason if override else None,
            caseload_after=manager.caseload + 1,
            caseload_limit=manager.caseload_limit,
        )
    ]


def _reassign(state: CaseState, command: ReassignCase) -> list[DomainEvent]:
    _require_stage(state, Stage.ASSIGNED, "reassign the case")
    assert state.assignment is not None  # an assigned case has its assignment
    manager = command.to_manager
    if manager.staff_id == state.assignment.staff_id:
        raise ManagerCannotTake(f"staff {manager.staff_id!r} already carries the case", rule=R12)
    override = manager_can_take(state.agency_id, manager, command.by_role, command.override_reason)
    events: list[DomainEvent] = [
        CaseReassigned(
            from_staff_id=state.assignment.staff_id,
            to_staff_id=manager.staff_id,
            reason=command.reason,
        )
    ]
    if override:
        assert command.override_reason is not None  # `_manager_can_take` required one
        events.append(
            CaseloadOverrideRecorded(
                staff_id=manager.staff_id,
                supervisor_id=command.by_staff_id,
                reason=command.override_reason,
                caseload_after=manager.caseload + 1,
                caseload_limit=manager.caseload_limit,
            )
        )
    return events


def _erase(state: CaseState, command: EraseClient) -> list[DomainEvent]:
    if state.client_id != command.client_id:
        raise NotTheCasesClient(f"client {command.client_id!r} is not this case's client", rule=R1)
    if state.client_erased:
        return []  # erasing twice changes nothing
    return [ClientErased(client_id=command.client_id)]


def decide(state: CaseState, command: IntakeCommand) -> list[DomainEvent]:
    """The events a command leads to in a state, or an `IntakeError` saying which rule refuses.

    Each command has the one function that decides it.
    """
    match command:
        case OpenCase():
            return _open(state, command)
        case RegisterClient():
            return _register(state, command)
        case RegisterReturningClient():
            return _register_returning(state, command)
        case RecordConsent():
            return _record_consent(state, command)
        case WithdrawConsent():
            return _withdraw_consent(state, command)
        case ScreenIn():
            return _screen_in(state, command)
        case ScreenOut():
            return _screen_out(state, command)
        case AssessCase():
            return _assess(state, command)
        case AssignCase():
            return _assign(state, command)
        case ReassignCase():
            return _reassign(state, command)
        case EraseClient():
            return _erase(state, command)
    raise TypeError(f"not an intake command: {type(command).__name__}")


# --- evolve ---------------------------------------------------------------------------------


def evolve(state: CaseState, event: DomainEvent) -> CaseState:
    """The state after one event; events of other kinds leave it as it was."""
    match event:
        case CaseFound():
            return replace(
                state,
                stage=Stage.FOUND,
                source=event.source,
                referring_agency_id=event.referring_agency_id,
                referring_case_id=event.referring_case_id,
            )
        case ClientRegistered():
            return replace(state, stage=Stage.REGISTERED, client_id=event.client_id)
        case ConsentRecorded():
            consent = Consent(
                consent_id=event.consent_id,
                agencies=event.agencies,
                purposes=event.purposes,
                valid_from=event.valid_from,
                valid_until=event.valid_until,
            )
            return replace(state, consents=(*state.consents, consent))
        case ConsentWithdrawn():
            return replace(
                state,
                consents=tuple(
                    replace(c, withdrawn_on=event.withdrawn_on)
                    if c.consent_id == event.consent_id
                    else c
                    for c in state.consents
                ),
            )
        case CaseScreenedIn():
            return replace(
                state,
                stage=Stage.SCREENED_IN,
                presenting_problems=event.presenting_problems,
                chronic=event.chronic,
            )
        case CaseScreenedOut():
            return replace(
                state,
                stage=Stage.SCREENED_OUT,
                presenting_problems=event.presenting_problems,
                screen_out_reason=event.reason,
                information_and_referral=event.information_and_referral,
            )
        case CaseAssessed():
            return replace(
                state,
                stage=Stage.ASSESSED,
                needs=event.needs,
                strengths=event.strengths,
                risks=event.risks,
                crisis=event.crisis,
                interpreter_needed=event.interpreter_needed,
            )
        case CaseAssigned():
            return replace(
                state,
                stage=Stage.ASSIGNED,
                assignment=Assignment(event.staff_id, event.agency_id, event.override),
            )
        case CaseReassigned():
            agency = state.assignment.agency_id if state.assignment else state.agency_id or ""
            return replace(state, assignment=Assignment(event.to_staff_id, agency, override=False))
        case CaseloadOverrideRecorded():
            if state.assignment is None:
                return state
            return replace(state, assignment=replace(state.assignment, override=True))
        case ClientErased():
            return replace(state, client_erased=True)
    return state


def fold_case(agency_id: str | None, events: Sequence[DomainEvent]) -> CaseState:
    """The state of a case opened in `agency_id` after its events, in order."""
    state = CaseState.opened_in(agency_id)
    for event in events:
        state = evolve(state, event)
    return state
