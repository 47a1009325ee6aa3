"""The directory's HTTP API: administrators change the network, any staff member reads it.

Routes only translate: a request body (`schemas.py`) into a command, a principal into an
actor, a result into a response (`views.py`). Who may call a route is said once, by its
principal's type (`Administrator`, `NetworkAdministrator`, `Authenticated`); whether the
command is allowed is the domain's to say, and the reads come from the read model. The
ports arrive as a parameter (`DirectoryDep`), built once by `bootstrap.compose`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from services.directory.adapters.read_model import (
    AgencySummary,
    AgencyView,
    ServiceView,
    StaffView,
)
from services.directory.application.handlers import Directory, handle, handle_network
from services.directory.domain.commands import (
    AddDepartment,
    AddStaff,
    AgencyCommand,
    ChangeCapacity,
    ChangeCaseloadLimit,
    CloseAgency,
    EnrollNetworkMember,
    OfferService,
    RecordNetworkMemberLeaving,
    RecordStaffDeparture,
    RegisterAgency,
    WithdrawService,
)
from services.directory.domain.events import StaffRole
from services.directory.entrypoints.schemas import (
    AgencyId,
    AgencyRegistration,
    CapacityRequest,
    CaseloadLimitRequest,
    ClosureRequest,
    DepartmentRequest,
    DepartureRequest,
    ItemId,
    LeavingRequest,
    NetworkMemberRequest,
    ServiceRequest,
    StaffRequest,
    WithdrawalRequest,
)
from services.directory.entrypoints.views import CommandResponse, command_response
from shared.application import CommandContext, NotFound
from shared.auth import Authenticated, Principal, ensure_same_agency, require_roles
from shared.clock import agency_today
from shared.envelope import NETWORK, Role
from shared.service import ports_dependency
from shared.text import PlainText
from shared.vocabulary import NeedDomain

DirectoryDep = Annotated[Directory, Depends(ports_dependency(Directory))]
"""The ports `bootstrap.compose` built when the service started."""

Administrator = Annotated[Principal, Depends(require_roles(Role.NETWORK_ADMIN, Role.AGENCY_ADMIN))]
"""A network administrator, or an agency administrator acting on their own agency."""
NetworkAdministrator = Annotated[Principal, Depends(require_roles(Role.NETWORK_ADMIN))]
"""A network administrator only."""

router = APIRouter(tags=["directory"])


async def _run(
    directory: Directory, principal: Principal, agency_id: str, command: AgencyCommand
) -> CommandResponse:
    # An agency administrator acts on their own agency only; a network administrator on any.
    ensure_same_agency(principal, agency_id)
    context = CommandContext(agency_id=agency_id, actor=principal.actor())
    return command_response(agency_id, await handle(directory, context, command))


# --- commands (administrators) ---------------------------------------------------------------


@router.post("/agencies", status_code=status.HTTP_201_CREATED)
async def register_agency(
    body: AgencyRegistration, principal: NetworkAdministrator, directory: DirectoryDep
) -> CommandResponse:
    """Register an agency in the network (network administrators)."""
    command = RegisterAgency(
        agency_id=body.agency_id, name=body.name, region=body.region, registered_on=agency_today()
    )
    return await _run(directory, principal, body.agency_id, command)


@router.post("/agencies/{agency_id}/departments", status_code=status.HTTP_201_CREATED)
async def add_department(
    agency_id: AgencyId, body: DepartmentRequest, principal: Administrator, directory: DirectoryDep
) -> CommandResponse:
    """Add a department to an agency."""
    command = AddDepartment(department_id=body.department_id, name=body.name)
    return await _run(directory, principal, agency_id, command)


@router.post("/agencies/{agency_id}/services", status_code=status.HTTP_201_CREATED)
async def offer_service(
    agency_id: AgencyId, body: ServiceRequest, principal: Administrator, directory: DirectoryDep
) -> CommandResponse:
    """Offer a service for a domain of need, with its open places."""
    command = OfferService(**body.model_dump())
    return await _run(directory, principal, agency_id, command)


@router.post("/agencies/{agency_id}/services/{service_id}/withdraw")
async def withdraw_service(
    agency_id: AgencyId,
    service_id: ItemId,
    body: WithdrawalRequest,
    principal: Administrator,
    directory: DirectoryDep,
) -> CommandResponse:
    """Stop offering a service."""
    command = WithdrawService(service_id=service_id, reason=body.reason)
    return await _run(directory, principal, agency_id, command)


@router.put("/agencies/{agency_id}/services/{service_id}/capacity")
async def change_capacity(
    agency_id: AgencyId,
    service_id: ItemId,
    body: CapacityRequest,
    principal: Administrator,
    directory: DirectoryDep,
) -> CommandResponse:
    """Set a service's open places and waiting list (R12)."""
    command = ChangeCapacity(
        service_id=service_id, capacity=body.capacity, waiting_list=body.waiting_list
    )
    return await _run(directory, principal, agency_id, command)


@router.post("/agencies/{agency_id}/close")
async def close_agency(
    agency_id: AgencyId,
    body: ClosureRequest,
    principal: NetworkAdministrator,
    directory: DirectoryDep,
) -> CommandResponse:
    """Close an agency (network administrators); its open cases go to the closure service."""
    command = CloseAgency(closed_on=body.closed_on, reason=body.reason, today=agency_today())
    return await _run(directory, principal, agency_id, command)


@router.post("/agencies/{agency_id}/staff", status_code=status.HTTP_201_CREATED)
async def add_staff(
    agency_id: AgencyId, body: StaffRequest, principal: Administrator, directory: DirectoryDep
) -> CommandResponse:
    """Record a case manager or supervisor joining an agency."""
    command = AddStaff(**body.model_dump(), today=agency_today())
    return await _run(directory, principal, agency_id, command)


@router.put("/agencies/{agency_id}/staff/{staff_id}/caseload-limit")
async def change_caseload_limit(
    agency_id: AgencyId,
    staff_id: ItemId,
    body: CaseloadLimitRequest,
    principal: Administrator,
    directory: DirectoryDep,
) -> CommandResponse:
    """Change how many cases a staff member may carry (R12)."""
    command = ChangeCaseloadLimit(staff_id=staff_id, caseload_limit=body.caseload_limit)
    return await _run(directory, principal, agency_id, command)


@router.post("/agencies/{agency_id}/staff/{staff_id}/depart")
async def record_departure(
    agency_id: AgencyId,
    staff_id: ItemId,
    body: DepartureRequest,
    principal: Administrator,
    directory: DirectoryDep,
) -> CommandResponse:
    """Record a staff member leaving; their open cases go to the closure service."""
    command = RecordStaffDeparture(
        staff_id=staff_id, departed_on=body.departed_on, reason=body.reason, today=agency_today()
    )
    return await _run(directory, principal, agency_id, command)


# --- the network's own members (network administrators) -------------------------------------


@router.post("/network/members", status_code=status.HTTP_201_CREATED)
async def enroll_network_member(
    body: NetworkMemberRequest, principal: NetworkAdministrator, directory: DirectoryDep
) -> CommandResponse:
    """Enroll a network administrator, auditor or system account (agency `network`)."""
    command = EnrollNetworkMember(**body.model_dump(), today=agency_today())
    return command_response(NETWORK, await handle_network(directory, principal.actor(), command))


@router.post("/network/members/{staff_id}/leave")
async def record_network_member_leaving(
    staff_id: ItemId, body: LeavingRequest, principal: NetworkAdministrator, directory: DirectoryDep
) -> CommandResponse:
    """Record a network member leaving: from that day their tokens are refused."""
    command = RecordNetworkMemberLeaving(
        staff_id=staff_id, left_on=body.left_on, reason=body.reason, today=agency_today()
    )
    return command_response(NETWORK, await handle_network(directory, principal.actor(), command))


# --- queries (any authenticated staff member) -----------------------------------------------


@router.get("/agencies")
async def list_agencies(
    principal: Authenticated,
    directory: DirectoryDep,
    region: Annotated[PlainText | None, Query(max_length=200)] = None,
) -> list[AgencySummary]:
    """Every agency of the network, optionally of one region."""
    return await directory.read_model.agencies(region=region)


@router.get("/agencies/{agency_id}")
async def get_agency(
    agency_id: AgencyId, principal: Authenticated, directory: DirectoryDep
) -> AgencyView:
    """An agency with its departments, services and staff (with caseloads)."""
    agency = await directory.read_model.agency(agency_id)
    if agency is None:
        raise NotFound(f"no agency {agency_id} in the directory")
    return agency


@router.get("/services")
async def find_services(
    principal: Authenticated,
    directory: DirectoryDep,
    need_domain: NeedDomain | None = None,
    with_room: bool = False,
    region: Annotated[PlainText | None, Query(max_length=200)] = None,
    agency_id: Annotated[PlainText | None, Query(max_length=64)] = None,
) -> list[ServiceView]:
    """Who offers what: services of active agencies, optionally only those with room (R12)."""
    return await directory.read_model.services(
        need_domain=need_domain, with_room=with_room, region=region, agency_id=agency_id
    )


@router.get("/staff")
async def find_staff(
    principal: Authenticated,
    directory: DirectoryDep,
    agency_id: Annotated[PlainText | None, Query(max_length=64)] = None,
    role: StaffRole | None = None,
    with_room: bool = False,
    include_departed: bool = False,
) -> list[StaffView]:
    """Staff with caseloads; `with_room`: case managers under their limit (R12)."""
    return await directory.read_model.staff(
        agency_id=agency_id, role=role, with_room=with_room, include_departed=include_departed
    )
