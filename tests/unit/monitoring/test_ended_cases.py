"""A case closure terminated takes no further monitoring command (R8): staff commands are
refused naming the rule and that the case ended, nothing of it falls overdue any more, and
facts other services publish later change nothing. Pure domain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.monitoring.domain.commands import (
    FollowUpForm,
    LearnAssignment,
    LearnItemProgress,
    LearnPlanInForce,
    LearnTermination,
    MarkOverdue,
    MonitoringCommand,
    RecordBaseline,
    RecordEvaluation,
    RecordHomeVisit,
    ReturnForm,
    SendForm,
)
from services.monitoring.domain.errors import CaseEnded
from services.monitoring.domain.events import (
    CaseTerminationLearned,
    FollowUpKind,
    GoalRated,
    GoalRating,
    ItemProgress,
)
from services.monitoring.domain.model import MonitoringState, decide
from tests.unit.monitoring.helpers import (
    ACTIVATED,
    AGENCY,
    GOALS,
    ITEMS,
    MANAGER,
    TODAY,
    given,
    in_force,
    review,
    run,
)

ENDED_ON = TODAY


def terminated(state: MonitoringState | None = None) -> MonitoringState:
    """The case with a plan in force, a form out, then ended at closure."""
    return given(
        SendForm(form_id="form-1", due_on=TODAY + timedelta(days=14), today=TODAY),
        LearnTermination(terminated_on=ENDED_ON),
        state=state or in_force(),
    )


STAFF_COMMANDS: dict[str, MonitoringCommand] = {
    "review": review(),
    "home visit": RecordHomeVisit(visit_id="v-1", visited_on=TODAY, staff_id=MANAGER, today=TODAY),
    "form sent": SendForm(form_id="form-2", due_on=TODAY + timedelta(days=14), today=TODAY),
    "form returned": ReturnForm(form_id="form-1", negative=True, today=TODAY),
    "form followed up": FollowUpForm(form_id="form-1", kind=FollowUpKind.CONTACT, today=TODAY),
    "baseline": RecordBaseline(instrument="phq9", score=10, scored_on=ACTIVATED, today=TODAY),
    "evaluation": RecordEvaluation(
        evaluation_id="ev-1",
        today=TODAY,
        goals=tuple(GoalRated(goal_id=g, rating=GoalRating.ACHIEVED) for g in GOALS),
        scores={},
        no_further_service_needed=True,
    ),
}


def test_closure_ending_the_case_is_learned_once_r8() -> None:
    state, events = run(in_force(), LearnTermination(terminated_on=ENDED_ON))

    assert events == [CaseTerminationLearned(terminated_on=ENDED_ON)]
    assert state.terminated_on == ENDED_ON
    assert decide(state, LearnTermination(terminated_on=ENDED_ON)) == []


@pytest.mark.parametrize("name", sorted(STAFF_COMMANDS))
def test_every_staff_command_on_a_terminated_case_is_refused_naming_the_end_r8(name: str) -> None:
    with pytest.raises(CaseEnded) as refused:
        decide(terminated(), STAFF_COMMANDS[name])

    assert refused.value.rule == "R8"
    assert "ended" in refused.value.reason


@pytest.mark.parametrize("name", ["review", "home visit", "form sent", "baseline"])
def test_the_same_commands_are_accepted_while_the_case_is_open_r8(name: str) -> None:
    assert decide(in_force(), STAFF_COMMANDS[name])


def test_nothing_of_a_terminated_case_falls_overdue_r6d_r8() -> None:
    long_after = ACTIVATED + timedelta(days=400)  # review, form and items all long overdue
    assert decide(in_force(), MarkOverdue(today=long_after)), "an open case has overdue facts"

    assert decide(terminated(), MarkOverdue(today=long_after)) == []


def test_facts_published_after_the_end_change_nothing_r8() -> None:
    ended = terminated()
    later = (
        LearnAssignment(agency_id=AGENCY, manager_id="mgr-2"),
        LearnPlanInForce(plan_version=2, activated_on=TODAY, goal_ids=GOALS, items=ITEMS),
        LearnItemProgress(item_id=ITEMS[0].item_id, progress=ItemProgress.DELIVERED),
    )

    for command in later:
        assert decide(ended, command) == []
