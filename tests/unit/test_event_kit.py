"""Envelope, registry, hash chain and codec: pure behaviour, no Kafka, no database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.chain import GENESIS_HASH, canonical_json, event_hash
from shared.codec import MalformedMessage, from_kafka, to_kafka
from shared.envelope import DomainEvent, EventMetadata, EventRegistry
from shared.errors import SchemaError, UnknownEventType
from shared.store import StoredEvent, verify_chain
from tests.kit_events import MANAGER, CaseNoted, noted, test_registry


def _stored(
    case_id: str = "case-1", note: str = "hello", version: int = 1, previous: bytes = GENESIS_HASH
) -> StoredEvent:
    env = noted(case_id, note)
    metadata = {
        "agency_id": env.metadata.agency_id,
        "actor": {"staff_id": "staff-kim", "role": "case_manager"},
        "correlation_id": str(env.metadata.correlation_id),
        "causation_id": None,
        "occurred_at": "2026-11-23T09:30:00.123456+00:00",
        "recorded_at": "2026-11-23T09:30:01+00:00",
    }
    fields = {
        "case_id": case_id,
        "stream_version": version,
        "event_id": str(env.metadata.event_id),
        "event_type": "CaseNoted",
        "schema_version": 1,
        "payload": {"note": note, "seq": 0},
        "metadata": metadata,
    }
    return StoredEvent(
        position=version,
        previous_hash=previous,
        hash=event_hash(previous_hash=previous, **fields),  # type: ignore[arg-type]
        **{**fields, "event_id": env.metadata.event_id},
    )


def test_events_and_metadata_are_frozen() -> None:
    env = noted("case-1", "note")
    with pytest.raises(ValidationError):
        env.payload.note = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        env.metadata.case_id = "other"  # type: ignore[misc]


def test_metadata_requires_timezone_aware_times() -> None:
    with pytest.raises(ValidationError):
        EventMetadata(case_id="c", agency_id="a", actor=MANAGER, occurred_at=datetime(2026, 1, 1))


def test_the_cloudevents_type_names_service_event_and_version() -> None:
    assert CaseNoted.cloudevents_type() == "caseline.intake.CaseNoted.v1"
    cls, version = test_registry.class_for_cloudevents_type("caseline.intake.CaseNoted.v1")
    assert cls is CaseNoted and version == 1


@pytest.mark.parametrize(
    "ce_type", ["caseline.intake.Nope.v1", "org.other.CaseNoted.v1", "caseline.intake.CaseNoted"]
)
def test_unknown_or_foreign_types_are_refused(ce_type: str) -> None:
    with pytest.raises(UnknownEventType):
        test_registry.class_for_cloudevents_type(ce_type)


def test_registering_an_event_that_names_no_service_is_refused() -> None:
    class Stray(DomainEvent):
        pass  # the base's empty `service`: the event's service forgot to name itself

    class Misnamed(DomainEvent):
        service = "Care Plan"

    for event_class in (Stray, Misnamed):
        with pytest.raises(ValueError, match="service"):
            EventRegistry().register(event_class)


def test_a_new_service_registers_its_events_without_an_edit_to_the_kit() -> None:
    class Billed(DomainEvent):
        service = "billing"

    events = EventRegistry()
    events.register(Billed)
    assert events.event_class("billing", "Billed") is Billed


def test_upcasters_run_in_order_from_the_stored_version() -> None:
    reg = EventRegistry()

    class GoalSet(DomainEvent):
        service = "careplan"
        schema_version = 3
        goal: str
        target_date: str
        measurable: bool

    reg.register(GoalSet)
    reg.upcaster(GoalSet, 1)(lambda d: {"goal": d["text"], "target_date": "unset"})
    reg.upcaster(GoalSet, 2)(lambda d: {**d, "measurable": False})

    event = reg.load(GoalSet, 1, {"text": "stable housing"})
    assert event == GoalSet(goal="stable housing", target_date="unset", measurable=False)
    with pytest.raises(SchemaError, match="newer"):
        reg.load(GoalSet, 4, {})


def test_a_missing_upcaster_is_a_schema_error() -> None:
    reg = EventRegistry()

    class Visited(DomainEvent):
        service = "monitoring"
        schema_version = 2

    reg.register(Visited)
    with pytest.raises(SchemaError, match="no upcaster"):
        reg.load(Visited, 1, {})


def test_canonical_json_is_order_independent_and_spells_integral_floats_as_ints() -> None:
    assert canonical_json({"b": 1, "a": [2.0, 0.5]}) == b'{"a":[2,0.5],"b":1}'
    assert canonical_json({"이름": "값"}) == '{"이름":"값"}'.encode()


def test_a_chain_verifies_and_breaks_where_an_event_was_changed() -> None:
    first = _stored(note="one", version=1)
    second = _stored(note="two", version=2, previous=first.hash)
    assert verify_chain("case-1", [first, second]).ok

    altered = second.model_copy(update={"payload": {"note": "forged", "seq": 0}})
    report = verify_chain("case-1", [first, altered])
    assert not report.ok and report.broken_at_version == 2

    assert verify_chain("case-1", [second]).broken_at_version == 1


def test_codec_round_trip_keeps_metadata_and_payload() -> None:
    stored = _stored(note="주거 지원 상담")
    record = to_kafka(stored, "intake")
    received = from_kafka(record.value, record.headers, test_registry)

    assert record.key == b"case-1"
    assert received.envelope.payload == CaseNoted(note="주거 지원 상담")
    meta = received.envelope.metadata
    assert meta.event_id == stored.event_id and meta.case_id == "case-1"
    assert meta.actor == MANAGER
    assert meta.occurred_at == datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC)
    assert received.stream_version == 1 and received.service == "intake"


def test_codec_headers_follow_the_cloudevents_kafka_binding() -> None:
    headers = dict(to_kafka(_stored(), "intake").headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"caseline.intake.CaseNoted.v1"
    assert headers["ce_source"] == b"/agencies/agency-seoul-1/intake"
    assert headers["ce_subject"] == headers["ce_partitionkey"] == b"case-1"
    assert headers["ce_time"] == b"2026-11-23T09:30:00.123456Z"
    assert headers["content-type"] == b"application/json"


def test_codec_refuses_what_it_cannot_read() -> None:
    record = to_kafka(_stored(), "intake")
    with pytest.raises(MalformedMessage, match="not JSON"):
        from_kafka(b"\xff\xfe not json", record.headers, test_registry)
    with pytest.raises(MalformedMessage, match="CloudEvents"):
        from_kafka(record.value, [], test_registry)
    with pytest.raises(SchemaError):
        from_kafka(json.dumps({"seq": 1}).encode(), record.headers, test_registry)
    wrong_type = [
        (k, b"caseline.intake.Unheard.v1" if k == "ce_type" else v) for k, v in record.headers
    ]
    with pytest.raises(UnknownEventType):
        from_kafka(record.value, wrong_type, test_registry)
    bad_id = [(k, b"not-a-uuid" if k == "ce_id" else v) for k, v in record.headers]
    with pytest.raises(MalformedMessage):
        from_kafka(record.value, bad_id, test_registry)


def test_event_ids_are_fresh_per_envelope() -> None:
    assert noted("c", "a").metadata.event_id != noted("c", "a").metadata.event_id
    assert isinstance(noted("c", "a").metadata.correlation_id, uuid.UUID)


def test_a_context_with_derived_ids_gives_the_same_fact_the_same_event_id() -> None:
    from shared.application import CommandContext

    namespace = uuid.uuid4()
    context = CommandContext(agency_id="agency-a", actor=MANAGER, derived_ids=namespace)
    first = context.envelope("case-1", CaseNoted(note="overdue", seq=1))
    again = context.envelope("case-1", CaseNoted(note="overdue", seq=1))
    other_fact = context.envelope("case-1", CaseNoted(note="overdue", seq=2))
    other_case = context.envelope("case-2", CaseNoted(note="overdue", seq=1))

    assert first.metadata.event_id == again.metadata.event_id
    assert (
        len({first.metadata.event_id, other_fact.metadata.event_id, other_case.metadata.event_id})
        == 3
    )
    plain = CommandContext(agency_id="agency-a", actor=MANAGER)
    assert (
        plain.envelope("case-1", CaseNoted(note="x", seq=1)).metadata.event_id
        != plain.envelope("case-1", CaseNoted(note="x", seq=1)).metadata.event_id
    )
