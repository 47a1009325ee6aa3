"""Monitoring's HTTP API: reviews, home visits, forms, baselines, evaluations, the board.

Routes only translate: a body into a command, a principal into an actor, a result into a
view. The case's agency's case managers and supervisors write; its staff read, and so do
auditors and network administrators. Rules live in the domain, orchestration in handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, status

from services.monitoring.adapters.board import Board
from services.monitoring.application.handlers import Monitoring, Sealed, execute
from services.monitoring.domain.commands import (
    Command,
    FollowUpForm,
    RecordBaseline,
    RecordEvaluation,
    RecordHomeVisit,
    RecordReview,
    ReturnForm,
    SendForm,
)
from services.monitoring.domain.events import GoalAnswer, GoalRated, ItemAnswer
from services.monitoring.domain.model import MonitoringState
from services.monitoring.entrypoints.schemas import (
    BaselineBody,
    EvaluationBody,
    FollowUpBody,
    ReturnFormBody,
    ReviewBody,
    SendFormBody,
    VisitBody,
)
from services.monitoring.entrypoints.views import CaseView, InstrumentView, Recorded, instruments
from shared.application import CommandContext, Loaded, NotFound
from shared.auth import Principal, ensure_same_agency, require_roles
from shared.envelope import Role
from shared.errors import Forbidden
from shared.identifiers import PathId, QueryId
from shared.service import ports_dependency

PortsDep = Annotated[Monitoring, Depends(ports_dependency(Monitoring))]
Writer = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR))]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.CASE_MANAGER,
            Role.SUPERVISOR,
            Role.AGENCY_ADMIN,
            Role.NETWORK_ADMIN,
            Role.AUDITOR,
        )
    ),
]
NETWORK_READERS = frozenset({Role.NETWORK_ADMIN, Role.AUDITOR})


def _new_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:16]}"


async def _case(ports: Monitoring, case_id: str, principal: Principal) -> Loaded[MonitoringState]:
    """The case's stream, if the principal's agency holds the case (or they read the network)."""
    loaded = await ports.path.load(case_id)
    if not loaded.exists:
        raise NotFound(f"no case {case_id} is monitored here")
    if principal.role not in NETWORK_READERS:
        ensure_same_agency(principal, loaded.state.agency_id or "")
    return loaded


async def _run(
    ports: Monitoring,
    case_id: str,
    principal: Principal,
    command: Command,
    record_id: str,
    sealed: Sequence[Sealed] = (),
) -> Recorded:
    loaded = await _case(ports, case_id, principal)
    context = CommandContext(agency_id=loaded.state.agency_id or "", actor=principal.actor())
    result = await execute(ports, loaded, context, command, sealed)
    return Recorded.of(result, record_id)


router = APIRouter(tags=["monitoring"])
"""The routes of the monitoring service."""


@router.post("/cases/{case_id}/reviews", status_code=status.HTTP_201_CREATED)
async def record_review(
    case_id: PathId, body: ReviewBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """A review of the version in force (R6d); new needs send the case back to planning."""
    review_id = _new_id("review")
    command = RecordReview(
        review_id=review_id,
        today=ports.today(),
        implementation=body.implementation,
        goals=tuple(GoalAnswer(goal_id=a.goal_id, progress=a.progress) for a in body.goals),
        items=tuple(ItemAnswer(item_id=a.item_id, fit=a.fit) for a in body.items),
        new_needs=body.new_needs,
        new_need_domains=tuple(body.new_need_domains),
        client_satisfied=body.client_satisfied,
        manager_satisfied=body.manager_satisfied,
        action=body.action,
        continue_reason=body.continue_reason,
        next_review_on=body.next_review_on,
    )
    sealed = [(f"review:{review_id}", {"notes": body.notes})] if body.notes else []
    return await _run(ports, case_id, principal, command, review_id, sealed)


@router.post("/cases/{case_id}/visits", status_code=status.HTTP_201_CREATED)
async def record_visit(
    case_id: PathId, body: VisitBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """A home visit, by the case's assigned manager only, never dated in the future."""
    visit_id = _new_id("visit")
    command = RecordHomeVisit(
        visit_id=visit_id,
        visited_on=body.visited_on,
        staff_id=principal.staff_id,
        today=ports.today(),
    )
    sealed = (
        [(f"visit:{visit_id}", {"observations": body.observations})] if body.observations else []
    )
    return await _run(ports, case_id, principal, command, visit_id, sealed)


@router.post("/cases/{case_id}/forms", status_code=status.HTTP_201_CREATED)
async def send_form(
    case_id: PathId, body: SendFormBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """Mail a follow-up form, under the client's consent for monitoring (R4)."""
    form_id = _new_id("form")
    command = SendForm(form_id=form_id, due_on=body.due_on, today=ports.today())
    return await _run(ports, case_id, principal, command, form_id)


@router.post("/cases/{case_id}/forms/{form_id}/return", status_code=status.HTTP_201_CREATED)
async def return_form(
    case_id: PathId, form_id: PathId, body: ReturnFormBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """A form came back; its answers are sealed in the vault, never in an event."""
    command = ReturnForm(
        form_id=form_id,
        negative=any(a.negative for a in body.answers),
        today=ports.today(),
    )
    answers = {"answers": [a.model_dump() for a in body.answers]}
    return await _run(ports, case_id, principal, command, form_id, [(f"form:{form_id}", answers)])


@router.post("/cases/{case_id}/forms/{form_id}/follow-up", status_code=status.HTTP_201_CREATED)
async def follow_up_form(
    case_id: PathId, form_id: PathId, body: FollowUpBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """What answered a negative form: a contact, a review or a revision (R6d)."""
    command = FollowUpForm(
        form_id=form_id, kind=body.kind, review_id=body.review_id, today=ports.today()
    )
    sealed = [(f"follow_up:{form_id}", {"notes": body.notes})] if body.notes else []
    return await _run(ports, case_id, principal, command, form_id, sealed)


@router.post("/cases/{case_id}/baselines", status_code=status.HTTP_201_CREATED)
async def record_baseline(
    case_id: PathId, body: BaselineBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """An instrument's baseline, at or after the plan's activation (R7)."""
    today = ports.today()
    command = RecordBaseline(
        instrument=body.instrument,
        score=body.score,
        scored_on=body.scored_on or today,
        today=today,
    )
    return await _run(ports, case_id, principal, command, body.instrument)


@router.post("/cases/{case_id}/evaluations", status_code=status.HTTP_201_CREATED)
async def record_evaluation(
    case_id: PathId, body: EvaluationBody, principal: Writer, ports: PortsDep
) -> Recorded:
    """An evaluation of outcomes (R7), its own record, never derived from reviews."""
    evaluation_id = _new_id("evaluation")
    command = RecordEvaluation(
        evaluation_id=evaluation_id,
        today=ports.today(),
        goals=tuple(GoalRated(goal_id=g.goal_id, rating=g.rating) for g in body.goals),
        scores=dict(body.scores),
        no_further_service_needed=body.no_further_service_needed,
    )
    sealed = [(f"evaluation:{evaluation_id}", {"notes": body.notes})] if body.notes else []
    return await _run(ports, case_id, principal, command, evaluation_id, sealed)


@router.get("/cases/{case_id}")
async def case(case_id: PathId, principal: Reader, ports: PortsDep) -> CaseView:
    """What monitoring watches on a case: ids, dates and codes."""
    loaded = await _case(ports, case_id, principal)
    return CaseView.of(case_id, loaded.state)


@router.get("/board")
async def board(
    principal: Reader,
    ports: PortsDep,
    agency_id: QueryId | None = None,
) -> Board:
    """The supervisors' board: reviews and forms overdue, negative forms without a
    follow-up, delayed items, cases back in planning (R6d, R12)."""
    wanted = agency_id or principal.agency_id
    if principal.role not in NETWORK_READERS and wanted != principal.agency_id:
        raise Forbidden("staff read the board of their own agency")
    return await ports.board.board(ports.pool, wanted)


@router.get("/instruments")
async def instrument_registry(principal: Reader) -> list[InstrumentView]:
    """The standardised instruments an evaluation may use (R7)."""
    return instruments()
