"""R8, R10, R1: when a case may end, the class its reason gives it, and what comes with it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.closure.domain.commands import (
    ApproveTermination,
    LearnCaseOpened,
    LearnReturnToPlanning,
    TerminateCase,
)
from services.closure.domain.errors import (
    ApprovalMissing,
    CaseAlreadyTerminated,
    CaseNotOpen,
    EvaluationMissing,
    PreparationIncomplete,
    PreparationMissing,
    ReferralAnswerMissing,
    ReferralAnswerNotAsked,
)
from services.closure.domain.events import (
    CaseTerminated,
    ReferralIssued,
    ReferralOfferAnswered,
    ReferralPending,
    TerminationClass,
    TerminationReason,
    class_of,
)
from services.closure.domain.model import CaseState
from tests.unit.closure.helpers import (
    TODAY,
    consent,
    evaluated,
    facts,
    given,
    open_case,
    preparation,
    run,
    service,
    terminate,
)

APPROVAL = ApproveTermination(today=TODAY, supervisor_id="sup-1")


@pytest.mark.parametrize(
    ("reason", "klass"),
    [
        (TerminationReason.GOALS_ACHIEVED, TerminationClass.COMPLETE),
        (TerminationReason.NO_FURTHER_SERVICE_NEEDED, TerminationClass.COMPLETE),
        (TerminationReason.CLIENT_DIED, TerminationClass.ENDED),
        (TerminationReason.MANAGER_LEFT, TerminationClass.INCOMPLETE),
        (TerminationReason.AGENCY_CLOSED, TerminationClass.INCOMPLETE),
        (TerminationReason.PROGRAMME_ENDED, TerminationClass.INCOMPLETE),
        (TerminationReason.CLIENT_WITHDREW, TerminationClass.CLIENT_INITIATED),
        (TerminationReason.CLIENT_MOVED_AWAY, TerminationClass.CLIENT_INITIATED),
    ],
)
def test_each_reason_has_one_fixed_class_r8(
    reason: TerminationReason, klass: TerminationClass
) -> None:
    assert class_of(reason) is klass


def test_a_termination_command_carrying_a_class_is_refused_as_bad_input_r8() -> None:
    sent = terminate(TerminationReason.CLIENT_DIED, facts()).model_dump()
    with pytest.raises(ValidationError):
        TerminateCase.model_validate({**sent, "termination_class": "complete"})


def test_the_recorded_class_is_the_one_derived_from_the_reason_r8() -> None:
    _, events = run(open_case(), terminate(TerminationReason.CLIENT_DIED, facts()))
    ended = events[0]
    assert isinstance(ended, CaseTerminated)
    assert ended.termination_class is TerminationClass.ENDED


def test_death_ends_the_case_from_intake_without_a_referral_r1_r8() -> None:
    at_intake = given(LearnCaseOpened(agency_id="agency-a", opened_on=TODAY))
    _, events = run(at_intake, terminate(TerminationReason.CLIENT_DIED, facts()))
    assert [type(e) for e in events] == [CaseTerminated]


@pytest.mark.parametrize(
    "reason",
    [
        TerminationReason.MANAGER_LEFT,
        TerminationReason.AGENCY_CLOSED,
        TerminationReason.PROGRAMME_ENDED,
    ],
)
def test_an_incomplete_termination_is_decided_with_its_referral_from_any_open_stage_r1_r9(
    reason: TerminationReason,
) -> None:
    network = facts(service("agency-b", open_case().needs[0]), consents=[consent("agency-b")])
    _, events = run(open_case(), terminate(reason, network))
    assert [type(e) for e in events] == [CaseTerminated, ReferralIssued]


def test_an_incomplete_termination_without_consent_is_written_with_a_pending_referral_r9() -> None:
    network = facts(service("agency-b", open_case().needs[0]))
    _, events = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, network))
    assert [type(e) for e in events] == [CaseTerminated, ReferralPending]


def test_a_case_closure_never_learned_of_cannot_be_terminated_r1() -> None:
    with pytest.raises(CaseNotOpen) as refused:
        run(CaseState(), terminate(TerminationReason.CLIENT_DIED, facts()))
    assert refused.value.rule == "R1"


def test_a_terminated_case_takes_no_further_closure_command_r8() -> None:
    ended, _ = run(open_case(), terminate(TerminationReason.CLIENT_DIED, facts()))
    for command in (terminate(TerminationReason.CLIENT_DIED, facts()), preparation(), APPROVAL):
        with pytest.raises(CaseAlreadyTerminated) as refused:
            run(ended, command)
        assert refused.value.rule == "R8"


def test_a_planned_termination_before_an_evaluation_is_refused_naming_the_next_step_r1() -> None:
    with pytest.raises(EvaluationMissing) as refused:
        run(open_case(), terminate(TerminationReason.GOALS_ACHIEVED, facts()))
    assert refused.value.rule == "R1"
    assert "evaluation" in refused.value.reason


def test_an_evaluation_that_does_not_permit_it_refuses_a_planned_termination_r8() -> None:
    with pytest.raises(EvaluationMissing):
        run(
            evaluated(open_case(), permits=False),
            terminate(TerminationReason.GOALS_ACHIEVED, facts()),
        )


def test_a_planned_termination_needs_the_preparation_first_r10() -> None:
    with pytest.raises(PreparationMissing) as refused:
        run(evaluated(open_case()), terminate(TerminationReason.GOALS_ACHIEVED, facts()))
    assert refused.value.rule == "R10"


def test_a_preparation_leaving_a_step_undone_is_refused_r10() -> None:
    with pytest.raises(PreparationIncomplete) as refused:
        run(open_case(), preparation(help_again_explained=False))
    assert "ask for help again" in refused.value.reason


def test_a_planned_termination_needs_a_supervisors_approval_r8() -> None:
    prepared = given(preparation(), state=evaluated(open_case()))
    with pytest.raises(ApprovalMissing) as refused:
        run(prepared, terminate(TerminationReason.NO_FURTHER_SERVICE_NEEDED, facts()))
    assert refused.value.rule == "R8"


def test_approval_waits_for_the_preparation_r10() -> None:
    with pytest.raises(PreparationMissing):
        run(evaluated(open_case()), APPROVAL)


def test_a_planned_termination_after_evaluation_preparation_and_approval_goes_through_r8_r10() -> (
    None
):
    ready = given(preparation(), APPROVAL, state=evaluated(open_case()))
    state, events = run(ready, terminate(TerminationReason.GOALS_ACHIEVED, facts()))
    assert [type(e) for e in events] == [CaseTerminated]
    assert state.terminated is not None


def test_back_in_planning_the_earlier_evaluation_and_approval_lapse_r1() -> None:
    ready = given(preparation(), APPROVAL, state=evaluated(open_case()))
    back = given(LearnReturnToPlanning(plan_version=2), state=ready)
    with pytest.raises(EvaluationMissing):
        run(back, terminate(TerminationReason.GOALS_ACHIEVED, facts()))


def test_a_client_ending_care_must_have_their_answer_to_the_offer_recorded_r8() -> None:
    with pytest.raises(ReferralAnswerMissing):
        run(open_case(), terminate(TerminationReason.CLIENT_WITHDREW, facts()))


def test_a_client_declining_the_offer_ends_the_case_without_a_referral_r4_r8() -> None:
    _, events = run(
        open_case(), terminate(TerminationReason.CLIENT_MOVED_AWAY, facts(), accepts=False)
    )
    assert [type(e) for e in events] == [CaseTerminated, ReferralOfferAnswered]
    answer = events[1]
    assert isinstance(answer, ReferralOfferAnswered) and not answer.accepted


def test_a_client_accepting_the_offer_gets_the_referral_in_the_same_decision_r8_r9() -> None:
    network = facts(service("agency-b", open_case().needs[0]), consents=[consent("agency-b")])
    _, events = run(
        open_case(), terminate(TerminationReason.CLIENT_WITHDREW, network, accepts=True)
    )
    assert [type(e) for e in events] == [CaseTerminated, ReferralOfferAnswered, ReferralIssued]


def test_an_answer_to_an_offer_is_refused_when_no_offer_is_made_r8() -> None:
    with pytest.raises(ReferralAnswerNotAsked):
        run(open_case(), terminate(TerminationReason.CLIENT_DIED, facts(), accepts=True))
