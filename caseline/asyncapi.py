"""`caseline asyncapi`: one AsyncAPI 3.0.0 document per service, from its contract and spec.

Why not FastStream's own generator: it documents a broker's FastStream publishers and
subscribers, one message per channel and no headers. A caseline service publishes through
the kit's relay (aiokafka, not a FastStream publisher), many event types on one topic, and
what a reader needs most is in the CloudEvents headers (`ce_type` says which event it is).
So each document is built from what the service itself declares:

- the channel it publishes to (`caseline.<service>.v1`) carries every class of its
  `contract.PUBLISHED`, each a message with its CloudEvents headers (Kafka binding, binary
  mode, as `shared/codec.py` writes them), the case id as the Kafka key and its payload's
  JSON Schema (pydantic's, the same model the consumers validate with);
- one `receive` operation per consumer of its `bootstrap.service_spec` (and its vault's
  erasure consumer), listing exactly the event types it reads, on the channels they come from.

The documents are checked in under `docs/asyncapi/`; a test regenerates them and fails when
they drift from the code.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caseline.catalog import runnable_services
from shared.codec import (
    CONTENT_TYPE,
    EXT_ACTING_AGENCY,
    EXT_ACTOR,
    EXT_AGENCY,
    EXT_CAUSATION,
    EXT_CORRELATION,
    EXT_HASH,
    EXT_POSITION,
    EXT_PREVIOUS_HASH,
    EXT_RECORDED,
    EXT_ROLE,
    EXT_VERSION,
)
from shared.envelope import DomainEvent, Role
from shared.topics import topic_for

if TYPE_CHECKING:
    from shared.service import ServiceSpec

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOCUMENT_VERSION = "1"
"""The documents' own version: the topics' `v1`."""

HEADERS_SCHEMA = "CloudEventsKafkaHeaders"

DEFAULT_OUT = Path("docs/asyncapi")
"""Where the documents are checked in, from the checkout's root."""

_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_TEXT = {"type": "string", "minLength": 1}
_HEX_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_INTEGER_TEXT = {"type": "string", "pattern": "^[0-9]+$"}


def cloudevents_headers() -> dict[str, Any]:
    """The headers every caseline message carries (CloudEvents Kafka binding, binary mode)."""
    described: dict[str, tuple[dict[str, Any], str]] = {
        "ce_specversion": ({"type": "string", "const": "1.0"}, "CloudEvents version."),
        "ce_id": (_UUID, "The event id: unique; a consumer drops a repeat by it."),
        "ce_source": (
            {"type": "string", "pattern": "^/agencies/[^/]+/[a-z][a-z0-9-]*$"},
            "`/agencies/<agency id>/<service>`: the case's agency and the publishing service.",
        ),
        "ce_type": (
            {"type": "string", "pattern": r"^caseline\.[a-z][a-z0-9-]*\.[A-Za-z]+\.v[0-9]+$"},
            "`caseline.<service>.<EventName>.v<N>`: which message this is.",
        ),
        "ce_time": (_TIME, "When the event occurred (RFC 3339, UTC)."),
        "ce_subject": (_TEXT, "The stream: a case id (the directory's: an agency id)."),
        "ce_partitionkey": (_TEXT, "The Kafka key again, as CloudEvents names it."),
        "content-type": ({"type": "string", "const": CONTENT_TYPE}, "The value is JSON."),
        f"ce_{EXT_AGENCY}": (_TEXT, "The case's agency."),
        f"ce_{EXT_ACTOR}": (_TEXT, "The staff member or system process that caused it."),
        f"ce_{EXT_ROLE}": ({"type": "string", "enum": [r.value for r in Role]}, "Its role."),
        f"ce_{EXT_CORRELATION}": (_UUID, "The request or flow the event belongs to."),
        f"ce_{EXT_CAUSATION}": (_UUID, "The event that caused it, when another event did."),
        f"ce_{EXT_RECORDED}": (_TIME, "When the service's store recorded it."),
        f"ce_{EXT_VERSION}": (_INTEGER_TEXT, "Its version in the stream (1, 2, ...)."),
        f"ce_{EXT_POSITION}": (_INTEGER_TEXT, "Its position in the service's store."),
        f"ce_{EXT_PREVIOUS_HASH}": (_HEX_HASH, "The hash of the stream's previous event."),
        f"ce_{EXT_HASH}": (_HEX_HASH, "SHA-256 over the event and the previous hash."),
        f"ce_{EXT_ACTING_AGENCY}": (
            _TEXT,
            "The actor's own agency, only when it is not the case's (a network administrator).",
        ),
    }
    optional = {f"ce_{EXT_CAUSATION}", f"ce_{EXT_ACTING_AGENCY}"}
    return {
        "type": "object",
        "description": "CloudEvents attributes as Kafka headers (binary mode); the value is "
        "the event's data.",
        "properties": {
            name: {**schema, "description": text} for name, (schema, text) in described.items()
        },
        "required": [name for name in described if name not in optional],
    }


def _component_name(cls: type[DomainEvent]) -> str:
    return f"{cls.service}.{cls.event_type()}"


def _description(cls: type[DomainEvent]) -> str:
    return " ".join((cls.__doc__ or cls.event_type()).split())


def _message(cls: type[DomainEvent], schemas: dict[str, Any]) -> dict[str, Any]:
    """One event as a message component; its nested models go to `components.schemas`."""
    payload = cls.model_json_schema(ref_template=f"#/components/schemas/{cls.service}.{{model}}")
    for name, definition in payload.pop("$defs", {}).items():
        key = f"{cls.service}.{name}"
        if schemas.setdefault(key, definition) != definition:
            # Two models of one name in one service: a reference would name the wrong one.
            raise ValueError(f"{key} names two different schemas; rename one of the models")
    return {
        "name": cls.event_type(),
        "title": cls.event_type(),
        "summary": _description(cls),
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                {
                    "properties": {
                        "ce_type": {"const": cls.cloudevents_type()},
                        "ce_source": {"pattern": f"^/agencies/[^/]+/{cls.service}$"},
                    }
                },
            ]
        },
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "The case id (the directory's: the agency id).",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(service: str, classes: Iterable[type[DomainEvent]]) -> dict[str, Any]:
    topic = topic_for(service)
    return {
        "address": topic,
        "description": f"The {service} service's events, keyed by case id, in each case's "
        "order (one partition per key).",
        "messages": {
            cls.event_type(): {"$ref": f"#/components/messages/{_component_name(cls)}"}
            for cls in classes
        },
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _published(service: str) -> tuple[type[DomainEvent], ...]:
    contract = importlib.import_module(f"services.{service}.contract")
    published: tuple[type[DomainEvent], ...] = contract.PUBLISHED
    return published


def _spec(service: str) -> ServiceSpec | None:
    from shared.settings import load_settings

    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    make = getattr(bootstrap, "service_spec", None)
    if make is None:
        return None
    # The spec is only read, never run: settings that point nowhere will do.
    spec: ServiceSpec = make(
        load_settings(
            database_url="postgresql://unused@127.0.0.1:1/unused",
            kafka_bootstrap_servers="127.0.0.1:1",
        )
    )
    return spec


def _consumed(spec: ServiceSpec | None) -> list[tuple[str, Sequence[type[DomainEvent]]]]:
    """(consumer, event classes it reads) for each consumer the runtime runs for the spec."""
    if spec is None:
        return []
    found: list[tuple[str, Sequence[type[DomainEvent]]]] = [
        (consumer.name, consumer.reads) for consumer in spec.consumers if consumer.reads is not None
    ]
    if spec.vault is not None and spec.vault.erasures_from and spec.vault.erasure_event:
        found.append(("vault-erasure", (spec.vault.erasure_event,)))
    return found


def service_document(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of one service: what it publishes and what it reads."""
    published = _published(service)
    consumed = _consumed(_spec(service))
    schemas: dict[str, Any] = {HEADERS_SCHEMA: cloudevents_headers()}
    messages: dict[str, Any] = {}
    by_service: dict[str, list[type[DomainEvent]]] = {service: list(published)}
    for _, classes in consumed:
        for cls in classes:
            on_channel = by_service.setdefault(cls.service, [])
            if cls not in on_channel:
                on_channel.append(cls)
    for classes in by_service.values():
        for cls in classes:
            messages[_component_name(cls)] = _message(cls, schemas)
    channels = {name: _channel(name, classes) for name, classes in by_service.items()}
    operations: dict[str, Any] = {
        "publish": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{service}"},
            "summary": f"The {service} service's relay publishes every event its store records, "
            "in commit order.",
            "messages": [
                {"$ref": f"#/channels/{service}/messages/{cls.event_type()}"} for cls in published
            ],
        }
    }
    for consumer, classes in consumed:
        for source in dict.fromkeys(cls.service for cls in classes):
            operations[f"{consumer}-reads-{source}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{source}"},
                "summary": f"The {consumer} consumer applies these events once each (other "
                "types on the topic are passed over).",
                "messages": [
                    {"$ref": f"#/channels/{source}/messages/{cls.event_type()}"}
                    for cls in classes
                    if cls.service == source
                ],
            }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"caseline {service}",
            "version": DOCUMENT_VERSION,
            "description": f"The events the {service} service publishes on "
            f"`{topic_for(service)}` and the events it reads. Every message is a CloudEvent "
            "in the Kafka binding's binary mode: the attributes are headers, the value is the "
            "event's data as JSON. Generated by `caseline asyncapi` from the service's "
            "contract and spec.",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render(document: dict[str, Any]) -> str:
    """The document as the file holds it: JSON, two-space indent, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def documents(services: Iterable[str] | None = None) -> dict[str, str]:
    """`<service>.json` -> its document's text, for every runnable service."""
    return {
        f"{service}.json": render(service_document(service))
        for service in (runnable_services() if services is None else services)
    }


def write_documents(out: Path) -> list[Path]:
    """Write every service's document into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in documents().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_documents(out: Path) -> list[str]:
    """The documents in `out` that differ from what the code generates now (or are missing)."""
    stale = []
    for name, text in documents().items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def asyncapi_command(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Where to write <service>.json.")
    ] = DEFAULT_OUT,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 naming each document that drifted."),
    ] = False,
) -> None:
    """Write an AsyncAPI 3.0.0 document per service: its topic, messages and consumers."""
    if check:
        stale = stale_documents(out)
        if stale:
            typer.echo(
                f"caseline asyncapi: out of date in {out}: {', '.join(stale)} "
                "(run `caseline asyncapi` and commit the result)",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"caseline asyncapi: every document in {out} is up to date")
        return
    for path in write_documents(out):
        typer.echo(f"wrote {path}")
