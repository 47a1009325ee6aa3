"""Careplan's HTTP API: the case's agency plans and implements, partners answer their links.

Routes only translate: a body into a command, a principal into an actor and a context, a
result into an answer. Who may act is decided here from the case's agency (another agency's
case answers like one that does not exist); the rules live in the domain.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from services.careplan.adapters import board as boards
from services.careplan.application.handlers import Careplan, Lookups, Words
from services.careplan.domain import commands as c
from services.careplan.domain.events import (
    CareplanEvent,
    MoxleyStep,
    PlanGoal,
    PlanItem,
    PlanVersionDrafted,
    UnaddressedNeed,
)
from services.careplan.domain.model import CarePlan
from services.careplan.entrypoints import schemas as s
from services.careplan.entrypoints.views import CommandAnswer, PlanView, answer, plan_view
from shared.application import CommandContext, NotFound
from shared.auth import Principal, require_roles
from shared.clock import agency_today
from shared.envelope import Role
from shared.grants import CASE_AGENCY, AccessDecision, Accessor
from shared.service import ports_dependency

PortsDep = Annotated[Careplan, Depends(ports_dependency(Careplan))]
Writer = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR))]
Reader = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.CASE_MANAGER,
            Role.SUPERVISOR,
            Role.AGENCY_ADMIN,
            Role.AUDITOR,
            Role.NETWORK_ADMIN,
        )
    ),
]
Staff = Annotated[
    Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN))
]
NETWORK_READERS = frozenset({Role.AUDITOR, Role.NETWORK_ADMIN})


def _hidden(case_id: str) -> NotFound:
    # Another agency's case answers exactly like a case that does not exist (R11).
    return NotFound(f"case {case_id} is not known")


async def _context(ports: Careplan, case_id: str, principal: Principal) -> CommandContext:
    """The context of a write by staff of the case's agency; anyone else: 404."""
    case = await ports.case(case_id)
    if principal.agency_id != case.agency_id:
        raise _hidden(case_id)
    return CommandContext(agency_id=case.agency_id, actor=principal.actor())


WordsOf = Callable[[list[CareplanEvent]], Words | None]
"""Given the decided events, the vault document to seal with them."""


def _plan_words(request: s.PlanRequest) -> WordsOf:
    def words(events: list[CareplanEvent]) -> Words | None:
        drafted = next(e for e in events if isinstance(e, PlanVersionDrafted))
        return Words(
            f"plan:v{drafted.plan_version}",
            {
                "goals": {g.goal_id: g.wording for g in request.goals},
                "helpers": {
                    i.informal_resource_id: i.helper_name
                    for i in request.items
                    if i.informal_resource_id and i.helper_name
                },
                "notes": request.notes,
            },
        )

    return words


def _note(kind: str, record_id: str, note: str | None) -> WordsOf | None:
    if note is None:
        return None
    return lambda _events: Words(f"{kind}:{record_id}", {"note": note})


router = APIRouter(tags=["careplan"])
"""Careplan's routes."""


@router.post("/cases/{case_id}/crisis-interventions", status_code=status.HTTP_201_CREATED)
async def crisis(
    case_id: s.PathId, body: s.CrisisRequest, principal: Writer, ports: PortsDep
) -> CommandAnswer:
    """R5a: a crisis intervention, from assignment on, naming the risk it addresses."""
    context = await _context(ports, case_id, principal)
    fields = body.model_dump()
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.RecordCrisisIntervention(
            case=found.case, today=agency_today(), **fields
        ),
    )
    return answer(result)


@router.post("/cases/{case_id}/plan-versions", status_code=status.HTTP_201_CREATED)
async def draft(
    case_id: s.PathId, body: s.PlanRequest, principal: Writer, ports: PortsDep
) -> CommandAnswer:
    """R3: draft the next plan version; the words go to the vault."""
    context = await _context(ports, case_id, principal)
    goals = tuple(
        PlanGoal(goal_id=g.goal_id, target_date=g.target_date, strengths=tuple(g.strengths))
        for g in body.goals
    )
    items = tuple(PlanItem(**i.model_dump(exclude={"helper_name"})) for i in body.items)
    unaddressed = tuple(UnaddressedNeed(**u.model_dump()) for u in body.unaddressed)
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.DraftPlan(
            case=found.case,
            today=agency_today(),
            plan_date=body.plan_date,
            goals=goals,
            items=items,
            unaddressed=unaddressed,
        ),
        words=_plan_words(body),
    )
    return answer(result)


@router.post("/cases/{case_id}/plan-versions/{version}/agreement")
async def agree(
    case_id: s.PathId,
    version: s.PlanVersion,
    body: s.AgreementRequest,
    principal: Writer,
    ports: PortsDep,
) -> CommandAnswer:
    """R4: the client agreed to a version; it is in force from `agreed_on`."""
    context = await _context(ports, case_id, principal)
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.AgreeToPlan(
            case=found.case,
            today=agency_today(),
            plan_version=version,
            agreed_on=body.agreed_on,
            declined_items=tuple(body.declined_items),
        ),
    )
    return answer(result)


@router.post("/cases/{case_id}/direct-services", status_code=status.HTTP_201_CREATED)
async def direct_service(
    case_id: s.PathId, body: s.DirectServiceRequest, principal: Writer, ports: PortsDep
) -> CommandAnswer:
    """R5: a direct service by the case's agency."""
    context = await _context(ports, case_id, principal)
    fields = body.model_dump(exclude={"note"})
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.RecordDirectService(
            case=found.case,
            today=agency_today(),
            acting_agency_id=principal.agency_id,
            **fields,
        ),
        words=_note("service", body.service_record_id, body.note),
    )
    return answer(result)


@router.post("/cases/{case_id}/items/{item_id}/links", status_code=status.HTTP_201_CREATED)
async def link(
    case_id: s.PathId,
    item_id: s.PathId,
    body: s.LinkRequest,
    principal: Writer,
    ports: PortsDep,
) -> CommandAnswer:
    """R6a: link an item to its partner's service or the client's informal helper."""
    context = await _context(ports, case_id, principal)
    link_id = f"link-{uuid.uuid4().hex}"

    async def command(plan: CarePlan, found: Lookups) -> c.LinkItem:
        item = plan.items.get(item_id)
        service = own_room = None
        if item is not None:
            service = await found.service(item.item.agency_id, item.item.service_id)
            own_room = await found.own_room(item.item.need_domain)
        return c.LinkItem(
            case=found.case,
            today=agency_today(),
            item_id=item_id,
            link_id=link_id,
            service=service,
            own_room=bool(own_room),
            **body.model_dump(),
        )

    return answer(await ports.handle(case_id, context, command))


@router.post("/links/{link_id}/answer")
async def answer_link(
    link_id: s.PathId, body: s.LinkAnswerRequest, principal: Staff, ports: PortsDep
) -> CommandAnswer:
    """A partner answers a link addressed to it; the case's agency records an informal one."""
    row = await boards.link_of(ports.pool, link_id)
    if row is None:
        raise NotFound(f"link {link_id} is not known")
    case = await ports.case(row["case_id"])
    answering_for = row["partner_id"] or case.agency_id
    if principal.agency_id != answering_for:
        raise NotFound(f"link {link_id} is not known")
    context = CommandContext(
        agency_id=case.agency_id,
        actor=principal.actor(),
        acting_agency_id=None if answering_for == case.agency_id else answering_for,
    )
    result = await ports.handle(
        row["case_id"],
        context,
        lambda _p, found: c.AnswerLink(
            case=found.case,
            today=agency_today(),
            link_id=link_id,
            answering_agency_id=principal.agency_id,
            **body.model_dump(),
        ),
    )
    return answer(result)


@router.post("/cases/{case_id}/advocacies", status_code=status.HTTP_201_CREATED)
async def advocate(
    case_id: s.PathId, body: s.AdvocacyRequest, principal: Writer, ports: PortsDep
) -> CommandAnswer:
    """R6b: advocacy for an item not received."""
    context = await _context(ports, case_id, principal)
    fields = body.model_dump(exclude={"note"})
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.StartAdvocacy(case=found.case, today=agency_today(), **fields),
        words=_note("advocacy", body.advocacy_id, body.note),
    )
    return answer(result)


@router.post("/cases/{case_id}/advocacies/{advocacy_id}/steps", status_code=201)
async def step(
    case_id: s.PathId,
    advocacy_id: s.PathId,
    body: s.StepRequest,
    principal: Writer,
    ports: PortsDep,
) -> CommandAnswer:
    """R6b: one Moxley step."""
    context = await _context(ports, case_id, principal)
    fields = body.model_dump(exclude={"step"})
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.TakeAdvocacyStep(
            case=found.case,
            today=agency_today(),
            advocacy_id=advocacy_id,
            step=MoxleyStep(body.step),
            **fields,
        ),
    )
    return answer(result)


@router.post("/cases/{case_id}/advocacies/{advocacy_id}/conclusion")
async def conclude(
    case_id: s.PathId,
    advocacy_id: s.PathId,
    body: s.ConclusionRequest,
    principal: Writer,
    ports: PortsDep,
) -> CommandAnswer:
    """R6b: service obtained, or not obtained (the plan must be revised)."""
    context = await _context(ports, case_id, principal)
    result = await ports.handle(
        case_id,
        context,
        lambda _p, found: c.ConcludeAdvocacy(
            case=found.case, today=agency_today(), advocacy_id=advocacy_id, **body.model_dump()
        ),
    )
    return answer(result)


@router.get("/cases/{case_id}")
async def read_plan(case_id: s.PathId, principal: Reader, ports: PortsDep) -> PlanView:
    """A case's plan: staff of its agency, auditors and network administrators."""
    case, plan, version = await ports.load(case_id)
    if principal.role not in NETWORK_READERS and principal.agency_id != case.agency_id:
        raise _hidden(case_id)
    return plan_view(case_id, plan, version, agency_today())


@router.get("/cases/{case_id}/plan-versions/{version}/words")
async def read_words(
    case_id: s.PathId, version: s.PlanVersion, principal: Writer, ports: PortsDep
) -> dict[str, Any]:
    """A version's words (goals, helpers, notes) from the vault, for the case's agency."""
    case = await ports.case(case_id)
    if principal.agency_id != case.agency_id or case.client_id is None:
        raise _hidden(case_id)
    accessor = Accessor(principal.staff_id, principal.role.value, principal.agency_id)
    async with ports.path.connection() as conn:
        read = await ports.vault.read(
            conn,
            accessor,
            case.client_id,
            f"plan:v{version}",
            AccessDecision.allow(CASE_AGENCY),
        )
    if read.shredded:
        return {"erased": True}
    if read.document is None:
        raise NotFound(f"plan version {version} has no words")
    return read.document


@router.get("/agencies/{agency_id}/board")
async def board(agency_id: s.PathId, principal: Reader, ports: PortsDep) -> boards.Board:
    """The supervisor's board: crisis without intervention, plans awaiting agreement,
    items not received, advocacy in progress, cases back in planning."""
    if principal.role not in NETWORK_READERS and principal.agency_id != agency_id:
        raise NotFound(f"agency {agency_id} is not known")
    return await boards.board(ports.pool, agency_id, agency_today())


@router.get("/agencies/{agency_id}/inbox")
async def inbox(agency_id: s.PathId, principal: Staff, ports: PortsDep) -> list[boards.LinkEntry]:
    """A partner agency's links: ids and codes of each link, nothing else of the case."""
    if principal.agency_id != agency_id:
        raise NotFound(f"agency {agency_id} is not known")
    return await boards.inbox(ports.pool, agency_id)
