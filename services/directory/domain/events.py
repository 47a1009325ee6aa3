"""Events the directory records on `caseline.directory.v1`: the network of agencies and staff.

One stream per agency: the envelope's `case_id` holds the agency id, and so does the Kafka
key. Agency closure and staff departure are the triggers the closure service acts on.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from shared.envelope import DomainEvent, registry
from shared.vocabulary import NeedDomain, ResourceKind

StaffRole = Literal["case_manager", "supervisor", "agency_admin"]
"""The roles staff of an agency hold."""

NetworkRole = Literal["network_admin", "auditor", "system"]
"""The roles members of the network itself hold (the reserved agency `network`)."""


class DirectoryEvent(DomainEvent):
    """Base of every directory event."""

    service = "directory"


@registry.register
class AgencyRegistered(DirectoryEvent):
    """An agency joined the network (v2: on which day; no agency closes before it)."""

    schema_version = 2

    agency_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    region: str = Field(min_length=1)
    registered_on: date | None = Field(
        default=None, description="The agencies' calendar day; None when registered under v1."
    )


@registry.upcaster(AgencyRegistered, from_version=1)
def _agency_registered_v1_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 did not record the day; the event's timestamp is not the payload's to read.
    return {**payload, "registered_on": None}


@registry.register
class DepartmentAdded(DirectoryEvent):
    """An agency added a department (a possible referral target of its own, R9)."""

    department_id: str = Field(min_length=1)
    name: str = Field(min_length=1)


@registry.register
class ServiceOffered(DirectoryEvent):
    """An agency (or one of its departments) offers a service for a domain of need."""

    service_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: str | None = None
    capacity: int = Field(ge=0, description="Open places.")


@registry.register
class ServiceWithdrawn(DirectoryEvent):
    """An agency no longer offers a service."""

    service_id: str = Field(min_length=1)
    reason: str = Field(min_length=1)


@registry.register
class CapacityChanged(DirectoryEvent):
    """A service's open places and waiting list changed (R12: when full, clients wait)."""

    service_id: str = Field(min_length=1)
    capacity: int = Field(ge=0, description="Open places.")
    waiting_list: int = Field(ge=0, description="Clients waiting for a place.")


@registry.register
class AgencyClosed(DirectoryEvent):
    """An agency closed (폐쇄): its open cases must be reassigned, terminated and referred."""

    closed_on: date
    reason: str = Field(min_length=1)


@registry.register
class StaffJoined(DirectoryEvent):
    """A case manager, supervisor or agency administrator joined an agency."""

    staff_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    role: StaffRole
    caseload_limit: int = Field(ge=0, description="Cases the member may carry (R12).")
    department_id: str | None = None
    joined_on: date


@registry.register
class CaseloadLimitChanged(DirectoryEvent):
    """A staff member's caseload limit changed (R12)."""

    staff_id: str = Field(min_length=1)
    caseload_limit: int = Field(ge=0)


@registry.register
class StaffDeparted(DirectoryEvent):
    """A staff member left the agency (이직): their open cases must be reassigned or referred."""

    staff_id: str = Field(min_length=1)
    departed_on: date
    reason: str = Field(min_length=1)


@registry.register
class NetworkMemberEnrolled(DirectoryEvent):
    """A network administrator, auditor or system account joined the network itself.

    On the stream of the reserved agency `network`, never on an agency's.
    """

    staff_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    role: NetworkRole
    enrolled_on: date


@registry.register
class NetworkMemberLeft(DirectoryEvent):
    """A member of the network itself left: from `left_on` their tokens are refused."""

    staff_id: str = Field(min_length=1)
    left_on: date
    reason: str = Field(min_length=1)
