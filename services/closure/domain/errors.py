"""Why closure refuses a command: one root, one class per kind of failure.

Every raise names the rule (`rule=`) and, where the stage order (R1) is at stake, the next
step to take. Nothing is written when one is raised.
"""

from __future__ import annotations

from shared.errors import RuleViolation

R1 = "R1"
R4 = "R4"
R8 = "R8"
R9 = "R9"
R10 = "R10"


class ClosureError(RuleViolation):
    """A closure command the rules refuse; nothing is written."""


class CaseNotOpen(ClosureError):
    """Intake has not opened the case here yet, so there is nothing to end (R1)."""


class CaseAlreadyTerminated(ClosureError):
    """A terminated case takes no further closure command (R8)."""


class EvaluationMissing(ClosureError):
    """A planned termination comes after an evaluation that permits it (R1, R8)."""


class PreparationMissing(ClosureError):
    """A planned termination needs the R10 preparation recorded first."""


class PreparationIncomplete(ClosureError):
    """The R10 preparation leaves a step undone."""


class ApprovalMissing(ClosureError):
    """A planned termination needs a supervisor's approval (R8)."""


class ReferralAnswerMissing(ClosureError):
    """A client ending care is offered a referral, and their answer is recorded (R8)."""


class ReferralAnswerNotAsked(ClosureError):
    """Only a client-initiated termination records an answer to a referral offer (R8)."""


class NoSuchReferral(ClosureError):
    """The referral named is not this case's open referral (R9)."""


class ReferralNotAwaitingAnswer(ClosureError):
    """Only an issued referral can be accepted, declined by its target or go overdue (R9)."""


class NotTheTarget(ClosureError):
    """Only the agency a referral was issued to answers it (R9)."""


class ReferralAlreadySettled(ClosureError):
    """The referral was accepted or declined by the client: nothing more changes it (R4, R9)."""
