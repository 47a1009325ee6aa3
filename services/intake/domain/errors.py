"""Intake's refusals: one root, one class per kind of failure, the rule id given at each raise.

A kind says what went wrong (the case is at another stage, no consent allows it, the manager
has no room); the rule id (docs/domain.md) says which rule refused it, and travels in the 409
answer. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import NotFound, RuleViolation

R1 = "R1"
"""Stage order."""
R2 = "R2"
"""Screening: case management is for complex, multiple or chronic needs."""
R4 = "R4"
"""Client autonomy: consent governs who uses the client's information, for what."""
R11 = "R11"
"""Personal data: an erased client's data is gone for good."""
R12 = "R12"
"""Caseloads, and one person, one shared history."""


class IntakeError(RuleViolation):
    """Root of intake's refusals: a command the rules do not allow; nothing is written."""


class WrongStage(IntakeError):
    """The case is not at the stage the command belongs to (already open, skipped, left)."""


class NoClientYet(IntakeError):
    """The command needs the case's client, and none is registered yet."""


class NotTheCasesClient(IntakeError):
    """The client named is not the case's client."""


class ClientWasErased(IntakeError):
    """The client's personal data was erased; nothing more is done with it."""


class NotEligible(IntakeError):
    """Screening in needs complex, multiple or chronic needs."""


class NoConsent(IntakeError):
    """No consent of the client in force allows the agency this use of their information."""


class ConsentNotRecordable(IntakeError):
    """The consent cannot be recorded: its id is taken, or its period or agencies are wrong."""


class ConsentNotWithdrawable(IntakeError):
    """The consent named is not on the case, or was withdrawn already."""


class ManagerCannotTake(IntakeError):
    """The staff member named is not an active case manager of the case's agency, or carries it."""


class CaseloadLimitReached(IntakeError):
    """The case manager has no room: only a supervisor's override with a reason goes past it."""


class PossibleDuplicateClient(IntakeError):
    """A client with the same name and birth date exists; one person, one shared history."""

    def __init__(self, reason: str, possible_duplicates: Sequence[str], *, rule: str) -> None:
        super().__init__(reason, rule=rule)
        self.possible_duplicates = tuple(possible_duplicates)


class ReturningClientMismatch(IntakeError):
    """The client named as returning is not the person described (or was erased)."""


def no_client(client_id: str) -> NotFound:
    """The one answer for a client id nobody holds, or that the asking agency does not know.

    R11: telling the two apart would confirm that the person is known elsewhere.
    """
    return NotFound(f"no client {client_id!r}")


def no_case(case_id: str) -> NotFound:
    """The one answer for a case id that does not exist or belongs to another agency.

    R11: telling the two apart (403 naming the agency, or "already open") would confirm that
    a case exists elsewhere in the network and whose it is.
    """
    return NotFound(f"no case {case_id!r}")
