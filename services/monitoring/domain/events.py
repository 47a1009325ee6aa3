"""Events the monitoring service records on `caseline.monitoring.v1` (stages 5 and 6).

One stream per case (the intake case id). Events carry ids, dates and codes only: a review's
notes, a visit's observations and a returned form's answers are sealed in monitoring's vault
under the client's key. What monitoring learns from intake and careplan is recorded in its own
stream too (`...Learned` events), so its rules decide on one folded state and every decision
can be replayed from this service's history alone.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.envelope import DomainEvent, registry
from shared.vocabulary import NeedDomain


class MonitoringEvent(DomainEvent):
    """Base of every monitoring event."""

    service = "monitoring"


class _Part(BaseModel):
    """A frozen value inside an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- codes -----------------------------------------------------------------------------


class Implementation(IntEnum):
    """R6d q1: how far the plan was carried out as agreed (1 not at all .. 5 fully)."""

    NOT_AT_ALL = 1
    LITTLE = 2
    PARTLY = 3
    MOSTLY = 4
    FULLY = 5


class GoalProgress(StrEnum):
    """R6d q2: was the goal reached, so far."""

    REACHED = "reached"
    PROGRESSING = "progressing"
    NOT_REACHED = "not_reached"


class ItemFit(StrEnum):
    """R6d q3: was the service or support appropriate."""

    APPROPRIATE = "appropriate"
    PARTLY_APPROPRIATE = "partly_appropriate"
    NOT_APPROPRIATE = "not_appropriate"


class ReviewAction(StrEnum):
    """What is done when the client or the manager is not satisfied (R6d)."""

    REVISE_PLAN = "revise_plan"
    ADVOCATE = "advocate"
    CONTINUE = "continue"


class ContinueReason(StrEnum):
    """Why the plan continues unchanged although someone is not satisfied (R6d)."""

    SERVICE_JUST_STARTED = "service_just_started"
    CLIENT_CHOSE_TO_CONTINUE = "client_chose_to_continue"
    WAITING_FOR_PLACE = "waiting_for_place"
    ADJUSTED_WITHIN_PLAN = "adjusted_within_plan"


class FollowUpKind(StrEnum):
    """What answered a negative form answer (R6d aftercare)."""

    CONTACT = "contact"
    REVIEW = "review"
    REVISION = "revision"


class GoalRating(StrEnum):
    """R7: how far an outcome goal was achieved."""

    ACHIEVED = "achieved"
    PARTLY = "partly"
    NOT_ACHIEVED = "not_achieved"


class ItemProgress(StrEnum):
    """Where a plan item stands, as careplan reported it."""

    PLANNED = "planned"
    DELIVERED = "delivered"
    NOT_RECEIVED = "not_received"
    DECLINED = "declined"


# --- values ----------------------------------------------------------------------------


class GoalAnswer(_Part):
    """R6d q2 for one goal."""

    goal_id: str = Field(min_length=1)
    progress: GoalProgress


class ItemAnswer(_Part):
    """R6d q3 for one item."""

    item_id: str = Field(min_length=1)
    fit: ItemFit


class PlannedItem(_Part):
    """One item of the plan version in force, as monitoring tracks it."""

    item_id: str = Field(min_length=1)
    need_domain: NeedDomain
    goal_id: str = Field(min_length=1)
    ends_on: date | None = None
    progress: ItemProgress = ItemProgress.PLANNED


class GoalRated(_Part):
    """R7: one goal's rating."""

    goal_id: str = Field(min_length=1)
    rating: GoalRating


class InstrumentResult(_Part):
    """R7: a standardised instrument scored against its baseline, with the degree of change
    (positive = improved, whichever way the instrument's scale runs)."""

    instrument: str = Field(min_length=1)
    baseline: int
    score: int
    change: int


# --- learned from other services -------------------------------------------------------


@registry.register
class ClientLearned(MonitoringEvent):
    """Intake registered the case's client: the key monitoring's vault seals words under."""

    client_id: str = Field(min_length=1)


@registry.register
class CaseAssignmentLearned(MonitoringEvent):
    """Intake assigned (or reassigned) the case: its agency and its manager now."""

    agency_id: str = Field(min_length=1)
    manager_id: str = Field(min_length=1)


@registry.register
class MonitoringConsentLearned(MonitoringEvent):
    """Intake recorded a consent for follow-up forms (purpose `monitoring`), naming the
    agencies it allows (R4)."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...] = Field(min_length=1)
    valid_from: date
    valid_until: date


@registry.register
class MonitoringConsentWithdrawalLearned(MonitoringEvent):
    """Intake recorded that a consent was withdrawn (R4)."""

    consent_id: str = Field(min_length=1)
    withdrawn_on: date


@registry.register
class PlanInForceLearned(MonitoringEvent):
    """Careplan put a plan version in force (the client agreed): what monitoring watches.

    The first review falls due `next_review_on`; `activated_on` bounds instrument baselines.
    """

    plan_version: int = Field(ge=1)
    activated_on: date
    goal_ids: tuple[str, ...] = Field(min_length=1)
    items: tuple[PlannedItem, ...] = ()
    next_review_on: date


@registry.register
class ItemProgressLearned(MonitoringEvent):
    """Careplan reported where an item of the version in force stands."""

    plan_version: int = Field(ge=1)
    item_id: str = Field(min_length=1)
    progress: ItemProgress


@registry.register
class ReturnToPlanningLearned(MonitoringEvent):
    """Careplan sent the case back to planning (new needs, or advocacy that did not obtain a
    service): evaluation waits until a revised version is agreed (R1)."""

    plan_version: int = Field(ge=0)


@registry.register
class CaseTerminationLearned(MonitoringEvent):
    """Closure ended the case (R8): it takes no further monitoring command, and nothing of it
    falls overdue any more."""

    terminated_on: date


# --- stage 5: monitoring ----------------------------------------------------------------


@registry.register
class ReviewRecorded(MonitoringEvent):
    """A review answered the four questions of R6d for the version in force; its notes are in
    the vault (`review:<review_id>`)."""

    review_id: str = Field(min_length=1)
    plan_version: int = Field(ge=1)
    reviewed_on: date
    implementation: Implementation
    goals: tuple[GoalAnswer, ...]
    items: tuple[ItemAnswer, ...]
    new_needs: bool
    new_need_domains: tuple[NeedDomain, ...] = ()
    client_satisfied: bool
    manager_satisfied: bool
    action: ReviewAction | None = None
    continue_reason: ContinueReason | None = None
    next_review_on: date


@registry.register
class PlanRevisionRequired(MonitoringEvent):
    """A review found new needs (R6d q4): the case goes back to planning (R1); careplan reads
    this and evaluation waits for a revised version to be agreed."""

    plan_version: int = Field(ge=1)
    review_id: str = Field(min_length=1)
    need_domains: tuple[NeedDomain, ...]


@registry.register
class ReviewOverdue(MonitoringEvent):
    """The plan's review fell due and none was recorded (R6d); emitted once per due date."""

    plan_version: int = Field(ge=1)
    due_on: date


@registry.register
class ItemDelayed(MonitoringEvent):
    """An item passed its end date without being delivered (R12: delays visible)."""

    plan_version: int = Field(ge=1)
    item_id: str = Field(min_length=1)
    ended_on: date


@registry.register
class HomeVisitRecorded(MonitoringEvent):
    """The case's manager visited the household; observations are in the vault."""

    visit_id: str = Field(min_length=1)
    visited_on: date


@registry.register
class FormSent(MonitoringEvent):
    """A follow-up form was mailed to the household under a monitoring consent (R4)."""

    form_id: str = Field(min_length=1)
    consent_id: str = Field(min_length=1)
    sent_on: date
    due_on: date


@registry.register
class FormReturned(MonitoringEvent):
    """The household returned a form; its answers are sealed in the vault (`form:<form_id>`).
    `negative` says whether an answer calls for aftercare (R6d)."""

    form_id: str = Field(min_length=1)
    returned_on: date
    negative: bool


@registry.register
class FormOverdue(MonitoringEvent):
    """A form's due date passed with no return; emitted once per form."""

    form_id: str = Field(min_length=1)
    due_on: date


@registry.register
class FormFollowedUp(MonitoringEvent):
    """A negative form answer was followed up by a contact, a review or a revision (R6d)."""

    form_id: str = Field(min_length=1)
    kind: FollowUpKind
    followed_up_on: date
    review_id: str | None = None


# --- stage 6: evaluation ----------------------------------------------------------------


@registry.register
class BaselineRecorded(MonitoringEvent):
    """A standardised instrument's baseline score, at or after the plan's activation (R7)."""

    plan_version: int = Field(ge=1)
    instrument: str = Field(min_length=1)
    score: int
    scored_on: date


@registry.register
class EvaluationRecorded(MonitoringEvent):
    """An evaluation of outcomes (R7), never derived from reviews: every goal rated, each
    instrument scored against its baseline, including the two network-capacity measures.
    `permits_planned_termination` is true when every goal was achieved or no further service
    is needed (R1, R8)."""

    evaluation_id: str = Field(min_length=1)
    plan_version: int = Field(ge=1)
    evaluated_on: date
    goals: tuple[GoalRated, ...] = Field(min_length=1)
    instruments: tuple[InstrumentResult, ...] = Field(min_length=2)
    no_further_service_needed: bool
    permits_planned_termination: bool


PUBLISHED: tuple[type[MonitoringEvent], ...] = (
    ClientLearned,
    CaseAssignmentLearned,
    MonitoringConsentLearned,
    MonitoringConsentWithdrawalLearned,
    PlanInForceLearned,
    ItemProgressLearned,
    ReturnToPlanningLearned,
    CaseTerminationLearned,
    ReviewRecorded,
    PlanRevisionRequired,
    ReviewOverdue,
    ItemDelayed,
    HomeVisitRecorded,
    FormSent,
    FormReturned,
    FormOverdue,
    FormFollowedUp,
    BaselineRecorded,
    EvaluationRecorded,
)
"""Every event type monitoring records and publishes."""
