"""The state monitoring decides on, folded from one case's monitoring stream.

Frozen: `evolve` returns a new state for each event and never changes the one it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import TypeVar

from services.monitoring.domain.events import (
    BaselineRecorded,
    CaseAssignmentLearned,
    CaseTerminationLearned,
    ClientLearned,
    EvaluationRecorded,
    FormFollowedUp,
    FormOverdue,
    FormReturned,
    FormSent,
    HomeVisitRecorded,
    ItemDelayed,
    ItemProgress,
    ItemProgressLearned,
    MonitoringConsentLearned,
    MonitoringConsentWithdrawalLearned,
    MonitoringEvent,
    PlanInForceLearned,
    PlannedItem,
    PlanRevisionRequired,
    ReturnToPlanningLearned,
    ReviewOverdue,
    ReviewRecorded,
)

FIRST_REVIEW_AFTER = timedelta(days=30)
"""An agreed plan version is first reviewed a month after it takes effect (R6d: regular)."""

REVIEW_INTERVAL = timedelta(days=90)
"""The next review, when a review names none: a quarter later."""

LONGEST_REVIEW_INTERVAL = timedelta(days=183)
"""No review is set further ahead than half a year: reviews stay regular (R6d)."""

K = TypeVar("K")
V = TypeVar("V")

UNRECEIVED = frozenset({ItemProgress.PLANNED, ItemProgress.NOT_RECEIVED})
"""Where an item stands while the client has not received it (declined items never count)."""


def _frozen(mapping: Mapping[K, V]) -> Mapping[K, V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Consent:
    """A consent for follow-up forms, the agencies it names and its period (R4)."""

    agencies: tuple[str, ...]
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None

    def allows(self, agency_id: str, day: date) -> bool:
        """Whether the consent lets `agency_id` send forms on `day`."""
        withdrawn = self.withdrawn_on is not None and self.withdrawn_on <= day
        return (
            agency_id in self.agencies
            and self.valid_from <= day <= self.valid_until
            and not withdrawn
        )


@dataclass(frozen=True)
class Plan:
    """The plan version in force and what monitoring has said about it."""

    version: int
    activated_on: date
    goal_ids: tuple[str, ...]
    items: Mapping[str, PlannedItem]
    next_review_on: date
    reviews: tuple[str, ...] = ()
    overdue_reviews: frozenset[date] = frozenset()
    delayed_items: frozenset[str] = frozenset()

    def active_item_ids(self) -> frozenset[str]:
        """The items a review answers for: every item the client did not decline (R4)."""
        return frozenset(
            item_id
            for item_id, item in self.items.items()
            if item.progress is not ItemProgress.DECLINED
        )


@dataclass(frozen=True)
class Form:
    """A mailed follow-up form and what became of it."""

    form_id: str
    consent_id: str
    sent_on: date
    due_on: date
    returned_on: date | None = None
    negative: bool = False
    overdue: bool = False
    followed_up: bool = False

    @property
    def awaits_follow_up(self) -> bool:
        """A returned negative answer nothing has answered yet (R6d aftercare)."""
        return self.returned_on is not None and self.negative and not self.followed_up


@dataclass(frozen=True)
class Baseline:
    """An instrument's baseline score."""

    score: int
    scored_on: date


@dataclass(frozen=True)
class MonitoringState:
    """One case as monitoring knows it."""

    client_id: str | None = None
    agency_id: str | None = None
    manager_id: str | None = None
    consents: Mapping[str, Consent] = field(default_factory=lambda: _frozen({}))
    plan: Plan | None = None
    first_activated_on: date | None = None
    revision_pending_for: int | None = None
    """The version in force when the case went back to planning, until a later one is agreed."""
    review_dates: Mapping[str, date] = field(default_factory=lambda: _frozen({}))
    visits: frozenset[str] = frozenset()
    forms: Mapping[str, Form] = field(default_factory=lambda: _frozen({}))
    baselines: Mapping[str, Baseline] = field(default_factory=lambda: _frozen({}))
    evaluations: frozenset[str] = frozenset()
    planned_termination_permitted: bool = False
    terminated_on: date | None = None
    """When closure ended the case (R8): nothing more is recorded or falls overdue."""


def _with_plan(state: MonitoringState, plan: Plan) -> MonitoringState:
    return replace(state, plan=plan)


def _with_form(state: MonitoringState, form: Form) -> MonitoringState:
    return replace(state, forms=_frozen({**state.forms, form.form_id: form}))


def evolve(state: MonitoringState, event: MonitoringEvent) -> MonitoringState:
    """The state after one event."""
    match event:
        case ClientLearned(client_id=client_id):
            return replace(state, client_id=client_id)
        case CaseAssignmentLearned(agency_id=agency_id, manager_id=manager_id):
            return replace(state, agency_id=agency_id, manager_id=manager_id)
        case MonitoringConsentLearned() as learned:
            consent = Consent(learned.agencies, learned.valid_from, learned.valid_until)
            return replace(state, consents=_frozen({**state.consents, learned.consent_id: consent}))
        case MonitoringConsentWithdrawalLearned(consent_id=consent_id, withdrawn_on=day):
            withdrawn = replace(state.consents[consent_id], withdrawn_on=day)
            return replace(state, consents=_frozen({**state.consents, consent_id: withdrawn}))
        case PlanInForceLearned() as learned:
            return _plan_in_force(state, learned)
        case ItemProgressLearned(item_id=item_id, progress=progress) if state.plan:
            item = state.plan.items[item_id].model_copy(update={"progress": progress})
            items = _frozen({**state.plan.items, item_id: item})
            return _with_plan(state, replace(state.plan, items=items))
        case (
            ReturnToPlanningLearned(plan_version=version)
            | PlanRevisionRequired(plan_version=version)
        ):
            # Back in planning: an earlier evaluation no longer permits a planned termination.
            return replace(state, revision_pending_for=version, planned_termination_permitted=False)
        case ReviewRecorded() as review if state.plan:
            plan = replace(
                state.plan,
                reviews=(*state.plan.reviews, review.review_id),
                next_review_on=review.next_review_on,
            )
            dates = _frozen({**state.review_dates, review.review_id: review.reviewed_on})
            return replace(state, plan=plan, review_dates=dates)
        case ReviewOverdue(due_on=due_on) if state.plan:
            overdue = state.plan.overdue_reviews | {due_on}
            return _with_plan(state, replace(state.plan, overdue_reviews=overdue))
        case ItemDelayed(item_id=item_id) if state.plan:
            delayed = state.plan.delayed_items | {item_id}
            return _with_plan(state, replace(state.plan, delayed_items=delayed))
        case HomeVisitRecorded(visit_id=visit_id):
            return replace(state, visits=state.visits | {visit_id})
        case FormSent() as sent:
            return _with_form(state, Form(sent.form_id, sent.consent_id, sent.sent_on, sent.due_on))
        case FormReturned(form_id=form_id, returned_on=day, negative=negative):
            return _with_form(
                state, replace(state.forms[form_id], returned_on=day, negative=negative)
            )
        case FormOverdue(form_id=form_id):
            return _with_form(state, replace(state.forms[form_id], overdue=True))
        case FormFollowedUp(form_id=form_id):
            return _with_form(state, replace(state.forms[form_id], followed_up=True))
        case BaselineRecorded(instrument=code, score=score, scored_on=day):
            baselines = _frozen({**state.baselines, code: Baseline(score, day)})
            return replace(state, baselines=baselines)
        case CaseTerminationLearned(terminated_on=day):
            return replace(state, terminated_on=day)
        case EvaluationRecorded() as evaluation:
            return replace(
                state,
                evaluations=state.evaluations | {evaluation.evaluation_id},
                planned_termination_permitted=evaluation.permits_planned_termination,
            )
    return state


def _plan_in_force(state: MonitoringState, learned: PlanInForceLearned) -> MonitoringState:
    plan = Plan(
        version=learned.plan_version,
        activated_on=learned.activated_on,
        goal_ids=learned.goal_ids,
        items=_frozen({item.item_id: item for item in learned.items}),
        next_review_on=learned.next_review_on,
    )
    pending = state.revision_pending_for
    if pending is not None and learned.plan_version > pending:
        pending = None  # the revised version was agreed: the case is out of planning (R1)
    return replace(
        state,
        plan=plan,
        first_activated_on=state.first_activated_on or learned.activated_on,
        revision_pending_for=pending,
        # a new version in force is evaluated afresh
        planned_termination_permitted=False,
    )
