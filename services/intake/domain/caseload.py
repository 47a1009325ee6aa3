"""A staff member's caseload against their limit (R12): who has room, who is overloaded.

Pure: the roster entry and the count of open cases arrive from intake's read model (the
directory's staff, limits, departures and closures, and intake's own case summaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.intake.domain.commands import RosterEntry
from shared.envelope import Role


@dataclass(frozen=True)
class StaffLoad:
    """A staff member on the roster with their caseload against their limit (R12)."""

    agency_id: str
    staff_id: str
    role: str
    caseload_limit: int
    department_id: str | None
    departed_on: date | None
    agency_closed_on: date | None
    caseload: int

    @property
    def active(self) -> bool:
        """Still with an agency that is still open."""
        return self.departed_on is None and self.agency_closed_on is None

    @property
    def room(self) -> int:
        """Cases they may still take without an override: 0 when full or no longer active."""
        return max(0, self.caseload_limit - self.caseload) if self.active else 0

    @property
    def overloaded(self) -> bool:
        """More cases than the limit (past it by a supervisor's override, or the limit fell)."""
        return self.caseload > self.caseload_limit

    @property
    def without_room(self) -> bool:
        """A case manager who takes no further case without a supervisor's override."""
        return self.role == Role.CASE_MANAGER.value and not self.room

    def roster_entry(self) -> RosterEntry:
        """What an assignment's rules are told about them."""
        return RosterEntry(
            staff_id=self.staff_id,
            agency_id=self.agency_id,
            role=self.role,
            active=self.active,
            caseload_limit=self.caseload_limit,
            caseload=self.caseload,
        )
