"""R9 (and R4): who may receive a referral, how the options are ranked and explained, and the
loop after it is issued: accepted, declined or overdue (the next target follows), pending,
escalated, declined by the client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.closure.domain.commands import (
    AcceptReferral,
    ClientDeclinesReferral,
    DeclineReferral,
    EscalatePendingReferral,
    LearnConsent,
    LearnConsentWithdrawal,
    LearnEvaluation,
    LearnReturnToPlanning,
    LearnServed,
    MarkReferralOverdue,
    ReferralFacts,
    RetryPendingReferral,
)
from services.closure.domain.errors import (
    NotTheTarget,
    ReferralAlreadySettled,
    ReferralNotAwaitingAnswer,
)
from services.closure.domain.events import (
    DeclineReason,
    Exclusion,
    PendingCause,
    Provider,
    ReferralAccepted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOverdue,
    ReferralPending,
    ServedVia,
    TerminationReason,
)
from services.closure.domain.referral import Candidate, OfferedService, referral_options
from services.closure.domain.state import ReferralStatus
from services.closure.domain.termination import options_for
from shared.vocabulary import NeedDomain
from tests.unit.closure.helpers import (
    AGENCY,
    TODAY,
    client_given,
    consent,
    facts,
    given,
    open_case,
    run,
    service,
    terminate,
)

HOUSING = NeedDomain.HOUSING
INCOME = NeedDomain.INCOME
EVERYONE = consent("agency-b", "agency-c", "agency-d", AGENCY)


def _issued(events: list[object]) -> ReferralIssued:
    issued = [e for e in events if isinstance(e, ReferralIssued)]
    assert len(issued) == 1, events
    return issued[0]


def test_an_agency_that_served_the_client_before_is_skipped_for_the_next_one_r9() -> None:
    network = facts(
        service("agency-b", HOUSING),
        service("agency-c", HOUSING),
        served=[Provider(agency_id="agency-b")],
        consents=[EVERYONE],
    )
    _, events = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, network))
    assert _issued(events).target == Provider(agency_id="agency-c")


def test_a_department_of_a_served_agency_counts_as_served_when_the_agency_served_r9() -> None:
    network = facts(
        service("agency-b", HOUSING, dept="dept-2"),
        served=[Provider(agency_id="agency-b")],
        consents=[EVERYONE],
    )
    options = options_for(open_case(), network, closing_agency=None)
    assert Exclusion.ALREADY_SERVED in options[0].exclusions


def test_another_department_of_the_managers_agency_may_take_a_case_when_the_manager_left_r9() -> (
    None
):
    state = open_case(department="dept-1")
    network = facts(service(AGENCY, HOUSING, dept="dept-2"), consents=[EVERYONE])
    _, events = run(state, terminate(TerminationReason.MANAGER_LEFT, network))
    assert _issued(events).target == Provider(agency_id=AGENCY, department_id="dept-2")


def test_the_closing_agency_is_never_a_target_r9() -> None:
    state = open_case(department="dept-1")
    network = facts(service(AGENCY, HOUSING, dept="dept-2"), consents=[EVERYONE])
    _, events = run(state, terminate(TerminationReason.AGENCY_CLOSED, network))
    pending = events[-1]
    assert isinstance(pending, ReferralPending)
    assert pending.cause is PendingCause.NO_ELIGIBLE_TARGET and pending.escalated


def test_a_closed_agency_is_never_a_target_r9() -> None:
    closed = Candidate(
        provider=Provider(agency_id="agency-b"),
        agency_closed=True,
        services=service("agency-b", HOUSING).services,
    )
    options = options_for(open_case(), facts(closed, consents=[EVERYONE]), closing_agency=None)
    assert options[0].exclusions == (Exclusion.AGENCY_CLOSED,)


def test_a_target_must_offer_a_service_in_every_unmet_need_domain_r9() -> None:
    network = facts(service("agency-b", HOUSING), service("agency-c", HOUSING), consents=[EVERYONE])
    both = Candidate(
        provider=Provider(agency_id="agency-c"),
        services=(
            OfferedService(service_id="c-h", need_domain=HOUSING, has_room=True),
            OfferedService(service_id="c-i", need_domain=INCOME, has_room=True),
        ),
    )
    network = facts(service("agency-b", HOUSING), both, consents=[EVERYONE])
    _, events = run(open_case(HOUSING, INCOME), terminate(TerminationReason.MANAGER_LEFT, network))
    issued = _issued(events)
    assert issued.target.agency_id == "agency-c"
    assert {c.need_domain for c in issued.covered} == {HOUSING, INCOME}


def test_a_provider_with_room_ranks_before_one_with_only_a_waiting_list_r9_r12() -> None:
    network = facts(
        service("agency-b", HOUSING, room=False), service("agency-c", HOUSING), consents=[EVERYONE]
    )
    options = options_for(open_case(), network, closing_agency=None)
    assert [o.provider.agency_id for o in options] == ["agency-c", "agency-b"]
    assert [o.rank for o in options] == [1, 2]
    assert options[1].waitlisted


def test_without_consent_naming_the_target_no_referral_is_issued_r4_r9() -> None:
    network = facts(service("agency-b", HOUSING), consents=[consent("agency-z")])
    _, events = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, network))
    pending = events[-1]
    assert isinstance(pending, ReferralPending)
    assert pending.cause is PendingCause.NO_CONSENT and not pending.escalated


@pytest.mark.parametrize(
    "changes",
    [
        {"for_referral": False},
        {"valid_until": TODAY - timedelta(days=1)},
        {"withdrawn_on": TODAY},
    ],
)
def test_a_consent_not_in_force_for_referral_does_not_count_r4(changes: dict[str, object]) -> None:
    network = facts(service("agency-b", HOUSING), consents=[consent("agency-b", **changes)])
    options = options_for(open_case(), network, closing_agency=None)
    assert options[0].exclusions == (Exclusion.NO_CONSENT,)


def test_the_options_name_every_reason_a_provider_is_excluded_r9() -> None:
    options = referral_options(
        needs=(INCOME,),
        network=facts(service("agency-b", HOUSING)).network,
        history=facts(served=[Provider(agency_id="agency-b")]).history,
        today=TODAY,
    )
    assert options[0].exclusions == (
        Exclusion.ALREADY_SERVED,
        Exclusion.NO_SERVICE_FOR_NEED,
        Exclusion.NO_CONSENT,
    )


def _issued_case(*candidates: Candidate) -> tuple[object, ReferralFacts]:
    network = facts(*candidates, consents=[EVERYONE])
    state, _ = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, network))
    return state, network


def test_the_target_accepting_closes_the_loop_r9() -> None:
    state, _ = _issued_case(service("agency-b", HOUSING))
    after, events = run(
        state, AcceptReferral(referral_id="ref-1", agency_id="agency-b", staff_id="s", today=TODAY)
    )
    assert [type(e) for e in events] == [ReferralAccepted]
    assert after.referral is not None and after.referral.status is ReferralStatus.ACCEPTED


def test_only_the_target_agency_may_answer_a_referral_r9() -> None:
    state, _ = _issued_case(service("agency-b", HOUSING))
    with pytest.raises(NotTheTarget):
        run(
            state,
            AcceptReferral(referral_id="ref-1", agency_id="agency-c", staff_id="s", today=TODAY),
        )


def test_a_declined_referral_moves_on_to_the_next_eligible_target_r9() -> None:
    state, network = _issued_case(service("agency-b", HOUSING), service("agency-c", HOUSING))
    command = DeclineReferral(
        referral_id="ref-1", agency_id="agency-b", reason=DeclineReason.NO_CAPACITY, facts=network
    )
    after, events = run(state, command)
    assert [type(e) for e in events] == [ReferralDeclined, ReferralIssued]
    assert _issued(events).target.agency_id == "agency-c" and _issued(events).attempt == 2
    # The next decline leaves nobody: pending, escalated to the network.
    again = command.model_copy(update={"agency_id": "agency-c"})
    _, events = run(after, again)
    assert isinstance(events[-1], ReferralPending) and events[-1].escalated


def test_an_unanswered_referral_goes_overdue_after_its_due_date_and_moves_on_r9() -> None:
    state, network = _issued_case(service("agency-b", HOUSING), service("agency-c", HOUSING))
    on_due = network.model_copy(update={"today": TODAY + timedelta(days=14)})
    assert run(state, MarkReferralOverdue(facts=on_due))[1] == []
    late = network.model_copy(update={"today": TODAY + timedelta(days=15)})
    after, events = run(state, MarkReferralOverdue(facts=late))
    assert [type(e) for e in events] == [ReferralOverdue, ReferralIssued]
    # Said once: the next pass finds the new referral not yet due.
    assert run(after, MarkReferralOverdue(facts=late))[1] == []


def test_a_pending_referral_is_issued_once_consent_arrives_r4_r9() -> None:
    network = facts(service("agency-b", HOUSING))
    state, _ = run(open_case(), terminate(TerminationReason.MANAGER_LEFT, network))
    assert run(state, RetryPendingReferral(facts=network))[1] == []
    consented = facts(service("agency-b", HOUSING), consents=[consent("agency-b")])
    _, events = run(state, RetryPendingReferral(facts=consented))
    assert [type(e) for e in events] == [ReferralIssued]


def test_a_pending_referral_older_than_the_bound_is_escalated_once_r9() -> None:
    state, _ = run(
        open_case(), terminate(TerminationReason.MANAGER_LEFT, facts(service("agency-b", HOUSING)))
    )
    assert (
        run(state, EscalatePendingReferral(today=TODAY + timedelta(days=6), bound_days=7))[1] == []
    )
    after, events = run(
        state, EscalatePendingReferral(today=TODAY + timedelta(days=7), bound_days=7)
    )
    assert [type(e) for e in events] == [ReferralEscalated]
    assert (
        run(after, EscalatePendingReferral(today=TODAY + timedelta(days=8), bound_days=7))[1] == []
    )


def test_the_client_may_decline_a_referral_and_then_nobody_can_answer_it_r4() -> None:
    state, _ = _issued_case(service("agency-b", HOUSING))
    after, events = run(state, ClientDeclinesReferral(today=TODAY))
    assert [type(e) for e in events] == [ReferralDeclinedByClient]
    with pytest.raises(ReferralAlreadySettled):
        run(
            after,
            AcceptReferral(referral_id="ref-1", agency_id="agency-b", staff_id="s", today=TODAY),
        )


def test_a_pending_referral_cannot_be_answered_by_an_agency_r9() -> None:
    state, _ = run(
        open_case(), terminate(TerminationReason.MANAGER_LEFT, facts(service("agency-b", HOUSING)))
    )
    with pytest.raises(ReferralNotAwaitingAnswer):
        run(
            state,
            AcceptReferral(referral_id="ref-1", agency_id="agency-b", staff_id="s", today=TODAY),
        )


def test_a_client_record_learns_each_fact_once_and_withdrawals_end_consent_r4_r9() -> None:
    served = LearnServed(
        provider=Provider(agency_id="agency-b"), via=ServedVia.CASE, source_id="case-1"
    )
    given_consent = LearnConsent(
        consent_id="c-1",
        agencies=("agency-b",),
        for_referral=True,
        for_record_transfer=False,
        valid_from=TODAY,
        valid_until=TODAY + timedelta(days=30),
    )
    withdrawal = LearnConsentWithdrawal(consent_id="c-1", withdrawn_on=TODAY)
    record = client_given(served, served, given_consent, given_consent, withdrawal, withdrawal)
    assert record.served == (Provider(agency_id="agency-b"),)
    assert len(record.consents) == 1
    assert not record.consents[0].names_for_referral("agency-b", TODAY)


def test_a_need_found_met_is_not_asked_of_the_target_until_back_in_planning_r7_r9() -> None:
    evaluated = given(
        LearnEvaluation(
            evaluation_id="ev-1",
            evaluated_on=TODAY,
            permits_planned_termination=False,
            met_domains=(INCOME,),
        ),
        state=open_case(HOUSING, INCOME),
    )
    network = facts(service("agency-b", HOUSING), consents=[EVERYONE])
    _, events = run(evaluated, terminate(TerminationReason.MANAGER_LEFT, network))
    assert _issued(events).need_domains == (HOUSING,)
    back = given(LearnReturnToPlanning(plan_version=2), state=evaluated)
    _, events = run(back, terminate(TerminationReason.MANAGER_LEFT, network))
    assert isinstance(events[-1], ReferralPending)  # income is unmet again: nobody offers it
