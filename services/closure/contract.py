"""Closure's public contract: the events it publishes on caseline.closure.v1.

Intake reads `ReferralAccepted` (the target's intake opens a linked inbound-referral case)
and `CaseTerminated` (the manager's caseload falls); the directory reads `CaseTerminated`
for its caseload counts; projections and auditors read them all. Other services import these
classes, never closure's domain model.
"""

from services.closure.domain.events import (
    PUBLISHED,
    CaseTerminated,
    ClosureEvent,
    CoveredNeed,
    DeclineReason,
    PendingCause,
    Provider,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOverdue,
    ReferralPending,
    TerminationClass,
    TerminationReason,
)

__all__ = [
    "PUBLISHED",
    "CaseTerminated",
    "ClosureEvent",
    "CoveredNeed",
    "DeclineReason",
    "PendingCause",
    "Provider",
    "ReferralAccepted",
    "ReferralCompleted",
    "ReferralDeclined",
    "ReferralDeclinedByClient",
    "ReferralEscalated",
    "ReferralIssued",
    "ReferralOverdue",
    "ReferralPending",
    "TerminationClass",
    "TerminationReason",
]
