"""Mailed forms (R4 consent, R6d aftercare) and what the scheduler finds overdue (R6d, R12)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from services.monitoring.domain.commands import (
    FollowUpForm,
    LearnConsentWithdrawal,
    LearnItemProgress,
    MarkOverdue,
    ReturnForm,
    SendForm,
)
from services.monitoring.domain.errors import (
    DateOutOfRange,
    FormAlreadyReturned,
    NoMonitoringConsent,
    NothingToFollowUp,
    UnknownForm,
    UnknownReview,
)
from services.monitoring.domain.events import (
    FollowUpKind,
    FormOverdue,
    ItemDelayed,
    ItemProgress,
    ReviewOverdue,
)
from services.monitoring.domain.model import MonitoringState, decide
from services.monitoring.domain.state import FIRST_REVIEW_AFTER
from tests.unit.monitoring.helpers import ACTIVATED, TODAY, given, in_force, review, run

DUE = TODAY + timedelta(days=14)


def sent(state: MonitoringState | None = None) -> MonitoringState:
    return given(SendForm(form_id="form-1", due_on=DUE, today=TODAY), state=state or in_force())


def test_r4_a_form_is_sent_under_the_clients_consent_for_monitoring() -> None:
    state = sent()
    assert state.forms["form-1"].consent_id == "consent-1"


def test_r4_a_form_without_a_consent_in_force_is_refused() -> None:
    withdrawn = given(
        LearnConsentWithdrawal(consent_id="consent-1", withdrawn_on=TODAY), state=in_force()
    )
    with pytest.raises(NoMonitoringConsent) as refused:
        decide(withdrawn, SendForm(form_id="form-1", due_on=DUE, today=TODAY))
    assert refused.value.rule == "R4"


def test_r6d_a_form_is_due_back_after_the_day_it_is_sent() -> None:
    with pytest.raises(DateOutOfRange):
        decide(in_force(), SendForm(form_id="form-1", due_on=TODAY, today=TODAY))


def test_r6d_a_return_for_a_form_never_sent_is_refused() -> None:
    with pytest.raises(UnknownForm):
        decide(in_force(), ReturnForm(form_id="form-9", negative=False, today=TODAY))


def test_r6d_a_second_return_of_the_same_form_is_refused() -> None:
    state = given(ReturnForm(form_id="form-1", negative=False, today=TODAY), state=sent())
    with pytest.raises(FormAlreadyReturned):
        decide(state, ReturnForm(form_id="form-1", negative=True, today=TODAY))


def test_r6d_a_negative_answer_waits_for_a_follow_up_until_one_is_recorded() -> None:
    state = given(ReturnForm(form_id="form-1", negative=True, today=TODAY), state=sent())
    assert state.forms["form-1"].awaits_follow_up
    state = given(
        FollowUpForm(form_id="form-1", kind=FollowUpKind.CONTACT, today=TODAY), state=state
    )
    assert not state.forms["form-1"].awaits_follow_up
    with pytest.raises(NothingToFollowUp):
        decide(state, FollowUpForm(form_id="form-1", kind=FollowUpKind.CONTACT, today=TODAY))


def test_r6d_a_positive_form_has_nothing_to_follow_up() -> None:
    state = given(ReturnForm(form_id="form-1", negative=False, today=TODAY), state=sent())
    with pytest.raises(NothingToFollowUp):
        decide(state, FollowUpForm(form_id="form-1", kind=FollowUpKind.CONTACT, today=TODAY))


def test_r6d_a_follow_up_by_review_names_a_review_held_since_the_return() -> None:
    state = given(ReturnForm(form_id="form-1", negative=True, today=TODAY), state=sent())
    by_review = FollowUpForm(
        form_id="form-1", kind=FollowUpKind.REVIEW, review_id="review-1", today=TODAY
    )
    with pytest.raises(UnknownReview):
        decide(state, by_review)
    reviewed = given(review(), state=state)
    _, events = run(reviewed, by_review)
    assert len(events) == 1


def test_r6d_the_scheduler_finds_an_unreturned_form_overdue_once() -> None:
    state = sent()
    on_the_due_date = decide(state, MarkOverdue(today=DUE))
    assert not [e for e in on_the_due_date if isinstance(e, FormOverdue)]
    state, events = run(state, MarkOverdue(today=DUE + timedelta(days=1)))
    assert FormOverdue(form_id="form-1", due_on=DUE) in events
    assert not [
        e
        for e in decide(state, MarkOverdue(today=DUE + timedelta(days=9)))
        if isinstance(e, FormOverdue)
    ]


def test_r6d_a_form_returned_in_time_is_never_overdue() -> None:
    state = given(ReturnForm(form_id="form-1", negative=False, today=DUE), state=sent())
    later = decide(state, MarkOverdue(today=DUE + timedelta(days=30)))
    assert not [e for e in later if isinstance(e, FormOverdue)]


def test_r6d_an_unreviewed_plan_is_overdue_the_day_after_its_review_date() -> None:
    due = ACTIVATED + FIRST_REVIEW_AFTER
    state = in_force()
    assert not [e for e in decide(state, MarkOverdue(today=due)) if isinstance(e, ReviewOverdue)]
    state, events = run(state, MarkOverdue(today=due + timedelta(days=1)))
    assert ReviewOverdue(plan_version=1, due_on=due) in events
    again = decide(state, MarkOverdue(today=due + timedelta(days=2)))
    assert not [e for e in again if isinstance(e, ReviewOverdue)]


def test_r12_an_item_past_its_end_and_not_delivered_is_delayed_once() -> None:
    state, events = run(in_force(), MarkOverdue(today=TODAY))
    delayed = [e for e in events if isinstance(e, ItemDelayed)]
    assert [e.item_id for e in delayed] == ["item-2"]
    assert not [e for e in decide(state, MarkOverdue(today=TODAY)) if isinstance(e, ItemDelayed)]


def test_r12_a_delivered_or_declined_item_is_never_delayed() -> None:
    for progress in (ItemProgress.DELIVERED, ItemProgress.DECLINED):
        state = given(
            LearnItemProgress(plan_version=1, item_id="item-2", progress=progress),
            state=in_force(),
        )
        events = decide(state, MarkOverdue(today=TODAY))
        assert not [e for e in events if isinstance(e, ItemDelayed)]


@for_all(
    days=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=12),
    returned_after=st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
)
def test_r6d_however_often_the_scheduler_runs_each_overdue_fact_is_said_once(
    days: list[int], returned_after: int | None
) -> None:
    state = sent()
    if returned_after is not None:
        state = given(
            ReturnForm(
                form_id="form-1", negative=False, today=TODAY + timedelta(days=returned_after)
            ),
            state=state,
        )
    said: list[object] = []
    for offset in sorted(days):
        state, events = run(state, MarkOverdue(today=TODAY + timedelta(days=offset)))
        said.extend(events)
    assert len(said) == len(set(said))
    form_overdue = [e for e in said if isinstance(e, FormOverdue)]
    if returned_after is not None and returned_after <= (DUE - TODAY).days:
        assert form_overdue == []  # returned in time: never overdue


def test_r6d_nothing_is_overdue_for_a_case_without_a_plan_or_forms() -> None:
    assert decide(MonitoringState(), MarkOverdue(today=date(2030, 1, 1))) == []
