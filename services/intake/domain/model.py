"""Intake's rules: commands, the case state, `decide` and `evolve` (stages 1 and 2, docs/domain.md).

Pure: no I/O. What the rules need to know from outside the case (the clients with the same
name and birth date, a case manager's roster entry and caseload, today's date) arrives in
the command, looked up by the application layer.

Stage order (R1): found -> registered (with consent, R4) -> screened in (R2) -> assessed ->
assigned (R12). A client screened out leaves intake with an information-and-referral outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    Severity,
    StrengthKind,
)
from shared.envelope import DomainEvent, Role
from shared.errors import NotFound, RuleViolation
from shared.vocabulary import NeedDomain

# ---------------------------------------------------------------------------------------------
# Errors: one root, one class per rule.


class IntakeError(RuleViolation):
    """Root of intake's refusals: a command the rules do not allow; nothing is written."""

    rule_id: ClassVar[str | None] = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason, rule=self.rule_id)


class StageOrderViolation(IntakeError):
    """R1: a command that skips a stage or comes after the case left intake."""

    rule_id = "R1"


class ScreeningViolation(IntakeError):
    """R2: case management is for complex, multiple or chronic needs; screening says why not."""

    rule_id = "R2"


class ConsentViolation(IntakeError):
    """R4: no consent of the client allows this, or the consent asked for cannot be recorded."""

    rule_id = "R4"


class ClientErasedViolation(IntakeError):
    """R11: the client's personal data was erased; nothing more can be done with it."""

    rule_id = "R11"


class CaseloadViolation(IntakeError):
    """R12: the case manager is not of the agency, not active, or has no room without override."""

    rule_id = "R12"


class PossibleDuplicateClient(IntakeError):
    """R12: a client with the same name and birth date exists; one person, one shared history."""

    rule_id = "R12"

    def __init__(self, reason: str, possible_duplicates: Sequence[str]) -> None:
        super().__init__(reason)
        self.possible_duplicates = tuple(possible_duplicates)


class ReturningClientMismatch(IntakeError):
    """R12: the client named as returning is not the person described (or was erased)."""

    rule_id = "R12"


def no_client(client_id: str) -> NotFound:
    """The one answer for a client id nobody holds, or that the asking agency does not know.

    R11: telling the two apart would confirm that the person is known elsewhere.
    """
    return NotFound(f"no client {client_id!r}")


# ---------------------------------------------------------------------------------------------
# State.


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


# ---------------------------------------------------------------------------------------------
# Commands.

MAX_LIST_ITEMS = 50
"""The most items a list in a command holds (problems, needs, strengths, risks, agencies).

Each of these lists names items of a small vocabulary once, so 50 is far past any real
case; the bound refuses a list of millions before it is read item by item.
"""


def _each_once(values: Sequence[object], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"each {what} is named once")


class OverrideReason(StrEnum):
    """Why a supervisor lets a case manager go past their caseload limit (R12).

    A code, not free text: the reason travels in events, and free text could carry a
    client's details.
    """

    CRISIS_NO_ONE_ELSE_AVAILABLE = "crisis_no_one_else_available"
    CONTINUITY_WITH_THE_CLIENT = "continuity_with_the_client"
    LANGUAGE_OR_CULTURE_MATCH = "language_or_culture_match"
    SPECIALIST_SKILLS = "specialist_skills"
    TEMPORARY_COVER = "temporary_cover"


class ReassignmentReason(StrEnum):
    """Why a case moves to another case manager."""

    STAFF_DEPARTED = "staff_departed"
    AGENCY_CLOSED = "agency_closed"
    CASELOAD_BALANCING = "caseload_balancing"
    CLIENT_REQUEST = "client_request"
    LANGUAGE_OR_CULTURE_MATCH = "language_or_culture_match"
    CONFLICT_OF_INTEREST = "conflict_of_interest"


class Command(BaseModel):
    """Base of intake's commands: frozen, validated on construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenCase(Command):
    """Open a case found by outreach, a walk-in, self-referral or an inbound referral."""

    source: CaseSource
    referring_agency_id: str | None = Field(default=None, min_length=1)
    referring_case_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _referral_links_the_referring_case(self) -> OpenCase:
        referred = self.source is CaseSource.INBOUND_REFERRAL
        if referred and (self.referring_case_id is None or self.referring_agency_id is None):
            raise ValueError("an inbound referral names the referring agency and case")
        if not referred and (self.referring_case_id or self.referring_agency_id):
            raise ValueError("only an inbound referral names a referring agency and case")
        return self


class RegisterClient(Command):
    """Register the case's client as a new person; their details go to the vault under client_id.

    `possible_duplicates` are the clients already registered with the same name and birth
    date that the case's agency knows (R11: the others are never named to it; see
    `access.sort_possible_duplicates`); a new record is made past them only when
    `confirm_new_client` says so.
    """

    client_id: str = Field(min_length=1)
    possible_duplicates: tuple[str, ...] = ()
    confirm_new_client: bool = False


class RegisterReturningClient(Command):
    """Register a client the vault already knows as the case's client.

    `matches` says whether the name and birth date given match that client's record: a
    client is linked by who they are, never by an id alone.
    """

    client_id: str = Field(min_length=1)
    known_to_agency: bool
    """R11: whether the case's agency knows the client (a case of theirs, or their consent
    in force naming it); a client it does not know is an unknown id to it."""
    matches: bool


class RecordConsent(Command):
    """Record the client's consent: which agencies, which purposes, until when (R4)."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    purposes: tuple[ConsentPurpose, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    valid_from: date
    valid_until: date
    agencies_in_directory: tuple[str, ...] = Field(max_length=MAX_LIST_ITEMS)
    """Those of `agencies` the network's directory knows (intake's roster, from its topic)."""
    today: date


class WithdrawConsent(Command):
    """The client withdraws a consent from today on (R4)."""

    consent_id: str = Field(min_length=1)
    today: date


class ScreenIn(Command):
    """Screening: the client's needs fit case management (R2)."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    chronic: bool = False
    today: date

    @model_validator(mode="after")
    def _each_problem_once(self) -> ScreenIn:
        _each_once(self.presenting_problems, "presenting problem")
        return self


class ScreenOut(Command):
    """Screening: case management does not fit; say why and what the client got instead (R2)."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    reason: ScreenOutReason
    information_and_referral: InformationAndReferral
    today: date

    @model_validator(mode="after")
    def _each_problem_and_domain_once(self) -> ScreenOut:
        _each_once(self.presenting_problems, "presenting problem")
        if len(self.information_and_referral.domains) > MAX_LIST_ITEMS:
            raise ValueError(f"information and referral names at most {MAX_LIST_ITEMS} domains")
        _each_once(self.information_and_referral.domains, "information-and-referral domain")
        return self


class AssessCase(Command):
    """Assess needs by domain, strengths, risks, crisis, language and cultural needs (R11)."""

    needs: tuple[AssessedNeed, ...] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    strengths: tuple[StrengthKind, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    risks: tuple[Risk, ...] = Field(default=(), max_length=MAX_LIST_ITEMS)
    crisis: bool = False
    interpreter_needed: bool
    cultural_needs_recorded: bool
    today: date

    @model_validator(mode="after")
    def _each_domain_once_and_a_crisis_names_its_risk(self) -> AssessCase:
        domains = [need.domain for need in self.needs]
        if len(set(domains)) != len(domains):
            raise ValueError("each need domain is assessed once")
        if len({r.kind for r in self.risks}) != len(self.risks):
            raise ValueError("each risk appears once")
        _each_once(self.strengths, "strength")
        if self.crisis and not any(
            r.level in (Severity.HIGH, Severity.CRITICAL) for r in self.risks
        ):
            raise ValueError("a crisis names the high or critical risk that makes it one")
        return self


class RosterEntry(BaseModel):
    """A staff member as intake's roster knows them (from caseline.directory.v1), with caseload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staff_id: str = Field(min_length=1)
    agency_id: str = Field(min_length=1)
    role: str
    active: bool
    caseload_limit: int = Field(ge=0)
    caseload: int = Field(ge=0, description="Open cases assigned now, before this command.")


class AssignCase(Command):
    """Assign the case to a case manager of its agency (R12)."""

    manager: RosterEntry
    by_role: Role
    override_reason: OverrideReason | None = None
    today: date


class ReassignCase(Command):
    """Move the case to another case manager (R12)."""

    to_manager: RosterEntry
    reason: ReassignmentReason
    by_role: Role
    by_staff_id: str = Field(min_length=1)
    override_reason: OverrideReason | None = None
    today: date


class EraseClient(Command):
    """Erase the client's personal data: the vault key is destroyed (crypto-shredding)."""

    client_id: str = Field(min_length=1)


IntakeCommand = (
    OpenCase
    | RegisterClient
    | RegisterReturningClient
    | RecordConsent
    | WithdrawConsent
    | ScreenIn
    | ScreenOut
    | AssessCase
    | AssignCase
    | ReassignCase
    | EraseClient
)

# ---------------------------------------------------------------------------------------------
# decide.

_NEXT_STEP = {
    Stage.NEW: "open the case",
    Stage.FOUND: "register the client",
    Stage.REGISTERED: "screen the case",
    Stage.SCREENED_IN: "assess the case",
    Stage.ASSESSED: "assign a case manager",
    Stage.ASSIGNED: "go on in care planning",
}

_SUPERVISORS = frozenset({Role.SUPERVISOR})


def _require_stage(state: CaseState, wanted: Stage, doing: str) -> None:
    if state.stage is wanted:
        return
    if state.stage is Stage.SCREENED_OUT:
        raise StageOrderViolation(
            f"cannot {doing}: the case was screened out of case management "
            "(its client got information and referral instead)"
        )
    raise StageOrderViolation(
        f"cannot {doing} at stage {state.stage.value!r}: "
        f"next the case must {_NEXT_STEP[state.stage]}"
    )


def _require_client(state: CaseState, doing: str) -> str:
    if state.client_id is None:
        raise StageOrderViolation(f"cannot {doing}: the case has no registered client yet")
    if state.client_erased:
        raise ClientErasedViolation(f"cannot {doing}: the client's personal data was erased")
    return state.client_id


def _require_case_management_consent(state: CaseState, today: date, doing: str) -> None:
    agency = state.agency_id or ""
    if not consent_allows(state, agency, ConsentPurpose.CASE_MANAGEMENT, today):
        raise ConsentViolation(
            f"cannot {doing}: no consent of the client allows agency {agency!r} to use their "
            f"information for case management on {today.isoformat()}; record it first"
        )


def _manager_can_take(
    state: CaseState, manager: RosterEntry, by_role: Role, override_reason: OverrideReason | None
) -> bool:
    """R12: check the manager may take the case; return whether it takes an override."""
    if manager.agency_id != state.agency_id:
        raise CaseloadViolation(
            f"staff {manager.staff_id!r} belongs to agency {manager.agency_id!r}, "
            f"not to the case's agency {state.agency_id!r}"
        )
    if manager.role != Role.CASE_MANAGER.value:
        raise CaseloadViolation(
            f"staff {manager.staff_id!r} is a {manager.role}, not a case manager"
        )
    if not manager.active:
        raise CaseloadViolation(f"staff {manager.staff_id!r} has left the agency")
    after = manager.caseload + 1
    if after <= manager.caseload_limit:
        return False
    over = (
        f"staff {manager.staff_id!r} would carry {after} cases "
        f"with a caseload limit of {manager.caseload_limit}"
    )
    if by_role not in _SUPERVISORS:
        raise CaseloadViolation(f"{over}: only a supervisor may override the limit")
    if override_reason is None:
        raise CaseloadViolation(f"{over}: the supervisor's override needs a reason")
    return True


def decide(state: CaseState, command: IntakeCommand) -> list[DomainEvent]:
    """The events a command leads to in a state, or an `IntakeError` saying which rule refuses."""
    match command:
        case OpenCase():
            if state.stage is not Stage.NEW:
                raise StageOrderViolation("the case is already open")
            return [
                CaseFound(
                    source=command.source,
                    referring_agency_id=command.referring_agency_id,
                    referring_case_id=command.referring_case_id,
                )
            ]
        case RegisterClient():
            _require_stage(state, Stage.FOUND, "register the client")
            others = tuple(c for c in command.possible_duplicates if c != command.client_id)
            if others and not command.confirm_new_client:
                raise PossibleDuplicateClient(
                    "a client with the same name and birth date is already registered: register "
                    "that client, or confirm that this is a new person (confirm_new_client)",
                    others,
                )
            events: list[DomainEvent] = []
            if others:
                events.append(
                    PossibleDuplicateAcknowledged(
                        client_id=command.client_id, possible_duplicate_of=others
                    )
                )
            events.append(ClientRegistered(client_id=command.client_id))
            return events
        case RegisterReturningClient():
            _require_stage(state, Stage.FOUND, "register the client")
            if not command.known_to_agency:
                raise no_client(command.client_id)
            if not command.matches:
                raise ReturningClientMismatch(
                    f"client {command.client_id!r} does not match the name and birth date "
                    "given (or was erased): register the person as a new client"
                )
            return [ClientRegistered(client_id=command.client_id, returning_client=True)]
        case RecordConsent():
            client = _require_client(state, "record consent")
            if state.consent(command.consent_id) is not None:
                raise ConsentViolation(f"consent {command.consent_id!r} is already recorded")
            if command.valid_until < command.today:
                raise ConsentViolation("that consent would already have expired")
            if command.valid_until < command.valid_from:
                raise ConsentViolation("a consent ends on or after the day it starts")
            known = set(command.agencies_in_directory)
            unknown = [a for a in command.agencies if a not in known]
            if unknown:
                raise ConsentViolation(
                    "a consent names agencies of the network; the directory knows no agency "
                    f"{', '.join(repr(a) for a in unknown)}"
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
        case WithdrawConsent():
            client = _require_client(state, "withdraw consent")
            consent = state.consent(command.consent_id)
            if consent is None:
                raise ConsentViolation(f"the case has no consent {command.consent_id!r}")
            if consent.withdrawn_on is not None:
                raise ConsentViolation(
                    f"consent {command.consent_id!r} was withdrawn on "
                    f"{consent.withdrawn_on.isoformat()}"
                )
            return [
                ConsentWithdrawn(
                    consent_id=command.consent_id, client_id=client, withdrawn_on=command.today
                )
            ]
        case ScreenIn():
            _require_stage(state, Stage.REGISTERED, "screen the case")
            _require_client(state, "screen the case")
            _require_case_management_consent(state, command.today, "screen the case")
            if len(set(command.presenting_problems)) < 2 and not command.chronic:
                raise ScreeningViolation(
                    "case management is for complex, multiple or chronic needs: one acute "
                    "problem is screened out with information and referral"
                )
            return [
                CaseScreenedIn(
                    presenting_problems=tuple(dict.fromkeys(command.presenting_problems)),
                    chronic=command.chronic,
                )
            ]
        case ScreenOut():
            _require_stage(state, Stage.REGISTERED, "screen the case")
            _require_client(state, "screen the case")
            _require_case_management_consent(state, command.today, "screen the case")
            return [
                CaseScreenedOut(
                    presenting_problems=tuple(dict.fromkeys(command.presenting_problems)),
                    reason=command.reason,
                    information_and_referral=command.information_and_referral,
                )
            ]
        case AssessCase():
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
        case AssignCase():
            if state.stage is Stage.ASSIGNED:
                raise StageOrderViolation("the case is already assigned: reassign it instead")
            _require_stage(state, Stage.ASSESSED, "assign the case")
            _require_client(state, "assign the case")
            _require_case_management_consent(state, command.today, "assign the case")
            manager = command.manager
            override = _manager_can_take(state, manager, command.by_role, command.override_reason)
            return [
                CaseAssigned(
                    staff_id=manager.staff_id,
                    agency_id=manager.agency_id,
                    override=override,
                    override_reason=command.override_reason.value
                    if override and command.override_reason
                    else None,
                    caseload_after=manager.caseload + 1,
                    caseload_limit=manager.caseload_limit,
                )
            ]
        case ReassignCase():
            _require_stage(state, Stage.ASSIGNED, "reassign the case")
            assert state.assignment is not None
            manager = command.to_manager
            if manager.staff_id == state.assignment.staff_id:
                raise CaseloadViolation(f"staff {manager.staff_id!r} already carries the case")
            override = _manager_can_take(state, manager, command.by_role, command.override_reason)
            reassigned: list[DomainEvent] = [
                CaseReassigned(
                    from_staff_id=state.assignment.staff_id,
                    to_staff_id=manager.staff_id,
                    reason=command.reason.value,
                )
            ]
            if override:
                assert command.override_reason is not None
                reassigned.append(
                    CaseloadOverrideRecorded(
                        staff_id=manager.staff_id,
                        supervisor_id=command.by_staff_id,
                        reason=command.override_reason.value,
                        caseload_after=manager.caseload + 1,
                        caseload_limit=manager.caseload_limit,
                    )
                )
            return reassigned
        case EraseClient():
            if state.client_id != command.client_id:
                raise StageOrderViolation(f"client {command.client_id!r} is not this case's client")
            if state.client_erased:
                return []  # erasing twice changes nothing
            return [ClientErased(client_id=command.client_id)]
    raise TypeError(f"not an intake command: {type(command).__name__}")


# ---------------------------------------------------------------------------------------------
# evolve.


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
