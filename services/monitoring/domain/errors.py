"""Why monitoring refuses a command: one root, one class per kind of failure.

Every raise names the rule (`rule=`) and, where the stage order (R1) is at stake, the next
step to take. `IncompleteAnswers` is the one refusal about the request's shape rather than
the case's state: the HTTP layer answers it 422, naming the field, never the values.
"""

from __future__ import annotations

from shared.errors import RuleViolation

R1 = "R1"
R4 = "R4"
R6D = "R6d"
R7 = "R7"
R8 = "R8"
R11 = "R11"


class MonitoringError(RuleViolation):
    """A monitoring command the rules refuse; nothing is written."""


class NotYetMonitored(MonitoringError):
    """The stage before is not done: no manager assigned, or no plan version in force (R1)."""


class CaseEnded(MonitoringError):
    """Closure terminated the case: it takes no further monitoring command (R8)."""


class RevisionPending(MonitoringError):
    """New needs sent the case back to planning: evaluation waits for the revised version (R1)."""


class IncompleteAnswers(MonitoringError):
    """A review or an evaluation leaves a goal or item of the version in force unanswered, or
    answers one that is not in it (R6d, R7)."""

    def __init__(self, reason: str, *, rule: str, field: str) -> None:
        super().__init__(reason, rule=rule)
        self.field = field


class ActionRequired(MonitoringError):
    """The client or the manager is not satisfied and no action (or no reason to go on) was
    given (R6d)."""


class InconsistentNewNeeds(MonitoringError):
    """New needs answered yes without the need domains, or no with some (R6d q4)."""


class NotTheAssignedManager(MonitoringError):
    """Only the case's assigned manager records a home visit (R6d)."""


class DateOutOfRange(MonitoringError):
    """A date in the future, or one the record contradicts (a next review not after today)."""


class DuplicateRecord(MonitoringError):
    """A review, visit, form or evaluation id is used once per case."""


class NoMonitoringConsent(MonitoringError):
    """No consent in force lets the case's agency send follow-up forms to the client (R4)."""


class UnknownForm(MonitoringError):
    """The form named was never sent."""


class FormAlreadyReturned(MonitoringError):
    """A form is returned once."""


class NothingToFollowUp(MonitoringError):
    """Only a returned form with a negative answer is followed up, and once (R6d)."""


class UnknownReview(MonitoringError):
    """A follow-up by review names a review recorded on or after the form's return."""


class UnknownInstrument(MonitoringError):
    """The instrument is not in the registry, or the score is outside its range (R7)."""


class BaselineMissing(MonitoringError):
    """An instrument is scored at evaluation without a baseline from plan activation on (R7)."""


class NoReviewYet(MonitoringError):
    """Evaluation needs at least one review of the version in force (R7)."""


class ClientUnknown(MonitoringError):
    """Words about the client go to the vault under their id, which intake has not told yet."""
