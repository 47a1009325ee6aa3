"""What monitoring learns from intake and careplan is recorded once: a repeated or stale fact
decides nothing, so a redelivered event never changes the case twice; and the scheduler's
events carry ids derived from the fact alone."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.monitoring.application.scheduler import OVERDUE_IDS, overdue_context
from services.monitoring.domain.commands import (
    LearnAssignment,
    LearnConsent,
    LearnConsentWithdrawal,
    LearnItemProgress,
    LearnPlanInForce,
    LearnReturnToPlanning,
)
from services.monitoring.domain.events import FormOverdue, ItemProgress, ReviewOverdue
from services.monitoring.domain.model import decide
from tests.unit.monitoring.helpers import (
    ACTIVATED,
    AGENCY,
    GOALS,
    ITEMS,
    MANAGER,
    TODAY,
    assigned,
    given,
    in_force,
)


def test_r1_a_plan_version_already_in_force_or_older_is_not_learned_again() -> None:
    state = in_force()
    again = LearnPlanInForce(plan_version=1, activated_on=ACTIVATED, goal_ids=GOALS, items=ITEMS)
    assert decide(state, again) == []


def test_r12_a_reassignment_changes_the_manager_and_a_repeat_changes_nothing() -> None:
    moved = given(LearnAssignment(agency_id=AGENCY, manager_id="mgr-9"), state=assigned())
    assert moved.manager_id == "mgr-9"
    assert decide(moved, LearnAssignment(agency_id=AGENCY, manager_id="mgr-9")) == []
    assert decide(assigned(), LearnAssignment(agency_id=AGENCY, manager_id=MANAGER)) == []


def test_r4_a_consent_for_other_purposes_is_not_one_for_forms() -> None:
    other = LearnConsent(
        consent_id="consent-2",
        agencies=(AGENCY,),
        for_monitoring=False,
        valid_from=ACTIVATED,
        valid_until=ACTIVATED + timedelta(days=30),
    )
    assert decide(assigned(), other) == []
    assert (
        decide(assigned(), LearnConsentWithdrawal(consent_id="consent-2", withdrawn_on=TODAY)) == []
    )


def test_an_item_state_of_a_version_no_longer_in_force_is_passed_over() -> None:
    stale = LearnItemProgress(plan_version=7, item_id="item-1", progress=ItemProgress.DELIVERED)
    assert decide(in_force(), stale) == []
    unknown = LearnItemProgress(item_id="item-x", progress=ItemProgress.DELIVERED)
    assert decide(in_force(), unknown) == []
    same = LearnItemProgress(item_id="item-1", progress=ItemProgress.PLANNED)
    assert decide(in_force(), same) == []


def test_r1_a_return_to_planning_of_a_superseded_version_is_passed_over() -> None:
    revised = given(
        LearnPlanInForce(plan_version=2, activated_on=TODAY, goal_ids=GOALS, items=ITEMS),
        state=in_force(),
    )
    assert decide(revised, LearnReturnToPlanning(plan_version=1)) == []
    back = given(LearnReturnToPlanning(plan_version=2), state=revised)
    assert back.revision_pending_for == 2
    assert decide(back, LearnReturnToPlanning(plan_version=2)) == []


def test_r6d_the_same_overdue_fact_always_has_the_same_event_id_and_another_fact_another() -> None:
    def event_id(case_id: str, event: FormOverdue | ReviewOverdue) -> object:
        return overdue_context(AGENCY).envelope(case_id, event).metadata.event_id

    form = FormOverdue(form_id="form-1", due_on=TODAY)
    assert event_id("case-1", form) == event_id("case-1", form)
    assert event_id("case-1", form) != event_id("case-2", form)
    assert event_id("case-1", form) != event_id(
        "case-1", FormOverdue(form_id="form-1", due_on=TODAY + timedelta(days=1))
    )
    assert event_id("case-1", form) != event_id(
        "case-1", ReviewOverdue(plan_version=1, due_on=TODAY)
    )


def test_r6d_an_overdue_fact_keeps_the_id_it_was_stored_under_before_the_kit_derived_ids() -> None:
    # Events stored by earlier releases carry uuid5(namespace, "case/type/payload JSON"): a
    # fact decided again must meet them, so the derivation may never change.
    form = FormOverdue(form_id="form-1", due_on=TODAY)
    stored = uuid.uuid5(OVERDUE_IDS, f"case-1/FormOverdue/{form.model_dump_json()}")
    assert overdue_context(AGENCY).envelope("case-1", form).metadata.event_id == stored
