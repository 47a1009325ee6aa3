"""Intake's event classes as other services and the store see them: one base, one topic, and
coded reasons whose stored form did not change when they became enums. No I/O."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.contract import (
    PUBLISHED,
    CaseAssigned,
    CaseloadOverrideRecorded,
    CaseReassigned,
    IntakeEvent,
    OverrideReason,
    ReassignmentReason,
)
from shared.envelope import DomainEvent, registry
from shared.errors import SchemaError

# Payloads as intake stored them while these reasons were typed `str`.
EARLIER_PAYLOADS: list[tuple[type[DomainEvent], dict[str, Any]]] = [
    (
        CaseAssigned,
        {
            "staff_id": "staff-lee",
            "agency_id": "agency-mapo",
            "override": True,
            "override_reason": "crisis_no_one_else_available",
            "caseload_after": 11,
            "caseload_limit": 10,
        },
    ),
    (
        CaseAssigned,
        {
            "staff_id": "staff-lee",
            "agency_id": "agency-mapo",
            "override": False,
            "override_reason": None,
            "caseload_after": 4,
            "caseload_limit": 10,
        },
    ),
    (
        CaseReassigned,
        {"from_staff_id": "staff-lee", "to_staff_id": "staff-park", "reason": "staff_departed"},
    ),
    (
        CaseloadOverrideRecorded,
        {
            "staff_id": "staff-park",
            "supervisor_id": "staff-boss",
            "reason": "temporary_cover",
            "caseload_after": 6,
            "caseload_limit": 5,
        },
    ),
]


def test_every_published_event_is_an_intake_event_on_the_intake_topic() -> None:
    for cls in PUBLISHED:
        assert issubclass(cls, IntakeEvent)
        assert cls.service == "intake"
        assert cls.cloudevents_type() == f"caseline.intake.{cls.__name__}.v1"
        assert registry.event_class("intake", cls.__name__) is cls


@pytest.mark.parametrize(("cls", "payload"), EARLIER_PAYLOADS)
def test_a_stored_reason_decodes_as_its_code_and_is_written_back_unchanged(
    cls: type[DomainEvent], payload: dict[str, Any]
) -> None:
    """The hash chain covers the payload: the same event must give the same JSON as before."""
    event = registry.load(cls, 1, payload)
    assert event.model_dump(mode="json") == payload
    reason = getattr(event, "override_reason", None) or getattr(event, "reason", None)
    if payload.get("override_reason") or payload.get("reason"):
        assert isinstance(reason, OverrideReason | ReassignmentReason)


def test_a_reason_outside_the_codes_is_refused_when_read() -> None:
    """Free text could carry a client's details: only the codes are accepted."""
    with pytest.raises(SchemaError):
        registry.load(
            CaseReassigned,
            1,
            {"from_staff_id": "a", "to_staff_id": "b", "reason": "because Kim Minsu asked"},
        )
