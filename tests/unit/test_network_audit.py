"""R9 (b) against the directory's history: a referral's services are the target's own, as
the directory offered them when the referral was recorded; service ids are per agency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from caseline.network_audit import network_violations
from services.closure.contract import CoveredNeed, Provider, ReferralIssued
from services.directory.contract import ServiceOffered
from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, RecordedEvent, Role
from shared.vocabulary import NeedDomain

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = Actor(staff_id="t", role=Role.SYSTEM)


def _at(stream: str, minute: int, event: DomainEvent, position: int) -> RecordedEvent[Any]:
    return RecordedEvent(
        position=position,
        stream_version=1,
        envelope=Envelope(
            metadata=EventMetadata(
                case_id=stream,
                agency_id=stream,
                actor=ACTOR,
                recorded_at=START + timedelta(minutes=minute),
            ),
            payload=event,
        ),
        previous_hash=b"",
        hash=b"",
    )


def _offered(agency: str, minute: int, position: int) -> RecordedEvent[Any]:
    event = ServiceOffered(
        service_id="housing-1",
        name="주거지원",
        need_domain=NeedDomain.HOUSING,
        resource="formal",
        capacity=5,
    )
    return _at(agency, minute, event, position)


def _referral(target: str, minute: int) -> RecordedEvent[Any]:
    issued = ReferralIssued(
        referral_id="ref-1",
        termination_id="term-1",
        attempt=1,
        target=Provider(agency_id=target),
        need_domains=(NeedDomain.HOUSING,),
        covered=(
            CoveredNeed(need_domain=NeedDomain.HOUSING, service_id="housing-1", has_room=True),
        ),
        consent_id="consent-1",
        issued_on=date(2026, 3, 2),
        due_on=date(2026, 3, 16),
    )
    return _at("case-1", minute, issued, 1)


def test_r9_a_referral_to_one_agency_s_service_holds_when_another_reuses_its_id_later() -> None:
    directory = [_offered("ag-north", 0, 1), _offered("ag-south", 10, 2)]

    assert network_violations([_referral("ag-north", 20)], directory) == []
    assert network_violations([_referral("ag-north", 5)], directory) == []


def test_r9_a_referral_naming_a_service_its_target_never_offered_is_named() -> None:
    directory = [_offered("ag-north", 0, 1)]

    [violation] = network_violations([_referral("ag-south", 20)], directory)

    assert "to ag-south" in violation and "no service housing-1" in violation
