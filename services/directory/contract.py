"""The directory's public contract: the events it publishes on caseline.directory.v1.

Other services read the network (agencies, their services and capacity, staff, closures)
through these classes and declare the ones they read (`ConsumerSpec.reads`); they never
import the directory's domain model. `record_principals` is the one mapping of these events
onto the kit's principals projection (`shared.principals`), which every service that reads
the directory keeps to check its requests' tokens.
"""

import asyncpg

from services.directory.domain.events import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    CaseloadLimitChanged,
    DepartmentAdded,
    DirectoryEvent,
    NetworkMemberEnrolled,
    NetworkMemberLeft,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
)
from shared import principals
from shared.codec import ReceivedEvent

PUBLISHED: tuple[type[DirectoryEvent], ...] = (
    AgencyRegistered,
    DepartmentAdded,
    ServiceOffered,
    ServiceWithdrawn,
    CapacityChanged,
    AgencyClosed,
    StaffJoined,
    CaseloadLimitChanged,
    StaffDeparted,
    NetworkMemberEnrolled,
    NetworkMemberLeft,
)
"""Every event type the directory publishes."""

PRINCIPAL_EVENTS: tuple[type[DirectoryEvent], ...] = (
    AgencyRegistered,
    AgencyClosed,
    StaffJoined,
    StaffDeparted,
    NetworkMemberEnrolled,
    NetworkMemberLeft,
)
"""The events that say who may act: a consumer calling `record_principals` reads these."""


async def record_principals(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """Apply one directory event to the principals projection, on `conn` (the consumer's
    transaction); events that do not change who may act leave it as it is."""
    agency_id = event.envelope.metadata.case_id  # a directory stream is one agency
    match event.envelope.payload:
        case AgencyRegistered():
            await principals.record_agency_registered(conn, agency_id)
        case AgencyClosed() as closed:
            await principals.record_agency_closed(conn, agency_id, closed.closed_on)
        case StaffJoined() as joined:
            await principals.record_member_joined(
                conn, agency_id, joined.staff_id, joined.role, joined.joined_on
            )
        case StaffDeparted() as departed:
            await principals.record_member_departed(
                conn, agency_id, departed.staff_id, departed.departed_on
            )
        case NetworkMemberEnrolled() as enrolled:
            await principals.record_agency_registered(conn, principals.NETWORK)
            await principals.record_member_joined(
                conn, principals.NETWORK, enrolled.staff_id, enrolled.role, enrolled.enrolled_on
            )
        case NetworkMemberLeft() as left:
            await principals.record_member_departed(
                conn, principals.NETWORK, left.staff_id, left.left_on
            )


__all__ = [
    "PRINCIPAL_EVENTS",
    "PUBLISHED",
    "AgencyClosed",
    "AgencyRegistered",
    "CapacityChanged",
    "CaseloadLimitChanged",
    "DepartmentAdded",
    "DirectoryEvent",
    "NetworkMemberEnrolled",
    "NetworkMemberLeft",
    "ServiceOffered",
    "ServiceWithdrawn",
    "StaffDeparted",
    "StaffJoined",
    "record_principals",
]
