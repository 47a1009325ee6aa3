"""What the directory can be asked to do: one frozen command class per request.

Commands are in the imperative and carry what the rules decide on, nothing more. Dates
that a rule compares with "today" carry `today` too (the caller reads the agencies'
calendar, `shared.clock.agency_today`), so `decide` stays pure and a test can fix the day.

Two streams take commands: an agency's own (`AgencyCommand`) and the network's, the
reserved agency `network` whose members are administrators, auditors and system accounts
(`NetworkCommand`). Both sets live here so that this one page lists everything the
directory can be asked.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from services.directory.domain.events import NetworkRole, StaffRole
from shared.vocabulary import NeedDomain, ResourceKind


class DirectoryCommand(BaseModel):
    """Base of every directory command: frozen, and unknown fields are a programming error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- an agency's stream ----------------------------------------------------------------------


class RegisterAgency(DirectoryCommand):
    """Register an agency in the network, on the day it joins."""

    agency_id: str
    name: str
    region: str
    registered_on: date


class AddDepartment(DirectoryCommand):
    """Add a department to the agency."""

    department_id: str
    name: str


class OfferService(DirectoryCommand):
    """Offer a service for a domain of need, with its open places."""

    service_id: str
    name: str
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: str | None = None
    capacity: int


class WithdrawService(DirectoryCommand):
    """Stop offering a service."""

    service_id: str
    reason: str


class ChangeCapacity(DirectoryCommand):
    """Record a service's open places and its waiting list (R12)."""

    service_id: str
    capacity: int
    waiting_list: int = 0


class CloseAgency(DirectoryCommand):
    """Close the agency (폐쇄)."""

    closed_on: date
    reason: str
    today: date


class AddStaff(DirectoryCommand):
    """Record a case manager, supervisor or agency administrator joining the agency."""

    staff_id: str
    name: str
    role: StaffRole
    caseload_limit: int | None = None
    """Required (>= 1) for a case manager; a supervisor's or administrator's defaults to 0 (R12)."""
    department_id: str | None = None
    joined_on: date
    today: date


class ChangeCaseloadLimit(DirectoryCommand):
    """Change how many cases a staff member may carry (R12)."""

    staff_id: str
    caseload_limit: int


class RecordStaffDeparture(DirectoryCommand):
    """Record that a staff member left the agency (이직)."""

    staff_id: str
    departed_on: date
    reason: str
    today: date


AgencyCommand = (
    RegisterAgency
    | AddDepartment
    | OfferService
    | WithdrawService
    | ChangeCapacity
    | CloseAgency
    | AddStaff
    | ChangeCaseloadLimit
    | RecordStaffDeparture
)
"""Every command on one agency's stream (`domain.model.decide`)."""


# --- the network's own stream ----------------------------------------------------------------


class EnrollNetworkMember(DirectoryCommand):
    """Enroll a network administrator, auditor or system account in the network."""

    staff_id: str
    name: str
    role: NetworkRole
    enrolled_on: date
    today: date


class RecordNetworkMemberLeaving(DirectoryCommand):
    """Record that a member of the network left it."""

    staff_id: str
    left_on: date
    reason: str
    today: date


NetworkCommand = EnrollNetworkMember | RecordNetworkMemberLeaving
"""Every command on the network's stream (`domain.network.decide_network`)."""
