"""Projections' HTTP API: read-only views of cases, agencies and the network.

Who may read what is said once per route, in its principal's type (`require_roles`), and
then narrowed by the record's agency: staff see their own agency's cases only, and another
agency's case answers exactly like a missing one (404, R11). Auditors see every case (ids and
codes only, no personal data anywhere here); network administrators every case's journey and
the network's aggregates.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from services.projections.adapters.read_model import ProjectionsReadModel
from services.projections.entrypoints.schemas import AgencyId, CaseId
from services.projections.entrypoints.timeline import render_timeline
from services.projections.entrypoints.views import DashboardView, FiguresView, JourneyView
from shared.application import NotFound
from shared.auth import Principal, require_roles
from shared.envelope import Role
from shared.service import ports_dependency

ReadModelDep = Annotated[ProjectionsReadModel, Depends(ports_dependency(ProjectionsReadModel))]
"""The read model `bootstrap.compose` built when the service started."""

NETWORK_WIDE = (Role.AUDITOR, Role.NETWORK_ADMIN)
"""Roles that read across agencies."""

Reader = Annotated[
    Principal,
    Depends(require_roles(Role.CASE_MANAGER, Role.SUPERVISOR, Role.AGENCY_ADMIN, *NETWORK_WIDE)),
]
"""Staff of an agency, an auditor or a network administrator."""
TimelineReader = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.AUDITOR))]
"""A supervisor (of the case's agency) or an auditor."""
NetworkReader = Annotated[Principal, Depends(require_roles(*NETWORK_WIDE))]
"""An auditor or a network administrator."""

router = APIRouter(tags=["projections"])


def _sees(principal: Principal, agency_id: str) -> bool:
    return principal.role in NETWORK_WIDE or principal.agency_id == agency_id


@router.get("/cases/{case_id}/journey")
async def get_journey(case_id: CaseId, principal: Reader, model: ReadModelDep) -> JourneyView:
    """A case across every service, as far as projections has seen it (eventually
    consistent); another agency's case is not found, like a missing one (R11)."""
    journey = await model.journey(case_id)
    if journey is None or not _sees(principal, journey["agency_id"]):
        raise NotFound(f"no case {case_id}")
    return JourneyView(**journey)


@router.get("/cases/{case_id}/timeline", response_class=HTMLResponse)
async def get_timeline(case_id: CaseId, principal: TimelineReader, model: ReadModelDep) -> str:
    """The case's events from every service, in order, with its referral chain: an HTML
    page. A supervisor sees the events of their own agency's cases in the chain only."""
    journey = await model.journey(case_id)
    if journey is None or not _sees(principal, journey["agency_id"]):
        raise NotFound(f"no case {case_id}")
    chain = await model.chain(case_id)
    shown = [link["case_id"] for link in chain if _sees(principal, link["agency_id"])]
    return render_timeline(case_id, chain, await model.events(shown))


@router.get("/agencies/{agency_id}/dashboard")
async def get_dashboard(
    agency_id: AgencyId, principal: Reader, model: ReadModelDep
) -> DashboardView:
    """An agency's open cases by stage, overdue reviews and forms, referrals and caseloads;
    another agency's dashboard is not found (R11)."""
    if not _sees(principal, agency_id):
        raise NotFound(f"no agency {agency_id}")
    return DashboardView(**await model.dashboard(agency_id))


@router.get("/network/figures")
async def get_figures(principal: NetworkReader, model: ReadModelDep) -> FiguresView:
    """The network's aggregates: counts only, no case and no staff id."""
    return FiguresView(**await model.figures())
