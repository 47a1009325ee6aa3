"""`caseline bench peer` runs end to end on the real database and prints its figures beside
the eventsourcing library's and the asyncpg floor's (a smoke run at a small size: the
figures are measured, never judged, here)."""

from __future__ import annotations

import asyncpg

from caseline.bench import render
from caseline.bench_peer import run_peer_benchmark


async def test_the_peer_benchmark_measures_every_figure_and_leaves_no_schema_behind(
    database_url: str, pg_pool: asyncpg.Pool
) -> None:
    lines: list[str] = []

    figures = await run_peer_benchmark(database_url, events=200, batch=20, progress=lines.append)

    measured = [figures.single, figures.single_floor, figures.batched, figures.replay]
    assert all(f.events == 200 and f.rate > 0 and f.baseline_rate > 0 for f in measured)
    assert figures.single.baseline_name == "eventsourcing save"
    assert figures.postgres[0].isdigit()
    assert figures.single_floor.baseline_name == "asyncpg INSERT per tx"
    table = render(measured)
    assert "eventsourcing log+map" in table and "asyncpg COPY" in table
    left = await pg_pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'bench\\_peer\\_%' "
        "OR nspname LIKE 'bench\\_lib\\_%' OR nspname LIKE 'bench\\_batch\\_%'"
    )
    assert left == 0
    assert any("eventsourcing library" in line for line in lines)
