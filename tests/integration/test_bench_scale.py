"""`caseline bench scale` runs end to end against the six real services (a smoke run at
small sizes: the figures are measured, never judged, here)."""

from __future__ import annotations

from caseline.bench_scale import render_scale, run_scale_benchmark
from shared.settings import load_settings


async def test_the_scale_benchmark_reads_each_steps_cpu_and_database_growth_per_case(
    database_url: str, kafka_bootstrap: str
) -> None:
    lines: list[str] = []
    settings = load_settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)

    steps = await run_scale_benchmark(settings, sizes=[12, 24], progress=lines.append)

    assert [(s.total_cases, s.cases) for s in steps] == [(12, 12), (24, 12)]
    for step in steps:
        # Real readings: the services spent CPU and the schemas grew with the step's cases.
        assert step.service_cpu > 0 and step.cpu_per_case > 0
        assert step.database_bytes > 0
        assert step.postgres_cpu is None or step.postgres_cpu > 0
    table = render_scale(steps)
    assert "last step against the first" in table
    assert any("through their stages" in line for line in lines)
