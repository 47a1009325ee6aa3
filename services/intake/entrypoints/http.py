"""Intake's HTTP API: case finding, registration, consent, screening, assessment, assignment.

Routes only translate: a request body into a command, a principal into an actor, what a
use case returned into an answer (`views.py`). The rules live in the domain; the
orchestration in `application/`; the ports (`Intake`) are composed once, in
`bootstrap.py`. Personal details are accepted by registration and returned only by
`GET /clients/{id}`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from services.intake.application import clients, handlers
from services.intake.application.ports import Intake
from services.intake.domain.commands import AssessCase, OpenCase, ScreenIn, ScreenOut
from services.intake.domain.events import ConsentPurpose
from services.intake.entrypoints.schemas import (
    AssessmentRequest,
    AssignmentRequest,
    CaseId,
    CaseOpening,
    ConsentRequest,
    EligibleScreening,
    ItemId,
    ReassignmentRequest,
    Registration,
    ReturningClient,
    Screening,
    build_command,
)
from services.intake.entrypoints.views import (
    CaseloadBoard,
    CaseView,
    ClientView,
    CommandAnswer,
    ConsentCheck,
    PossibleDuplicateView,
    answer,
    case_view,
    caseload_board,
    client_view,
    review_view,
)
from shared.auth import Principal, require_roles
from shared.envelope import Role
from shared.identifiers import QueryId
from shared.service import ports_dependency

MAX_REVIEW_ITEMS = 500
"""The most possible-duplicate review items one answer lists."""

IntakeDep = Annotated[Intake, Depends(ports_dependency(Intake))]
"""Intake's ports, composed once when the service started (`bootstrap.compose`)."""

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


router = APIRouter(tags=["intake"])
"""The routes of the intake service."""


@router.post("/cases", status_code=status.HTTP_201_CREATED)
async def open_case(body: CaseOpening, principal: CaseWorker, intake: IntakeDep) -> CommandAnswer:
    """Open a case (stage 1: case finding) in the caller's agency; intake chooses its id."""
    command = build_command(
        OpenCase,
        source=body.source,
        referring_agency_id=body.referring_agency_id,
        referring_case_id=body.referring_case_id,
    )
    return answer(await handlers.open_case(intake, principal, command))


@router.get("/cases/{case_id}")
async def get_case(case_id: CaseId, principal: CaseReader, intake: IntakeDep) -> CaseView:
    """A case's stage, consents, screening, assessment and assignment (no personal data)."""
    case = await handlers.case_state(intake, principal, case_id)
    return case_view(case, intake.today())


@router.post("/cases/{case_id}/registration", status_code=status.HTTP_201_CREATED)
async def register(
    case_id: CaseId, body: Registration, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """Register the case's client; 409 naming possible duplicates unless confirmed."""
    client_id, result = await handlers.register_client(
        intake, principal, case_id, body.details(), confirm_new_client=body.confirm_new_client
    )
    return answer(result, client_id=client_id)


@router.post("/cases/{case_id}/returning-client", status_code=status.HTTP_201_CREATED)
async def register_returning(
    case_id: CaseId, body: ReturningClient, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """Register a client the network knows, matched by name and birth date."""
    result = await handlers.register_returning_client(
        intake, principal, case_id, body.client_id, name=body.name, birth_date=body.birth_date
    )
    return answer(result, client_id=body.client_id)


@router.post("/cases/{case_id}/consents", status_code=status.HTTP_201_CREATED)
async def consent(
    case_id: CaseId, body: ConsentRequest, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """Record the client's consent: agencies, purposes, until when (R4)."""
    consent_id, result = await handlers.record_consent(
        intake,
        principal,
        case_id,
        agencies=body.agencies,
        purposes=body.purposes,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    return answer(result, consent_id=consent_id)


@router.post("/cases/{case_id}/consents/{consent_id}/withdrawal")
async def withdraw(
    case_id: CaseId, consent_id: ItemId, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """The client withdraws a consent from today on (R4)."""
    result = await handlers.withdraw_consent(intake, principal, case_id, consent_id)
    return answer(result, consent_id=consent_id)


@router.get("/cases/{case_id}/consent-check")
async def consent_check(
    case_id: CaseId,
    principal: CaseReader,
    intake: IntakeDep,
    agency_id: QueryId,
    purpose: ConsentPurpose,
    on: date | None = None,
) -> ConsentCheck:
    """Whether the client's consent lets an agency use their information for a purpose."""
    day, allowed = await handlers.consent_check(intake, principal, case_id, agency_id, purpose, on)
    return ConsentCheck(
        case_id=case_id, agency_id=agency_id, purpose=purpose, on=day, allowed=allowed
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
    return answer(await handlers.act(intake, principal, case_id, command))


@router.post("/cases/{case_id}/assessment")
async def assessment(
    case_id: CaseId, body: AssessmentRequest, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """Assess needs, strengths, risks, crisis, language and cultural needs (R11)."""
    command = build_command(
        AssessCase,
        needs=tuple(body.needs),
        strengths=tuple(body.strengths),
        risks=tuple(body.risks),
        crisis=body.crisis,
        interpreter_needed=body.interpreter_needed,
        # Completed from the vault: whether the client's cultural needs are on record.
        cultural_needs_recorded=body.cultural_needs is not None,
        today=intake.today(),
    )
    result = await handlers.assess(
        intake, principal, case_id, command, cultural_needs=body.cultural_needs
    )
    return answer(result)


@router.post("/cases/{case_id}/assignment")
async def assignment(
    case_id: CaseId, body: AssignmentRequest, principal: CaseWorker, intake: IntakeDep
) -> CommandAnswer:
    """Assign a case manager of the case's agency with room; past the limit by override."""
    result = await handlers.assign(intake, principal, case_id, body.staff_id, body.override_reason)
    return answer(result)


@router.post("/cases/{case_id}/reassignment")
async def reassignment(
    case_id: CaseId, body: ReassignmentRequest, principal: Reassigner, intake: IntakeDep
) -> CommandAnswer:
    """Move the case to another case manager with room; past the limit by override."""
    result = await handlers.reassign(
        intake, principal, case_id, body.to_staff_id, body.reason, body.override_reason
    )
    return answer(result)


@router.get("/agencies/{agency_id}/caseloads")
async def caseloads(agency_id: ItemId, principal: LoadReader, intake: IntakeDep) -> CaseloadBoard:
    """Each staff member's caseload against their limit; the overloaded listed (R12)."""
    loads = await handlers.caseloads(intake, principal, agency_id)
    return caseload_board(agency_id, loads)


@router.get("/clients/{client_id}")
async def client_details(client_id: ItemId, principal: CaseWorker, intake: IntakeDep) -> ClientView:
    """A client's personal details (R11): for staff of an agency with their case, or of an
    agency their consent in force names for referral or record transfer; else 404."""
    return client_view(await clients.read_client(intake, principal, client_id))


@router.get("/network/possible-duplicates")
async def possible_duplicates(
    principal: NetworkAdmin,
    intake: IntakeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_REVIEW_ITEMS)] = 100,
) -> list[PossibleDuplicateView]:
    """Possible duplicates that no registering agency was told of (R11), newest first."""
    items = await clients.possible_duplicates_for_review(intake, limit)
    return [review_view(item) for item in items]


@router.post("/clients/{client_id}/erasure")
async def erasure(client_id: ItemId, principal: Eraser, intake: IntakeDep) -> list[CommandAnswer]:
    """Erase a client: destroy their vault key; `ClientErased` on each of their cases."""
    return [answer(r) for r in await clients.erase_client(intake, principal, client_id)]
