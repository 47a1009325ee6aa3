"""The directory's HTTP API: administrators change the network, any staff member reads it.

Routes only translate: a request body into a command, a principal into an actor, a result
into a response. The rules live in the domain, the reads in the read model.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.directory.adapters.read_model import (
    AgencySummary,
    AgencyView,
    DirectoryReadModel,
    ServiceView,
    StaffView,
)
from services.directory.application.handlers import agency_today, handle, handle_network
from services.directory.domain.events import NetworkRole, StaffRole
from services.directory.domain.model import (
    AddDepartment,
    AddStaff,
    Agency,
    AgencyCommand,
    ChangeCapacity,
    ChangeCaseloadLimit,
    CloseAgency,
    OfferService,
    RecordStaffDeparture,
    RegisterAgency,
    WithdrawService,
)
from services.directory.domain.network import (
    EnrollNetworkMember,
    Network,
    RecordNetworkMemberLeaving,
)
from services.directory.entrypoints.text import PlainText, Text
from shared.application import CommandContext, CommandResult, NotFound
from shared.auth import Authenticated, Principal, ensure_same_agency, require_roles
from shared.envelope import Role
from shared.identifiers import NoPersonalNumber
from shared.principals import NETWORK
from shared.service import RuntimeDep
from shared.vocabulary import NeedDomain, ResourceKind

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Ids travel in URLs, Kafka keys and `ce_source`: letters, digits and `._:-` only."""

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN),
    NoPersonalNumber,
]
AgencyId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]

Administrator = Annotated[Principal, Depends(require_roles(Role.NETWORK_ADMIN, Role.AGENCY_ADMIN))]
NetworkAdministrator = Annotated[Principal, Depends(require_roles(Role.NETWORK_ADMIN))]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, not ignored.

    Counts are `strict`: a JSON integer, never `true` (1), `"3"` or `3.0`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyRegistration(Body):
    """POST /agencies."""

    agency_id: Identifier
    name: Text
    region: Text


class DepartmentRequest(Body):
    """POST /agencies/{agency_id}/departments."""

    department_id: Identifier
    name: Text


class ServiceRequest(Body):
    """POST /agencies/{agency_id}/services."""

    service_id: Identifier
    name: Text
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: Identifier | None = None
    capacity: int = Field(strict=True, ge=0, le=100_000, description="Open places (R12).")


class WithdrawalRequest(Body):
    """POST /agencies/{agency_id}/services/{service_id}/withdraw."""

    reason: Text


class CapacityRequest(Body):
    """PUT /agencies/{agency_id}/services/{service_id}/capacity."""

    capacity: int = Field(strict=True, ge=0, le=100_000, description="Open places (R12).")
    waiting_list: int = Field(
        default=0, strict=True, ge=0, le=100_000, description="Clients waiting (R12)."
    )


class ClosureRequest(Body):
    """POST /agencies/{agency_id}/close."""

    closed_on: date
    reason: Text


class StaffRequest(Body):
    """POST /agencies/{agency_id}/staff."""

    staff_id: Identifier
    name: Text
    role: StaffRole
    caseload_limit: int | None = Field(
        default=None, strict=True, ge=0, le=1000, description="Required for case managers (R12)."
    )
    department_id: Identifier | None = None
    joined_on: date


class CaseloadLimitRequest(Body):
    """PUT /agencies/{agency_id}/staff/{staff_id}/caseload-limit."""

    caseload_limit: int = Field(strict=True, ge=0, le=1000)


class DepartureRequest(Body):
    """POST /agencies/{agency_id}/staff/{staff_id}/depart."""

    departed_on: date
    reason: Text


class NetworkMemberRequest(Body):
    """POST /network/members."""

    staff_id: Identifier
    name: Text
    role: NetworkRole
    enrolled_on: date


class LeavingRequest(Body):
    """POST /network/members/{staff_id}/leave."""

    left_on: date
    reason: Text


class RecordedEventView(BaseModel):
    """One event a command recorded."""

    event_id: str
    event_type: str
    stream_version: int


class CommandResponse(BaseModel):
    """What a command did: the agency's stream version and the events recorded (maybe none)."""

    agency_id: str
    stream_version: int
    status: Literal["unregistered", "active", "closed"]
    events: list[RecordedEventView]


def _response(
    agency_id: str, result: CommandResult[Agency] | CommandResult[Network]
) -> CommandResponse:
    return CommandResponse(
        agency_id=agency_id,
        stream_version=result.stream_version,
        status=result.state.status if isinstance(result.state, Agency) else "active",
        events=[
            RecordedEventView(
                event_id=str(e.metadata.event_id),
                event_type=e.envelope.event_type,
                stream_version=e.stream_version,
            )
            for e in result.recorded
        ],
    )


def directory_router(read_model: DirectoryReadModel) -> APIRouter:
    """The directory's routes, reading from `read_model`."""
    router = APIRouter(tags=["directory"])

    async def run(
        runtime: RuntimeDep, principal: Principal, agency_id: str, command: AgencyCommand
    ) -> CommandResponse:
        ensure_same_agency(principal, agency_id)
        context = CommandContext(agency_id=agency_id, actor=principal.actor())
        return _response(agency_id, await handle(runtime.store, context, command))

    # --- commands (administrators) ----------------------------------------------------------

    @router.post("/agencies", status_code=status.HTTP_201_CREATED)
    async def register_agency(
        body: AgencyRegistration, principal: NetworkAdministrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Register an agency in the network (network administrators)."""
        command = RegisterAgency(
            agency_id=body.agency_id,
            name=body.name,
            region=body.region,
            registered_on=agency_today(),
        )
        return await run(runtime, principal, body.agency_id, command)

    @router.post("/agencies/{agency_id}/departments", status_code=status.HTTP_201_CREATED)
    async def add_department(
        agency_id: AgencyId, body: DepartmentRequest, principal: Administrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Add a department to an agency."""
        command = AddDepartment(department_id=body.department_id, name=body.name)
        return await run(runtime, principal, agency_id, command)

    @router.post("/agencies/{agency_id}/services", status_code=status.HTTP_201_CREATED)
    async def offer_service(
        agency_id: AgencyId, body: ServiceRequest, principal: Administrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Offer a service for a domain of need, with its open places."""
        command = OfferService(**body.model_dump())
        return await run(runtime, principal, agency_id, command)

    @router.post("/agencies/{agency_id}/services/{service_id}/withdraw")
    async def withdraw_service(
        agency_id: AgencyId,
        service_id: ItemId,
        body: WithdrawalRequest,
        principal: Administrator,
        runtime: RuntimeDep,
    ) -> CommandResponse:
        """Stop offering a service."""
        command = WithdrawService(service_id=service_id, reason=body.reason)
        return await run(runtime, principal, agency_id, command)

    @router.put("/agencies/{agency_id}/services/{service_id}/capacity")
    async def change_capacity(
        agency_id: AgencyId,
        service_id: ItemId,
        body: CapacityRequest,
        principal: Administrator,
        runtime: RuntimeDep,
    ) -> CommandResponse:
        """Set a service's open places and waiting list (R12)."""
        command = ChangeCapacity(
            service_id=service_id, capacity=body.capacity, waiting_list=body.waiting_list
        )
        return await run(runtime, principal, agency_id, command)

    @router.post("/agencies/{agency_id}/close")
    async def close_agency(
        agency_id: AgencyId,
        body: ClosureRequest,
        principal: NetworkAdministrator,
        runtime: RuntimeDep,
    ) -> CommandResponse:
        """Close an agency (network administrators); its open cases go to the closure service."""
        command = CloseAgency(closed_on=body.closed_on, reason=body.reason, today=agency_today())
        return await run(runtime, principal, agency_id, command)

    @router.post("/agencies/{agency_id}/staff", status_code=status.HTTP_201_CREATED)
    async def add_staff(
        agency_id: AgencyId, body: StaffRequest, principal: Administrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Record a case manager or supervisor joining an agency."""
        command = AddStaff(**body.model_dump(), today=agency_today())
        return await run(runtime, principal, agency_id, command)

    @router.put("/agencies/{agency_id}/staff/{staff_id}/caseload-limit")
    async def change_caseload_limit(
        agency_id: AgencyId,
        staff_id: ItemId,
        body: CaseloadLimitRequest,
        principal: Administrator,
        runtime: RuntimeDep,
    ) -> CommandResponse:
        """Change how many cases a staff member may carry (R12)."""
        command = ChangeCaseloadLimit(staff_id=staff_id, caseload_limit=body.caseload_limit)
        return await run(runtime, principal, agency_id, command)

    @router.post("/agencies/{agency_id}/staff/{staff_id}/depart")
    async def record_departure(
        agency_id: AgencyId,
        staff_id: ItemId,
        body: DepartureRequest,
        principal: Administrator,
        runtime: RuntimeDep,
    ) -> CommandResponse:
        """Record a staff member leaving; their open cases go to the closure service."""
        command = RecordStaffDeparture(
            staff_id=staff_id,
            departed_on=body.departed_on,
            reason=body.reason,
            today=agency_today(),
        )
        return await run(runtime, principal, agency_id, command)

    # --- the network's own members (network administrators) ---------------------------------

    @router.post("/network/members", status_code=status.HTTP_201_CREATED)
    async def enroll_network_member(
        body: NetworkMemberRequest, principal: NetworkAdministrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Enroll a network administrator, auditor or system account (agency `network`)."""
        command = EnrollNetworkMember(**body.model_dump(), today=agency_today())
        return _response(NETWORK, await handle_network(runtime.store, principal.actor(), command))

    @router.post("/network/members/{staff_id}/leave")
    async def record_network_member_leaving(
        staff_id: ItemId, body: LeavingRequest, principal: NetworkAdministrator, runtime: RuntimeDep
    ) -> CommandResponse:
        """Record a network member leaving: from that day their tokens are refused."""
        command = RecordNetworkMemberLeaving(
            staff_id=staff_id, left_on=body.left_on, reason=body.reason, today=agency_today()
        )
        return _response(NETWORK, await handle_network(runtime.store, principal.actor(), command))

    # --- queries (any authenticated staff member) -------------------------------------------

    @router.get("/agencies")
    async def list_agencies(
        principal: Authenticated,
        runtime: RuntimeDep,
        region: Annotated[PlainText | None, Query(max_length=200)] = None,
    ) -> list[AgencySummary]:
        """Every agency of the network, optionally of one region."""
        return await read_model.agencies(runtime.pool, region=region)

    @router.get("/agencies/{agency_id}")
    async def get_agency(
        agency_id: AgencyId, principal: Authenticated, runtime: RuntimeDep
    ) -> AgencyView:
        """An agency with its departments, services and staff (with caseloads)."""
        agency = await read_model.agency(runtime.pool, agency_id)
        if agency is None:
            raise NotFound(f"no agency {agency_id} in the directory")
        return agency

    @router.get("/services")
    async def find_services(
        principal: Authenticated,
        runtime: RuntimeDep,
        need_domain: NeedDomain | None = None,
        with_room: bool = False,
        region: Annotated[PlainText | None, Query(max_length=200)] = None,
        agency_id: Annotated[PlainText | None, Query(max_length=64)] = None,
    ) -> list[ServiceView]:
        """Who offers what: services of active agencies, optionally only those with room (R12)."""
        return await read_model.services(
            runtime.pool,
            need_domain=need_domain,
            with_room=with_room,
            region=region,
            agency_id=agency_id,
        )

    @router.get("/staff")
    async def find_staff(
        principal: Authenticated,
        runtime: RuntimeDep,
        agency_id: Annotated[PlainText | None, Query(max_length=64)] = None,
        role: StaffRole | None = None,
        with_room: bool = False,
        include_departed: bool = False,
    ) -> list[StaffView]:
        """Staff with caseloads; `with_room`: case managers under their limit (R12)."""
        return await read_model.staff(
            runtime.pool,
            agency_id=agency_id,
            role=role,
            with_room=with_room,
            include_departed=include_departed,
        )

    return router
