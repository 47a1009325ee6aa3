"""Reviews (R6d's four questions), the way back to planning (R1), and home visits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.monitoring.domain.commands import (
    LearnItemProgress,
    LearnPlanInForce,
    LearnReturnToPlanning,
    RecordHomeVisit,
)
from services.monitoring.domain.errors import (
    ActionRequired,
    DateOutOfRange,
    DuplicateRecord,
    IncompleteAnswers,
    InconsistentNewNeeds,
    NotTheAssignedManager,
    NotYetMonitored,
)
from services.monitoring.domain.events import (
    ContinueReason,
    GoalAnswer,
    GoalProgress,
    ItemAnswer,
    ItemFit,
    ItemProgress,
    PlanRevisionRequired,
    ReviewAction,
    ReviewRecorded,
)
from services.monitoring.domain.model import decide
from services.monitoring.domain.state import FIRST_REVIEW_AFTER, REVIEW_INTERVAL
from shared.vocabulary import NeedDomain
from tests.unit.monitoring.helpers import (
    ACTIVATED,
    GOALS,
    ITEMS,
    MANAGER,
    TODAY,
    assigned,
    given,
    in_force,
    review,
    run,
)


def test_r1_a_review_before_any_plan_is_in_force_is_refused_naming_the_agreement() -> None:
    with pytest.raises(NotYetMonitored) as refused:
        decide(assigned(), review())
    assert refused.value.rule == "R1"
    assert "agreement" in refused.value.reason


def test_r6d_a_complete_review_answers_each_goal_and_item_and_sets_the_next_review() -> None:
    state, events = run(in_force(), review())
    assert [type(e) for e in events] == [ReviewRecorded]
    recorded = events[0]
    assert isinstance(recorded, ReviewRecorded)
    assert recorded.plan_version == 1
    assert recorded.next_review_on == TODAY + REVIEW_INTERVAL
    assert state.plan is not None and state.plan.reviews == ("review-1",)


def test_r6d_the_first_review_falls_due_a_month_after_the_plan_takes_effect() -> None:
    plan = in_force().plan
    assert plan is not None and plan.next_review_on == ACTIVATED + FIRST_REVIEW_AFTER


def test_r6d_a_review_missing_a_goal_is_refused_as_incomplete_input() -> None:
    partial = review(goals=(GoalAnswer(goal_id=GOALS[0], progress=GoalProgress.REACHED),))
    with pytest.raises(IncompleteAnswers) as refused:
        decide(in_force(), partial)
    assert (refused.value.rule, refused.value.field) == ("R6d", "goals")


def test_r6d_a_review_missing_an_item_is_refused_as_incomplete_input() -> None:
    partial = review(items=(ItemAnswer(item_id="item-1", fit=ItemFit.APPROPRIATE),))
    with pytest.raises(IncompleteAnswers) as refused:
        decide(in_force(), partial)
    assert refused.value.field == "items"


def test_r6d_a_review_answering_a_goal_not_in_the_version_in_force_is_refused() -> None:
    extra = review(
        goals=(
            *review().goals,
            GoalAnswer(goal_id="goal-x", progress=GoalProgress.REACHED),
        )
    )
    with pytest.raises(IncompleteAnswers):
        decide(in_force(), extra)


def test_r4_an_item_the_client_declined_is_not_asked_about_in_a_review() -> None:
    state = given(
        LearnItemProgress(plan_version=1, item_id="item-2", progress=ItemProgress.DECLINED),
        state=in_force(),
    )
    answers = (ItemAnswer(item_id="item-1", fit=ItemFit.APPROPRIATE),)
    _, events = run(state, review(items=answers))
    assert isinstance(events[0], ReviewRecorded)


def test_r6d_a_dissatisfied_client_needs_an_action_code() -> None:
    with pytest.raises(ActionRequired) as refused:
        decide(in_force(), review(client_satisfied=False))
    assert refused.value.rule == "R6d"


def test_r6d_a_dissatisfied_manager_needs_an_action_code_too() -> None:
    with pytest.raises(ActionRequired):
        decide(in_force(), review(manager_satisfied=False))


def test_r6d_continuing_unchanged_needs_a_coded_reason() -> None:
    with pytest.raises(ActionRequired):
        decide(in_force(), review(client_satisfied=False, action=ReviewAction.CONTINUE))
    _, events = run(
        in_force(),
        review(
            client_satisfied=False,
            action=ReviewAction.CONTINUE,
            continue_reason=ContinueReason.WAITING_FOR_PLACE,
        ),
    )
    assert [type(e) for e in events] == [ReviewRecorded]


def test_r6d_new_needs_answered_yes_without_domains_is_refused() -> None:
    with pytest.raises(InconsistentNewNeeds):
        decide(in_force(), review(new_needs=True))
    with pytest.raises(InconsistentNewNeeds):
        decide(in_force(), review(new_need_domains=(NeedDomain.FOOD,)))


def test_r6d_new_needs_send_the_case_back_to_planning_with_the_domains() -> None:
    state, events = run(in_force(), review(new_needs=True, new_need_domains=(NeedDomain.FOOD,)))
    assert [type(e) for e in events] == [ReviewRecorded, PlanRevisionRequired]
    required = events[1]
    assert isinstance(required, PlanRevisionRequired)
    assert (required.plan_version, required.review_id) == (1, "review-1")
    assert required.need_domains == (NeedDomain.FOOD,)
    assert state.revision_pending_for == 1


def test_r1_the_revision_stays_pending_until_a_later_version_is_agreed() -> None:
    state, _ = run(in_force(), review(new_needs=True, new_need_domains=(NeedDomain.FOOD,)))
    same = given(LearnReturnToPlanning(plan_version=1), state=state)
    assert same.revision_pending_for == 1
    revised = given(
        LearnPlanInForce(
            plan_version=2,
            activated_on=TODAY + timedelta(days=5),
            goal_ids=GOALS,
            items=ITEMS,
        ),
        state=state,
    )
    assert revised.revision_pending_for is None
    assert revised.plan is not None and revised.plan.version == 2


def test_r6d_a_review_id_is_recorded_once() -> None:
    state, _ = run(in_force(), review())
    with pytest.raises(DuplicateRecord):
        decide(state, review())


def test_r6d_the_next_review_falls_after_today_and_within_half_a_year() -> None:
    with pytest.raises(DateOutOfRange):
        decide(in_force(), review(next_review_on=TODAY))
    with pytest.raises(DateOutOfRange):
        decide(in_force(), review(next_review_on=TODAY + timedelta(days=400)))


def visit(staff_id: str = MANAGER, days_ago: int = 1) -> RecordHomeVisit:
    return RecordHomeVisit(
        visit_id="visit-1",
        visited_on=TODAY - timedelta(days=days_ago),
        staff_id=staff_id,
        today=TODAY,
    )


def test_r6d_the_assigned_manager_records_a_home_visit() -> None:
    state, events = run(in_force(), visit())
    assert state.visits == frozenset({"visit-1"})
    assert len(events) == 1


def test_r6d_a_home_visit_by_another_staff_member_is_refused() -> None:
    with pytest.raises(NotTheAssignedManager) as refused:
        decide(in_force(), visit(staff_id="mgr-2"))
    assert refused.value.rule == "R6d"


def test_r6d_a_home_visit_dated_in_the_future_is_refused() -> None:
    with pytest.raises(DateOutOfRange):
        decide(in_force(), visit(days_ago=-1))


def test_r1_a_home_visit_before_any_plan_is_refused_naming_the_step() -> None:
    with pytest.raises(NotYetMonitored) as refused:
        decide(assigned(), visit())
    assert refused.value.rule == "R1"
