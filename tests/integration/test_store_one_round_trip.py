"""The store's single-statement append keeps every guarantee : chains, positions, idempotency."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.errors import ConcurrencyError
from shared.store import EventStore
from tests.kit_events import noted, test_registry


async def _store(pool: asyncpg.Pool, schema: str) -> EventStore:
    store = EventStore(pool, "intake", schema=schema, events=test_registry)
    await store.migrate()
    return store


async def test_writers_on_several_connections_keep_positions_gap_free_and_chains_whole(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    stores = [await _store(pg_pool, schema_name) for _ in range(4)]

    async def writer(n: int, store: EventStore) -> int:
        conflicts = 0
        for i in range(12):
            await store.append(f"own-{n}", i, [noted(f"own-{n}", f"{n}.{i}")])
            while True:  # every writer also appends to one shared case, retrying conflicts
                version = await store.stream_version("shared")
                try:
                    await store.append("shared", version, [noted("shared", f"{n}.{i}")])
                    break
                except ConcurrencyError:
                    conflicts += 1
        return conflicts

    await asyncio.gather(*(writer(n, s) for n, s in enumerate(stores)))

    events = await stores[0].read_all_raw(0, limit=1000)
    assert [e.position for e in events] == list(range(1, 97))
    assert await stores[0].last_position() == 96
    assert [e.stream_version for e in events if e.case_id == "shared"] == list(range(1, 49))
    reports = await stores[0].verify_all()
    assert reports and all(r.ok for r in reports)


async def test_a_store_that_remembers_an_old_head_still_meets_a_conflict(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    mine, theirs = await _store(pg_pool, schema_name), await _store(pg_pool, schema_name)
    await mine.append("c", 0, [noted("c", "mine")])
    await theirs.append("c", 1, [noted("c", "theirs")])

    with pytest.raises(ConcurrencyError) as conflict:
        await mine.append("c", 1, [noted("c", "stale")])
    assert conflict.value.actual_version == 2

    await mine.append("c", 2, [noted("c", "after")])
    assert [e.payload.note for e in await mine.read_stream("c")] == ["mine", "theirs", "after"]
    assert (await mine.verify_case("c")).ok


async def test_an_append_rolled_back_with_its_transaction_is_not_chained_onto(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    mine, theirs = await _store(pg_pool, schema_name), await _store(pg_pool, schema_name)
    await mine.append("c", 0, [noted("c", "first")])
    async with pg_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await mine.append("c", 1, [noted("c", "rolled back")], connection=conn)
        await tx.rollback()
    # Another writer takes version 2 with different content; `mine` remembers its own.
    await theirs.append("c", 1, [noted("c", "kept")])

    result = await mine.append("c", 2, [noted("c", "next")])

    assert result.written and result.positions == (3,)
    assert [e.payload.note for e in await mine.read_stream("c")] == ["first", "kept", "next"]
    assert (await mine.verify_case("c")).ok
    assert [e.position for e in await mine.read_all_raw(0)] == [1, 2, 3]


async def test_a_retry_of_a_written_append_writes_nothing_even_at_an_old_version(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    store = await _store(pg_pool, schema_name)
    first = [noted("c", "once")]
    written = await store.append("c", 0, first)
    await store.append("c", 1, [noted("c", "later")])

    again = await store.append("c", 0, first)

    assert written.written and not again.written
    assert again.positions == written.positions == (1,)
    assert await store.last_position() == 2


async def test_appends_look_their_stream_up_by_key_never_by_scanning_the_events_table(
    pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    """A session keeps its plan of the append's statements from when the table was small; a
    lookup that planned a sequential scan then would scan the whole log on every append."""
    store = await _store(pg_pool, schema_name)
    async with pg_pool.acquire() as conn:
        for i in range(60):
            await store.append(f"c{i % 6}", i // 6, [noted(f"c{i % 6}", str(i))], connection=conn)
        await conn.execute("SELECT pg_stat_force_next_flush()")
        before = await _sequential_scans(conn, schema_name)
        for i in range(60, 300):
            await store.append(f"c{i % 6}", i // 6, [noted(f"c{i % 6}", str(i))], connection=conn)
        await conn.execute("SELECT pg_stat_force_next_flush()")
        after = await _sequential_scans(conn, schema_name)

    assert after - before == 0
    assert await store.last_position() == 300


async def _sequential_scans(conn: asyncpg.Connection, schema: str) -> int:
    scans: int = await conn.fetchval(
        "SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'",
        schema,
    )
    return scans
