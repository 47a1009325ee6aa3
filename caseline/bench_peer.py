"""`caseline bench peer`: the event store beside a peer library and a bare asyncpg floor.

The same events (a case note of realistic size), the same PostgreSQL, the same run:

- single-event appends: caseline's `EventStore.append` of one event per call; the
  `eventsourcing` library's PostgreSQL application saving an aggregate with one new event per
  call (`Application.save`); and the floor, one asyncpg INSERT of the same row per transaction;
- batched appends: caseline appending many events per call, beside asyncpg COPY of the very
  rows it wrote;
- replay with decoding: caseline reading every event back in commit order and decoding it to
  its event class, beside the library's notification log read and mapped to domain events.

Each figure is printed as events per second and as a ratio to its baselines; nothing passes
or fails on speed. The peer library is a benchmark extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import asyncpg

from caseline.bench import _NOTE, Figure, _copy_baseline, _envelopes, bench_events
from shared.store import EventStore, create_pool

Progress = Callable[[str], None]


class PeerMissing(RuntimeError):
    """The peer library is not installed."""


@dataclass(frozen=True)
class PeerFigures:
    """Every measurement of one run, each beside what it is compared with."""

    single: Figure
    """caseline single appends against the peer library's."""
    single_floor: Figure
    """caseline single appends against one asyncpg INSERT per transaction."""
    batched: Figure
    """caseline batched appends against COPY of the same rows."""
    replay: Figure
    """caseline replay with decoding against the peer library's."""
    postgres: str
    """The PostgreSQL server's version, for the machine line."""


def _peer_application(database_url: str, schema: str) -> Any:
    """The peer library's PostgreSQL application, in a schema of its own."""
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise PeerMissing(
            "the eventsourcing library is not installed: pip install -e '.[bench]'"
        ) from e

    class CaseNotes(Aggregate):
        """The peer's side of the same work: an aggregate that records case notes."""

        @event("NoteRecorded")
        def record(self, note: str, domain: str, severity: int) -> None:
            del note, domain, severity

    url = urlparse(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/"),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
    }
    app: Any = Application(env=env)
    return app, CaseNotes


async def _floor_single(pool: asyncpg.Pool, schema: str, rows: list[tuple[Any, ...]]) -> float:
    """One INSERT per transaction of the rows the store wrote, into a bare table."""
    await pool.execute(
        f'CREATE TABLE "{schema}".floor (position bigint, case_id text, stream_version int, '
        "event_id uuid, event_type text, schema_version int, payload jsonb, metadata jsonb, "
        "previous_hash bytea, hash bytea, PRIMARY KEY (case_id, stream_version))"
    )
    async with pool.acquire() as conn:
        started = time.perf_counter()
        for row in rows:
            await conn.execute(
                f'INSERT INTO "{schema}".floor VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, '
                "$8::jsonb, $9, $10)",
                *row,
            )
        return time.perf_counter() - started


async def _stored_rows(pool: asyncpg.Pool, schema: str) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        f"SELECT position, case_id, stream_version, event_id, event_type, schema_version, "
        f'payload::text, metadata::text, previous_hash, hash FROM "{schema}".events '
        "ORDER BY position"
    )
    return [tuple(r) for r in rows]


def _peer_single(app: Any, aggregate_class: Any, events: int, cases: int) -> float:
    """The peer saving one new event per call, over `cases` aggregates."""
    notes = [aggregate_class() for _ in range(cases)]
    for note in notes:
        app.save(note)
    started = time.perf_counter()
    for n in range(events):
        note = notes[n % cases]
        note.record(note=_NOTE, domain="housing", severity=n % 5)
        app.save(note)
    return time.perf_counter() - started


def _peer_replay(app: Any) -> tuple[int, float]:
    """The peer reading its notifications back (its recorder, as its notification log
    does, without the log's ten-per-section paging), each mapped to its domain event."""
    started = time.perf_counter()
    count, start = 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=500)
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        start = page[-1].id + 1
    return count, time.perf_counter() - started


async def _caseline_single(store: EventStore, events: int, cases: int) -> float:
    versions = dict.fromkeys(range(cases), 0)
    started = time.perf_counter()
    for n in range(events):
        case = n % cases
        await store.append(
            f"bench-case-{case}", versions[case], _envelopes(f"bench-case-{case}", 1, n)
        )
        versions[case] += 1
    return time.perf_counter() - started


async def _caseline_replay(store: EventStore) -> tuple[int, float]:
    started = time.perf_counter()
    count, after = 0, 0
    while page := await store.read_all_raw(after, 1000):
        for stored in page:
            store.decode(stored)
        count += len(page)
        after = page[-1].position
    return count, time.perf_counter() - started


async def run_peer_benchmark(
    database_url: str, *, events: int, batch: int, progress: Progress
) -> PeerFigures:
    """Measure caseline's store beside the peer library and the asyncpg floor."""
    cases = max(1, events // 50)
    run = uuid.uuid4().hex[:8]
    schema, peer_schema, batch_schema = (f"bench_{k}_{run}" for k in ("peer", "lib", "batch"))
    pool = await create_pool(database_url, max_size=2)
    peer = None
    try:
        await pool.execute(f'CREATE SCHEMA "{peer_schema}"')
        peer, aggregate_class = _peer_application(database_url, peer_schema)
        store = EventStore(pool, "intake", schema=schema, events=bench_events)
        await store.migrate()

        progress(f"single-event appends: caseline, {events} events over {cases} cases ...")
        ours = await _caseline_single(store, events, cases)
        progress("single-event appends: the eventsourcing library ...")
        theirs = await asyncio.to_thread(_peer_single, peer, aggregate_class, events, cases)
        progress("single-event appends: one asyncpg INSERT per transaction ...")
        floor = await _floor_single(pool, schema, await _stored_rows(pool, schema))

        progress("replay with decoding: caseline, then the library ...")
        replayed, ours_replay = await _caseline_replay(store)
        peer_count, theirs_replay = await asyncio.to_thread(_peer_replay, peer)

        progress(f"batched appends of {batch}: caseline, then COPY of the same rows ...")
        batched_store = EventStore(pool, "intake", schema=batch_schema, events=bench_events)
        await batched_store.migrate()
        started = time.perf_counter()
        versions = dict.fromkeys(range(cases), 0)
        for n in range(0, events, batch):
            case = (n // batch) % cases
            count = min(batch, events - n)
            await batched_store.append(
                f"bench-case-{case}", versions[case], _envelopes(f"bench-case-{case}", count, n)
            )
            versions[case] += count
        batched_seconds = time.perf_counter() - started
        copy_seconds = await _copy_baseline(pool, batched_store, batch_schema)
        postgres: str = await pool.fetchval("SHOW server_version")
        return PeerFigures(
            single=Figure("append, 1 event per call", events, ours, "eventsourcing save", theirs),
            single_floor=Figure(
                "append, 1 event per call", events, ours, "asyncpg INSERT per tx", floor
            ),
            batched=Figure(
                f"append, {batch} per call", events, batched_seconds, "asyncpg COPY", copy_seconds
            ),
            replay=Figure(
                "replay with decoding",
                replayed,
                ours_replay,
                "eventsourcing log+map",
                theirs_replay * replayed / max(peer_count, 1),
            ),
            postgres=postgres.split()[0],
        )
    finally:
        if peer is not None:
            peer.close()
        for name in (schema, peer_schema, batch_schema):
            await pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await pool.close()


def machine() -> str:
    """The machine the figures were taken on."""
    import platform

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"
