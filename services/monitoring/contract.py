"""Monitoring's public contract: the events it publishes on caseline.monitoring.v1.

Careplan reads `PlanRevisionRequired` (a review found new needs: the case goes back to
planning); closure reads `EvaluationRecorded` (a planned termination needs an evaluation that
permits it). Other services import these classes, never monitoring's domain model.
"""

from services.monitoring.domain.events import (
    PUBLISHED,
    BaselineRecorded,
    EvaluationRecorded,
    FollowUpKind,
    FormFollowedUp,
    FormOverdue,
    FormReturned,
    FormSent,
    GoalRated,
    GoalRating,
    HomeVisitRecorded,
    InstrumentResult,
    ItemDelayed,
    MonitoringEvent,
    PlanRevisionRequired,
    ReviewOverdue,
    ReviewRecorded,
)

__all__ = [
    "PUBLISHED",
    "BaselineRecorded",
    "EvaluationRecorded",
    "FollowUpKind",
    "FormFollowedUp",
    "FormOverdue",
    "FormReturned",
    "FormSent",
    "GoalRated",
    "GoalRating",
    "HomeVisitRecorded",
    "InstrumentResult",
    "ItemDelayed",
    "MonitoringEvent",
    "PlanRevisionRequired",
    "ReviewOverdue",
    "ReviewRecorded",
]
