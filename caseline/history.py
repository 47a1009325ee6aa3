"""`caseline history CASE`: one case's events from every service's store, in the order recorded.

An auditor asks what happened to a case across the network without a projection in between:
the command reads each service's own event store (the record), merges the streams by the
time each event was recorded (then service, then stream version, so the order is total and
the same on every run), and prints a timeline or CloudEvents JSON lines. The stores hold ids
and codes only (personal data lives in the vaults), so neither output can show a person's
details; the timeline still leaves out the actor's staff id and shows only the role.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
import typer
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from rich.console import Console
from rich.table import Table

from caseline.catalog import runnable_services
from shared.codec import to_kafka
from shared.errors import CaselineError
from shared.store import EventStore, StoredEvent, create_pool, quote_schema


class HistoryFormat(StrEnum):
    """How `caseline history` prints: a terminal timeline, or CloudEvents JSON lines."""

    TEXT = "text"
    JSONL = "jsonl"


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event of the case and the service whose store holds it."""

    service: str
    event: StoredEvent

    @property
    def recorded_at(self) -> datetime:
        """When the service's store recorded it (the merge's first key)."""
        return datetime.fromisoformat(self.event.metadata["recorded_at"])

    def order(self) -> tuple[datetime, str, int]:
        """Recorded time, then service, then stream version: a total, repeatable order."""
        return (self.recorded_at, self.service, self.event.stream_version)


def parse_schemas(pairs: Sequence[str], services: Iterable[str]) -> dict[str, str]:
    """`service=schema` options as a mapping; every other service reads its own schema."""
    schemas = {service: service for service in services}
    for pair in pairs:
        service, sep, schema = pair.partition("=")
        if not sep or service not in schemas:
            raise typer.BadParameter(
                f"{pair!r} is not SERVICE=SCHEMA with one of {', '.join(schemas)}",
                param_hint="--schema",
            )
        try:
            quote_schema(schema)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--schema") from e
        schemas[service] = schema
    return schemas


def parse_as_of(text: str | None) -> datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC (the stores' own zone)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (2026-03-01T09:30:00Z)", param_hint="--as-of"
        ) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def case_history(
    database_url: str,
    case_id: str,
    schemas: Mapping[str, str],
    *,
    as_of: datetime | None = None,
) -> list[HistoryEntry]:
    """The case's events in every given store, merged in order; only those recorded by `as_of`.

    A service whose schema has no events table (it never ran against this database) has no
    events of the case, which is not an error.
    """
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        entries: list[HistoryEntry] = []
        for service, schema in schemas.items():
            exists = await pool.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", f"{quote_schema(schema)}.events"
            )
            if not exists:
                continue
            store = EventStore(pool, service, schema=schema)
            entries.extend(
                HistoryEntry(service, event) for event in await store.read_stream_raw(case_id)
            )
    except (OSError, asyncpg.PostgresError) as e:
        raise HistoryUnavailable(f"reading the event stores failed: {e}") from e
    finally:
        await pool.close()
    if as_of is not None:
        entries = [entry for entry in entries if entry.recorded_at <= as_of]
    return sorted(entries, key=HistoryEntry.order)


class HistoryUnavailable(CaselineError):
    """The event stores could not be read."""


def as_cloudevent(entry: HistoryEntry) -> CloudEvent:
    """The event as a CloudEvent with the attributes its Kafka message carries (same codec)."""
    record = to_kafka(entry.event, entry.service)
    attributes: dict[str, Any] = {}
    for name, raw in record.headers:
        value = raw.decode()
        if name == "content-type":
            attributes["datacontenttype"] = value
        elif name.startswith("ce_"):
            attributes[name.removeprefix("ce_")] = value
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    return CloudEvent(attributes, entry.event.payload)


def jsonl_lines(entries: Iterable[HistoryEntry]) -> Iterable[str]:
    """Each event as one line of CloudEvents JSON (structured mode), written by the SDK."""
    formatter = JSONFormat()
    for entry in entries:
        yield formatter.write(as_cloudevent(entry)).decode()


_CODE_LIMIT = 40
_CELL_LIMIT = 120


def key_codes(payload: Mapping[str, Any]) -> str:
    """The payload's ids, codes, dates and counts at a glance: `field=value`, lists counted."""
    parts: list[str] = []
    for name, value in payload.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            shown = f"[{len(value)}]"
        elif isinstance(value, dict):
            shown = "{…}"
        else:
            shown = str(value)
            if len(shown) > _CODE_LIMIT:
                shown = shown[: _CODE_LIMIT - 1] + "…"
        parts.append(f"{name}={shown}")
    text = " ".join(parts)
    return text if len(text) <= _CELL_LIMIT else text[: _CELL_LIMIT - 1] + "…"


def timeline(case_id: str, entries: Sequence[HistoryEntry], as_of: datetime | None) -> Table:
    """The rich table a terminal shows: one row per event, in the merged order."""
    title = f"case {case_id}: {len(entries)} events"
    if as_of is not None:
        title += f" recorded by {as_of.astimezone(UTC).isoformat().replace('+00:00', 'Z')}"
    table = Table(title=title, title_justify="left")
    for column in ("recorded (UTC)", "service", "v", "agency", "actor role", "event", "codes"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        meta = entry.event.metadata
        table.add_row(
            entry.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            entry.service,
            str(entry.event.stream_version),
            meta["agency_id"],
            str(meta["actor"]["role"]),
            entry.event.event_type,
            key_codes(entry.event.payload),
        )
    return table


def history_command(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="The case id.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="TIME",
            help="Only events recorded by then (ISO 8601; without an offset, UTC).",
        ),
    ] = None,
    output: Annotated[
        HistoryFormat,
        typer.Option(
            "--format", help="text: a timeline; jsonl: CloudEvents JSON lines (structured mode)."
        ),
    ] = HistoryFormat.TEXT,
    schema: Annotated[
        list[str] | None,
        typer.Option(
            "--schema",
            metavar="SERVICE=SCHEMA",
            help="Read a service's store from another schema (repeatable); default its own.",
        ),
    ] = None,
) -> None:
    """A case's events from every service's store, merged in the order they were recorded."""
    from shared.settings import load_settings

    services = runnable_services()
    schemas = parse_schemas(schema or [], services)
    moment = parse_as_of(as_of)
    settings = load_settings()
    try:
        entries = asyncio.run(case_history(settings.database_url, case_id, schemas, as_of=moment))
    except CaselineError as e:
        typer.echo(f"caseline history: {e}", err=True)
        raise typer.Exit(2) from e
    if not entries:
        when = f" recorded by {as_of}" if as_of else ""
        typer.echo(
            f"caseline history: no events of case {case_id!r}{when} in the stores of "
            f"{', '.join(services)}",
            err=True,
        )
        raise typer.Exit(1)
    if output is HistoryFormat.JSONL:
        for line in jsonl_lines(entries):
            typer.echo(line)
    else:
        # Piped to a file or a pager, the timeline keeps its width instead of rich's 80.
        Console(width=None if sys.stdout.isatty() else PIPED_WIDTH).print(
            timeline(case_id, entries, moment)
        )


PIPED_WIDTH = 160
