"""R9 from the events alone (what `caseline verify` runs): a history the service wrote
passes; each kind of violation is named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.closure.domain.audit import referral_violations
from services.closure.domain.commands import (
    LearnCaseOpened,
    LearnClient,
    LearnConsent,
    LearnManager,
    LearnNeeds,
    LearnServed,
)
from services.closure.domain.events import (
    CaseTerminated,
    ClosureEvent,
    PendingCause,
    Provider,
    ReferralIssued,
    ReferralPending,
    ServedVia,
    TerminationClass,
    TerminationReason,
)
from services.closure.domain.model import CaseState, ClientRecord, decide, decide_client, evolve
from shared.envelope import Actor, Envelope, EventMetadata, RecordedEvent, Role
from shared.vocabulary import NeedDomain
from tests.unit.closure.helpers import (
    AGENCY,
    CLIENT,
    TODAY,
    consent,
    facts,
    run,
    service,
    terminate,
)

ACTOR = Actor(staff_id="t", role=Role.SYSTEM)


def _recorded(stream: str, events: list[ClosureEvent], start: int) -> list[RecordedEvent[Any]]:
    return [
        RecordedEvent(
            position=start + i,
            stream_version=i + 1,
            envelope=Envelope(
                metadata=EventMetadata(case_id=stream, agency_id=AGENCY, actor=ACTOR), payload=e
            ),
            previous_hash=b"",
            hash=b"",
        )
        for i, e in enumerate(events)
    ]


def _case_events(reason: TerminationReason) -> list[ClosureEvent]:
    state = CaseState()
    events: list[ClosureEvent] = []
    for command in (
        LearnCaseOpened(agency_id=AGENCY),
        LearnClient(client_id=CLIENT),
        LearnManager(agency_id=AGENCY, manager_id="mgr-1"),
        LearnNeeds(need_domains=(NeedDomain.HOUSING,)),
    ):
        for event in decide(state, command):
            state = evolve(state, event)
            events.append(event)
    network = facts(
        service("agency-b", NeedDomain.HOUSING),
        served=[Provider(agency_id=AGENCY)],
        consents=[consent("agency-b")],
    )
    _, decided = run(state, terminate(reason, network))
    return events + list(decided)


def _client_events() -> list[ClosureEvent]:
    record = ClientRecord()
    out: list[ClosureEvent] = []
    terms = consent("agency-b")
    for command in (
        LearnServed(provider=Provider(agency_id=AGENCY), via=ServedVia.CASE, source_id="case-1"),
        LearnConsent(
            consent_id=terms.consent_id,
            agencies=terms.agencies,
            for_referral=True,
            for_record_transfer=False,
            valid_from=terms.valid_from,
            valid_until=terms.valid_until,
        ),
    ):
        out += list(decide_client(record, command))
    return out


def _history(case_events: list[ClosureEvent]) -> list[RecordedEvent[Any]]:
    client = _recorded(f"client:{CLIENT}", _client_events(), 1)
    return client + _recorded("case-1", case_events, len(client) + 1)


def _check(history: list[RecordedEvent[Any]]) -> list[str]:
    return referral_violations(history, today=TODAY, pending_bound_days=7)


def test_the_history_the_service_writes_passes_r9() -> None:
    assert _check(_history(_case_events(TerminationReason.MANAGER_LEFT))) == []


def test_an_incomplete_termination_without_its_referral_is_named_r9() -> None:
    events = [
        e
        for e in _case_events(TerminationReason.AGENCY_CLOSED)
        if not isinstance(e, ReferralIssued)
    ]
    assert any("has no referral event" in v for v in _check(_history(events)))


def test_a_referral_to_a_served_closing_agency_without_consent_or_service_is_named_r9() -> None:
    events = _case_events(TerminationReason.AGENCY_CLOSED)
    issued = events[-1]
    assert isinstance(issued, ReferralIssued)
    forged = issued.model_copy(update={"target": Provider(agency_id=AGENCY), "covered": ()})
    found = " ".join(_check(_history([*events[:-1], forged])))
    for problem in (
        "already served",
        "closing agency",
        "no service for housing",
        "did not name it",
    ):
        assert problem in found


def test_a_pending_referral_past_the_bound_without_escalation_is_named_r9() -> None:
    events = _case_events(TerminationReason.MANAGER_LEFT)
    ended = events[-2]
    assert (
        isinstance(ended, CaseTerminated) and ended.termination_class is TerminationClass.INCOMPLETE
    )
    pending = ReferralPending(
        referral_id="ref-1",
        termination_id=ended.termination_id,
        cause=PendingCause.NO_CONSENT,
        escalated=False,
        need_domains=(NeedDomain.HOUSING,),
        since=TODAY - timedelta(days=8),
    )
    found = _check(_history([*events[:-1], pending]))
    assert any("never escalated" in v for v in found)
    assert _check(_history([*events[:-1], pending.model_copy(update={"since": TODAY})])) == []
