"""`caseline bench kit` runs end to end on the real database and Kafka and prints its figures
beside raw COPY and aiokafka (a smoke run at a small size: figures measured, never judged)."""

from __future__ import annotations

from caseline.bench import render, run_kit_benchmark


async def test_the_kit_benchmark_measures_the_store_and_the_relay_beside_their_baselines(
    database_url: str, kafka_bootstrap: str
) -> None:
    lines: list[str] = []

    figures = await run_kit_benchmark(
        database_url, kafka_bootstrap, events=200, batch=20, progress=lines.append
    )

    assert len(figures) == 3
    assert all(f.events == 200 and f.rate > 0 and f.baseline_rate > 0 for f in figures)
    table = render(figures)
    assert "relay to Kafka" in table and "aiokafka, same bytes" in table
    assert any("relay" in line for line in lines)
