"""Stored events to Kafka messages and back: CloudEvents Kafka binding, binary mode.

The message value is the event's data (its payload, JSON); everything else travels in
`ce_*` headers. Besides the required attributes and the ones docs/architecture.md fixes,
caseline adds extension attributes for the rest of the metadata so a consumer can rebuild
the envelope and an auditor can check the hash chain from Kafka alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.chain import canonical_json
from shared.envelope import (
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    cloudevents_type,
    rfc3339,
)
from shared.errors import CaselineError, SchemaError
from shared.store import StoredEvent

CONTENT_TYPE = "application/json"

# Extension attribute names: lowercase letters and digits only, as CloudEvents requires.
EXT_AGENCY = "agencyid"
EXT_ACTOR = "actorid"
EXT_ROLE = "actorrole"
EXT_CORRELATION = "correlationid"
EXT_CAUSATION = "causationid"
EXT_RECORDED = "recordedtime"
EXT_VERSION = "streamversion"
EXT_POSITION = "position"
EXT_PREVIOUS_HASH = "prevhash"
EXT_HASH = "hash"
EXT_ACTING_AGENCY = "actingagencyid"
"""Only on events whose actor acts from another agency than the case's (`ce_agencyid`)."""

Headers = list[tuple[str, bytes]]


class MalformedMessage(CaselineError):
    """A Kafka message that is not a readable caseline CloudEvent."""


@dataclass(frozen=True)
class KafkaRecord:
    """The key, value and headers of one message to produce."""

    key: bytes
    value: bytes
    headers: Headers


def source_for(agency_id: str, service: str) -> str:
    """The `ce_source` of events an agency's service emits."""
    return f"/agencies/{agency_id}/{service}"


def to_kafka(event: StoredEvent, service: str) -> KafkaRecord:
    """The Kafka message for one stored event: key = case id, CloudEvents binary headers."""
    meta = event.metadata
    key = event.case_id.encode()
    attributes: list[tuple[str, str]] = [
        ("ce_specversion", "1.0"),
        ("ce_id", str(event.event_id)),
        ("ce_source", source_for(meta["agency_id"], service)),
        ("ce_type", cloudevents_type(service, event.event_type, event.schema_version)),
        ("ce_time", rfc3339(datetime.fromisoformat(meta["occurred_at"]))),
        ("ce_subject", event.case_id),
        ("ce_partitionkey", event.case_id),
        ("content-type", CONTENT_TYPE),
        (f"ce_{EXT_AGENCY}", meta["agency_id"]),
        (f"ce_{EXT_ACTOR}", meta["actor"]["staff_id"]),
        (f"ce_{EXT_ROLE}", meta["actor"]["role"]),
        (f"ce_{EXT_CORRELATION}", meta["correlation_id"]),
        (f"ce_{EXT_RECORDED}", rfc3339(datetime.fromisoformat(meta["recorded_at"]))),
        (f"ce_{EXT_VERSION}", str(event.stream_version)),
        (f"ce_{EXT_POSITION}", str(event.position)),
        (f"ce_{EXT_PREVIOUS_HASH}", event.previous_hash.hex()),
        (f"ce_{EXT_HASH}", event.hash.hex()),
    ]
    if meta.get("causation_id"):
        attributes.append((f"ce_{EXT_CAUSATION}", meta["causation_id"]))
    if meta.get("acting_agency_id"):
        attributes.append((f"ce_{EXT_ACTING_AGENCY}", meta["acting_agency_id"]))
    return KafkaRecord(
        key=key,
        value=canonical_json(event.payload),
        headers=[(name, value.encode()) for name, value in attributes],
    )


@dataclass(frozen=True)
class ReceivedEvent:
    """A consumed message decoded to the current version of its event."""

    envelope: Envelope[Any]
    service: str
    stream_version: int
    position: int | None


def header_map(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """Kafka headers as a str->str dict (the last value wins); undecodable bytes are refused."""
    out: dict[str, str] = {}
    for name, raw in headers:
        if raw is None:
            continue
        try:
            out[name] = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedMessage(f"header {name!r} is not UTF-8") from e
    return out


def _required(h: Mapping[str, str], name: str) -> str:
    value = h.get(name)
    if not value:
        raise MalformedMessage(f"header {name!r} is missing")
    return value


def from_kafka(
    value: bytes | None, headers: Sequence[tuple[str, bytes | None]], events: EventRegistry
) -> ReceivedEvent:
    """Decode a consumed message; raises `MalformedMessage`, `UnknownEventType` or `SchemaError`."""
    h = header_map(headers)
    if h.get("ce_specversion") != "1.0":
        raise MalformedMessage("not a CloudEvents 1.0 binary-mode message (ce_specversion)")
    content_type = h.get("content-type", "")
    if content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise MalformedMessage(f"content-type {content_type!r} is not {CONTENT_TYPE}")
    cls, stored_version = events.class_for_cloudevents_type(_required(h, "ce_type"))
    if value is None:
        raise MalformedMessage("the message has no value")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedMessage(f"the value is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise SchemaError(f"the value is JSON {type(data).__name__}, not an object")
    payload: DomainEvent = events.load(cls, stored_version, data)
    try:
        causation = h.get(f"ce_{EXT_CAUSATION}")
        metadata = EventMetadata(
            event_id=uuid.UUID(_required(h, "ce_id")),
            case_id=_required(h, "ce_subject"),
            agency_id=_required(h, f"ce_{EXT_AGENCY}"),
            actor={"staff_id": _required(h, f"ce_{EXT_ACTOR}"), "role": h.get(f"ce_{EXT_ROLE}")},
            correlation_id=uuid.UUID(_required(h, f"ce_{EXT_CORRELATION}")),
            causation_id=uuid.UUID(causation) if causation else None,
            occurred_at=_required(h, "ce_time"),
            recorded_at=h.get(f"ce_{EXT_RECORDED}"),
            schema_version=stored_version,
            acting_agency_id=h.get(f"ce_{EXT_ACTING_AGENCY}") or None,
        )
        stream_version = int(_required(h, f"ce_{EXT_VERSION}"))
        position = int(h[f"ce_{EXT_POSITION}"]) if f"ce_{EXT_POSITION}" in h else None
    except (ValueError, ValidationError) as e:
        raise MalformedMessage(f"the CloudEvents attributes are invalid: {e}") from e
    return ReceivedEvent(
        envelope=Envelope(metadata=metadata, payload=payload),
        service=cls.service,
        stream_version=stream_version,
        position=position,
    )
