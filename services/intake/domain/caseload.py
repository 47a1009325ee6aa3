"""A staff member's caseload against their limit (R12): who has room, who may take a case.

Pure: the roster entry and the count of open cases arrive from intake's read model (the
directory's staff, limits, departures and closures, and intake's own case summaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.intake.domain.commands import RosterEntry
from services.intake.domain.errors import R12, CaseloadLimitReached, ManagerCannotTake
from services.intake.domain.events import OverrideReason
from shared.envelope import Role

_SUPERVISORS = frozenset({Role.SUPERVISOR})
"""Who may take a case manager past their caseload limit."""


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


def manager_can_take(
    case_agency_id: str | None,
    manager: RosterEntry,
    by_role: Role,
    override_reason: OverrideReason | None,
) -> bool:
    """R12: check the manager may take a case of the agency; return whether it takes an
    override (past the limit: a supervisor's, with a coded reason)."""
    if manager.agency_id != case_agency_id:
        raise ManagerCannotTake(
            f"staff {manager.staff_id!r} belongs to agency {manager.agency_id!r}, "
            f"not to the case's agency {case_agency_id!r}",
            rule=R12,
        )
    if manager.role != Role.CASE_MANAGER.value:
        raise ManagerCannotTake(
            f"staff {manager.staff_id!r} is a {manager.role}, not a case manager", rule=R12
        )
    if not manager.active:
        raise ManagerCannotTake(f"staff {manager.staff_id!r} has left the agency", rule=R12)
    after = manager.caseload + 1
    if after <= manager.caseload_limit:
        return False
    over = (
        f"staff {manager.staff_id!r} would carry {after} cases "
        f"with a caseload limit of {manager.caseload_limit}"
    )
    if by_role not in _SUPERVISORS:
        raise CaseloadLimitReached(f"{over}: only a supervisor may override the limit", rule=R12)
    if override_reason is None:
        raise CaseloadLimitReached(f"{over}: the supervisor's override needs a reason", rule=R12)
    return True
