"""Event envelope, metadata and the registry that maps type names to event classes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.errors import SchemaError, UnknownEventType

SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]*")
"""What a service's name looks like: it becomes a topic, a schema and a `ce_type` part.

The kit keeps no list of services: a new one names itself in its events' base class
(`service = "careplan"`) and needs no edit here. Which services exist is the command's
to find out (`caseline.catalog`, from the `services/` folder)."""


def is_service_name(name: str) -> bool:
    """Whether `name` can name a service (lowercase letters, digits and `-`, a letter first)."""
    return SERVICE_NAME.fullmatch(name) is not None


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC, at the microsecond PostgreSQL keeps."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """A time in UTC, `...Z`, as CloudEvents writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cloudevents_type(service: str, event_type: str, schema_version: int) -> str:
    """`caseline.<service>.<EventName>.v<N>`, the `ce_type` docs/architecture.md fixes."""
    return f"caseline.{service}.{event_type}.v{schema_version}"


NETWORK = "network"
"""The reserved agency id of the network's own members (administrators, auditors, system).

Here rather than in `shared.principals` so that a pure domain may name it without importing
the principals projection's database code."""


class Role(StrEnum):
    """What a staff member may do in the network; carried in tokens and in every event."""

    CASE_MANAGER = "case_manager"
    SUPERVISOR = "supervisor"
    AGENCY_ADMIN = "agency_admin"
    NETWORK_ADMIN = "network_admin"
    AUDITOR = "auditor"
    SYSTEM = "system"


class Actor(BaseModel):
    """The staff member (or system process) that caused an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staff_id: str = Field(min_length=1)
    role: Role


class EventMetadata(BaseModel):
    """Who, when and why of one event; the same shape for every service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    case_id: str = Field(min_length=1, description="The stream: a case (directory: an agency).")
    agency_id: str = Field(min_length=1)
    actor: Actor
    correlation_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    causation_id: uuid.UUID | None = None
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    recorded_at: AwareDatetime | None = None
    schema_version: int = Field(default=1, ge=1)
    acting_agency_id: str | None = Field(
        default=None,
        min_length=1,
        description="The actor's own agency, when it is not `agency_id` (the case's agency): "
        "a network administrator acting on an agency's case.",
    )


class DomainEvent(BaseModel):
    """Base of every event payload: frozen, typed, named in the past tense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        """The type name stored with the event and used in `ce_type`."""
        return cls.__name__

    @classmethod
    def cloudevents_type(cls) -> str:
        """`caseline.<service>.<EventName>.v<N>` as docs/architecture.md fixes it."""
        return cloudevents_type(cls.service, cls.event_type(), cls.schema_version)


E = TypeVar("E", bound=DomainEvent)


class Envelope(BaseModel, Generic[E]):
    """An event payload with its metadata, as written, published and consumed."""

    model_config = ConfigDict(frozen=True)

    metadata: EventMetadata
    payload: E

    @property
    def event_type(self) -> str:
        """The payload's type name."""
        return self.payload.event_type()


class RecordedEvent(BaseModel, Generic[E]):
    """An envelope as the store holds it: with its position, stream version and hashes."""

    model_config = ConfigDict(frozen=True)

    position: int
    stream_version: int
    envelope: Envelope[E]
    previous_hash: bytes
    hash: bytes

    @property
    def metadata(self) -> EventMetadata:
        """The envelope's metadata."""
        return self.envelope.metadata

    @property
    def payload(self) -> E:
        """The envelope's payload."""
        return self.envelope.payload


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    """Maps (service, type name) to event classes and upcasts old schema versions on read."""

    def __init__(self) -> None:
        self._classes: dict[tuple[str, str], type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, str, int], Upcaster] = {}

    def register(self, cls: type[E]) -> type[E]:
        """Register an event class; usable as a class decorator."""
        if not is_service_name(cls.service):
            raise ValueError(
                f"{cls.__name__}.service must name the publishing service "
                f"(lowercase letters, digits and '-'), not {cls.service!r}"
            )
        key = (cls.service, cls.event_type())
        if key in self._classes and self._classes[key] is not cls:
            raise ValueError(f"event type {key} is registered twice")
        self._classes[key] = cls
        return cls

    def upcaster(self, cls: type[DomainEvent], from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the function that turns version `from_version` of `cls` into the next one."""

        def decorate(fn: Upcaster) -> Upcaster:
            if from_version >= cls.schema_version:
                raise ValueError(
                    f"upcaster from v{from_version} is not older than "
                    f"{cls.event_type()} v{cls.schema_version}"
                )
            self._upcasters[(cls.service, cls.event_type(), from_version)] = fn
            return fn

        return decorate

    def event_class(self, service: str, event_type: str) -> type[DomainEvent]:
        """The registered class for a type name, or `UnknownEventType`."""
        try:
            return self._classes[(service, event_type)]
        except KeyError:
            raise UnknownEventType(f"unknown event type {service}.{event_type}") from None

    def class_for_cloudevents_type(self, ce_type: str) -> tuple[type[DomainEvent], int]:
        """Parse `caseline.<service>.<EventName>.v<N>` into the class and the stored version."""
        parts = ce_type.split(".")
        if len(parts) != 4 or parts[0] != "caseline" or not parts[3].startswith("v"):
            raise UnknownEventType(f"not a caseline event type: {ce_type!r}")
        try:
            version = int(parts[3][1:])
        except ValueError:
            raise UnknownEventType(f"bad schema version in event type {ce_type!r}") from None
        return self.event_class(parts[1], parts[2]), version

    def load(self, cls: type[E], stored_version: int, payload: Mapping[str, Any]) -> E:
        """Build the current version of an event from a stored payload, upcasting as needed."""
        if stored_version > cls.schema_version:
            raise SchemaError(
                f"{cls.event_type()} v{stored_version} is newer than this code's "
                f"v{cls.schema_version}"
            )
        data = dict(payload)
        for version in range(stored_version, cls.schema_version):
            step = self._upcasters.get((cls.service, cls.event_type(), version))
            if step is None:
                raise SchemaError(f"no upcaster for {cls.event_type()} v{version}")
            data = step(data)
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise SchemaError(f"{cls.event_type()} payload is invalid: {e}") from e

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._classes


registry = EventRegistry()
"""The process-wide registry every service registers its events in."""
