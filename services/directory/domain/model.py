"""The directory's rules on one agency's stream: the state they decide on, `decide`, `evolve`.

Pure: `decide(state, command)` returns the events a command leads to, or raises a
`DirectoryError` (`errors.py`) saying why not; it dispatches to one function per command
(`commands.py`), each a few lines a reader can check against docs/domain.md. `evolve(state,
event)` folds one recorded event (`events.py`) into the state and never refuses: what was
recorded happened. Nothing here reads a clock, a database or a broker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Literal

from services.directory.domain.checks import require_sensible_date, require_text
from services.directory.domain.commands import (
    AddDepartment,
    AddStaff,
    AgencyCommand,
    ChangeCapacity,
    ChangeCaseloadLimit,
    CloseAgency,
    DirectoryCommand,
    OfferService,
    RecordStaffDeparture,
    RegisterAgency,
    WithdrawService,
)
from services.directory.domain.errors import (
    R12,
    AgencyAlreadyRegistered,
    AgencyIsClosed,
    AgencyNotRegistered,
    DuplicateId,
    InvalidCapacity,
    InvalidCaseloadLimit,
    InvalidDate,
    ReservedId,
    StaffNotActive,
    UnknownDepartment,
    UnknownService,
    UnknownStaff,
)
from services.directory.domain.events import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    CaseloadLimitChanged,
    DepartmentAdded,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
    StaffRole,
)
from shared.envelope import NETWORK, DomainEvent
from shared.vocabulary import NeedDomain, ResourceKind

# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Department:
    """A department of the agency."""

    department_id: str
    name: str


@dataclass(frozen=True)
class OfferedService:
    """A service the agency offers or once offered."""

    service_id: str
    name: str
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: str | None
    capacity: int
    waiting_list: int = 0
    withdrawn: bool = False


@dataclass(frozen=True)
class StaffMember:
    """A case manager, supervisor or agency administrator of the agency, present or departed."""

    staff_id: str
    name: str
    role: StaffRole
    caseload_limit: int
    department_id: str | None
    joined_on: date
    departed_on: date | None = None

    @property
    def active(self) -> bool:
        """Whether the member is still with the agency."""
        return self.departed_on is None


@dataclass(frozen=True)
class Agency:
    """One agency as its stream tells it; `Agency()` is the state before registration."""

    agency_id: str | None = None
    name: str = ""
    region: str = ""
    registered_on: date | None = None
    """None for an agency registered before the day was recorded (AgencyRegistered v1)."""
    closed_on: date | None = None
    departments: Mapping[str, Department] = field(default_factory=lambda: MappingProxyType({}))
    services: Mapping[str, OfferedService] = field(default_factory=lambda: MappingProxyType({}))
    staff: Mapping[str, StaffMember] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def registered(self) -> bool:
        """Whether the agency has been registered."""
        return self.agency_id is not None

    @property
    def closed(self) -> bool:
        """Whether the agency has closed."""
        return self.closed_on is not None

    @property
    def status(self) -> Literal["unregistered", "active", "closed"]:
        """The agency's status in the network."""
        if not self.registered:
            return "unregistered"
        return "closed" if self.closed else "active"

    def with_department(self, department: Department) -> Agency:
        """This state with a department added or replaced."""
        departments = {**self.departments, department.department_id: department}
        return replace(self, departments=MappingProxyType(departments))

    def with_service(self, service: OfferedService) -> Agency:
        """This state with a service added or replaced."""
        return replace(
            self, services=MappingProxyType({**self.services, service.service_id: service})
        )

    def with_staff(self, member: StaffMember) -> Agency:
        """This state with a staff member added or replaced."""
        return replace(self, staff=MappingProxyType({**self.staff, member.staff_id: member}))


# --- decide --------------------------------------------------------------------------------


def decide(state: Agency, command: AgencyCommand) -> list[DomainEvent]:
    """The events `command` leads to in `state`, or a `DirectoryError` saying why not."""
    if isinstance(command, RegisterAgency):
        return _register(state, command)
    if not state.registered:
        raise AgencyNotRegistered(
            f"agency is not registered: register it before {_describe(command)}"
        )
    if state.closed:
        raise AgencyIsClosed(
            f"agency {state.agency_id} closed on {state.closed_on}: "
            f"it cannot take {_describe(command)}"
        )
    match command:
        case AddDepartment():
            return _add_department(state, command)
        case OfferService():
            return _offer_service(state, command)
        case WithdrawService():
            return _withdraw_service(state, command)
        case ChangeCapacity():
            return _change_capacity(state, command)
        case CloseAgency():
            return _close(state, command)
        case AddStaff():
            return _add_staff(state, command)
        case ChangeCaseloadLimit():
            return _change_caseload_limit(state, command)
        case RecordStaffDeparture():
            return _record_departure(state, command)
    raise TypeError(f"not a directory command: {command!r}")  # pragma: no cover


def _describe(command: DirectoryCommand) -> str:
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in type(command).__name__)
    return f"the command to{words}"


def _register(state: Agency, command: RegisterAgency) -> list[DomainEvent]:
    if state.registered:
        raise AgencyAlreadyRegistered(f"agency {state.agency_id} is already registered")
    if command.agency_id == NETWORK:
        raise ReservedId(
            f"{NETWORK!r} is the network's own id: its members are enrolled, not registered"
        )
    require_text(agency_id=command.agency_id, name=command.name, region=command.region)
    return [
        AgencyRegistered(
            agency_id=command.agency_id,
            name=command.name,
            region=command.region,
            registered_on=command.registered_on,
        )
    ]


def _close(state: Agency, command: CloseAgency) -> list[DomainEvent]:
    require_text(reason=command.reason)
    if state.registered_on is not None and command.closed_on < state.registered_on:
        raise InvalidDate(
            f"agency {state.agency_id} cannot close on {command.closed_on}: it was registered "
            f"on {state.registered_on}"
        )
    require_sensible_date(f"agency {state.agency_id} closing", command.closed_on, command.today)
    return [AgencyClosed(closed_on=command.closed_on, reason=command.reason)]


def _add_department(state: Agency, command: AddDepartment) -> list[DomainEvent]:
    require_text(department_id=command.department_id, name=command.name)
    if command.department_id in state.departments:
        raise DuplicateId(
            f"agency {state.agency_id} already has a department {command.department_id}"
        )
    return [DepartmentAdded(department_id=command.department_id, name=command.name)]


def _require_department(state: Agency, department_id: str | None) -> None:
    if department_id is not None and department_id not in state.departments:
        raise UnknownDepartment(
            f"agency {state.agency_id} has no department {department_id}: add it first"
        )


def _require_places(capacity: int, waiting_list: int = 0) -> None:
    if capacity < 0:
        raise InvalidCapacity(
            f"open places cannot be negative (got {capacity}); a full service has 0 places "
            "and a waiting list",
            rule=R12,
        )
    if waiting_list < 0:
        raise InvalidCapacity(f"a waiting list cannot be negative (got {waiting_list})", rule=R12)


def _offer_service(state: Agency, command: OfferService) -> list[DomainEvent]:
    require_text(service_id=command.service_id, name=command.name)
    if command.service_id in state.services:
        raise DuplicateId(
            f"agency {state.agency_id} already has a service {command.service_id} "
            "(service ids are never reused, even after withdrawal)"
        )
    _require_department(state, command.department_id)
    _require_places(command.capacity)
    return [
        ServiceOffered(
            service_id=command.service_id,
            name=command.name,
            need_domain=command.need_domain,
            resource=command.resource,
            department_id=command.department_id,
            capacity=command.capacity,
        )
    ]


def _offered(state: Agency, service_id: str) -> OfferedService:
    service = state.services.get(service_id)
    if service is None:
        raise UnknownService(f"agency {state.agency_id} offers no service {service_id}")
    if service.withdrawn:
        raise UnknownService(f"service {service_id} of agency {state.agency_id} has been withdrawn")
    return service


def _withdraw_service(state: Agency, command: WithdrawService) -> list[DomainEvent]:
    _offered(state, command.service_id)
    require_text(reason=command.reason)
    return [ServiceWithdrawn(service_id=command.service_id, reason=command.reason)]


def _change_capacity(state: Agency, command: ChangeCapacity) -> list[DomainEvent]:
    service = _offered(state, command.service_id)
    _require_places(command.capacity, command.waiting_list)
    if (service.capacity, service.waiting_list) == (command.capacity, command.waiting_list):
        return []  # nothing changed: nothing to record
    return [
        CapacityChanged(
            service_id=command.service_id,
            capacity=command.capacity,
            waiting_list=command.waiting_list,
        )
    ]


def _require_caseload_limit(role: StaffRole, limit: int, staff_id: str) -> None:
    if limit < 0:
        raise InvalidCaseloadLimit(
            f"the caseload limit of {staff_id} cannot be negative (got {limit})", rule=R12
        )
    if role == "case_manager" and limit < 1:
        raise InvalidCaseloadLimit(
            f"case manager {staff_id} needs a caseload limit of at least 1 (got {limit}): "
            "the limit is what keeps a manager from overload",
            rule=R12,
        )


def _add_staff(state: Agency, command: AddStaff) -> list[DomainEvent]:
    require_text(staff_id=command.staff_id, name=command.name)
    if command.staff_id in state.staff:
        raise DuplicateId(
            f"agency {state.agency_id} already has a staff member {command.staff_id} "
            "(staff ids are never reused, even after departure)"
        )
    _require_department(state, command.department_id)
    require_sensible_date(
        f"staff member {command.staff_id} joining", command.joined_on, command.today
    )
    if command.caseload_limit is None:
        if command.role == "case_manager":
            raise InvalidCaseloadLimit(
                f"case manager {command.staff_id} needs a caseload limit", rule=R12
            )
        limit = 0
    else:
        limit = command.caseload_limit
    _require_caseload_limit(command.role, limit, command.staff_id)
    return [
        StaffJoined(
            staff_id=command.staff_id,
            name=command.name,
            role=command.role,
            caseload_limit=limit,
            department_id=command.department_id,
            joined_on=command.joined_on,
        )
    ]


def _active_member(state: Agency, staff_id: str) -> StaffMember:
    member = state.staff.get(staff_id)
    if member is None:
        raise UnknownStaff(f"agency {state.agency_id} has no staff member {staff_id}")
    if not member.active:
        raise StaffNotActive(
            f"staff member {staff_id} of agency {state.agency_id} departed on {member.departed_on}"
        )
    return member


def _change_caseload_limit(state: Agency, command: ChangeCaseloadLimit) -> list[DomainEvent]:
    member = _active_member(state, command.staff_id)
    _require_caseload_limit(member.role, command.caseload_limit, command.staff_id)
    if member.caseload_limit == command.caseload_limit:
        return []
    return [CaseloadLimitChanged(staff_id=command.staff_id, caseload_limit=command.caseload_limit)]


def _record_departure(state: Agency, command: RecordStaffDeparture) -> list[DomainEvent]:
    member = _active_member(state, command.staff_id)
    require_text(reason=command.reason)
    require_sensible_date(
        f"staff member {command.staff_id} departing", command.departed_on, command.today
    )
    if command.departed_on < member.joined_on:
        raise InvalidDate(
            f"staff member {command.staff_id} cannot depart on {command.departed_on}, "
            f"before joining on {member.joined_on}"
        )
    return [
        StaffDeparted(
            staff_id=command.staff_id, departed_on=command.departed_on, reason=command.reason
        )
    ]


# --- evolve --------------------------------------------------------------------------------


def evolve(state: Agency, event: DomainEvent) -> Agency:
    """The state after one recorded event; events of other kinds leave it unchanged."""
    match event:
        case AgencyRegistered():
            return replace(
                state,
                agency_id=event.agency_id,
                name=event.name,
                region=event.region,
                registered_on=event.registered_on,
            )
        case DepartmentAdded():
            return state.with_department(Department(event.department_id, event.name))
        case ServiceOffered():
            return state.with_service(
                OfferedService(
                    service_id=event.service_id,
                    name=event.name,
                    need_domain=event.need_domain,
                    resource=event.resource,
                    department_id=event.department_id,
                    capacity=event.capacity,
                )
            )
        case ServiceWithdrawn():
            service = state.services.get(event.service_id)
            if service is None:
                return state
            return state.with_service(replace(service, withdrawn=True))
        case CapacityChanged():
            service = state.services.get(event.service_id)
            if service is None:
                return state
            return state.with_service(
                replace(service, capacity=event.capacity, waiting_list=event.waiting_list)
            )
        case AgencyClosed():
            return replace(state, closed_on=event.closed_on)
        case StaffJoined():
            return state.with_staff(
                StaffMember(
                    staff_id=event.staff_id,
                    name=event.name,
                    role=event.role,
                    caseload_limit=event.caseload_limit,
                    department_id=event.department_id,
                    joined_on=event.joined_on,
                )
            )
        case CaseloadLimitChanged():
            member = state.staff.get(event.staff_id)
            if member is None:
                return state
            return state.with_staff(replace(member, caseload_limit=event.caseload_limit))
        case StaffDeparted():
            member = state.staff.get(event.staff_id)
            if member is None:
                return state
            return state.with_staff(replace(member, departed_on=event.departed_on))
    return state


def replay(events: Iterable[DomainEvent]) -> Agency:
    """The state a whole stream leads to."""
    state = Agency()
    for event in events:
        state = evolve(state, event)
    return state
