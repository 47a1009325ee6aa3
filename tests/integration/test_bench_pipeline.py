"""`caseline bench pipeline` runs end to end against the six real services (a smoke run at a
low rate: the figures are measured, never judged, here)."""

from __future__ import annotations

from caseline.bench_pipeline import render_pipeline, run_pipeline_benchmark
from shared.settings import load_settings


async def test_the_pipeline_benchmark_measures_latency_to_projections_and_each_services_memory(
    database_url: str, kafka_bootstrap: str
) -> None:
    lines: list[str] = []
    settings = load_settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)

    figures = await run_pipeline_benchmark(settings, rates=[20], seconds=3, progress=lines.append)

    [rate] = figures.rates
    assert rate.offered == 60 and rate.answered == rate.offered, rate
    # Every command's events were seen in projections' dedup records: a latency each.
    assert rate.not_projected == 0 and len(rate.latencies) == rate.answered
    assert 0 < rate.percentile(0.5) <= rate.percentile(0.99) < 30
    # The peak memory was read from each service's own process.
    assert set(figures.peak_rss) == {
        "careplan",
        "closure",
        "directory",
        "intake",
        "monitoring",
        "projections",
    }
    assert all(size > 30 * 1024 * 1024 for size in figures.peak_rss.values())
    table = render_pipeline(figures)
    assert "highest rate held" in table and "projections" in table
    assert any("preparing" in line for line in lines)
