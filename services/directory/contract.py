"""The directory's public contract: the events it publishes on caseline.directory.v1.

Other services read the network (agencies, their services and capacity, staff, closures)
through these classes and declare the ones they read (`ConsumerSpec.reads`); they never
import the directory's domain model.
"""

from services.directory.domain.events import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    CaseloadLimitChanged,
    DepartmentAdded,
    DirectoryEvent,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
)

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
)
"""Every event type the directory publishes."""

__all__ = [
    "PUBLISHED",
    "AgencyClosed",
    "AgencyRegistered",
    "CapacityChanged",
    "CaseloadLimitChanged",
    "DepartmentAdded",
    "DirectoryEvent",
    "ServiceOffered",
    "ServiceWithdrawn",
    "StaffDeparted",
    "StaffJoined",
]
