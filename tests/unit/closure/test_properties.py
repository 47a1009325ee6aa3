"""Properties over generated networks (R9): whatever the agencies, departments, services,
earlier cases, delivered services, consents, closures and departures, an incomplete
termination is never decided without its referral event, every issued target is eligible at
that moment, and the auditor (`caseline verify`'s check, from the events alone) finds nothing
to object to in whatever the service decided."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.closure.domain.audit import referral_violations
from services.closure.domain.commands import (
    Command,
    DeclineReferral,
    LearnCaseOpened,
    LearnClient,
    LearnManager,
    LearnNeeds,
    MarkReferralOverdue,
    ReferralFacts,
    TerminateCase,
)
from services.closure.domain.events import (
    CaseTerminated,
    ClosureEvent,
    ConsentLearned,
    ConsentWithdrawalLearned,
    DeclineReason,
    Provider,
    ReferralIssued,
    ReferralPending,
    ServedLearned,
    ServedVia,
    TerminationClass,
    TerminationReason,
)
from services.closure.domain.model import CaseState
from services.closure.domain.referral import (
    Candidate,
    ClientHistory,
    ConsentTerms,
    NetworkSnapshot,
    OfferedService,
    has_served,
)
from services.closure.domain.state import ReferralStatus
from shared.envelope import Actor, Envelope, EventMetadata, RecordedEvent, Role
from shared.vocabulary import NeedDomain
from tests.unit.closure.helpers import CLIENT, TODAY, open_case, run

AGENCIES = ("agency-a", "agency-b", "agency-c", "agency-d", "agency-e")
DEPARTMENTS = (None, "dept-1", "dept-2")
DOMAINS = tuple(NeedDomain)[:5]

providers = st.builds(
    Provider, agency_id=st.sampled_from(AGENCIES), department_id=st.sampled_from(DEPARTMENTS)
)
offered = st.builds(
    OfferedService,
    service_id=st.text("abcdef", min_size=1, max_size=4),
    need_domain=st.sampled_from(DOMAINS),
    has_room=st.booleans(),
)
candidates = st.builds(
    Candidate,
    provider=providers,
    agency_closed=st.booleans(),
    services=st.lists(offered, max_size=4).map(tuple),
)
consents = st.builds(
    ConsentTerms,
    consent_id=st.text("xyz", min_size=1, max_size=3),
    agencies=st.lists(st.sampled_from(AGENCIES), max_size=4).map(tuple),
    for_referral=st.booleans(),
    valid_from=st.dates(date(2026, 1, 1), date(2026, 7, 1)),
    valid_until=st.dates(date(2026, 5, 1), date(2026, 12, 31)),
    withdrawn_on=st.none() | st.dates(date(2026, 1, 1), date(2026, 12, 31)),
)
facts = st.builds(
    ReferralFacts,
    today=st.just(TODAY),
    network=st.builds(NetworkSnapshot, candidates=st.lists(candidates, max_size=6).map(tuple)),
    history=st.builds(
        ClientHistory,
        served=st.lists(providers, max_size=3).map(tuple),
        consents=st.lists(consents, max_size=3).map(tuple),
    ),
)
cases = st.builds(
    lambda agency, dept, needs: open_case(*needs, agency=agency, department=dept),
    st.sampled_from(AGENCIES),
    st.sampled_from(DEPARTMENTS),
    st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=3, unique=True),
)
incomplete = st.sampled_from(
    [r for r in TerminationReason if r.name in {"MANAGER_LEFT", "AGENCY_CLOSED", "PROGRAMME_ENDED"}]
)


def assert_eligible(
    issued: ReferralIssued, state: CaseState, facts: ReferralFacts, closing: str | None
) -> None:
    """Every R9 condition, checked again from the raw snapshot rather than the ranking."""
    target = issued.target
    served = (*facts.history.served, state.own_provider)
    assert not has_served(target, [p for p in served if p is not None])
    assert target.agency_id != closing
    listed = [c for c in facts.network.candidates if c.provider == target]
    assert listed and not any(c.agency_closed for c in listed)
    for need in state.needs:
        assert any(s.need_domain is need for c in listed for s in c.services), need
    assert any(
        c.consent_id == issued.consent_id and c.names_for_referral(target.agency_id, facts.today)
        for c in facts.history.consents
    )
    if state.referral is not None:
        assert target not in state.referral.tried


@settings(max_examples=300, deadline=None)
@given(cases, incomplete, facts)
def test_no_incomplete_termination_is_decided_without_its_referral_and_every_target_is_eligible_r9(
    state: CaseState, reason: TerminationReason, referral_facts: ReferralFacts
) -> None:
    command = TerminateCase(
        termination_id="t", referral_id="r", reason=reason, facts=referral_facts
    )
    _, events = run(state, command)
    ended = [e for e in events if isinstance(e, CaseTerminated)]
    referrals = [e for e in events if isinstance(e, ReferralIssued | ReferralPending)]
    assert len(ended) == 1 and ended[0].termination_class is TerminationClass.INCOMPLETE
    assert len(referrals) == 1 and referrals[0].termination_id == ended[0].termination_id
    if isinstance(referrals[0], ReferralIssued):
        closing = state.agency_id if reason is TerminationReason.AGENCY_CLOSED else None
        assert_eligible(referrals[0], state, referral_facts, closing)
    else:
        # Pending only when nobody was eligible; with nobody able to take the client even
        # with consent, it goes straight to the network (escalated).
        assert referrals[0].escalated == (referrals[0].cause.value == "no_eligible_target")


@settings(max_examples=150, deadline=None)
@given(cases, incomplete, facts, st.lists(st.booleans(), min_size=1, max_size=5))
def test_every_target_issued_along_declines_and_overdues_is_eligible_and_never_repeated_r9(
    state: CaseState,
    reason: TerminationReason,
    referral_facts: ReferralFacts,
    declines: list[bool],
) -> None:
    closing = state.agency_id if reason is TerminationReason.AGENCY_CLOSED else None
    state, events = run(
        state,
        TerminateCase(termination_id="t", referral_id="r", reason=reason, facts=referral_facts),
    )
    targets = [e.target for e in events if isinstance(e, ReferralIssued)]
    for by_decline in declines:
        referral = state.referral
        assert referral is not None
        if referral.status is not ReferralStatus.ISSUED:
            break
        assert referral.target is not None
        late = referral_facts.model_copy(update={"today": TODAY + timedelta(days=30)})
        command: DeclineReferral | MarkReferralOverdue = (
            DeclineReferral(
                referral_id="r",
                agency_id=referral.target.agency_id,
                reason=DeclineReason.NO_CAPACITY,
                facts=referral_facts,
            )
            if by_decline
            else MarkReferralOverdue(facts=late)
        )
        before = state
        state, events = run(state, command)
        follow: list[ClosureEvent] = [
            e for e in events if isinstance(e, ReferralIssued | ReferralPending)
        ]
        assert len(follow) == 1
        if isinstance(follow[0], ReferralIssued):
            used = referral_facts if by_decline else late
            tried = (*referral.tried, referral.target)
            moved_on = before.model_copy(
                update={"referral": referral.model_copy(update={"tried": tried})}
            )
            assert_eligible(follow[0], moved_on, used, closing)
            targets.append(follow[0].target)
    assert len(targets) == len(set(targets))


def _recorded(stream: str, events: list[ClosureEvent], start: int) -> list[RecordedEvent[Any]]:
    actor = Actor(staff_id="t", role=Role.SYSTEM)
    return [
        RecordedEvent(
            position=start + i,
            stream_version=i + 1,
            envelope=Envelope(
                metadata=EventMetadata(case_id=stream, agency_id="agency-a", actor=actor),
                payload=event,
            ),
            previous_hash=b"",
            hash=b"",
        )
        for i, event in enumerate(events)
    ]


def _client_stream(history: ClientHistory) -> list[ClosureEvent]:
    events: list[ClosureEvent] = [
        ServedLearned(provider=p, via=ServedVia.CASE, source_id=f"case-{n}")
        for n, p in enumerate(history.served)
    ]
    for terms in history.consents:
        events.append(
            ConsentLearned(
                consent_id=terms.consent_id,
                agencies=terms.agencies,
                for_referral=terms.for_referral,
                for_record_transfer=False,
                valid_from=terms.valid_from,
                valid_until=terms.valid_until,
            )
        )
        if terms.withdrawn_on is not None:
            events.append(
                ConsentWithdrawalLearned(
                    consent_id=terms.consent_id, withdrawn_on=terms.withdrawn_on
                )
            )
    return events


unique_consent_facts = facts.filter(
    lambda f: len({c.consent_id for c in f.history.consents}) == len(f.history.consents)
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(AGENCIES),
    st.sampled_from(DEPARTMENTS),
    st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=3, unique=True),
    incomplete,
    unique_consent_facts,
    st.lists(st.booleans(), max_size=3),
)
def test_whatever_the_service_decides_the_auditor_finds_no_violation_r9(
    agency: str,
    department: str | None,
    needs: list[NeedDomain],
    reason: TerminationReason,
    referral_facts: ReferralFacts,
    declines: list[bool],
) -> None:
    state = CaseState()
    case_events: list[ClosureEvent] = []
    learned = (
        LearnCaseOpened(agency_id=agency),
        LearnClient(client_id=CLIENT),
        LearnManager(agency_id=agency, manager_id="mgr-1", department_id=department),
        LearnNeeds(need_domains=tuple(needs)),
    )
    commands: list[Command] = [
        *learned,
        TerminateCase(termination_id="t", referral_id="r", reason=reason, facts=referral_facts),
    ]
    for command in commands:
        state, events = run(state, command)
        case_events += events
    for by_decline in declines:
        referral = state.referral
        if (
            referral is None
            or referral.target is None
            or referral.status is not ReferralStatus.ISSUED
        ):
            break
        late = referral_facts.model_copy(update={"today": TODAY + timedelta(days=30)})
        step: Command = (
            DeclineReferral(
                referral_id="r",
                agency_id=referral.target.agency_id,
                reason=DeclineReason.NO_CAPACITY,
                facts=referral_facts,
            )
            if by_decline
            else MarkReferralOverdue(facts=late)
        )
        state, events = run(state, step)
        case_events += events
    client = _recorded(f"client:{CLIENT}", _client_stream(referral_facts.history), 1)
    history = client + _recorded("case-1", case_events, len(client) + 1)
    assert referral_violations(history, today=TODAY, pending_bound_days=7) == []
