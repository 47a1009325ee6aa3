"""Intake's public contract: the events it publishes on caseline.intake.v1.

Other services read cases (found, consented, assessed, assigned, reassigned, erased) through
these classes and declare the ones they read (`ConsumerSpec.reads`); they never import
intake's domain model.
"""

from services.intake.domain.events import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseloadOverrideRecorded,
    CaseReassigned,
    CaseScreenedIn,
    CaseScreenedOut,
    CaseSource,
    ClientErased,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    ConsentWithdrawn,
    IntakeEvent,
    OverrideReason,
    PossibleDuplicateAcknowledged,
    ReassignmentReason,
    Risk,
    Severity,
)

PUBLISHED: tuple[type[IntakeEvent], ...] = (
    CaseFound,
    PossibleDuplicateAcknowledged,
    ClientRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    CaseScreenedIn,
    CaseScreenedOut,
    CaseAssessed,
    CaseAssigned,
    CaseReassigned,
    CaseloadOverrideRecorded,
    ClientErased,
)
"""Every event type intake publishes."""

__all__ = [
    "PUBLISHED",
    "AssessedNeed",
    "CaseAssessed",
    "CaseAssigned",
    "CaseFound",
    "CaseReassigned",
    "CaseScreenedIn",
    "CaseScreenedOut",
    "CaseSource",
    "CaseloadOverrideRecorded",
    "ClientErased",
    "ClientRegistered",
    "ConsentPurpose",
    "ConsentRecorded",
    "ConsentWithdrawn",
    "IntakeEvent",
    "OverrideReason",
    "PossibleDuplicateAcknowledged",
    "ReassignmentReason",
    "Risk",
    "Severity",
]
