"""`caseline bench scale`: what one more case costs as the network's history grows.

The six services run as child processes on the configured stack. Cases are driven over
HTTP through every stage, each to the fate the demo's scale phase gives it, until the
network holds the first size; then more until it holds the next, and so on. For each step
the run waits until every service's store is quiet and its relay and projections have
caught up, then reads what the step's cases cost:

- CPU seconds of the six service processes (user and system, from `/proc`), and of
  PostgreSQL when it runs on this machine (its ended backends included);
- database bytes: the growth of every service schema's tables and indexes
  (`pg_total_relation_size`).

Each figure is divided by the step's cases. The cost is flat when the last step's per-case
figures are within 20% of the first's; the ratio is printed, never judged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from caseline.bench_network import cpu_seconds, postgres_cpu_seconds, running_network, with_bar
from caseline.network_scale import ScaleDriver, Size
from caseline.scenario_agency_closure import until_quiet
from shared.settings import Settings
from shared.store import create_pool

Progress = Callable[[str], None]

SCHEMAS = ("intake", "careplan", "monitoring", "closure", "directory", "projections")
GOAL_FLATNESS = 1.2


@dataclass(frozen=True)
class Step:
    """What the cases of one step cost."""

    total_cases: int
    cases: int
    seconds: float
    service_cpu: float
    postgres_cpu: float | None
    database_bytes: int

    @property
    def cpu_per_case(self) -> float:
        """Service CPU seconds per case of this step."""
        return self.service_cpu / self.cases

    @property
    def postgres_cpu_per_case(self) -> float | None:
        """PostgreSQL CPU seconds per case, when it runs here."""
        return None if self.postgres_cpu is None else self.postgres_cpu / self.cases

    @property
    def bytes_per_case(self) -> float:
        """Database bytes per case of this step."""
        return self.database_bytes / self.cases


async def _database_bytes(pool: asyncpg.Pool) -> int:
    total: int = await pool.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'm') AND n.nspname = ANY($1::text[])",
        list(SCHEMAS),
    )
    return total


async def _drive(driver: ScaleDriver, run: str, numbers: range) -> None:
    """Every case of a step to its fate (the driver keeps `concurrency` of them going)."""
    await with_bar(
        "cases at their fate",
        [driver.run_case(n, run, lambda fate: None) for n in numbers],
        "did not reach their fate",
    )


async def run_scale_benchmark(
    configured: Settings, *, sizes: list[int], progress: Progress
) -> list[Step]:
    """Grow the network to each size in turn; what each step's cases cost."""
    # Enough agencies that no case manager nears a caseload limit (R12) at the largest size.
    size = Size(agencies=max(4, min(200, max(sizes) // 250)), managers=4, cases=max(sizes))
    pool = await create_pool(configured.database_url, max_size=2)
    steps: list[Step] = []
    try:
        async with running_network(configured, "scale", size, progress) as bench:
            pids = [s.process.pid for s in bench.services.values()]
            await until_quiet(pool)
            done = 0
            for target in sizes:
                cpu_before = sum(cpu_seconds(p) for p in pids)
                pg_before = postgres_cpu_seconds()
                bytes_before = await _database_bytes(pool)
                started = time.monotonic()
                progress(f"cases {done + 1:,} to {target:,} through their stages ...")
                await _drive(bench.driver, bench.run, range(done, target))
                await until_quiet(pool)
                pg_after = postgres_cpu_seconds()
                steps.append(
                    Step(
                        total_cases=target,
                        cases=target - done,
                        seconds=time.monotonic() - started,
                        service_cpu=sum(cpu_seconds(p) for p in pids) - cpu_before,
                        postgres_cpu=None
                        if pg_before is None or pg_after is None
                        else pg_after - pg_before,
                        database_bytes=await _database_bytes(pool) - bytes_before,
                    )
                )
                done = target
    finally:
        await pool.close()
    return steps


def render_scale(steps: list[Step]) -> str:
    """The figures as the command prints them."""
    lines = [
        f"{'cases':>8} {'step':>7} {'seconds':>8} {'service CPU s/case':>19} "
        f"{'PostgreSQL CPU s/case':>22} {'DB bytes/case':>14}"
    ]
    for s in steps:
        pg = "n/a" if s.postgres_cpu_per_case is None else f"{s.postgres_cpu_per_case:.4f}"
        lines.append(
            f"{s.total_cases:>8,} {s.cases:>7,} {s.seconds:>8.0f} {s.cpu_per_case:>19.4f} "
            f"{pg:>22} {s.bytes_per_case:>14,.0f}"
        )
    if len(steps) > 1:
        first, last = steps[0], steps[-1]
        cpu = last.cpu_per_case / first.cpu_per_case
        size = last.bytes_per_case / first.bytes_per_case
        lines.append(
            f"last step against the first: service CPU per case {cpu:.2f}x, database bytes "
            f"per case {size:.2f}x (flat within 20%: between 0.83x and {GOAL_FLATNESS:.2f}x)"
        )
    return "\n".join(lines)
