"""Evaluation (R7): its own record, after a review, no revision pending, every goal rated,
instruments from the registry against baselines, both network-capacity measures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from services.monitoring.domain.commands import (
    LearnPlanInForce,
    RecordBaseline,
    RecordEvaluation,
)
from services.monitoring.domain.errors import (
    BaselineMissing,
    DateOutOfRange,
    DuplicateRecord,
    IncompleteAnswers,
    NoReviewYet,
    RevisionPending,
    UnknownInstrument,
)
from services.monitoring.domain.events import EvaluationRecorded, GoalRated, GoalRating
from services.monitoring.domain.instruments import (
    REGISTRY,
    SERVICE_PROVIDERS,
    SOCIAL_NETWORK,
)
from services.monitoring.domain.model import MonitoringState, decide
from shared.vocabulary import NeedDomain
from tests.unit.monitoring.helpers import ACTIVATED, GOALS, ITEMS, TODAY, given, in_force, review

BASELINES = {SOCIAL_NETWORK: 10, SERVICE_PROVIDERS: 12, "phq9": 18}


def baselined(state: MonitoringState | None = None) -> MonitoringState:
    current = state or in_force()
    for code, score in BASELINES.items():
        current = given(
            RecordBaseline(instrument=code, score=score, scored_on=ACTIVATED, today=TODAY),
            state=current,
        )
    return current


def reviewed() -> MonitoringState:
    return given(review(), state=baselined())


def evaluation(
    ratings: tuple[GoalRating, ...] = (GoalRating.ACHIEVED, GoalRating.PARTLY), **changes: object
) -> RecordEvaluation:
    fields: dict[str, object] = dict(
        evaluation_id="eval-1",
        today=TODAY,
        goals=tuple(GoalRated(goal_id=g, rating=r) for g, r in zip(GOALS, ratings, strict=True)),
        scores={SOCIAL_NETWORK: 18, SERVICE_PROVIDERS: 15, "phq9": 9},
        no_further_service_needed=False,
    )
    fields.update(changes)
    return RecordEvaluation.model_validate(fields)


def test_r7_an_evaluation_rates_every_goal_and_computes_the_change_on_each_instrument() -> None:
    [recorded] = decide(reviewed(), evaluation())
    assert isinstance(recorded, EvaluationRecorded)
    changes = {r.instrument: r.change for r in recorded.instruments}
    assert changes == {SOCIAL_NETWORK: 8, SERVICE_PROVIDERS: 3, "phq9": 9}
    assert not recorded.permits_planned_termination


def test_r7_an_evaluation_before_any_review_of_the_version_in_force_is_refused() -> None:
    with pytest.raises(NoReviewYet) as refused:
        decide(baselined(), evaluation())
    assert refused.value.rule == "R7"


def test_r7_a_review_of_an_earlier_version_does_not_count_for_the_new_one() -> None:
    revised = given(
        LearnPlanInForce(plan_version=2, activated_on=TODAY, goal_ids=GOALS, items=ITEMS),
        state=reviewed(),
    )
    with pytest.raises(NoReviewYet):
        decide(revised, evaluation())


def test_r1_an_evaluation_while_a_revision_is_pending_is_refused_naming_the_agreement() -> None:
    pending = given(
        review("review-2", new_needs=True, new_need_domains=(NeedDomain.LEGAL,)),
        state=reviewed(),
    )
    with pytest.raises(RevisionPending) as refused:
        decide(pending, evaluation())
    assert refused.value.rule == "R1"
    assert "agreement" in refused.value.reason


def test_r7_an_evaluation_that_leaves_a_goal_unrated_is_incomplete_input() -> None:
    partial = evaluation(goals=(GoalRated(goal_id=GOALS[0], rating=GoalRating.ACHIEVED),))
    with pytest.raises(IncompleteAnswers) as refused:
        decide(reviewed(), partial)
    assert (refused.value.rule, refused.value.field) == ("R7", "goals")


def test_r7_both_network_capacity_measures_are_scored() -> None:
    without = evaluation(scores={SOCIAL_NETWORK: 18, "phq9": 9})
    with pytest.raises(IncompleteAnswers) as refused:
        decide(reviewed(), without)
    assert refused.value.field == "scores"


def test_r7_an_instrument_without_a_baseline_is_refused() -> None:
    with pytest.raises(BaselineMissing):
        decide(reviewed(), evaluation(scores={SOCIAL_NETWORK: 1, SERVICE_PROVIDERS: 2, "gad7": 3}))


def test_r7_an_instrument_outside_the_registry_or_its_range_is_refused() -> None:
    with pytest.raises(UnknownInstrument):
        decide(
            in_force(),
            RecordBaseline(instrument="made_up", score=1, scored_on=ACTIVATED, today=TODAY),
        )
    with pytest.raises(UnknownInstrument):
        decide(
            in_force(),
            RecordBaseline(instrument="phq9", score=28, scored_on=ACTIVATED, today=TODAY),
        )


def test_r7_a_baseline_is_scored_at_or_after_plan_activation_and_once() -> None:
    before = RecordBaseline(
        instrument="phq9", score=10, scored_on=ACTIVATED - timedelta(days=1), today=TODAY
    )
    with pytest.raises(DateOutOfRange):
        decide(in_force(), before)
    with pytest.raises(DuplicateRecord):
        decide(
            baselined(),
            RecordBaseline(instrument="phq9", score=10, scored_on=TODAY, today=TODAY),
        )


def test_r8_every_goal_achieved_permits_a_planned_termination() -> None:
    [recorded] = decide(reviewed(), evaluation((GoalRating.ACHIEVED, GoalRating.ACHIEVED)))
    assert isinstance(recorded, EvaluationRecorded) and recorded.permits_planned_termination


def test_r8_no_further_service_needed_permits_a_planned_termination() -> None:
    [recorded] = decide(
        reviewed(),
        evaluation((GoalRating.NOT_ACHIEVED, GoalRating.PARTLY), no_further_service_needed=True),
    )
    assert isinstance(recorded, EvaluationRecorded) and recorded.permits_planned_termination


@for_all(
    code=st.sampled_from(sorted(REGISTRY)),
    data=st.data(),
)
def test_r7_the_degree_of_change_is_positive_exactly_when_the_client_is_better_off(
    code: str, data: st.DataObject
) -> None:
    instrument = REGISTRY[code]
    scores = st.integers(min_value=instrument.minimum, max_value=instrument.maximum)
    baseline, later = data.draw(scores), data.draw(scores)
    better = later > baseline if instrument.higher_is_better else later < baseline
    assert (instrument.change(baseline, later) > 0) == better


def test_r1_new_needs_after_an_evaluation_withdraw_its_permission_to_terminate() -> None:
    evaluated = given(evaluation((GoalRating.ACHIEVED, GoalRating.ACHIEVED)), state=reviewed())
    assert evaluated.planned_termination_permitted
    back = given(
        review("review-2", new_needs=True, new_need_domains=(NeedDomain.LEGAL,)),
        state=evaluated,
    )
    assert not back.planned_termination_permitted
