"""How replay compares a live read model with its replay: row by row, by primary key, every
table of the replay schema but the kit's, with counts and a few keys and column names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from caseline.read_model_diff import TableDrift, compare_read_models

pytestmark = pytest.mark.infra

TABLES = """
CREATE TABLE journeys (case_id text PRIMARY KEY, stage text NOT NULL, agency text);
CREATE TABLE journey_items (case_id text, seq int, kind text, PRIMARY KEY (case_id, seq));
CREATE TABLE tallies (agency text, n int);
CREATE TABLE processed_messages (consumer text, event_id uuid, PRIMARY KEY (consumer, event_id));
"""

ROWS = """
INSERT INTO journeys VALUES ('c1', 'assessed', 'a1'), ('c2', 'referred', 'a1'),
    ('c3', 'closed', NULL), ('c4', 'opened', 'a2');
INSERT INTO journey_items VALUES ('c1', 1, 'found'), ('c1', 2, 'assessed'), ('c2', 1, 'found');
INSERT INTO tallies VALUES ('a1', 2), ('a2', 1);
"""


@pytest.fixture
async def schemas(pg_pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str]]:
    """A live and a replay schema of this test's own, holding the same rows; dropped after."""
    live, replay = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    for name in (live, replay):
        async with pg_pool.acquire() as conn:
            await conn.execute(f'CREATE SCHEMA "{name}"; SET search_path TO "{name}"')
            await conn.execute(TABLES + ROWS)
            await conn.execute("RESET search_path")
    yield live, replay
    for name in (live, replay):
        await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def _drift(pg_pool: asyncpg.Pool, live: str, replay: str) -> dict[str, TableDrift]:
    _, drift = await compare_read_models(pg_pool, live, replay)
    return {d.table: d for d in drift}


async def test_equal_schemas_show_no_drift_and_count_each_read_model_s_rows(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> None:
    rows, drift = await compare_read_models(pg_pool, *schemas)

    assert drift == []
    assert rows == {"journey_items": 3, "journeys": 4, "tallies": 2}


async def test_a_changed_value_a_deleted_row_and_an_extra_row_are_each_named_by_key(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> None:
    live, replay = schemas
    await pg_pool.execute(
        f"UPDATE \"{live}\".journeys SET stage = 'closed', agency = NULL WHERE case_id = 'c2';"
        f"DELETE FROM \"{live}\".journeys WHERE case_id = 'c4';"
        f"INSERT INTO \"{live}\".journeys VALUES ('c9', 'opened', 'a9');"
        f"UPDATE \"{live}\".journey_items SET kind = 'referred' WHERE case_id = 'c1' AND seq = 2;"
    )

    drift = await _drift(pg_pool, live, replay)

    assert set(drift) == {"journeys", "journey_items"}
    journeys = drift["journeys"]
    assert (journeys.missing, journeys.extra, journeys.different) == (1, 1, 1)
    assert set(journeys.examples) == {"missing c4", "extra c9", "c2 differs in stage,agency"}
    assert journeys.describe().startswith("journeys: 1 missing, 1 extra, 1 different (e.g. ")
    assert drift["journey_items"].examples == ("c1/2 differs in kind",)


async def test_a_table_without_a_primary_key_is_matched_on_every_column(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> None:
    live, replay = schemas
    await pg_pool.execute(f"UPDATE \"{live}\".tallies SET n = 3 WHERE agency = 'a1'")

    drift = await _drift(pg_pool, live, replay)

    tallies = drift["tallies"]
    assert (tallies.missing, tallies.extra, tallies.different) == (1, 1, 0)
    assert set(tallies.examples) == {"missing a1/2", "extra a1/3"}


async def test_the_kit_s_bookkeeping_is_not_compared_as_a_read_model(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> None:
    live, replay = schemas
    await pg_pool.execute(
        f"INSERT INTO \"{live}\".processed_messages VALUES ('projections.x', $1)", uuid.uuid4()
    )

    rows, drift = await compare_read_models(pg_pool, live, replay)

    assert drift == [] and "processed_messages" not in rows


async def test_a_read_model_the_live_schema_lacks_or_lacks_a_column_of_is_drift(
    pg_pool: asyncpg.Pool, schemas: tuple[str, str]
) -> None:
    live, replay = schemas
    await pg_pool.execute(
        f'DROP TABLE "{live}".tallies; ALTER TABLE "{live}".journeys DROP COLUMN agency'
    )

    drift = await _drift(pg_pool, live, replay)

    assert drift["tallies"] == TableDrift(
        "tallies", 2, 0, 0, ("the live schema has no such table",)
    )
    assert drift["journeys"].examples == ("live lacks columns agency",)
    assert drift["journeys"].different == 4
