"""Monitoring's rules: `decide(state, command)` returns the events a command leads to, or
raises a `MonitoringError` saying why not (nothing is written then).

Pure: no clock, no I/O. The state and its `evolve` live in `state.py`; the rules of reviews,
visits and forms in `followup.py`, those of evaluation in `evaluation.py`. What is learned
from other services is recorded once: a repeated or stale fact decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.monitoring.domain.commands import (
    Command,
    FollowUpForm,
    LearnAssignment,
    LearnClient,
    LearnConsent,
    LearnConsentWithdrawal,
    LearnItemProgress,
    LearnPlanInForce,
    LearnReturnToPlanning,
    LearnTermination,
    MarkOverdue,
    RecordBaseline,
    RecordEvaluation,
    RecordHomeVisit,
    RecordReview,
    ReturnForm,
    SendForm,
)
from services.monitoring.domain.errors import R8, CaseEnded
from services.monitoring.domain.evaluation import record_baseline, record_evaluation
from services.monitoring.domain.events import (
    CaseAssignmentLearned,
    CaseTerminationLearned,
    ClientLearned,
    ItemProgressLearned,
    MonitoringConsentLearned,
    MonitoringConsentWithdrawalLearned,
    MonitoringEvent,
    PlanInForceLearned,
    ReturnToPlanningLearned,
)
from services.monitoring.domain.followup import (
    follow_up_form,
    mark_overdue,
    record_home_visit,
    record_review,
    return_form,
    send_form,
)
from services.monitoring.domain.state import (
    FIRST_REVIEW_AFTER,
    MonitoringState,
    evolve,
)

__all__ = ["MonitoringState", "decide", "evolve"]


def decide(state: MonitoringState, command: Command) -> Sequence[MonitoringEvent]:
    """The events `command` leads to in `state`; raises a `MonitoringError` to refuse it."""
    if state.terminated_on is not None:
        return _after_termination(state.terminated_on, command)
    match command:
        case LearnClient():
            return _learn_client(state, command)
        case LearnAssignment():
            return _learn_assignment(state, command)
        case LearnConsent():
            return _learn_consent(state, command)
        case LearnConsentWithdrawal():
            return _learn_withdrawal(state, command)
        case LearnPlanInForce():
            return _learn_plan(state, command)
        case LearnItemProgress():
            return _learn_item_progress(state, command)
        case LearnReturnToPlanning():
            return _learn_return(state, command)
        case LearnTermination(terminated_on=day):
            return [CaseTerminationLearned(terminated_on=day)]
        case RecordReview():
            return record_review(state, command)
        case RecordHomeVisit():
            return record_home_visit(state, command)
        case SendForm():
            return send_form(state, command)
        case ReturnForm():
            return return_form(state, command)
        case FollowUpForm():
            return follow_up_form(state, command)
        case MarkOverdue():
            return mark_overdue(state, command)
        case RecordBaseline():
            return record_baseline(state, command)
        case RecordEvaluation():
            return record_evaluation(state, command)


def _after_termination(ended_on: date, command: Command) -> Sequence[MonitoringEvent]:
    # R8: termination is the last stage. Facts other services publish later change nothing
    # (the case is not watched any more), nothing falls overdue, and staff commands are refused.
    match command:
        case (
            LearnClient()
            | LearnAssignment()
            | LearnConsent()
            | LearnConsentWithdrawal()
            | LearnPlanInForce()
            | LearnItemProgress()
            | LearnReturnToPlanning()
            | LearnTermination()
            | MarkOverdue()
        ):
            return []
    raise CaseEnded(
        f"the case ended on {ended_on.isoformat()}: it takes no further monitoring command",
        rule=R8,
    )


def _learn_client(state: MonitoringState, command: LearnClient) -> list[MonitoringEvent]:
    if state.client_id == command.client_id:
        return []
    return [ClientLearned(client_id=command.client_id)]


def _learn_assignment(state: MonitoringState, command: LearnAssignment) -> list[MonitoringEvent]:
    if (state.agency_id, state.manager_id) == (command.agency_id, command.manager_id):
        return []
    return [CaseAssignmentLearned(agency_id=command.agency_id, manager_id=command.manager_id)]


def _learn_consent(state: MonitoringState, command: LearnConsent) -> list[MonitoringEvent]:
    if not command.for_monitoring or command.consent_id in state.consents:
        return []
    return [
        MonitoringConsentLearned(
            consent_id=command.consent_id,
            agencies=command.agencies,
            valid_from=command.valid_from,
            valid_until=command.valid_until,
        )
    ]


def _learn_withdrawal(
    state: MonitoringState, command: LearnConsentWithdrawal
) -> list[MonitoringEvent]:
    consent = state.consents.get(command.consent_id)
    if consent is None or consent.withdrawn_on is not None:
        return []  # a consent for other purposes, or a withdrawal already known
    return [
        MonitoringConsentWithdrawalLearned(
            consent_id=command.consent_id, withdrawn_on=command.withdrawn_on
        )
    ]


def _learn_plan(state: MonitoringState, command: LearnPlanInForce) -> list[MonitoringEvent]:
    if state.plan is not None and command.plan_version <= state.plan.version:
        return []
    return [
        PlanInForceLearned(
            plan_version=command.plan_version,
            activated_on=command.activated_on,
            goal_ids=command.goal_ids,
            items=command.items,
            next_review_on=command.activated_on + FIRST_REVIEW_AFTER,
        )
    ]


def _learn_item_progress(
    state: MonitoringState, command: LearnItemProgress
) -> list[MonitoringEvent]:
    plan = state.plan
    if plan is None or command.plan_version not in (None, plan.version):
        return []  # an item of a version no longer (or not yet) in force
    item = plan.items.get(command.item_id)
    if item is None or item.progress is command.progress:
        return []
    return [
        ItemProgressLearned(
            plan_version=plan.version, item_id=command.item_id, progress=command.progress
        )
    ]


def _learn_return(state: MonitoringState, command: LearnReturnToPlanning) -> list[MonitoringEvent]:
    if state.revision_pending_for == command.plan_version:
        return []
    if state.plan is not None and command.plan_version < state.plan.version:
        return []  # a revised version has been agreed since
    return [ReturnToPlanningLearned(plan_version=command.plan_version)]
