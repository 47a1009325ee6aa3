"""Closure's HTTP API: preparation, approval, termination with its referral, the referral
options, the target's answer, the client's refusal, the board and the inbox.

Routes only translate: a body into a command, a principal into an actor, a result into a
view. The case's agency's case managers and supervisors write (a supervisor approves); the
target agency's staff answer a referral; auditors and network administrators read all.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from services.closure.application.handlers import (
    Closure,
    accept_referral,
    execute,
    facts_on,
)
from services.closure.domain.commands import (
    AcceptReferral,
    ApproveTermination,
    ClientDeclinesReferral,
    Command,
    DeclineReferral,
    PrepareTermination,
    ReferralFacts,
    TerminateCase,
)
from services.closure.domain.events import TerminationReason
from services.closure.domain.model import CaseState
from services.closure.domain.termination import options_for
from services.closure.entrypoints.fhir import bundle
from services.closure.entrypoints.schemas import (
    DeclineBody,
    PathId,
    PreparationBody,
    TerminationBody,
)
from services.closure.entrypoints.views import (
    CaseView,
    OptionsView,
    OptionView,
    Recorded,
    ReferralLine,
)
from shared.application import CommandContext, Loaded, NotFound
from shared.auth import Principal, require_roles
from shared.envelope import Role
from shared.service import ports_dependency

PortsDep = Annotated[Closure, Depends(ports_dependency(Closure))]
Writer = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]
TargetStaff = Annotated[
    Principal, Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN))
]
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


async def _case(ports: Closure, case_id: str, principal: Principal) -> Loaded[CaseState]:
    """The case's stream, if the principal's agency holds the case (or they read the network)."""
    loaded = await ports.cases.load(case_id)
    agency = loaded.state.agency_id
    # R11: another agency's case answers exactly like a missing one.
    if agency is None or (principal.role not in NETWORK_READERS and principal.agency_id != agency):
        raise NotFound(f"no case {case_id} is known to closure")
    return loaded


def _context(loaded: Loaded[CaseState], principal: Principal) -> CommandContext:
    agency = loaded.state.agency_id or ""
    return CommandContext(
        agency_id=agency,
        actor=principal.actor(),
        acting_agency_id=principal.agency_id if principal.agency_id != agency else None,
    )


async def _referral_case(
    ports: Closure, referral_id: str, principal: Principal
) -> Loaded[CaseState]:
    """The case of a referral issued to the principal's agency."""
    row = await ports.board.referral(ports.pool, referral_id)
    # R11: a referral to another agency answers exactly like a missing one.
    if row is None or row.target_agency_id != principal.agency_id:
        raise NotFound(f"no referral {referral_id} is known to closure")
    return await ports.cases.load(row.case_id)


def closure_router() -> APIRouter:
    """The routes of the closure service."""
    router = APIRouter(tags=["closure"])

    @router.post("/cases/{case_id}/preparation", status_code=status.HTTP_201_CREATED)
    async def prepare(
        case_id: PathId, body: PreparationBody, principal: Writer, ports: PortsDep
    ) -> Recorded:
        """R10: the end prepared, and the client's reactions with the manager's response."""
        loaded = await _case(ports, case_id, principal)
        command = PrepareTermination(
            today=ports.today(),
            community_resources_found=body.community_resources_found,
            help_again_explained=body.help_again_explained,
            independent_activity_encouraged=body.independent_activity_encouraged,
            gains_maintenance_planned=body.gains_maintenance_planned,
            reactions=tuple(body.reactions),
            responses=tuple(body.responses),
        )
        return Recorded.of(await execute(ports, loaded, _context(loaded, principal), command))

    @router.post("/cases/{case_id}/approval", status_code=status.HTTP_201_CREATED)
    async def approve(case_id: PathId, principal: Supervisor, ports: PortsDep) -> Recorded:
        """R8: a supervisor approves a planned termination."""
        loaded = await _case(ports, case_id, principal)
        command = ApproveTermination(today=ports.today(), supervisor_id=principal.staff_id)
        return Recorded.of(await execute(ports, loaded, _context(loaded, principal), command))

    @router.post("/cases/{case_id}/termination", status_code=status.HTTP_201_CREATED)
    async def terminate(
        case_id: PathId, body: TerminationBody, principal: Writer, ports: PortsDep
    ) -> Recorded:
        """R8: end the case for a reason; an incomplete end is written with its referral (R9)."""
        loaded = await _case(ports, case_id, principal)
        key = uuid.uuid4().hex[:20]

        def command(facts: ReferralFacts) -> Command:
            return TerminateCase(
                termination_id=f"term-{key}",
                referral_id=f"ref-{key}",
                reason=body.reason,
                client_accepts_referral=body.client_accepts_referral,
                facts=facts,
            )

        return Recorded.of(await execute(ports, loaded, _context(loaded, principal), command))

    @router.get("/cases/{case_id}")
    async def case(case_id: PathId, principal: Reader, ports: PortsDep) -> CaseView:
        """What closure knows of a case: its needs, readiness to end, end and referral."""
        loaded = await _case(ports, case_id, principal)
        return CaseView.of(case_id, loaded.state)

    @router.get("/cases/{case_id}/referral-options")
    async def referral_options(case_id: PathId, principal: Reader, ports: PortsDep) -> OptionsView:
        """R9: every provider ranked, and for each excluded one every reason."""
        loaded = await _case(ports, case_id, principal)
        state = loaded.state
        async with ports.cases.connection() as conn:
            facts = await facts_on(ports, conn, state, ports.today())
        ended = state.terminated
        closing = (
            state.agency_id
            if ended is not None and ended.reason is TerminationReason.AGENCY_CLOSED
            else None
        )
        tried = state.referral.tried if state.referral else ()
        options = options_for(state, facts, closing_agency=closing, tried=tried)
        return OptionsView(
            case_id=case_id,
            needs=list(state.unmet_needs),
            options=[OptionView.of(o) for o in options],
        )

    @router.post("/cases/{case_id}/referral/client-decline", status_code=status.HTTP_201_CREATED)
    async def client_declines(case_id: PathId, principal: Writer, ports: PortsDep) -> Recorded:
        """R4: the client declines the referral; it is never forced."""
        loaded = await _case(ports, case_id, principal)
        command = ClientDeclinesReferral(today=ports.today())
        return Recorded.of(await execute(ports, loaded, _context(loaded, principal), command))

    @router.post("/referrals/{referral_id}/acceptance", status_code=status.HTTP_201_CREATED)
    async def accept(referral_id: PathId, principal: TargetStaff, ports: PortsDep) -> Recorded:
        """The target agency accepts the referral: care continues there."""
        loaded = await _referral_case(ports, referral_id, principal)
        command = AcceptReferral(
            referral_id=referral_id,
            agency_id=principal.agency_id,
            staff_id=principal.staff_id,
            today=ports.today(),
        )
        context = _context(loaded, principal)
        return Recorded.of(await accept_referral(ports, loaded, context, command))

    @router.post("/referrals/{referral_id}/decline", status_code=status.HTTP_201_CREATED)
    async def decline(
        referral_id: PathId, body: DeclineBody, principal: TargetStaff, ports: PortsDep
    ) -> Recorded:
        """The target agency declines with a reason; the next eligible target is issued."""
        loaded = await _referral_case(ports, referral_id, principal)

        def command(facts: ReferralFacts) -> Command:
            return DeclineReferral(
                referral_id=referral_id,
                agency_id=principal.agency_id,
                reason=body.reason,
                facts=facts,
            )

        return Recorded.of(await execute(ports, loaded, _context(loaded, principal), command))

    @router.get("/referrals/{referral_id}/fhir")
    async def referral_fhir(
        referral_id: PathId, principal: Reader, ports: PortsDep
    ) -> dict[str, Any]:
        """The referral as FHIR R4: a Bundle of its ServiceRequest and one Task per target."""
        row = await ports.board.referral(ports.pool, referral_id)
        readers = {row.agency_id, row.target_agency_id} if row else set()
        # R11: a referral neither sent nor received by the principal's agency is not there.
        if row is None or (
            principal.role not in NETWORK_READERS and principal.agency_id not in readers
        ):
            raise NotFound(f"no referral {referral_id} is known to closure")
        history = await ports.cases.store.read_stream(row.case_id)
        state = ports.cases.model.state_of(history)
        return bundle(row.case_id, state, [e.payload for e in history])

    @router.get("/board")
    async def board(principal: Reader, ports: PortsDep) -> list[ReferralLine]:
        """R9, R12: referrals not yet issued, with their age (the network sees them all)."""
        agency = None if principal.role in NETWORK_READERS else principal.agency_id
        today = ports.today()
        return [ReferralLine.of(r, today) for r in await ports.board.pending(ports.pool, agency)]

    @router.get("/inbox")
    async def inbox(principal: TargetStaff, ports: PortsDep) -> list[ReferralLine]:
        """Referrals issued to the principal's agency, awaiting its answer."""
        today = ports.today()
        rows = await ports.board.inbox(ports.pool, principal.agency_id)
        return [ReferralLine.of(r, today) for r in rows]

    return router
