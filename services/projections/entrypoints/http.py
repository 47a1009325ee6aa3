"""Projections' HTTP API: read-only views of cases, agencies and the network.

Who may read what is said once per route, in its principal's type (`require_roles`), and
then narrowed by the record's agency: staff see their own agency's cases only, and another
agency's case answers exactly like a missing one (404, R11). Auditors see every case (ids and
codes only, no personal data anywhere here); network administrators every case's journey and
the network's aggregates.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from services.projections.adapters.read_model import ProjectionsReadModel
from services.projections.entrypoints.schemas import AgencyId, CaseId, ClientId
from services.projections.entrypoints.timeline import render_timeline
from services.projections.entrypoints.views import (
    AddressedView,
    ClientJourneyView,
    DashboardView,
    FiguresView,
    FlowsView,
    JourneyView,
)
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
    # A supervisor learns that the chain runs on at another agency, and its state, never
    # which case it is there (R11: the minimum the referring agency needs).
    chain = [link if link["case_id"] in shown else {**link, "case_id": None} for link in chain]
    events = await model.events(shown)
    if principal.role not in NETWORK_WIDE:
        events = [_without_other_cases(e, shown) for e in events]
    return render_timeline(case_id, chain, events)


def _without_other_cases(event: dict[str, Any], shown: list[str]) -> dict[str, Any]:
    """An event's codes without the id of a case the reader may not see."""
    codes = {
        k: ("(another agency's case)" if k.endswith("case_id") and v not in shown else v)
        for k, v in event["codes"].items()
    }
    return {**event, "codes": codes}


@router.get("/agencies/{agency_id}/dashboard")
async def get_dashboard(
    agency_id: AgencyId, principal: Reader, model: ReadModelDep
) -> DashboardView:
    """An agency's open cases by stage, overdue reviews and forms, referrals and caseloads;
    another agency's dashboard is not found (R11)."""
    if not _sees(principal, agency_id):
        raise NotFound(f"no agency {agency_id}")
    return DashboardView(**await model.dashboard(agency_id))


@router.get("/clients/{client_id}/journey")
async def get_client_journey(
    client_id: ClientId, principal: Reader, model: ReadModelDep
) -> ClientJourneyView:
    """A client's cases across the network, in the order they opened (pseudonymous: the id
    intake gave, no personal data). Staff see it only while their agency holds one of the
    cases, and then the other agencies' cases without their ids (R11)."""
    cases = await model.network.client_cases(client_id)
    if principal.role not in NETWORK_WIDE:
        if not any(c["agency_id"] == principal.agency_id for c in cases):
            raise NotFound(f"no client {client_id}")
        cases = [c if _sees(principal, c["agency_id"]) else {**c, "case_id": None} for c in cases]
    if not cases:
        raise NotFound(f"no client {client_id}")
    return ClientJourneyView(client_id=client_id, cases=cases)


@router.get("/agencies/{agency_id}/addressed")
async def get_addressed(
    agency_id: AgencyId, principal: Reader, model: ReadModelDep
) -> AddressedView:
    """The links and referrals other agencies addressed to this one, with their states,
    never the referring case's id or journey; another agency's is not found (R11)."""
    if not _sees(principal, agency_id):
        raise NotFound(f"no agency {agency_id}")
    return AddressedView(agency_id=agency_id, **await model.network.addressed(agency_id))


@router.get("/network/referral-flows")
async def get_referral_flows(principal: NetworkReader, model: ReadModelDep) -> FlowsView:
    """Referral attempts between agencies by state: counts only, no case or client."""
    return FlowsView(flows=await model.network.flows())


@router.get("/network/figures")
async def get_figures(principal: NetworkReader, model: ReadModelDep) -> FiguresView:
    """The network's aggregates: counts only, no case and no staff id."""
    return FiguresView(**await model.figures())
