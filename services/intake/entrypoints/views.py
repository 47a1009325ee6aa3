"""Intake's answers: response models, and the mappers from what a use case returns to them.

No personal data but in `ClientView` (`GET /clients/{id}`); cases name their client by id.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from services.intake.adapters.network_review import ReviewItem
from services.intake.adapters.vault import VaultRecord
from services.intake.domain.caseload import StaffLoad
from services.intake.domain.events import (
    AssessedNeed,
    CaseSource,
    ConsentPurpose,
    InformationAndReferral,
    Risk,
    ScreenOutReason,
    StrengthKind,
)
from services.intake.domain.model import CaseState
from shared.application import CommandResult, Loaded
from shared.vocabulary import NeedDomain


class CommandAnswer(BaseModel):
    """What a command recorded on a case."""

    case_id: str
    stage: str
    stream_version: int
    recorded: list[str]
    client_id: str | None = None
    consent_id: str | None = None


def answer(result: CommandResult[CaseState], **extra: str) -> CommandAnswer:
    """What a command recorded, as its answer says it."""
    return CommandAnswer(
        case_id=result.stream_id,
        stage=result.state.stage.value,
        stream_version=result.stream_version,
        recorded=result.event_types,
        **extra,
    )


class ConsentView(BaseModel):
    """A consent and whether it is in force today."""

    consent_id: str
    agencies: list[str]
    purposes: list[ConsentPurpose]
    valid_from: date
    valid_until: date
    withdrawn_on: date | None
    in_force: bool


class AssignmentView(BaseModel):
    """Who carries the case."""

    staff_id: str
    agency_id: str
    override: bool


class CaseView(BaseModel):
    """A case as intake's events leave it: no personal data, the client by id only."""

    case_id: str
    agency_id: str
    stage: str
    stream_version: int
    source: CaseSource | None
    referring_agency_id: str | None
    referring_case_id: str | None
    client_id: str | None
    client_erased: bool
    consents: list[ConsentView]
    presenting_problems: list[NeedDomain]
    chronic: bool
    screen_out_reason: ScreenOutReason | None
    information_and_referral: InformationAndReferral | None
    needs: list[AssessedNeed]
    strengths: list[StrengthKind]
    risks: list[Risk]
    crisis: bool
    interpreter_needed: bool | None
    assignment: AssignmentView | None


def case_view(case: Loaded[CaseState], today: date) -> CaseView:
    """A case as its events leave it; its consents in force `today` or not."""
    state = case.state
    assert state.agency_id is not None  # a case on record was opened in an agency
    return CaseView(
        case_id=case.stream_id,
        agency_id=state.agency_id,
        stage=state.stage.value,
        stream_version=case.version,
        source=state.source,
        referring_agency_id=state.referring_agency_id,
        referring_case_id=state.referring_case_id,
        client_id=state.client_id,
        client_erased=state.client_erased,
        consents=[
            ConsentView(
                consent_id=c.consent_id,
                agencies=list(c.agencies),
                purposes=list(c.purposes),
                valid_from=c.valid_from,
                valid_until=c.valid_until,
                withdrawn_on=c.withdrawn_on,
                in_force=state.consent_in_force(c, today),
            )
            for c in state.consents
        ],
        presenting_problems=list(state.presenting_problems),
        chronic=state.chronic,
        screen_out_reason=state.screen_out_reason,
        information_and_referral=state.information_and_referral,
        needs=list(state.needs),
        strengths=list(state.strengths),
        risks=list(state.risks),
        crisis=state.crisis,
        interpreter_needed=state.interpreter_needed,
        assignment=AssignmentView(
            staff_id=state.assignment.staff_id,
            agency_id=state.assignment.agency_id,
            override=state.assignment.override,
        )
        if state.assignment
        else None,
    )


class ConsentCheck(BaseModel):
    """Whether the client's consent allows an agency a purpose on a date (R4)."""

    case_id: str
    agency_id: str
    purpose: ConsentPurpose
    on: date
    allowed: bool


class ClientView(BaseModel):
    """A client's personal details from the vault; all null once erased (R11)."""

    client_id: str
    erased: bool
    erased_at: str | None
    name: str | None
    birth_date: date | None
    resident_number_masked: str | None
    phone: str | None
    address: str | None
    preferred_language: str | None
    cultural_needs: str | None


class PossibleDuplicateView(BaseModel):
    """A registration that may be a client known elsewhere, for network administrators (R11).

    Ids only: which agency registered which new client on which case, and which existing
    client (held by which agencies now) they may be.
    """

    review_id: int
    recorded_at: datetime
    agency_id: str
    case_id: str
    client_id: str
    possible_duplicate_of: str
    possible_duplicate_agencies: list[str]


class ManagerLoad(BaseModel):
    """A staff member's caseload against their limit."""

    staff_id: str
    role: str
    active: bool
    departed_on: date | None
    caseload: int
    caseload_limit: int
    room: int
    overloaded: bool


class CaseloadBoard(BaseModel):
    """An agency's caseloads (R12): load against limit, the overloaded named."""

    agency_id: str
    staff: list[ManagerLoad]
    overloaded: list[str]
    without_room: list[str]


def caseload_board(agency_id: str, loads: list[StaffLoad]) -> CaseloadBoard:
    """An agency's caseloads, the overloaded and those without room named."""
    return CaseloadBoard(
        agency_id=agency_id,
        staff=[_manager_load(load) for load in loads],
        overloaded=[load.staff_id for load in loads if load.overloaded],
        without_room=[load.staff_id for load in loads if load.without_room],
    )


def _manager_load(load: StaffLoad) -> ManagerLoad:
    return ManagerLoad(
        staff_id=load.staff_id,
        role=load.role,
        active=load.active,
        departed_on=load.departed_on,
        caseload=load.caseload,
        caseload_limit=load.caseload_limit,
        room=load.room,
        overloaded=load.overloaded,
    )


def client_view(record: VaultRecord) -> ClientView:
    """A client's record as the vault opened it; every personal field null once erased."""
    details = record.details
    return ClientView(
        client_id=record.client_id,
        erased=record.erased,
        erased_at=record.erased_at.isoformat() if record.erased_at else None,
        name=details.name if details else None,
        birth_date=details.birth_date if details else None,
        resident_number_masked=details.masked_resident_number if details else None,
        phone=details.phone if details else None,
        address=details.address if details else None,
        preferred_language=details.preferred_language if details else None,
        cultural_needs=details.cultural_needs if details else None,
    )


def review_view(item: ReviewItem) -> PossibleDuplicateView:
    """One item of the network administrators' possible-duplicate queue."""
    return PossibleDuplicateView(
        review_id=item.review_id,
        recorded_at=item.recorded_at,
        agency_id=item.agency_id,
        case_id=item.case_id,
        client_id=item.client_id,
        possible_duplicate_of=item.possible_duplicate_of,
        possible_duplicate_agencies=list(item.possible_duplicate_agencies),
    )
