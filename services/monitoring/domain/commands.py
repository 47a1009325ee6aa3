"""What monitoring is asked to do, in the imperative. Dates are compared with the `today`
each command carries, never with a clock in the domain.

`Learn...` commands come from other services' events (a policy turns each into a command);
`MarkOverdue` comes from the scheduler; the rest from the case's staff over HTTP.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.monitoring.domain.events import (
    ContinueReason,
    FollowUpKind,
    GoalAnswer,
    GoalRated,
    Implementation,
    ItemAnswer,
    ItemProgress,
    PlannedItem,
    ReviewAction,
)
from shared.vocabulary import NeedDomain


class MonitoringCommand(BaseModel):
    """Base of the commands on one case's monitoring stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- learned from intake and careplan ---------------------------------------------------


class LearnClient(MonitoringCommand):
    """Remember the case's client id (the vault's key)."""

    client_id: str = Field(min_length=1)


class LearnAssignment(MonitoringCommand):
    """Remember the case's agency and its manager now."""

    agency_id: str = Field(min_length=1)
    manager_id: str = Field(min_length=1)


class LearnConsent(MonitoringCommand):
    """Remember a consent; only one whose purposes include follow-up forms matters here."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...] = Field(min_length=1)
    for_monitoring: bool
    valid_from: date
    valid_until: date


class LearnConsentWithdrawal(MonitoringCommand):
    """Remember that a consent was withdrawn."""

    consent_id: str = Field(min_length=1)
    withdrawn_on: date


class LearnPlanInForce(MonitoringCommand):
    """Start watching the plan version the client agreed to."""

    plan_version: int = Field(ge=1)
    activated_on: date
    goal_ids: tuple[str, ...] = Field(min_length=1)
    items: tuple[PlannedItem, ...] = ()


class LearnItemProgress(MonitoringCommand):
    """Remember where an item stands (of `plan_version`, or of the version in force)."""

    plan_version: int | None = Field(default=None, ge=1)
    item_id: str = Field(min_length=1)
    progress: ItemProgress


class LearnReturnToPlanning(MonitoringCommand):
    """Remember that careplan sent the case back to planning."""

    plan_version: int = Field(ge=0)


class LearnTermination(MonitoringCommand):
    """Remember that closure ended the case (R8)."""

    terminated_on: date


# --- stage 5 -----------------------------------------------------------------------------


class RecordReview(MonitoringCommand):
    """Record a review of the version in force: the four questions and both satisfactions."""

    review_id: str = Field(min_length=1)
    today: date
    implementation: Implementation
    goals: tuple[GoalAnswer, ...]
    items: tuple[ItemAnswer, ...]
    new_needs: bool
    new_need_domains: tuple[NeedDomain, ...] = ()
    client_satisfied: bool
    manager_satisfied: bool
    action: ReviewAction | None = None
    continue_reason: ContinueReason | None = None
    next_review_on: date | None = None


class RecordHomeVisit(MonitoringCommand):
    """Record a visit to the household by the staff member named."""

    visit_id: str = Field(min_length=1)
    visited_on: date
    staff_id: str = Field(min_length=1)
    today: date


class SendForm(MonitoringCommand):
    """Mail a follow-up form to the household, due back by `due_on`."""

    form_id: str = Field(min_length=1)
    due_on: date
    today: date


class ReturnForm(MonitoringCommand):
    """Record a form's return; `negative` when an answer calls for aftercare."""

    form_id: str = Field(min_length=1)
    negative: bool
    today: date


class FollowUpForm(MonitoringCommand):
    """Record what answered a negative form: a contact, a review or a revision."""

    form_id: str = Field(min_length=1)
    kind: FollowUpKind
    review_id: str | None = None
    today: date


class MarkOverdue(MonitoringCommand):
    """The scheduler's question: what is overdue on `today` and not yet said to be?"""

    today: date


# --- stage 6 -----------------------------------------------------------------------------


class RecordBaseline(MonitoringCommand):
    """Record an instrument's baseline score."""

    instrument: str = Field(min_length=1)
    score: int
    scored_on: date
    today: date


class RecordEvaluation(MonitoringCommand):
    """Evaluate the outcomes: every goal rated, instruments scored against their baselines."""

    evaluation_id: str = Field(min_length=1)
    today: date
    goals: tuple[GoalRated, ...]
    scores: dict[str, int]
    no_further_service_needed: bool


Command = (
    LearnClient
    | LearnAssignment
    | LearnConsent
    | LearnConsentWithdrawal
    | LearnPlanInForce
    | LearnItemProgress
    | LearnReturnToPlanning
    | LearnTermination
    | RecordReview
    | RecordHomeVisit
    | SendForm
    | ReturnForm
    | FollowUpForm
    | MarkOverdue
    | RecordBaseline
    | RecordEvaluation
)
"""Every monitoring command."""
