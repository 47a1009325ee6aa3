"""A case's monitoring state built from commands, the way the service builds it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from services.monitoring.domain.commands import (
    Command,
    LearnAssignment,
    LearnClient,
    LearnConsent,
    LearnPlanInForce,
    RecordReview,
)
from services.monitoring.domain.events import (
    GoalAnswer,
    GoalProgress,
    Implementation,
    ItemAnswer,
    ItemFit,
    MonitoringEvent,
    PlannedItem,
)
from services.monitoring.domain.model import MonitoringState, decide, evolve
from shared.vocabulary import NeedDomain

ACTIVATED = date(2026, 3, 2)
TODAY = ACTIVATED + timedelta(days=20)
AGENCY = "agency-a"
MANAGER = "mgr-1"
GOALS = ("goal-1", "goal-2")
ITEMS = (
    PlannedItem(
        item_id="item-1",
        need_domain=NeedDomain.HOUSING,
        goal_id="goal-1",
        ends_on=ACTIVATED + timedelta(days=60),
    ),
    PlannedItem(
        item_id="item-2",
        need_domain=NeedDomain.INCOME,
        goal_id="goal-2",
        ends_on=ACTIVATED + timedelta(days=10),
    ),
)


def run(state: MonitoringState, command: Command) -> tuple[MonitoringState, list[MonitoringEvent]]:
    """Decide and fold, as the command path does."""
    events = list(decide(state, command))
    for event in events:
        state = evolve(state, event)
    return state, events


def given(*commands: Command, state: MonitoringState | None = None) -> MonitoringState:
    """The state after each command in turn."""
    current = state or MonitoringState()
    for command in commands:
        current, _ = run(current, command)
    return current


def assigned() -> MonitoringState:
    """A registered client, assigned, with a consent for follow-up forms, no plan yet."""
    return given(
        LearnClient(client_id="client-1"),
        LearnAssignment(agency_id=AGENCY, manager_id=MANAGER),
        LearnConsent(
            consent_id="consent-1",
            agencies=(AGENCY,),
            for_monitoring=True,
            valid_from=ACTIVATED - timedelta(days=10),
            valid_until=ACTIVATED + timedelta(days=365),
        ),
    )


def in_force(items: Sequence[PlannedItem] = ITEMS) -> MonitoringState:
    """The case with plan version 1 in force."""
    return given(
        LearnPlanInForce(
            plan_version=1, activated_on=ACTIVATED, goal_ids=GOALS, items=tuple(items)
        ),
        state=assigned(),
    )


def review(review_id: str = "review-1", **changes: object) -> RecordReview:
    """A complete, satisfied review of version 1 with no new needs."""
    fields: dict[str, object] = dict(
        review_id=review_id,
        today=TODAY,
        implementation=Implementation.MOSTLY,
        goals=tuple(GoalAnswer(goal_id=g, progress=GoalProgress.PROGRESSING) for g in GOALS),
        items=tuple(ItemAnswer(item_id=i.item_id, fit=ItemFit.APPROPRIATE) for i in ITEMS),
        new_needs=False,
        client_satisfied=True,
        manager_satisfied=True,
    )
    fields.update(changes)
    return RecordReview.model_validate(fields)
