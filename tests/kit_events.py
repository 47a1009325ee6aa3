"""Event classes the event-kit tests write: small, in a registry of their own."""

from __future__ import annotations

from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, EventRegistry, Role

test_registry = EventRegistry()


@test_registry.register
class CaseNoted(DomainEvent):
    """A free-text note on a case (test event)."""

    service = "intake"
    note: str
    seq: int = 0


@test_registry.register
class ScoreRecorded(DomainEvent):
    """A numeric score on a case (test event)."""

    service = "intake"
    score: float


MANAGER = Actor(staff_id="staff-kim", role=Role.CASE_MANAGER)


def noted(
    case_id: str, note: str, seq: int = 0, agency: str = "agency-seoul-1"
) -> Envelope[CaseNoted]:
    """An envelope carrying a `CaseNoted`."""
    return Envelope(
        metadata=EventMetadata(case_id=case_id, agency_id=agency, actor=MANAGER),
        payload=CaseNoted(note=note, seq=seq),
    )
