"""`caseline replay`: rebuild projections' read models from the event stores and compare.

The read models are only a cache of the record: an auditor must be able to throw them away,
rebuild them from every service's event store, and get the same rows. Replay does exactly
that, through the very handlers the live consumers run: each stored event is encoded as the
relay publishes it and decoded as a consumer receives it (upcasting included), then applied
into a fresh schema migrated like the live one. Each store is read in commit order, a page
at a time, so a replay of millions of events holds one page in memory; the stores are
replayed one after another, an order the live consumers (one per topic) never saw, which is
the point: a read model that depends on the order of arrival across topics shows up as drift.

Then every read-model table is compared with the live one row by row, by primary key:
rows missing from the live table, rows it has that the history does not give, and rows that
differ, with a few keys and the columns that differ as examples (ids and codes only: these
tables hold no personal data). The live projection is eventually consistent, so before
comparing, replay waits (boundedly) until the live consumers have applied every event it
replayed, and replays what the stores received meanwhile; a live projection still behind
after the wait is reported as behind, not as drift.

The kit's own tables (the event store, relay and consumer bookkeeping, and the members the
routes authenticate against) are not read models of the case history and are not compared.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from caseline.read_model_diff import TableDrift, compare_read_models, ident, table_columns
from services.directory.contract import record_principals
from services.projections.bootstrap import service_spec
from shared.codec import from_kafka, to_kafka
from shared.consumer import EventHandler, event_types, is_transient
from shared.envelope import EventRegistry
from shared.errors import CaselineError
from shared.service import ConsumerSpec
from shared.settings import Settings, load_settings
from shared.store import EventStore, create_pool, quote_schema

PAGE = 1000
"""Events read from a store and applied in one transaction."""


REPLAYED = "replayed_events"
"""Replay's own note, in the replay schema, of the events it applied per consumer."""

Progress = Callable[[str, int, int], None]
"""`progress(store, events done, events in all)`."""


class ReplayError(Exception):
    """Replay cannot run as asked (no live schema, a source store missing)."""


@dataclass(frozen=True)
class Source:
    """One live consumer's feed: the store it is fed from and what it applies."""

    consumer: str
    service: str
    topic: str
    schema: str
    handle: EventHandler
    events: EventRegistry
    reads: frozenset[tuple[str, str]] | None


@dataclass(frozen=True)
class ReplayReport:
    """What one replay did and found."""

    live_schema: str
    events: int
    seconds: float
    rows: dict[str, int]
    drift: tuple[TableDrift, ...]
    behind: dict[str, int] = field(default_factory=dict)
    """Per live consumer, replayed events it had not applied when the wait ran out."""
    refused: dict[str, int] = field(default_factory=dict)
    """Per consumer, events its handler refused in the replay, as live dead-letters them."""
    dead_lettered: dict[str, int] = field(default_factory=dict)
    """Per live consumer, events it dead-lettered that the replay applied."""
    skipped: tuple[str, ...] = ()
    """Sources with no store in this database (a service that never ran here)."""
    kept_schema: str | None = None
    rebuilt: tuple[str, ...] = ()
    """Tables whose live rows were replaced by the replayed ones (`rebuild`)."""

    @property
    def events_per_second(self) -> float:
        """The replay's rate, reading, decoding and applying included."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        """No drift, nothing behind, nothing dead-lettered live that the history applies."""
        return not (self.drift or any(self.behind.values()) or any(self.dead_lettered.values()))


def projection_sources(settings: Settings, schemas: Mapping[str, str]) -> list[Source]:
    """Projections' case-history consumers, each with the store its topic is fed from."""
    spec = service_spec(settings)
    sources: list[Source] = []
    for consumer in spec.consumers:
        if consumer.handle is None or consumer.handle is record_principals:
            continue  # the members the routes authenticate against are the kit's, not history
        for topic in consumer.topics:
            service = _service_of(topic)
            sources.append(
                Source(
                    consumer=f"{spec.name}.{consumer.name}",  # as the runtime names it
                    service=service,
                    topic=topic,
                    schema=schemas.get(service, service),
                    handle=consumer.handle,
                    events=consumer.events,
                    reads=_reads(consumer),
                )
            )
    return sources


def _reads(consumer: ConsumerSpec) -> frozenset[tuple[str, str]] | None:
    return None if consumer.reads is None else event_types(*consumer.reads)


def _service_of(topic: str) -> str:
    """`caseline.<service>.v1` -> service (a namespaced topic keeps its service last)."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "caseline":
        raise ReplayError(f"{topic!r} is not a caseline topic")
    return parts[1].rsplit("-", 1)[-1]


async def _has_table(pool: asyncpg.Pool, schema: str, table: str) -> bool:
    found: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables "
        "WHERE table_schema = $1 AND table_name = $2)",
        schema,
        table,
    )
    return found


async def replay_projections(
    database_url: str,
    settings: Settings | None = None,
    *,
    live_schema: str = "projections",
    schemas: Mapping[str, str] | None = None,
    wait_seconds: float = 30.0,
    keep: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ReplayReport:
    """Rebuild projections' read models into a fresh schema, compare them with the live ones;
    with `rebuild`, then replace the live rows with the replayed ones (`_promote`)."""
    quote_schema(live_schema)
    settings = settings or load_settings(database_url=database_url)
    admin = await create_pool(database_url, min_size=1, max_size=2)
    replay_schema = f"{live_schema}_replay_{uuid.uuid4().hex[:8]}"
    created = False
    try:
        if not await _has_table(admin, live_schema, "processed_messages"):
            raise ReplayError(f"no live projections in schema {live_schema!r}")
        sources = projection_sources(settings, schemas or {})
        present = [s for s in sources if await _has_table(admin, s.schema, "events")]
        skipped = tuple(
            sorted({f"{s.service} (schema {s.schema})" for s in sources if s not in present})
        )
        await admin.execute(f"CREATE SCHEMA {quote_schema(replay_schema)}")
        created = True
        pool = await create_pool(database_url, min_size=1, max_size=2, search_path=replay_schema)
        try:
            for migrate in service_spec(settings).migrations:
                await migrate(pool)
            await pool.execute(
                f"CREATE TABLE {REPLAYED} (consumer text NOT NULL, event_id uuid NOT NULL, "
                "refused boolean NOT NULL DEFAULT false, PRIMARY KEY (consumer, event_id))"
            )
            replayer = _Replayer(pool, present, progress)
            started = time.perf_counter()
            await replayer.run()
            seconds = time.perf_counter() - started
            settled = await _settle(admin, replayer, live_schema, replay_schema, wait_seconds)
            rows, drift = await compare_read_models(
                admin, live_schema, replay_schema, ignore=(REPLAYED,)
            )
            rebuilt = (
                await _promote(admin, replayer, live_schema, replay_schema, list(rows))
                if rebuild
                else ()
            )
        finally:
            await pool.close()
        if settled.unknown:
            drift.append(
                TableDrift("events applied live", 0, settled.unknown, 0, ("no store holds them",))
            )
        if settled.refused_applied:
            drift.append(
                TableDrift(
                    "events applied live",
                    0,
                    settled.refused_applied,
                    0,
                    ("their handler refuses them on replay",),
                )
            )
        return ReplayReport(
            live_schema=live_schema,
            events=replayer.events,
            seconds=seconds,
            rows=rows,
            drift=tuple(drift),
            behind={k: v for k, v in settled.behind.items() if v},
            refused=dict(replayer.refused),
            dead_lettered=settled.dead_lettered,
            skipped=skipped,
            kept_schema=replay_schema if keep else None,
            rebuilt=rebuilt,
        )
    finally:
        if created and not keep:
            await admin.execute(f"DROP SCHEMA IF EXISTS {quote_schema(replay_schema)} CASCADE")
        await admin.close()


class _Replayer:
    """Applies every source's stored events after where it stood, a page per transaction."""

    def __init__(self, pool: asyncpg.Pool, sources: Sequence[Source], progress: Progress | None):
        self.pool = pool
        self.sources = sources
        self.progress = progress
        self.after: dict[Source, int] = dict.fromkeys(sources, 0)
        self.events = 0
        self.refused: dict[str, int] = {}

    async def run(self) -> None:
        """Replay each source from where it stood to its store's current end."""
        ends = {s: await _last_position(self.pool, s.schema) for s in self.sources}
        total = sum(ends[s] - self.after[s] for s in self.sources)
        done = 0
        for source in self.sources:
            store = EventStore(self.pool, source.service, schema=source.schema)
            while page := await store.read_all_raw(self.after[source], PAGE):
                applied = await self._apply_page(source, page)
                self.events += applied
                done += len(page)
                self.after[source] = page[-1].position
                if self.progress is not None:
                    self.progress(source.service, done, max(total, done))

    async def _apply_page(self, source: Source, page: Sequence[Any]) -> int:
        """The page in one transaction; if a handler refuses an event, the page again with
        that event left out, as the live consumer dead-letters it and applies the rest."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._apply(conn, source, page, careful=False)
        except CaselineError as error:
            if is_transient(error):
                raise
        async with self.pool.acquire() as conn, conn.transaction():
            return await self._apply(conn, source, page, careful=True)

    async def _apply(
        self, conn: asyncpg.Connection, source: Source, page: Sequence[Any], *, careful: bool
    ) -> int:
        applied = 0
        marks: list[tuple[str, Any, bool]] = []
        for stored in page:
            if source.reads is not None and (source.service, stored.event_type) not in (
                source.reads
            ):
                continue
            refused = False
            if careful:
                try:
                    async with conn.transaction():
                        await self._handle(conn, source, stored)
                except CaselineError as error:
                    if is_transient(error):
                        raise
                    refused = True
                    self.refused[source.consumer] = self.refused.get(source.consumer, 0) + 1
            else:
                await self._handle(conn, source, stored)
            marks.append((source.consumer, stored.event_id, refused))
            applied += not refused
        # What was replayed, in one statement per page (a round trip per event otherwise).
        await conn.executemany(
            f"INSERT INTO {REPLAYED} VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", marks
        )
        return applied

    @staticmethod
    async def _handle(conn: asyncpg.Connection, source: Source, stored: Any) -> None:
        record = to_kafka(stored, source.service)
        await source.handle(conn, from_kafka(record.value, record.headers, source.events))


async def _last_position(pool: asyncpg.Pool, schema: str) -> int:
    value = await pool.fetchval(f"SELECT last_position FROM {quote_schema(schema)}.log_head")
    return int(value or 0)


@dataclass(frozen=True)
class _Settled:
    """Where the live consumers stand against the replay once the wait is over."""

    behind: dict[str, int]
    """Replayed events a live consumer has neither applied nor dead-lettered."""
    dead_lettered: dict[str, int]
    """Replayed events a live consumer dead-lettered instead of applying."""
    unknown: int
    """Events live applied that no store holds."""
    refused_applied: int
    """Events live applied that their handler refuses on replay."""


async def _settle(
    admin: asyncpg.Pool,
    replayer: _Replayer,
    live_schema: str,
    replay_schema: str,
    wait_seconds: float,
) -> _Settled:
    """Wait until the live consumers applied (or, as the replay refused, dead-lettered) every
    replayed event, replaying what the stores received meanwhile; then where they stand."""
    live, replay = quote_schema(live_schema), quote_schema(replay_schema)
    deadline = time.monotonic() + wait_seconds
    while True:
        rows = await admin.fetch(
            "SELECT r.consumer, count(*) FILTER (WHERE d.event_id IS NULL) AS behind, "
            "count(*) FILTER (WHERE d.event_id IS NOT NULL AND NOT r.refused) AS dead "
            f"FROM {replay}.{REPLAYED} r "
            f"LEFT JOIN {live}.processed_messages l USING (consumer, event_id) "
            f"LEFT JOIN (SELECT DISTINCT consumer, event_id FROM {live}.dead_lettered_messages) d "
            "ON d.consumer = r.consumer AND d.event_id = r.event_id::text "
            "WHERE l.event_id IS NULL GROUP BY r.consumer"
        )
        behind = {r["consumer"]: int(r["behind"]) for r in rows}
        dead = {r["consumer"]: int(r["dead"]) for r in rows if r["dead"]}
        ahead = int(
            await admin.fetchval(
                f"SELECT count(*) FROM {live}.processed_messages l WHERE l.consumer = ANY($1) "
                f"AND NOT EXISTS (SELECT 1 FROM {replay}.{REPLAYED} r "
                "WHERE r.consumer = l.consumer AND r.event_id = l.event_id)",
                sorted({s.consumer for s in replayer.sources}),
            )
        )
        if ahead:
            before = replayer.events
            await replayer.run()
            if replayer.events > before:
                continue
        if not any(behind.values()) or time.monotonic() >= deadline:
            refused_applied = int(
                await admin.fetchval(
                    f"SELECT count(*) FROM {replay}.{REPLAYED} r JOIN {live}.processed_messages "
                    "l USING (consumer, event_id) WHERE r.refused"
                )
            )
            return _Settled(behind, dead, ahead, refused_applied)
        await asyncio.sleep(0.5)


async def _promote(
    admin: asyncpg.Pool,
    replayer: _Replayer,
    live_schema: str,
    replay_schema: str,
    tables: list[str],
) -> tuple[str, ...]:
    """Replace every live read-model table's rows with the replayed ones, in one transaction.

    The live consumers' dedup table is locked first, so none of them commits an event while
    the rows change hands; the replay then catches up with whatever the stores received
    meanwhile, and every replayed event gets a dedup record in the live schema (topic and
    offset unknown: -1), so a live consumer that reads it later from Kafka passes it over as
    a duplicate. A live consumer waits for the lock and goes on from where it stood. This is
    how a projection gets rows for a read model added after its events were consumed.
    """
    live, replay = quote_schema(live_schema), quote_schema(replay_schema)
    topics = {s.consumer: s.topic for s in replayer.sources}
    async with admin.acquire() as conn, conn.transaction():
        await conn.execute(f"LOCK TABLE {live}.processed_messages IN EXCLUSIVE MODE")
        await replayer.run()
        for table in tables:
            columns = ", ".join(ident(c) for c in await table_columns(admin, replay_schema, table))
            await conn.execute(f"DELETE FROM {live}.{ident(table)}")
            await conn.execute(
                f"INSERT INTO {live}.{ident(table)} ({columns}) "
                f"SELECT {columns} FROM {replay}.{ident(table)}"
            )
        await conn.execute(
            f'INSERT INTO {live}.processed_messages (consumer, event_id, topic, "partition", '
            '"offset") SELECT r.consumer, r.event_id, t.topic, -1, -1 '
            f"FROM {replay}.{REPLAYED} r JOIN unnest($1::text[], $2::text[]) AS t(consumer, topic) "
            "USING (consumer) WHERE NOT r.refused ON CONFLICT DO NOTHING",
            list(topics),
            list(topics.values()),
        )
    return tuple(tables)
