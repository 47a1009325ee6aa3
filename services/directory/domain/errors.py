"""Why the directory refuses a command: one class per failure kind, under `DirectoryError`.

The class says what went wrong (a caller may act on it); the rule a refusal enforces is
not the class's but the raise's: each `raise` names it with `rule=` where a rule of
docs/domain.md is at stake, so one kind (a count below zero) can cite R12 where it guards
capacity and nothing where it guards an id. The runtime answers every `DirectoryError` with
409, the reason and the rule (`shared.service`); nothing is written.
"""

from __future__ import annotations

from shared.errors import RuleViolation

R12 = "R12"
"""Limited resources and caseload overload (docs/domain.md): capacity, waiting lists, limits."""


class DirectoryError(RuleViolation):
    """A directory command the rules refuse; nothing is written."""


class AgencyNotRegistered(DirectoryError):
    """The agency must be registered before anything else is recorded for it."""


class AgencyAlreadyRegistered(DirectoryError):
    """An agency is registered once."""


class ReservedId(DirectoryError):
    """The id `network` names the network itself, never an agency."""


class AgencyIsClosed(DirectoryError):
    """A closed agency takes no further command."""


class DuplicateId(DirectoryError):
    """A department, service or staff id is already used within the agency."""


class UnknownDepartment(DirectoryError):
    """The department named is not one of the agency's."""


class UnknownService(DirectoryError):
    """The service named is not offered by the agency (or was withdrawn)."""


class UnknownStaff(DirectoryError):
    """The staff member named never joined the agency."""


class StaffNotActive(DirectoryError):
    """The staff member has already departed."""


class InvalidCapacity(DirectoryError):
    """Open places and waiting lists are counts: never negative (R12)."""


class InvalidCaseloadLimit(DirectoryError):
    """A case manager's caseload limit is at least one case; no limit is negative (R12)."""


class InvalidDate(DirectoryError):
    """A date that contradicts the record, such as a departure before joining."""


class InvalidName(DirectoryError):
    """A name, region or reason that is blank."""
