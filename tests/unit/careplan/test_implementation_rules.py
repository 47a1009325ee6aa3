"""Careplan's indirect services on the pure domain (R6a linking, R6b advocacy, R6c roles, R4)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.careplan.domain.commands import (
    AgreeToPlan,
    AnswerLink,
    ConcludeAdvocacy,
    DraftPlan,
    LinkItem,
    StartAdvocacy,
    TakeAdvocacyStep,
)
from services.careplan.domain.errors import (
    AdvocacyRefused,
    AnswerRefused,
    ItemDeclined,
    LinkOutReasonMissing,
    LinkRefused,
    NoConsent,
)
from services.careplan.domain.events import (
    STEP_EVENTS,
    AdvocacyConcluded,
    AdvocacyOutcome,
    AdvocacyStarted,
    AppealedThroughChainOfCommand,
    CaseReturnedToPlanning,
    EscalationReason,
    IndirectRole,
    ItemLinked,
    LinkDeclineReason,
    LinkOutReason,
    MoxleyStep,
    NegotiatedWithFrontLineStaff,
    NotDeliveredReason,
    ReRequestBy,
)
from services.careplan.domain.model import CarePlan, ItemStatus, decide
from tests.unit.careplan.fixtures import (
    AGENCY,
    PARTNER,
    TODAY,
    facts,
    goal,
    informal_item,
    linked_item,
    own_item,
    run,
    shelter,
)


def planned(*declined: str) -> CarePlan:
    """A plan in force: an own-agency income item, a linked housing item, an informal one."""
    state, _ = run(
        CarePlan(),
        DraftPlan(
            case=facts(),
            today=TODAY,
            plan_date=TODAY,
            goals=(goal(),),
            items=(own_item(), linked_item(), informal_item()),
        ),
        AgreeToPlan(
            case=facts(), today=TODAY, plan_version=1, agreed_on=TODAY, declined_items=declined
        ),
    )
    return state


def link(item_id: str = "i-housing", link_id: str = "l-1", **changes: object) -> LinkItem:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "item_id": item_id,
        "link_id": link_id,
        "service": shelter() if item_id == "i-housing" else None,
    }
    return LinkItem(**(base | changes))


def answer(answer: str, link_id: str = "l-1", **changes: object) -> AnswerLink:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "link_id": link_id,
        "answering_agency_id": PARTNER,
        "answer": answer,
        "answered_on": TODAY,
    }
    return AnswerLink(**(base | changes))


def advocate(**changes: object) -> StartAdvocacy:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "advocacy_id": "adv-1",
        "item_id": "i-housing",
        "client_encouraged": True,
        "re_request_by": ReRequestBy.CLIENT,
    }
    return StartAdvocacy(**(base | changes))


def step(number: int, **changes: object) -> TakeAdvocacyStep:
    base: dict[str, object] = {
        "case": facts(),
        "today": TODAY,
        "advocacy_id": "adv-1",
        "step": MoxleyStep(number),
    }
    return TakeAdvocacyStep(**(base | changes))


def conclude(outcome: AdvocacyOutcome) -> ConcludeAdvocacy:
    return ConcludeAdvocacy(case=facts(), today=TODAY, advocacy_id="adv-1", outcome=outcome)


def declined_link() -> CarePlan:
    reason = {"decline_reason": LinkDeclineReason.NO_CAPACITY}
    state, _ = run(planned(), link(), answer("declined", **reason))
    return state


# --- R6a linking ----------------------------------------------------------------------------------


def test_linking_to_an_open_service_of_a_consented_partner_records_the_link_and_its_role_r6a() -> (
    None
):
    state, events = run(planned(), link(role=IndirectRole.BROKER))

    linked = events[0]
    assert isinstance(linked, ItemLinked)
    assert (linked.agency_id, linked.service_id, linked.role) == (
        PARTNER,
        "svc-shelter",
        IndirectRole.BROKER,
    )
    assert not linked.waitlisted and linked.client_id is None
    assert state.items["i-housing"].status is ItemStatus.LINKED


def test_linking_to_an_agency_the_consent_does_not_name_is_refused_and_writes_nothing_r4() -> None:
    with pytest.raises(NoConsent) as refused:
        decide(planned(), link(case=facts(consents=())))

    assert refused.value.rule == "R4"


def test_a_withdrawn_consent_no_longer_allows_linking_r4() -> None:
    consent = replace(facts().consents[0], withdrawn_on=TODAY)

    with pytest.raises(NoConsent):
        decide(planned(), link(case=facts(consents=(consent,))))


def test_a_full_service_puts_the_client_on_its_waiting_list_naming_who_waits_r6a_r12() -> None:
    state, events = run(planned(), link(service=shelter(capacity=0, waiting_list=4)))

    linked = events[0]
    assert isinstance(linked, ItemLinked)
    assert linked.waitlisted and linked.client_id == "client-1"
    assert state.items["i-housing"].status is ItemStatus.WAITLISTED


@pytest.mark.parametrize(
    "service", [shelter(withdrawn=True), shelter(agency_closed=True), None], ids=str
)
def test_linking_to_a_withdrawn_service_a_closed_agency_or_an_unknown_one_is_refused_r6a(
    service: object,
) -> None:
    with pytest.raises(LinkRefused) as refused:
        decide(planned(), link(service=service))

    assert refused.value.rule == "R6a"


def test_linking_out_while_the_own_agency_has_room_needs_a_coded_reason_r6a() -> None:
    with pytest.raises(LinkOutReasonMissing) as refused:
        decide(planned(), link(own_room=True))

    assert refused.value.rule == "R6a"
    events = decide(planned(), link(own_room=True, link_out_reason=LinkOutReason.CLIENT_CHOICE))
    assert isinstance(events[0], ItemLinked)
    assert events[0].link_out_reason is LinkOutReason.CLIENT_CHOICE


def test_an_item_the_client_declined_is_never_linked_r4() -> None:
    with pytest.raises(ItemDeclined) as refused:
        decide(planned("i-housing"), link())

    assert refused.value.rule == "R4"


def test_an_informal_resource_of_the_client_is_linked_without_a_service_r6a() -> None:
    state, events = run(planned(), link(item_id="i-neighbour", link_id="l-2"))

    linked = events[0]
    assert isinstance(linked, ItemLinked)
    assert linked.informal_resource_id == "helper-1" and linked.agency_id is None
    assert state.links["l-2"].agency_id is None


def test_the_partner_accepts_then_reports_delivery_r6a() -> None:
    state, events = run(planned(), link(), answer("accepted"), answer("delivered"))

    assert [e.event_type() for e in events] == ["ItemLinked", "LinkAccepted", "ServiceDelivered"]
    assert state.items["i-housing"].status is ItemStatus.DELIVERED


def test_only_the_agency_a_link_is_addressed_to_answers_it_r6a() -> None:
    state, _ = run(planned(), link())

    with pytest.raises(AnswerRefused):
        decide(state, answer("accepted", answering_agency_id=AGENCY))


def test_delivery_before_acceptance_and_a_second_answer_are_refused_r6a() -> None:
    state, _ = run(planned(), link())
    with pytest.raises(AnswerRefused):
        decide(state, answer("delivered"))

    accepted, _ = run(state, answer("accepted"))
    with pytest.raises(AnswerRefused):
        decide(accepted, answer("declined", decline_reason=LinkDeclineReason.NOT_ELIGIBLE))


def test_a_declined_link_needs_a_coded_reason_r6a() -> None:
    state, _ = run(planned(), link())

    with pytest.raises(AnswerRefused):
        decide(state, answer("declined"))


# --- R6b advocacy ---------------------------------------------------------------------------------


def test_advocacy_for_an_item_still_being_received_is_refused_r6b() -> None:
    state, _ = run(planned(), link(), answer("accepted"))

    with pytest.raises(AdvocacyRefused) as refused:
        decide(state, advocate())

    assert refused.value.rule == "R6b"


def test_advocacy_for_a_declined_link_records_encouragement_and_the_re_request_r6b() -> None:
    _, events = run(declined_link(), advocate())

    assert events == [
        AdvocacyStarted(
            advocacy_id="adv-1",
            item_id="i-housing",
            client_encouraged=True,
            re_request_by=ReRequestBy.CLIENT,
            started_on=TODAY,
        )
    ]


def test_advocacy_for_an_item_past_its_end_without_delivery_is_allowed_r6b() -> None:
    later = TODAY + timedelta(days=61)
    state, _ = run(planned(), link(), answer("accepted"))

    events = decide(state, advocate(today=later))

    assert isinstance(events[0], AdvocacyStarted)


def test_advocacy_for_a_service_not_delivered_is_allowed_r6b() -> None:
    reason = {"not_delivered_reason": NotDeliveredReason.PROVIDER_UNAVAILABLE}
    state, _ = run(planned(), link(), answer("accepted"), answer("not_delivered", **reason))

    assert isinstance(decide(state, advocate())[0], AdvocacyStarted)


def test_a_re_request_by_the_manager_needs_the_clients_agreement_r6b() -> None:
    by_manager = {"re_request_by": ReRequestBy.MANAGER_WITH_AGREEMENT}
    with pytest.raises(AdvocacyRefused):
        decide(declined_link(), advocate(**by_manager))

    assert decide(declined_link(), advocate(**by_manager, client_agreed=True))


def test_advocacy_without_encouraging_the_client_is_refused_r6b() -> None:
    with pytest.raises(AdvocacyRefused):
        decide(declined_link(), advocate(client_encouraged=False))


def test_each_moxley_step_is_its_own_event_with_the_role_r6b_r6c() -> None:
    _, events = run(declined_link(), advocate(), step(1), step(2, role=IndirectRole.NEGOTIATOR))

    assert isinstance(events[1], NegotiatedWithFrontLineStaff)
    assert isinstance(events[2], AppealedThroughChainOfCommand)
    assert events[2].role is IndirectRole.NEGOTIATOR
    assert len({cls.event_type() for cls in STEP_EVENTS.values()}) == 7


def test_a_step_more_than_one_above_the_last_needs_a_coded_reason_r6b() -> None:
    state, _ = run(declined_link(), advocate(), step(1))

    with pytest.raises(AdvocacyRefused) as refused:
        decide(state, step(3))

    assert refused.value.rule == "R6b"
    assert decide(state, step(3, escalation_reason=EscalationReason.PATTERN_OF_REFUSAL))


@pytest.mark.parametrize("number", [6, 7])
def test_steps_six_and_seven_need_the_clients_consent_r6b(number: int) -> None:
    reason = {"escalation_reason": EscalationReason.IMMEDIATE_RISK}
    state, _ = run(declined_link(), advocate(), step(1), step(5, **reason))

    with pytest.raises(AdvocacyRefused) as refused:
        decide(state, step(number, **reason))

    assert refused.value.rule == "R6b"
    assert decide(state, step(number, **reason, client_consented=True))


def test_service_obtained_puts_the_item_back_in_delivery_r6b() -> None:
    state, events = run(
        declined_link(), advocate(), step(1), conclude(AdvocacyOutcome.SERVICE_OBTAINED)
    )

    assert isinstance(events[-1], AdvocacyConcluded)
    assert state.items["i-housing"].status is ItemStatus.ACCEPTED
    assert not state.advocacies["adv-1"].open
    assert [e.event_type() for e in decide(state, answer("delivered"))] == ["ServiceDelivered"]


def test_not_obtained_requires_a_plan_revision_r6b() -> None:
    state, events = run(
        declined_link(), advocate(), step(1), conclude(AdvocacyOutcome.NOT_OBTAINED)
    )

    assert events[-1] == CaseReturnedToPlanning(plan_version=1, advocacy_id="adv-1")
    assert state.returned_to_planning


def test_advocacy_concludes_only_after_a_step_and_only_once_r6b() -> None:
    state, _ = run(declined_link(), advocate())
    with pytest.raises(AdvocacyRefused):
        decide(state, conclude(AdvocacyOutcome.SERVICE_OBTAINED))

    concluded, _ = run(state, step(1), conclude(AdvocacyOutcome.SERVICE_OBTAINED))
    with pytest.raises(AdvocacyRefused):
        decide(concluded, step(2))


@given(steps=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=8))
def test_without_reasons_or_consent_advocacy_only_ever_climbs_one_step_at_a_time_r6b(
    steps: list[int],
) -> None:
    state, _ = run(declined_link(), advocate())
    last = 0
    for number in steps:
        try:
            state, _ = run(state, step(number))
        except AdvocacyRefused:
            assert number > last + 1 or number >= 6
            continue
        assert number <= last + 1 and number < 6
        last = number
