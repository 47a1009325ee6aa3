"""Intake's HTTP API: case finding, registration, consent, screening, assessment, assignment.

Routes only translate: a request body into a command, a principal into an actor, an
outcome into a response. The rules live in the domain; the orchestration in the handlers.
Personal details are accepted by registration and returned only by `GET /clients/{id}`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from services.intake.adapters.read_model import IntakeReadModel, StaffLoad
from services.intake.application import handlers
from services.intake.application.handlers import Intake, Outcome, agency_today
from services.intake.domain.client import BirthDate, PersonalDetails, PersonName
from services.intake.domain.events import (
    AssessedNeed,
    CaseSource,
    ConsentPurpose,
    InformationAndReferral,
    Risk,
    ScreenOutReason,
    StrengthKind,
)
from services.intake.domain.model import (
    MAX_LIST_ITEMS,
    AssessCase,
    CaseState,
    Command,
    OpenCase,
    OverrideReason,
    ReassignmentReason,
    ScreenIn,
    ScreenOut,
    consent_allows,
)
from services.intake.domain.text import Note
from services.intake.vault.store import PiiVault
from shared.auth import Principal, require_roles
from shared.envelope import Role
from shared.identifiers import NoPersonalNumber
from shared.service import get_runtime
from shared.vocabulary import NeedDomain

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
MAX_REVIEW_ITEMS = 500
"""The most possible-duplicate review items one answer lists."""
"""Ids travel in URLs, Kafka keys and `ce_source`: letters, digits and `._:-` only."""

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN),
    NoPersonalNumber,
]
CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]

CaseWorker = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR))]
Reassigner = Annotated[
    Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR, Role.SYSTEM))
]
Eraser = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN))
]
CaseReader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.CASE_MANAGER,
            Role.SUPERVISOR,
            Role.AGENCY_ADMIN,
            Role.NETWORK_ADMIN,
            Role.AUDITOR,
            Role.SYSTEM,
        )
    ),
]
NetworkAdmin = Annotated[Principal, Depends(require_roles(Role.NETWORK_ADMIN))]
LoadReader = Annotated[
    Principal,
    Depends(
        require_roles(Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN)
    ),
]


def get_intake(request: Request) -> Intake:
    """FastAPI dependency: intake's ports over the running service's pool and store."""
    runtime = get_runtime(request)
    intake: Intake | None = getattr(request.app.state, "intake", None)
    if intake is None or intake.store is not runtime.store:
        intake = Intake(
            store=runtime.store,
            vault=PiiVault.from_settings(runtime.settings, runtime.vault),
            read_model=IntakeReadModel(runtime.pool),
        )
        request.app.state.intake = intake
    return intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


C = TypeVar("C", bound=Command)


def build_command(cls: type[C], **fields: object) -> C:
    """A domain command from request fields; its validation errors become a 422 on the body."""
    try:
        return cls.model_validate(fields)
    except ValidationError as e:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in e.errors()]
        ) from None


# --- request bodies ---------------------------------------------------------------------------


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, and no refusal echoes its input.

    Yes/no answers are `strict`: JSON `true` or `false`, never `"no"`, `1` or `0`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class CaseOpening(Body):
    """POST /cases: a case found by outreach, a walk-in, self-referral or inbound referral.

    Intake chooses the case id, never the caller: an id the caller chose would be refused
    when another agency holds it, and so tell the caller that it exists.
    """

    source: CaseSource
    referring_agency_id: Identifier | None = None
    referring_case_id: Identifier | None = None


class Registration(PersonalDetails):
    """POST /cases/{case_id}/registration: a new client's personal details (to the vault)."""

    confirm_new_client: bool = Field(
        default=False,
        strict=True,
        description="Register a new person even though clients with the same name and "
        "birth date exist (they are named in the 409 answer).",
    )

    @model_validator(mode="after")
    def _born_in_the_past(self) -> Registration:
        if self.birth_date > agency_today():
            raise ValueError("the birth date is in the future")
        return self

    def details(self) -> PersonalDetails:
        """The personal details alone."""
        return PersonalDetails.model_validate(self.model_dump(exclude={"confirm_new_client"}))


class ReturningClient(Body):
    """POST /cases/{case_id}/returning-client: a known client, matched by name and birth date."""

    client_id: Identifier
    name: PersonName = Field(min_length=1, max_length=100, repr=False)
    birth_date: BirthDate = Field(repr=False)


class ConsentRequest(Body):
    """POST /cases/{case_id}/consents (R4)."""

    agencies: list[Identifier] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    purposes: list[ConsentPurpose] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    valid_from: date | None = Field(default=None, description="Today when left out.")
    valid_until: date

    @model_validator(mode="after")
    def _each_once_and_a_period_in_order(self) -> ConsentRequest:
        if len(set(self.agencies)) != len(self.agencies):
            raise ValueError("each agency is named once")
        if len(set(self.purposes)) != len(self.purposes):
            raise ValueError("each purpose is named once")
        if self.valid_from is not None and self.valid_until < self.valid_from:
            raise ValueError("a consent ends on or after the day it starts")
        return self


class EligibleScreening(Body):
    """Screening outcome: case management fits (R2)."""

    outcome: Literal["eligible"]
    presenting_problems: list[NeedDomain] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    chronic: bool = Field(default=False, strict=True)


def _at_most_max_list_items_domains(value: object) -> object:
    # The event's own schema leaves the list open; the request bounds it before reading it.
    domains = value.get("domains") if isinstance(value, dict) else None
    if isinstance(domains, list) and len(domains) > MAX_LIST_ITEMS:
        raise ValueError(f"information and referral names at most {MAX_LIST_ITEMS} domains")
    return value


class ScreenedOutScreening(Body):
    """Screening outcome: screened out, with the reason and the information and referral (R2)."""

    outcome: Literal["screened_out"]
    presenting_problems: list[NeedDomain] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    reason: ScreenOutReason
    information_and_referral: Annotated[
        InformationAndReferral, BeforeValidator(_at_most_max_list_items_domains)
    ]


Screening = Annotated[EligibleScreening | ScreenedOutScreening, Field(discriminator="outcome")]


class AssessmentRequest(Body):
    """POST /cases/{case_id}/assessment."""

    needs: list[AssessedNeed] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    strengths: list[StrengthKind] = Field(default=[], max_length=MAX_LIST_ITEMS)
    risks: list[Risk] = Field(default=[], max_length=MAX_LIST_ITEMS)
    crisis: bool = Field(
        default=False, strict=True, description="The case needs crisis intervention now."
    )
    interpreter_needed: bool = Field(strict=True, description="R11: asked of every assessment.")
    cultural_needs: Note | None = Field(
        default=None,
        max_length=1000,
        repr=False,
        description="Kept in the PII vault; events only say that they are on record.",
    )


class AssignmentRequest(Body):
    """POST /cases/{case_id}/assignment (R12)."""

    staff_id: Identifier
    override_reason: OverrideReason | None = Field(
        default=None, description="A supervisor's reason to go past the caseload limit."
    )


class ReassignmentRequest(Body):
    """POST /cases/{case_id}/reassignment (R12)."""

    to_staff_id: Identifier
    reason: ReassignmentReason
    override_reason: OverrideReason | None = None


# --- responses --------------------------------------------------------------------------------


class CommandAnswer(BaseModel):
    """What a command recorded on a case."""

    case_id: str
    stage: str
    stream_version: int
    recorded: list[str]
    client_id: str | None = None
    consent_id: str | None = None


def _answer(outcome: Outcome, **extra: str) -> CommandAnswer:
    return CommandAnswer(
        case_id=outcome.case_id,
        stage=outcome.state.stage.value,
        stream_version=outcome.stream_version,
        recorded=outcome.event_types,
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


def _case_view(case_id: str, state: CaseState, version: int, today: date) -> CaseView:
    assert state.agency_id is not None
    return CaseView(
        case_id=case_id,
        agency_id=state.agency_id,
        stage=state.stage.value,
        stream_version=version,
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
                in_force=not state.client_erased
                and c.withdrawn_on is None
                and c.valid_from <= today <= c.valid_until,
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


# --- routes -----------------------------------------------------------------------------------


def intake_router() -> APIRouter:
    """The routes of the intake service."""
    router = APIRouter(tags=["intake"])

    @router.post("/cases", status_code=status.HTTP_201_CREATED)
    async def open_case(
        body: CaseOpening, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Open a case (stage 1: case finding) in the caller's agency."""
        command = build_command(
            OpenCase,
            source=body.source,
            referring_agency_id=body.referring_agency_id,
            referring_case_id=body.referring_case_id,
        )
        case_id = f"case-{uuid.uuid4().hex}"
        return _answer(await handlers.open_case(intake, principal, case_id, command))

    @router.get("/cases/{case_id}")
    async def get_case(case_id: CaseId, principal: CaseReader, intake: IntakeDep) -> CaseView:
        """A case's stage, consents, screening, assessment and assignment (no personal data)."""
        state, version = await handlers.case_state(intake, principal, case_id)
        return _case_view(case_id, state, version, intake.today())

    @router.post("/cases/{case_id}/registration", status_code=status.HTTP_201_CREATED)
    async def register(
        case_id: CaseId, body: Registration, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Register the case's client; 409 naming possible duplicates unless confirmed."""
        client_id, outcome = await handlers.register_client(
            intake, principal, case_id, body.details(), confirm_new_client=body.confirm_new_client
        )
        return _answer(outcome, client_id=client_id)

    @router.post("/cases/{case_id}/returning-client", status_code=status.HTTP_201_CREATED)
    async def register_returning(
        case_id: CaseId, body: ReturningClient, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Register a client the network knows, matched by name and birth date."""
        outcome = await handlers.register_returning_client(
            intake, principal, case_id, body.client_id, name=body.name, birth_date=body.birth_date
        )
        return _answer(outcome, client_id=body.client_id)

    @router.post("/cases/{case_id}/consents", status_code=status.HTTP_201_CREATED)
    async def consent(
        case_id: CaseId, body: ConsentRequest, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Record the client's consent: agencies, purposes, until when (R4)."""
        consent_id, outcome = await handlers.record_consent(
            intake,
            principal,
            case_id,
            agencies=body.agencies,
            purposes=body.purposes,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
        )
        return _answer(outcome, consent_id=consent_id)

    @router.post("/cases/{case_id}/consents/{consent_id}/withdrawal")
    async def withdraw(
        case_id: CaseId, consent_id: ItemId, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """The client withdraws a consent from today on (R4)."""
        outcome = await handlers.withdraw_consent(intake, principal, case_id, consent_id)
        return _answer(outcome, consent_id=consent_id)

    @router.get("/cases/{case_id}/consent-check")
    async def consent_check(
        case_id: CaseId,
        principal: CaseReader,
        intake: IntakeDep,
        agency_id: Annotated[
            str, Query(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber
        ],
        purpose: ConsentPurpose,
        on: date | None = None,
    ) -> ConsentCheck:
        """Whether the client's consent lets an agency use their information for a purpose."""
        state, _ = await handlers.case_state(intake, principal, case_id)
        day = on or intake.today()
        return ConsentCheck(
            case_id=case_id,
            agency_id=agency_id,
            purpose=purpose,
            on=day,
            allowed=consent_allows(state, agency_id, purpose, day),
        )

    @router.post("/cases/{case_id}/screening")
    async def screening(
        case_id: CaseId,
        body: Screening,
        principal: CaseWorker,
        intake: IntakeDep,
    ) -> CommandAnswer:
        """Screen the case in (eligible) or out with reason and information and referral (R2)."""
        command: ScreenIn | ScreenOut
        if isinstance(body, EligibleScreening):
            command = build_command(
                ScreenIn,
                presenting_problems=tuple(body.presenting_problems),
                chronic=body.chronic,
                today=intake.today(),
            )
        else:
            command = build_command(
                ScreenOut,
                presenting_problems=tuple(body.presenting_problems),
                reason=body.reason,
                information_and_referral=body.information_and_referral,
                today=intake.today(),
            )
        return _answer(await handlers.screen(intake, principal, case_id, command))

    @router.post("/cases/{case_id}/assessment")
    async def assessment(
        case_id: CaseId, body: AssessmentRequest, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Assess needs, strengths, risks, crisis, language and cultural needs (R11)."""
        today = intake.today()

        def command(cultural_needs_recorded: bool) -> AssessCase:
            return build_command(
                AssessCase,
                needs=tuple(body.needs),
                strengths=tuple(body.strengths),
                risks=tuple(body.risks),
                crisis=body.crisis,
                interpreter_needed=body.interpreter_needed,
                cultural_needs_recorded=cultural_needs_recorded,
                today=today,
            )

        command(False)  # a 422 for bad input before anything is read or written
        outcome = await handlers.assess(
            intake, principal, case_id, command, cultural_needs=body.cultural_needs
        )
        return _answer(outcome)

    @router.post("/cases/{case_id}/assignment")
    async def assignment(
        case_id: CaseId, body: AssignmentRequest, principal: CaseWorker, intake: IntakeDep
    ) -> CommandAnswer:
        """Assign a case manager of the case's agency with room; past the limit by override."""
        outcome = await handlers.assign(
            intake, principal, case_id, body.staff_id, body.override_reason
        )
        return _answer(outcome)

    @router.post("/cases/{case_id}/reassignment")
    async def reassignment(
        case_id: CaseId, body: ReassignmentRequest, principal: Reassigner, intake: IntakeDep
    ) -> CommandAnswer:
        """Move the case to another case manager with room; past the limit by override."""
        outcome = await handlers.reassign(
            intake, principal, case_id, body.to_staff_id, body.reason, body.override_reason
        )
        return _answer(outcome)

    @router.get("/agencies/{agency_id}/caseloads")
    async def caseload_board(
        agency_id: ItemId, principal: LoadReader, intake: IntakeDep
    ) -> CaseloadBoard:
        """Each staff member's caseload against their limit; the overloaded listed (R12)."""
        loads = await handlers.caseloads(intake, principal, agency_id)
        return CaseloadBoard(
            agency_id=agency_id,
            staff=[_manager_load(load) for load in loads],
            overloaded=[load.staff_id for load in loads if load.overloaded],
            without_room=[
                load.staff_id for load in loads if load.role == "case_manager" and not load.room
            ],
        )

    @router.get("/clients/{client_id}")
    async def client_details(
        client_id: ItemId, principal: CaseWorker, intake: IntakeDep
    ) -> ClientView:
        """A client's personal details (R11): for staff of an agency with their case, or of an
        agency their consent in force names for referral or record transfer; else 404."""
        record = await handlers.read_client(intake, principal, client_id)
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

    @router.get("/network/possible-duplicates")
    async def possible_duplicates(
        principal: NetworkAdmin,
        intake: IntakeDep,
        limit: Annotated[int, Query(ge=1, le=MAX_REVIEW_ITEMS)] = 100,
    ) -> list[PossibleDuplicateView]:
        """Possible duplicates that no registering agency was told of (R11), newest first."""
        items = await handlers.possible_duplicates_for_review(intake, limit)
        return [
            PossibleDuplicateView(
                review_id=item.review_id,
                recorded_at=item.recorded_at,
                agency_id=item.agency_id,
                case_id=item.case_id,
                client_id=item.client_id,
                possible_duplicate_of=item.possible_duplicate_of,
                possible_duplicate_agencies=list(item.possible_duplicate_agencies),
            )
            for item in items
        ]

    @router.post("/clients/{client_id}/erasure")
    async def erasure(
        client_id: ItemId, principal: Eraser, intake: IntakeDep
    ) -> list[CommandAnswer]:
        """Erase a client: destroy their vault key; `ClientErased` on each of their cases."""
        return [_answer(o) for o in await handlers.erase_client(intake, principal, client_id)]

    return router
