"""Careplan's planning rules on the pure domain (R1, R3, R4, R5, R11): no Kafka, no database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.careplan.domain.commands import (
    AgreeToPlan,
    DraftPlan,
    RecordCrisisIntervention,
    RecordDirectService,
    ReturnToPlanning,
)
from services.careplan.domain.errors import (
    AgreementRefused,
    ClientErasedError,
    DirectServiceRefused,
    ItemDeclined,
    LanguageSupportMissing,
    NeedNotAssessed,
    PlanIncomplete,
    StageNotReached,
)
from services.careplan.domain.events import (
    CaseReturnedToPlanning,
    CrisisInterventionRecorded,
    DirectRole,
    DirectServiceKind,
    DirectServiceRecorded,
    PlanAgreed,
    PlanVersionDrafted,
    UnaddressedNeed,
    UnaddressedReason,
)
from services.careplan.domain.model import CarePlan, ItemStatus, decide
from shared.vocabulary import NeedDomain
from tests.unit.careplan.fixtures import (
    AGENCY,
    TODAY,
    LanguageSupport,
    facts,
    goal,
    linked_item,
    own_item,
    run,
)


def draft(**changes: object) -> DraftPlan:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "plan_date": TODAY,
        "goals": (goal(),),
        "items": (own_item(), linked_item()),
    }
    return DraftPlan(**(base | changes))


def agree(version: int = 1, **changes: object) -> AgreeToPlan:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "plan_version": version,
        "agreed_on": TODAY,
    }
    return AgreeToPlan(**(base | changes))


def crisis(**changes: object) -> RecordCrisisIntervention:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "intervention_id": "ci-1",
        "risk": "homelessness",
        "role": DirectRole.IMPLEMENTER,
        "delivered_on": TODAY,
    }
    return RecordCrisisIntervention(**(base | changes))


def direct(**changes: object) -> RecordDirectService:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "acting_agency_id": AGENCY,
        "service_record_id": "ds-1",
        "kind": DirectServiceKind.SKILLS_TEACHING,
        "role": DirectRole.EDUCATOR,
        "need_domain": NeedDomain.INCOME,
        "goal_id": "g1",
        "delivered_on": TODAY,
    }
    return RecordDirectService(**(base | changes))


# --- R1 stage order -----------------------------------------------------------------------------


def test_drafting_a_plan_before_assignment_is_refused_naming_the_next_step_r1() -> None:
    with pytest.raises(StageNotReached) as refused:
        decide(CarePlan(), draft(case=facts(assigned=False)))

    assert refused.value.rule == "R1"
    assert "next step: assign" in refused.value.reason


def test_a_crisis_intervention_is_accepted_from_assignment_before_any_plan_r1_r5() -> None:
    events = decide(CarePlan(), crisis())

    assert events == [
        CrisisInterventionRecorded(
            intervention_id="ci-1",
            risk="homelessness",
            role=DirectRole.IMPLEMENTER,
            delivered_on=TODAY,
        )
    ]


def test_a_crisis_intervention_before_assignment_is_refused_r1() -> None:
    with pytest.raises(StageNotReached) as refused:
        decide(CarePlan(), crisis(case=facts(assigned=False)))

    assert refused.value.rule == "R1"


def test_a_crisis_intervention_dated_before_the_assignment_is_refused_r1() -> None:
    assigned_on = TODAY - timedelta(days=2)
    case = facts(assigned_on=assigned_on)

    with pytest.raises(StageNotReached) as refused:
        decide(CarePlan(), crisis(case=case, delivered_on=assigned_on - timedelta(days=1)))

    assert refused.value.rule == "R1"
    assert f"earliest allowed date is {assigned_on}" in refused.value.reason
    assert decide(CarePlan(), crisis(case=case, delivered_on=assigned_on))


def test_a_crisis_intervention_names_a_risk_the_assessment_found_r5() -> None:
    with pytest.raises(DirectServiceRefused) as refused:
        decide(CarePlan(), crisis(risk="substance_use"))

    assert refused.value.rule == "R5"


def test_a_direct_service_before_any_agreed_plan_is_refused_naming_the_agreement_r1() -> None:
    state, _ = run(CarePlan(), draft())

    with pytest.raises(StageNotReached) as refused:
        decide(state, direct())

    assert refused.value.rule == "R1"
    assert "agreement to plan version 1" in refused.value.reason


def test_a_plan_dated_before_the_assignment_is_refused_naming_the_earliest_date_r1() -> None:
    assigned_on = TODAY - timedelta(days=3)
    case = facts(assigned_on=assigned_on)

    with pytest.raises(StageNotReached) as refused:
        decide(CarePlan(), draft(case=case, plan_date=assigned_on - timedelta(days=1)))

    assert refused.value.rule == "R1"
    assert f"earliest allowed date is {assigned_on}" in refused.value.reason


def test_a_plan_dated_on_the_day_of_assignment_is_drafted_r1() -> None:
    assigned_on = TODAY - timedelta(days=3)
    case = facts(assigned_on=assigned_on)

    state, _ = run(
        CarePlan(), draft(case=case, plan_date=assigned_on), agree(case=case, agreed_on=assigned_on)
    )

    assert state.in_force == 1


def test_an_agreement_dated_before_the_case_was_assigned_is_refused_r1() -> None:
    # A version drafted before careplan kept the assignment day may be dated before it.
    assigned_on = TODAY - timedelta(days=3)
    state, _ = run(CarePlan(), draft(plan_date=assigned_on - timedelta(days=5)))

    with pytest.raises(StageNotReached) as refused:
        decide(
            state,
            agree(case=facts(assigned_on=assigned_on), agreed_on=assigned_on - timedelta(days=1)),
        )

    assert refused.value.rule == "R1"
    assert f"earliest allowed date is {assigned_on}" in refused.value.reason


def test_a_case_learned_before_careplan_kept_its_assignment_day_bounds_no_plan_date_r1() -> None:
    long_ago = TODAY - timedelta(days=400)

    state, _ = run(
        CarePlan(),
        draft(case=facts(assigned_on=None), plan_date=long_ago),
        agree(case=facts(assigned_on=None), agreed_on=long_ago),
    )

    assert state.in_force == 1


def test_nothing_is_planned_for_an_erased_client_r11() -> None:
    with pytest.raises(ClientErasedError) as refused:
        decide(CarePlan(), draft(case=facts(erased=True)))

    assert refused.value.rule == "R11"


# --- R3 the plan ----------------------------------------------------------------------------------


def test_a_plan_version_records_goals_items_and_the_next_version_number_r3() -> None:
    state, events = run(CarePlan(), draft(), agree(), draft())

    drafted = [e for e in events if isinstance(e, PlanVersionDrafted)]
    assert [e.plan_version for e in drafted] == [1, 2]
    assert drafted[0].goals[0].strengths == ("motivation",)
    assert state.pending == 2 and state.in_force == 1


def test_a_goal_whose_target_date_is_before_the_plan_date_is_refused_r3() -> None:
    with pytest.raises(PlanIncomplete) as refused:
        decide(CarePlan(), draft(goals=(goal(target_date=TODAY - timedelta(days=1)),)))

    assert refused.value.rule == "R3"


def test_a_plan_without_goals_is_refused_r3() -> None:
    with pytest.raises(PlanIncomplete) as refused:
        decide(CarePlan(), draft(goals=()))

    assert refused.value.rule == "R3"


def test_a_goal_built_on_a_strength_the_assessment_did_not_find_is_refused_r3() -> None:
    with pytest.raises(PlanIncomplete) as refused:
        decide(CarePlan(), draft(goals=(goal(strengths=("good_health",)),)))

    assert refused.value.rule == "R3"


def test_an_item_for_a_need_that_was_not_assessed_is_refused_r3() -> None:
    with pytest.raises(NeedNotAssessed) as refused:
        decide(CarePlan(), draft(items=(own_item(need_domain=NeedDomain.LEGAL),)))

    assert refused.value.rule == "R3"


def test_activating_a_plan_with_an_assessed_need_neither_planned_nor_explained_is_refused_r3() -> (
    None
):
    state, _ = run(CarePlan(), draft(items=(own_item(),)))

    with pytest.raises(PlanIncomplete) as refused:
        decide(state, agree())

    assert refused.value.rule == "R3"
    assert "housing" in refused.value.reason
    assert state.in_force is None


def test_a_coded_reason_covers_an_assessed_need_without_an_item_r3() -> None:
    reason = UnaddressedNeed(need_domain=NeedDomain.HOUSING, reason=UnaddressedReason.MET_ELSEWHERE)
    state, _ = run(CarePlan(), draft(items=(own_item(),), unaddressed=(reason,)), agree())

    assert state.in_force == 1


# --- R4 autonomy ----------------------------------------------------------------------------------


def test_a_version_takes_effect_only_once_the_client_agrees_to_it_r4() -> None:
    drafted, _ = run(CarePlan(), draft())
    assert drafted.in_force is None

    agreed, events = run(drafted, agree())

    assert events == [PlanAgreed(plan_version=1, in_force_from=TODAY)]
    assert agreed.in_force == 1 and agreed.pending is None


def test_while_a_revision_waits_for_agreement_the_version_before_stays_in_force_r4() -> None:
    state, _ = run(CarePlan(), draft(), agree(), draft(items=(own_item(), linked_item("i-2"))))

    assert state.in_force == 1 and state.pending == 2
    assert set(state.items) == {"i-income", "i-housing"}
    with pytest.raises(AgreementRefused) as refused:
        decide(state, agree(version=1))
    assert refused.value.rule == "R4"

    revised, events = run(state, agree(version=2))
    assert revised.in_force == 2
    assert events[0] == PlanAgreed(plan_version=2, in_force_from=TODAY, superseded_version=1)


def test_an_item_the_client_declined_is_never_activated_r4() -> None:
    state, _ = run(CarePlan(), draft(), agree(declined_items=("i-housing",)))

    assert state.items["i-housing"].status is ItemStatus.CLIENT_DECLINED
    assert state.items["i-income"].status is ItemStatus.PLANNED


def test_an_agreement_dated_ahead_of_today_is_refused_r4() -> None:
    state, _ = run(CarePlan(), draft())

    with pytest.raises(AgreementRefused) as refused:
        decide(state, agree(agreed_on=TODAY + timedelta(days=1)))

    assert refused.value.rule == "R4"


# --- R5 direct services ---------------------------------------------------------------------------


def test_a_direct_service_records_kind_role_need_goal_and_date_r5() -> None:
    state, events = run(CarePlan(), draft(), agree(), direct())

    assert events[-1] == DirectServiceRecorded(
        service_record_id="ds-1",
        plan_version=1,
        kind=DirectServiceKind.SKILLS_TEACHING,
        role=DirectRole.EDUCATOR,
        need_domain=NeedDomain.INCOME,
        goal_id="g1",
        delivered_on=TODAY,
    )
    assert state.items["i-income"].delivered


def test_a_direct_service_for_an_item_the_client_declined_is_refused_r4() -> None:
    state, _ = run(CarePlan(), draft(), agree(declined_items=("i-income",)))

    with pytest.raises(ItemDeclined) as refused:
        decide(state, direct())

    assert refused.value.rule == "R4"


def test_a_direct_service_by_another_agency_is_refused_r5() -> None:
    state, _ = run(CarePlan(), draft(), agree())

    with pytest.raises(DirectServiceRefused) as refused:
        decide(state, direct(acting_agency_id="ag-other"))

    assert refused.value.rule == "R5"


def test_a_direct_service_dated_ahead_is_refused_r5() -> None:
    state, _ = run(CarePlan(), draft(), agree())

    with pytest.raises(DirectServiceRefused) as refused:
        decide(state, direct(delivered_on=TODAY + timedelta(days=1)))

    assert refused.value.rule == "R5"


# --- R11 language ---------------------------------------------------------------------------------


def test_a_client_facing_item_without_language_support_is_refused_when_an_interpreter_is_needed_r11() -> (  # noqa: E501
    None
):
    case = facts(interpreter_needed=True)

    with pytest.raises(LanguageSupportMissing) as refused:
        decide(CarePlan(), draft(case=case))

    assert refused.value.rule == "R11"
    supported = (
        own_item(language_support=LanguageSupport.INTERPRETER),
        linked_item(client_facing=False),
    )
    assert decide(CarePlan(), draft(case=case, items=supported))


# --- R6d back to planning -------------------------------------------------------------------------


def test_a_review_with_new_needs_sends_the_case_back_to_planning_once_r6d() -> None:
    state, _ = run(CarePlan(), draft(), agree())
    back = ReturnToPlanning(
        case=facts(),
        today=TODAY,
        plan_version=1,
        review_id="rev-1",
        need_domains=(NeedDomain.MENTAL_HEALTH,),
    )

    state, events = run(state, back, back)

    assert events == [
        CaseReturnedToPlanning(
            plan_version=1, review_id="rev-1", need_domains=(NeedDomain.MENTAL_HEALTH,)
        )
    ]
    assert state.returned_to_planning
    # The new need is now one the next version must address (R3).
    with pytest.raises(PlanIncomplete):
        run(state, draft(), agree(version=2))
    reason = UnaddressedNeed(
        need_domain=NeedDomain.MENTAL_HEALTH, reason=UnaddressedReason.NO_RESOURCE
    )
    revised, _ = run(state, draft(unaddressed=(reason,)), agree(version=2))
    assert revised.in_force == 2 and not revised.returned_to_planning


@given(
    declined=st.sets(st.sampled_from(["i-income", "i-housing", "i-neighbour"])),
)
def test_any_items_the_client_declines_stay_declined_and_the_rest_are_planned_r4(
    declined: set[str],
) -> None:
    from tests.unit.careplan.fixtures import informal_item

    items = (own_item(), linked_item(), informal_item())
    state, _ = run(CarePlan(), draft(items=items), agree(declined_items=tuple(sorted(declined))))

    for item_id, found in state.items.items():
        expected = ItemStatus.CLIENT_DECLINED if item_id in declined else ItemStatus.PLANNED
        assert found.status is expected


@given(
    planned=st.sets(st.sampled_from([NeedDomain.HOUSING, NeedDomain.INCOME])),
    explained=st.sets(st.sampled_from([NeedDomain.HOUSING, NeedDomain.INCOME])),
)
def test_a_version_is_agreed_exactly_when_every_assessed_need_has_an_item_or_a_reason_r3(
    planned: set[NeedDomain], explained: set[NeedDomain]
) -> None:
    items = tuple(
        own_item(f"i-{need}", need_domain=need, language_support=None) for need in sorted(planned)
    )
    reasons = tuple(
        UnaddressedNeed(need_domain=need, reason=UnaddressedReason.NO_RESOURCE)
        for need in sorted(explained)
    )
    state, _ = run(CarePlan(), draft(items=items, unaddressed=reasons))

    if planned | explained == {NeedDomain.HOUSING, NeedDomain.INCOME}:
        agreed, _ = run(state, agree())
        assert agreed.in_force == 1
    else:
        with pytest.raises(PlanIncomplete) as refused:
            decide(state, agree())
        assert refused.value.rule == "R3"
