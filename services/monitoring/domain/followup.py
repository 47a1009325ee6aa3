"""Stage 5 rules (R6d): reviews answering the four questions, home visits, mailed forms and
their aftercare, and what the scheduler finds overdue."""

from __future__ import annotations

from datetime import date

from services.monitoring.domain.commands import (
    FollowUpForm,
    MarkOverdue,
    RecordHomeVisit,
    RecordReview,
    ReturnForm,
    SendForm,
)
from services.monitoring.domain.errors import (
    R1,
    R4,
    R6D,
    R11,
    ActionRequired,
    ClientUnknown,
    DateOutOfRange,
    DuplicateRecord,
    FormAlreadyReturned,
    IncompleteAnswers,
    InconsistentNewNeeds,
    NoMonitoringConsent,
    NothingToFollowUp,
    NotTheAssignedManager,
    NotYetMonitored,
    UnknownForm,
    UnknownReview,
)
from services.monitoring.domain.events import (
    FollowUpKind,
    FormFollowedUp,
    FormOverdue,
    FormReturned,
    FormSent,
    HomeVisitRecorded,
    ItemDelayed,
    MonitoringEvent,
    PlanRevisionRequired,
    ReviewAction,
    ReviewOverdue,
    ReviewRecorded,
)
from services.monitoring.domain.state import (
    LONGEST_REVIEW_INTERVAL,
    REVIEW_INTERVAL,
    UNRECEIVED,
    Form,
    MonitoringState,
    Plan,
)


def plan_in_force(state: MonitoringState, doing: str) -> Plan:
    """The version in force, or the R1 refusal naming the step before `doing`."""
    if state.plan is None:
        raise NotYetMonitored(
            f"no plan version is in force: draft the plan in careplan and record the "
            f"client's agreement before {doing}",
            rule=R1,
        )
    return state.plan


def record_review(state: MonitoringState, command: RecordReview) -> list[MonitoringEvent]:
    """R6d: all four questions for the version in force, both satisfactions, and an action
    when either is not satisfied; new needs send the case back to planning."""
    plan = plan_in_force(state, "a review")
    if command.review_id in state.review_dates:
        raise DuplicateRecord(f"review {command.review_id} is already recorded", rule=R6D)
    _answers_match([a.goal_id for a in command.goals], set(plan.goal_ids), "goals", "goal", R6D)
    _answers_match([a.item_id for a in command.items], plan.active_item_ids(), "items", "item", R6D)
    if command.new_needs != bool(command.new_need_domains):
        raise InconsistentNewNeeds(
            "new needs (question 4) are answered yes with the need domains that arose, "
            "or no with none",
            rule=R6D,
        )
    satisfied = command.client_satisfied and command.manager_satisfied
    if not satisfied and command.action is None:
        raise ActionRequired(
            "the client or the manager is not satisfied: say what is done "
            "(revise the plan, advocate, or continue with a reason)",
            rule=R6D,
        )
    if command.action is ReviewAction.CONTINUE and command.continue_reason is None:
        raise ActionRequired("continuing unchanged needs a coded reason", rule=R6D)
    next_review_on = command.next_review_on or command.today + REVIEW_INTERVAL
    if not command.today < next_review_on <= command.today + LONGEST_REVIEW_INTERVAL:
        raise DateOutOfRange(
            "the next review falls after today and within half a year (reviews are regular)",
            rule=R6D,
        )
    events: list[MonitoringEvent] = [
        ReviewRecorded(
            review_id=command.review_id,
            plan_version=plan.version,
            reviewed_on=command.today,
            implementation=command.implementation,
            goals=command.goals,
            items=command.items,
            new_needs=command.new_needs,
            new_need_domains=command.new_need_domains,
            client_satisfied=command.client_satisfied,
            manager_satisfied=command.manager_satisfied,
            action=command.action,
            continue_reason=command.continue_reason,
            next_review_on=next_review_on,
        )
    ]
    if command.new_needs or command.action is ReviewAction.REVISE_PLAN:
        events.append(
            PlanRevisionRequired(
                plan_version=plan.version,
                review_id=command.review_id,
                need_domains=command.new_need_domains,
            )
        )
    return events


def _answers_match(
    answered: list[str], expected: set[str] | frozenset[str], field: str, what: str, rule: str
) -> None:
    """Exactly one answer for each goal or item of the version in force."""
    missing = len(expected - set(answered))
    if missing:
        raise IncompleteAnswers(
            f"{missing} {what}(s) of the version in force have no answer", rule=rule, field=field
        )
    if len(answered) != len(set(answered)) or not set(answered) <= expected:
        raise IncompleteAnswers(
            f"each {what} of the version in force is answered once, and no other",
            rule=rule,
            field=field,
        )


def record_home_visit(state: MonitoringState, command: RecordHomeVisit) -> list[MonitoringEvent]:
    """A home visit by the case's assigned manager, on a day that has come."""
    if state.manager_id is None:
        raise NotYetMonitored(
            "the case has no assigned manager: assign one at intake first", rule=R1
        )
    plan_in_force(state, "a home visit")
    if command.staff_id != state.manager_id:
        raise NotTheAssignedManager(
            "only the case's assigned manager records a home visit", rule=R6D
        )
    if command.visited_on > command.today:
        raise DateOutOfRange("a home visit is recorded once it took place", rule=R6D)
    if command.visit_id in state.visits:
        raise DuplicateRecord(f"visit {command.visit_id} is already recorded", rule=R6D)
    return [HomeVisitRecorded(visit_id=command.visit_id, visited_on=command.visited_on)]


def send_form(state: MonitoringState, command: SendForm) -> list[MonitoringEvent]:
    """A follow-up form goes out only under the client's consent for forms (R4)."""
    plan_in_force(state, "sending a follow-up form")
    if command.form_id in state.forms:
        raise DuplicateRecord(f"form {command.form_id} was already sent", rule=R6D)
    if command.due_on <= command.today:
        raise DateOutOfRange("a form is due back after the day it is sent", rule=R6D)
    consent_id = _monitoring_consent(state, command.today)
    if consent_id is None:
        raise NoMonitoringConsent(
            "no consent in force lets this agency send follow-up forms: record the client's "
            "consent for monitoring at intake first",
            rule=R4,
        )
    return [
        FormSent(
            form_id=command.form_id,
            consent_id=consent_id,
            sent_on=command.today,
            due_on=command.due_on,
        )
    ]


def _monitoring_consent(state: MonitoringState, day: date) -> str | None:
    if state.agency_id is None:
        return None
    for consent_id, consent in sorted(state.consents.items()):
        if consent.allows(state.agency_id, day):
            return consent_id
    return None


def _sent_form(state: MonitoringState, form_id: str) -> Form:
    form = state.forms.get(form_id)
    if form is None:
        raise UnknownForm(f"form {form_id} was never sent: send it first", rule=R6D)
    return form


def return_form(state: MonitoringState, command: ReturnForm) -> list[MonitoringEvent]:
    """A sent form comes back once; its answers are sealed under the client's key (R11)."""
    form = _sent_form(state, command.form_id)
    if form.returned_on is not None:
        raise FormAlreadyReturned(f"form {command.form_id} was already returned", rule=R6D)
    if state.client_id is None:
        raise ClientUnknown(
            "the case's client is not known here yet: the answers have no key to be sealed "
            "under; retry once intake's registration has arrived",
            rule=R11,
        )
    return [
        FormReturned(form_id=command.form_id, returned_on=command.today, negative=command.negative)
    ]


def follow_up_form(state: MonitoringState, command: FollowUpForm) -> list[MonitoringEvent]:
    """A negative answer is followed up once: by a contact, a review held since the return,
    or a revision of the plan (R6d aftercare)."""
    form = _sent_form(state, command.form_id)
    if not form.awaits_follow_up or form.returned_on is None:
        raise NothingToFollowUp(
            f"form {command.form_id} has no negative answer waiting for a follow-up", rule=R6D
        )
    if command.kind is FollowUpKind.REVIEW:
        reviewed_on = state.review_dates.get(command.review_id or "")
        if reviewed_on is None or reviewed_on < form.returned_on:
            raise UnknownReview(
                "a follow-up by review names a review recorded since the form came back",
                rule=R6D,
            )
    if command.kind is FollowUpKind.REVISION and state.revision_pending_for is None:
        raise NothingToFollowUp(
            "no revision is under way: record a review that asks for one first", rule=R6D
        )
    return [
        FormFollowedUp(
            form_id=command.form_id,
            kind=command.kind,
            followed_up_on=command.today,
            review_id=command.review_id if command.kind is FollowUpKind.REVIEW else None,
        )
    ]


def mark_overdue(state: MonitoringState, command: MarkOverdue) -> list[MonitoringEvent]:
    """What fell due before `today` and is not yet said to be overdue: the review of the
    version in force, unreturned forms, and items past their end and not received. Each is
    said once; a form returned (in time or late) is never overdue after its return."""
    today = command.today
    events: list[MonitoringEvent] = []
    plan = state.plan
    if plan is not None:
        if plan.next_review_on < today and plan.next_review_on not in plan.overdue_reviews:
            events.append(ReviewOverdue(plan_version=plan.version, due_on=plan.next_review_on))
        for item_id, item in sorted(plan.items.items()):
            if (
                item.ends_on is not None
                and item.ends_on < today
                and item.progress in UNRECEIVED
                and item_id not in plan.delayed_items
            ):
                events.append(
                    ItemDelayed(plan_version=plan.version, item_id=item_id, ended_on=item.ends_on)
                )
    for form_id, form in sorted(state.forms.items()):
        if form.returned_on is None and form.due_on < today and not form.overdue:
            events.append(FormOverdue(form_id=form_id, due_on=form.due_on))
    return events
