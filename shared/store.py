"""PostgreSQL event store: one schema per service, optimistic concurrency, hash-chained streams.

Global positions follow commit order. Every append takes the row lock on the schema's single
`log_head` row before it writes and holds it until commit, so a transaction that got position
p committed after every transaction holding a position below p. A reader that has seen p can
therefore never later find a smaller position appearing: late commits cannot be skipped, and
rolled-back appends leave no gaps because the counter rolls back with them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.chain import GENESIS_HASH, canonical_json, encoded_event_hash, event_hash
from shared.envelope import (
    DomainEvent,
    Envelope,
    EventMetadata,
    EventRegistry,
    RecordedEvent,
    registry,
    utc_now,
)
from shared.errors import (
    ConcurrencyError,
    DuplicateEventError,
    InfrastructureUnavailable,
    SchemaError,
)

_REMEMBERED_HEADS = 10_000
"""How many cases' last version and hash a store remembers before it starts afresh."""

_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def quote_schema(schema: str) -> str:
    """Validate a schema name (it is spliced into SQL) and return it quoted."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"not a valid schema name: {schema!r}")
    return f'"{schema}"'


async def migrate_schema(pool: asyncpg.Pool, schema: str, ddl: str) -> None:
    """Run idempotent DDL for `schema`, one migration per schema at a time.

    Several processes of a service may start together; every migration of a schema (the
    store's, each consumer's, each read model's) takes the same lock, so they never race.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"caseline-migrate-{schema}"
        )
        await conn.execute(ddl)


async def migrate_search_path(pool: asyncpg.Pool, ddl: str) -> None:
    """Run idempotent DDL of unqualified tables in the pool's own schema (its search path).

    A service's read models name their tables without a schema, so the same SQL serves any
    schema a test or an operator gives the service; it runs under `migrate_schema`'s lock
    for that schema, so it never races with the store's or a consumer's migration.
    """
    async with pool.acquire() as conn:
        schema: str = await conn.fetchval("SELECT current_schema()")
    await migrate_schema(pool, schema, ddl)


def _migration(s: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};

CREATE TABLE IF NOT EXISTS {s}.events (
    position        bigint      NOT NULL UNIQUE CHECK (position >= 1),
    case_id         text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    previous_hash   bytea       NOT NULL,
    hash            bytea       NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);

-- One row: the last position handed out. Its row lock orders appends by commit.
CREATE TABLE IF NOT EXISTS {s}.log_head (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_position  bigint  NOT NULL
);
INSERT INTO {s}.log_head (singleton, last_position) VALUES (true, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS {s}.relay_positions (
    topic       text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One append in one round trip: under the log head's lock, an append whose stream is at the
-- expected version and hash gets the next positions for its rows (hashed by the caller against
-- that head). Otherwise it reports the stored rows when it repeats their ids (a retry finds its
-- stream moved on by its own events), else the stream's head. The hot path uses only the
-- stream's primary key; the lookup by event id runs only off it, planned afresh each time, as a
-- plan cached while the table was small would scan the whole table.
CREATE OR REPLACE FUNCTION {s}.append_events(
    p_case_id text, p_expected integer, p_previous_hash bytea, p_ids uuid[], p_types text[],
    p_schema_versions integer[], p_payloads jsonb[], p_metadata jsonb[], p_hashes bytea[],
    p_channel text
) RETURNS TABLE (outcome text, event_id uuid, case_id text, stream_version integer,
                 "position" bigint, hash bytea)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_last bigint;
    v_version integer;
    v_hash bytea;
BEGIN
    SELECT h.last_position INTO v_last FROM {s}.log_head h WHERE h.singleton FOR UPDATE;
    SELECT e.stream_version, e.hash INTO v_version, v_hash FROM {s}.events e
        WHERE e.case_id = p_case_id ORDER BY e.stream_version DESC LIMIT 1;
    IF coalesce(v_version, 0) <> p_expected
       OR coalesce(v_hash, p_previous_hash) IS DISTINCT FROM p_previous_hash THEN
        RETURN QUERY EXECUTE 'SELECT ''stored''::text, e.event_id, e.case_id, e.stream_version,
            e.position, e.hash FROM {s}.events e WHERE e.event_id = ANY($1)
            ORDER BY e.position' USING p_ids;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'head'::text, NULL::uuid, p_case_id, coalesce(v_version, 0),
                NULL::bigint, v_hash;
        END IF;
        RETURN;
    END IF;
    INSERT INTO {s}.events (position, case_id, stream_version, event_id, event_type,
        schema_version, payload, metadata, previous_hash, hash)
    SELECT v_last + u.n, p_case_id, p_expected + u.n::integer, u.id, u.t, u.sv, u.p, u.m,
        CASE WHEN u.n = 1 THEN p_previous_hash ELSE p_hashes[u.n - 1] END, u.h
    FROM unnest(p_ids, p_types, p_schema_versions, p_payloads, p_metadata, p_hashes)
        WITH ORDINALITY AS u(id, t, sv, p, m, h, n);
    UPDATE {s}.log_head SET last_position = v_last + cardinality(p_ids) WHERE singleton;
    PERFORM pg_notify(p_channel, (v_last + cardinality(p_ids))::text);
    RETURN QUERY SELECT 'written'::text, NULL::uuid, p_case_id,
        p_expected + cardinality(p_ids), v_last + 1, NULL::bytea;
END;
$$;

CREATE OR REPLACE FUNCTION {s}.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'caseline events are append-only: % on %.events is refused',
        TG_OP, TG_TABLE_SCHEMA
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correcting event instead.';
END;
$$;

CREATE OR REPLACE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON {s}.events
    FOR EACH ROW EXECUTE FUNCTION {s}.refuse_event_change();

CREATE OR REPLACE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON {s}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_event_change();
"""


class StoredEvent(BaseModel):
    """One row of an events table, as stored: the relay publishes these without decoding."""

    model_config = ConfigDict(frozen=True)

    position: int
    case_id: str
    stream_version: int
    event_id: uuid.UUID
    event_type: str
    schema_version: int
    payload: dict[str, Any]
    metadata: dict[str, Any]
    previous_hash: bytes
    hash: bytes

    def envelope_metadata(self) -> EventMetadata:
        """The metadata as the envelope model."""
        return EventMetadata.model_validate(
            {
                **self.metadata,
                "event_id": self.event_id,
                "case_id": self.case_id,
                "schema_version": self.schema_version,
            }
        )

    def expected_hash(self) -> bytes:
        """The hash this row should carry, recomputed from its content and previous hash."""
        return event_hash(
            previous_hash=self.previous_hash,
            case_id=self.case_id,
            stream_version=self.stream_version,
            event_id=str(self.event_id),
            event_type=self.event_type,
            schema_version=self.schema_version,
            payload=self.payload,
            metadata=self.metadata,
        )


@dataclass(frozen=True)
class AppendResult:
    """What an append did: the stream's new version, the positions, whether anything was new."""

    case_id: str
    stream_version: int
    positions: tuple[int, ...]
    written: bool
    events: tuple[RecordedEvent[Any], ...] = ()
    """The events as written (empty when a retried append wrote nothing)."""


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying one case's hash chain."""

    case_id: str
    events_checked: int
    ok: bool
    broken_at_version: int | None = None
    reason: str | None = None


_COLUMNS = (
    "position, case_id, stream_version, event_id, event_type, schema_version, "
    "payload::text AS payload, metadata::text AS metadata, previous_hash, hash"
)


def _row_to_stored(row: asyncpg.Record) -> StoredEvent:
    """Build from a row whose columns PostgreSQL has already typed: validating again per row
    would cost more than the read itself, so the model is constructed as it stands."""
    return StoredEvent.model_construct(
        position=row["position"],
        case_id=row["case_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        payload=json.loads(row["payload"]),
        metadata=json.loads(row["metadata"]),
        previous_hash=bytes(row["previous_hash"]),
        hash=bytes(row["hash"]),
    )


def metadata_with_columns(
    document: str, event_id: uuid.UUID, case_id: str, schema_version: int
) -> str:
    """The stored metadata document with the three fields kept as columns put back in, as
    JSON text, so the envelope's metadata is parsed in one pass."""
    body = document.strip()
    if not body.startswith("{"):
        raise ValueError("stored metadata is not a JSON object")
    columns = (
        f'{{"event_id":"{event_id}","case_id":{json.dumps(case_id)},'
        f'"schema_version":{int(schema_version)}'
    )
    rest = body[1:].lstrip()
    return columns + ("}" if rest == "}" else "," + rest)


def _metadata_document(meta: EventMetadata) -> dict[str, Any]:
    # event id, case id and schema version are columns; the rest travels as one document.
    assert meta.recorded_at is not None
    document: dict[str, Any] = {
        "agency_id": meta.agency_id,
        "actor": {"staff_id": meta.actor.staff_id, "role": meta.actor.role.value},
        "correlation_id": str(meta.correlation_id),
        "causation_id": str(meta.causation_id) if meta.causation_id else None,
        "occurred_at": meta.occurred_at.astimezone(UTC).isoformat(),
        "recorded_at": meta.recorded_at.astimezone(UTC).isoformat(),
    }
    # Only when set: the documents (and so the hashes) of every other event stay as they were.
    if meta.acting_agency_id is not None:
        document["acting_agency_id"] = meta.acting_agency_id
    return document


class EventStore:
    """The event store of one service, in that service's own PostgreSQL schema."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        *,
        schema: str | None = None,
        events: EventRegistry = registry,
    ) -> None:
        self.pool = pool
        self.service = service
        self.schema = schema or service
        self._s = quote_schema(self.schema)
        self.registry = events
        self.notify_channel = f"caseline_{self.schema}_events"
        # The last version and hash this store wrote or saw per case: an append at that version
        # hashes against it without asking first; the database checks it under the lock.
        self._heads: dict[str, tuple[int, bytes]] = {}

    async def migrate(self) -> None:
        """Create the schema, tables and immutability triggers (idempotent)."""
        await migrate_schema(self.pool, self.schema, _migration(self._s))

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope[Any]],
        *,
        connection: asyncpg.Connection | None = None,
    ) -> AppendResult:
        """Append events to a case at `expected_version`; a retry with the same ids writes nothing.

        Raises `ConcurrencyError` when the stream is not at `expected_version`, and
        `DuplicateEventError` when an event id is already stored elsewhere.
        """
        if not envelopes:
            raise ValueError("append needs at least one event")
        for env in envelopes:
            if env.metadata.case_id != case_id:
                raise ValueError(
                    f"event {env.metadata.event_id} is for case {env.metadata.case_id}, "
                    f"not {case_id}"
                )
            if env.payload.service != self.service:
                raise ValueError(
                    f"{env.event_type} belongs to {env.payload.service}, not {self.service}"
                )
        if connection is not None:
            async with connection.transaction():
                return await self._append(connection, case_id, expected_version, envelopes)
        # One statement is its own transaction: the function does the whole append atomically.
        async with self.pool.acquire() as conn:
            return await self._append(conn, case_id, expected_version, envelopes)

    async def _append(
        self,
        conn: asyncpg.Connection,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope[Any]],
    ) -> AppendResult:
        ids = [env.metadata.event_id for env in envelopes]
        if len(set(ids)) != len(ids):
            raise DuplicateEventError("the same event id appears twice in one append")
        head = self._heads.get(case_id)
        if head is None or head[0] != expected_version:
            head = await self._stream_head(conn, case_id)
        rows, written = await self._write(conn, case_id, expected_version, envelopes, head[1])
        outcome = rows[0]["outcome"]
        if outcome == "head" and rows[0]["stream_version"] == expected_version:
            # The remembered hash was not the stream's: hash again against the stored head.
            rows, written = await self._write(
                conn, case_id, expected_version, envelopes, bytes(rows[0]["hash"])
            )
            outcome = rows[0]["outcome"]
        if outcome == "stored":
            return self._replayed_append(case_id, ids, rows)
        if outcome == "head":
            self._heads.pop(case_id, None)
            raise ConcurrencyError(case_id, expected_version, rows[0]["stream_version"])
        first = rows[0]["position"]
        events = tuple(e.model_copy(update={"position": first + i}) for i, e in enumerate(written))
        self._remember(case_id, events[-1].stream_version, events[-1].hash)
        return AppendResult(
            case_id=case_id,
            stream_version=rows[0]["stream_version"],
            positions=tuple(e.position for e in events),
            written=True,
            events=events,
        )

    async def _stream_head(self, conn: asyncpg.Connection, case_id: str) -> tuple[int, bytes]:
        row = await conn.fetchrow(
            f"SELECT stream_version, hash FROM {self._s}.events WHERE case_id = $1 "
            "ORDER BY stream_version DESC LIMIT 1",
            case_id,
        )
        return (row["stream_version"], bytes(row["hash"])) if row else (0, GENESIS_HASH)

    def _remember(self, case_id: str, version: int, digest: bytes) -> None:
        if len(self._heads) >= _REMEMBERED_HEADS:
            self._heads.clear()
        self._heads[case_id] = (version, digest)

    async def _write(
        self,
        conn: asyncpg.Connection,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope[Any]],
        previous_hash: bytes,
    ) -> tuple[list[asyncpg.Record], list[RecordedEvent[Any]]]:
        """Hash the events against `previous_hash` and hand them to the database function,
        which checks the stream head and assigns positions under the log head's lock."""
        recorded_at = utc_now()
        columns: list[list[Any]] = [[] for _ in range(6)]
        written: list[RecordedEvent[Any]] = []
        for offset, env in enumerate(envelopes, start=1):
            meta = env.metadata.model_copy(
                update={"recorded_at": recorded_at, "schema_version": env.payload.schema_version}
            )
            version = expected_version + offset
            payload_json = canonical_json(env.payload.model_dump(mode="json"))
            metadata_json = canonical_json(_metadata_document(meta))
            digest = encoded_event_hash(
                previous_hash=previous_hash,
                case_id=case_id,
                stream_version=version,
                event_id=str(meta.event_id),
                event_type=env.event_type,
                schema_version=meta.schema_version,
                payload_json=payload_json,
                metadata_json=metadata_json,
            )
            for column, value in zip(
                columns,
                (
                    meta.event_id,
                    env.event_type,
                    meta.schema_version,
                    payload_json.decode(),
                    metadata_json.decode(),
                    digest,
                ),
                strict=True,
            ):
                column.append(value)
            written.append(
                RecordedEvent(
                    position=0,
                    stream_version=version,
                    envelope=Envelope(metadata=meta, payload=env.payload),
                    previous_hash=previous_hash,
                    hash=digest,
                )
            )
            previous_hash = digest
        try:
            rows: list[asyncpg.Record] = await conn.fetch(
                f"SELECT * FROM {self._s}.append_events($1, $2, $3, $4::uuid[], $5::text[], "
                "$6::integer[], $7::jsonb[], $8::jsonb[], $9::bytea[], $10)",
                case_id,
                expected_version,
                written[0].previous_hash,
                *columns,
                self.notify_channel,
            )
        except asyncpg.UniqueViolationError as e:
            if e.constraint_name == "events_event_id_key":
                raise DuplicateEventError(
                    "an event id of this append is already stored, at another place"
                ) from e
            # Unreachable while every writer goes through the function; kept as a typed error
            # should a writer bypass it.
            raise ConcurrencyError(case_id, expected_version, -1) from e
        return rows, written

    @staticmethod
    def _replayed_append(
        case_id: str, ids: list[uuid.UUID], existing: Sequence[asyncpg.Record]
    ) -> AppendResult:
        found = {r["event_id"] for r in existing}
        if found != set(ids) or any(r["case_id"] != case_id for r in existing):
            raise DuplicateEventError(
                f"event ids {sorted(str(i) for i in found)} are already stored, "
                "but the append does not repeat an earlier one exactly"
            )
        return AppendResult(
            case_id=case_id,
            stream_version=max(r["stream_version"] for r in existing),
            positions=tuple(r["position"] for r in existing),
            written=False,
        )

    async def stream_version(self, case_id: str) -> int:
        """The current version of a case's stream (0 when it has no events)."""
        version: int | None = await self.pool.fetchval(
            f"SELECT max(stream_version) FROM {self._s}.events WHERE case_id = $1", case_id
        )
        return version or 0

    async def read_stream_raw(
        self,
        case_id: str,
        from_version: int = 1,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[StoredEvent]:
        """A case's events as stored, in stream order; on `connection` when one is held (a
        consumer's transaction), so the reader never waits for a second pooled connection."""
        reader: asyncpg.Connection | asyncpg.Pool = connection or self.pool
        rows = await reader.fetch(
            f"SELECT {_COLUMNS} FROM {self._s}.events "
            "WHERE case_id = $1 AND stream_version >= $2 ORDER BY stream_version",
            case_id,
            from_version,
        )
        return [_row_to_stored(r) for r in rows]

    async def read_stream(
        self,
        case_id: str,
        from_version: int = 1,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent[Any]]:
        """A case's events decoded to their current schema versions, in stream order."""
        stored = await self.read_stream_raw(case_id, from_version, connection=connection)
        return [self.decode(e) for e in stored]

    async def read_all_raw(
        self,
        after_position: int,
        limit: int = 500,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[StoredEvent]:
        """Up to `limit` events after a global position, in commit order."""
        query = (
            f"SELECT {_COLUMNS} FROM {self._s}.events "
            "WHERE position > $1 ORDER BY position LIMIT $2"
        )
        if connection is not None:
            rows = await connection.fetch(query, after_position, limit)
        else:
            rows = await self.pool.fetch(query, after_position, limit)
        return [_row_to_stored(r) for r in rows]

    async def last_position(self) -> int:
        """The last global position handed out (committed)."""
        value: int = await self.pool.fetchval(
            f"SELECT last_position FROM {self._s}.log_head WHERE singleton"
        )
        return value

    async def case_ids(self) -> list[str]:
        """Every case that has at least one event, sorted."""
        rows = await self.pool.fetch(
            f"SELECT DISTINCT case_id FROM {self._s}.events ORDER BY case_id"
        )
        return [r["case_id"] for r in rows]

    async def read_all(
        self,
        after_position: int,
        limit: int = 500,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent[Any]]:
        """Up to `limit` decoded events after a global position, in commit order.

        Each payload is parsed once, from the stored JSON text straight into its event class,
        rather than through a dictionary first; a payload of an older version is upcast.
        """
        query = (
            f"SELECT {_COLUMNS} FROM {self._s}.events "
            "WHERE position > $1 ORDER BY position LIMIT $2"
        )
        reader = connection if connection is not None else self.pool
        rows = await reader.fetch(query, after_position, limit)
        return [self._decode_row(r) for r in rows]

    def _decode_row(self, row: asyncpg.Record) -> RecordedEvent[Any]:
        cls: type[DomainEvent] = self.registry.event_class(self.service, row["event_type"])
        version: int = row["schema_version"]
        try:
            if version == cls.schema_version:
                payload = cls.model_validate_json(row["payload"])
            else:
                payload = self.registry.load(cls, version, json.loads(row["payload"]))
        except ValidationError as e:
            raise SchemaError(f"{cls.event_type()} payload is invalid: {e}") from e
        meta = EventMetadata.model_validate_json(
            metadata_with_columns(row["metadata"], row["event_id"], row["case_id"], version)
        )
        return RecordedEvent(
            position=row["position"],
            stream_version=row["stream_version"],
            envelope=Envelope(metadata=meta, payload=payload),
            previous_hash=bytes(row["previous_hash"]),
            hash=bytes(row["hash"]),
        )

    def decode(self, stored: StoredEvent) -> RecordedEvent[Any]:
        """Build the typed, current-version event from a stored row."""
        cls: type[DomainEvent] = self.registry.event_class(self.service, stored.event_type)
        payload = self.registry.load(cls, stored.schema_version, stored.payload)
        return RecordedEvent(
            position=stored.position,
            stream_version=stored.stream_version,
            envelope=Envelope(metadata=stored.envelope_metadata(), payload=payload),
            previous_hash=stored.previous_hash,
            hash=stored.hash,
        )

    async def verify_case(self, case_id: str) -> ChainReport:
        """Recompute a case's hash chain; report the first event that does not verify."""
        return verify_chain(case_id, await self.read_stream_raw(case_id))

    async def verify_all(self) -> list[ChainReport]:
        """Verify every case's chain, plus the global log: positions 1..last with no gap."""
        reports = [await self.verify_case(case_id) for case_id in await self.case_ids()]
        last = await self.last_position()
        count: int = await self.pool.fetchval(f"SELECT count(*) FROM {self._s}.events")
        if count != last:
            reports.append(
                ChainReport(
                    case_id="*",
                    events_checked=count,
                    ok=False,
                    reason=f"the log handed out {last} positions but holds {count} events",
                )
            )
        return reports


def verify_chain(case_id: str, events: Sequence[StoredEvent]) -> ChainReport:
    """Check versions run 1..n, each event links to its predecessor, and each hash recomputes."""
    previous = GENESIS_HASH
    for expected_version, event in enumerate(events, start=1):
        if event.stream_version != expected_version:
            return ChainReport(
                case_id,
                expected_version - 1,
                False,
                expected_version,
                f"version {expected_version} is missing (found {event.stream_version})",
            )
        if event.previous_hash != previous:
            return ChainReport(
                case_id,
                expected_version - 1,
                False,
                expected_version,
                "previous hash does not match the event before it",
            )
        if event.expected_hash() != event.hash:
            return ChainReport(
                case_id,
                expected_version - 1,
                False,
                expected_version,
                "content does not match its hash: the event was altered",
            )
        previous = event.hash
    return ChainReport(case_id, len(events), True)


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond asyncpg's own rollback of an open transaction."""
    del conn


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    search_path: str | None = None,
    command_timeout: float | None = None,
    connect_timeout: float = 10.0,
) -> asyncpg.Pool:
    """Open an asyncpg pool, translating connection failures into `InfrastructureUnavailable`.

    `search_path` names the schema unqualified table names resolve to (a service's own).
    `command_timeout` bounds every statement; `connect_timeout` every new connection, which
    the pool opens again by itself after PostgreSQL restarted.

    A connection goes back to the pool without asyncpg's session reset (`RESET ALL`,
    `UNLISTEN *`, advisory unlock: a round trip on every release, about a fifth of a single
    append's time). An open transaction is still rolled back. Nothing in caseline sets session
    state on a pooled connection except the relay, which undoes its lock and listener itself
    before it lets go; code that adds session state must do the same.
    """
    settings = {"search_path": f"{quote_schema(search_path)}, public"} if search_path else None
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            server_settings=settings,
            command_timeout=command_timeout,
            timeout=connect_timeout,
            reset=_no_session_reset,
        )
    except (OSError, asyncpg.PostgresError) as e:
        raise InfrastructureUnavailable(
            f"PostgreSQL at {redact_dsn(dsn)} is unavailable: {e}"
        ) from e
    assert pool is not None
    return pool


def redact_dsn(dsn: str) -> str:
    """The DSN with its password masked, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)
