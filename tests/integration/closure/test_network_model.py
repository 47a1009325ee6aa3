"""Closure's picture of the network on PostgreSQL: services are an agency's own (R9, R12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from services.closure.adapters.network import NetworkReadModel
from shared.store import create_pool
from shared.vocabulary import NeedDomain


@pytest.fixture
async def network_pool(database_url: str, schema_name: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=2, search_path=schema_name)
    await pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_name}"')
    try:
        yield pool
    finally:
        await pool.close()


async def test_two_agencies_may_offer_a_service_under_the_same_id_and_each_keeps_its_own(
    network_pool: asyncpg.Pool,
) -> None:
    model = NetworkReadModel()
    await NetworkReadModel.migrate(network_pool)
    async with network_pool.acquire() as conn:
        for agency in ("ag-a", "ag-b"):
            await model.agency_registered(conn, agency)
            await model.service_offered(
                conn, agency, "counselling", NeedDomain.MENTAL_HEALTH, None, 2
            )
        # A's counselling is withdrawn and B's is full: B still offers it, from a waiting list.
        await model.service_withdrawn(conn, "ag-a", "counselling")
        await model.capacity_changed(conn, "ag-b", "counselling", 0)
        snapshot = await model.snapshot(conn, date(2026, 11, 24))
    offered = {
        (c.provider.agency_id, s.service_id, s.has_room)
        for c in snapshot.candidates
        for s in c.services
    }
    assert offered == {("ag-b", "counselling", False)}


async def test_a_table_keyed_by_the_service_id_alone_is_rekeyed_by_the_migration(
    network_pool: asyncpg.Pool,
) -> None:
    await network_pool.execute(
        "CREATE TABLE network_services (service_id text PRIMARY KEY, agency_id text NOT NULL, "
        "department_id text, need_domain text NOT NULL, capacity integer NOT NULL, "
        "active boolean NOT NULL)"
    )
    await NetworkReadModel.migrate(network_pool)
    await NetworkReadModel.migrate(network_pool)  # idempotent
    key = await network_pool.fetchval(
        "SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = 'network_services'::regclass AND i.indisprimary"
    )
    assert key == ["agency_id", "service_id"]
