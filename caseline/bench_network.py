"""What the service-level benchmarks share: the six services as child processes on the
configured stack, a network of agencies they all know, and readings from `/proc`.

`running_network` starts the services (secrets of this run only, logs under
`.local/logs/bench-<name>-<run>/`), enrolls the network administrator, registers the
agencies and their staff through the directory, waits until every service knows them, and
stops everything on the way out. `with_bar` runs a benchmark's long batch of work with a
progress bar on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars

from caseline.catalog import runnable_services
from caseline.network_scale import ScaleDriver, Size
from caseline.processes import ServiceProcess, start_service
from caseline.scenario import enroll_administrator, service_env, settings_of_a_run
from caseline.scenario_http import Network, ScenarioError, eventually
from shared.clock import agency_today
from shared.settings import Settings

Progress = Callable[[str], None]

T = TypeVar("T")


async def with_bar(description: str, jobs: Sequence[Awaitable[T]], failure: str) -> list[T]:
    """Await every job together, a bar on stderr counting those done; their results in the
    jobs' order. When any failed, `ScenarioError` says how many ("<n> case(s) <failure>")
    and the first one's error, once all have ended."""
    with Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bars:
        task = bars.add_task(description, total=len(jobs))

        async def counted(job: Awaitable[T]) -> T:
            try:
                return await job
            finally:
                bars.update(task, advance=1)

        outcomes = await asyncio.gather(*(counted(job) for job in jobs), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        raise ScenarioError(f"{len(failed)} case(s) {failure}: {failed[0]}")
    return [o for o in outcomes if not isinstance(o, BaseException)]


@dataclass
class BenchNetwork:
    """The running services, the network's HTTP clients and the driver that built it."""

    run: str
    services: dict[str, ServiceProcess]
    net: Network
    driver: ScaleDriver
    settings: Settings


class _ToProgress:
    """The enrolment step's reporter: lines to the benchmark's progress, a failed check
    stops the run."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def step(self, text: str) -> None:
        self.progress(text.strip())

    def check(self, held: bool, claim: str) -> None:
        if not held:
            raise ScenarioError(claim)


@contextlib.asynccontextmanager
async def running_network(
    configured: Settings, name: str, size: Size, progress: Progress
) -> AsyncIterator[BenchNetwork]:
    """Six services and a registered network of `size.agencies` agencies; stopped after."""
    settings = settings_of_a_run(configured.database_url, configured.kafka_bootstrap_servers)
    env = service_env(settings)
    run = uuid.uuid4().hex[:6]
    log_dir = Path(settings.local_dir) / "logs" / f"bench-{name}-{run}"
    services = {service: start_service(service, env, log_dir) for service in runnable_services()}
    net: Network | None = None
    try:
        for service in services.values():
            await service.wait_healthy()
        progress(f"services up (logs in {log_dir})")
        net = Network(settings, run, {n: s.url for n, s in services.items()})
        await enroll_administrator(net, env, _ToProgress(progress), label="")
        # No agency closes and no one departs in a benchmark: cases are spread evenly.
        driver = ScaleDriver(net, size, agency_today(), closing_agency=False)
        await driver.build(net.admin(), run)
        known, _ = await eventually(driver.known_everywhere, bool, 120)
        if not known:
            raise ScenarioError("the services did not learn the network's staff in time")
        yield BenchNetwork(run, services, net, driver, settings)
    finally:
        if net is not None:
            await net.close()
        for service in services.values():
            service.stop()


def _status(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/status").read_text().splitlines()
    return []


def peak_rss(pid: int) -> int:
    """A process's peak resident set in bytes (`VmHWM`), 0 when it is gone."""
    for line in _status(pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User and system CPU a process has used, in seconds (0 when it is gone); with
    `with_children`, also what its children that ended used."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the command's closing parenthesis: utime, stime, cutime, cstime are 11-14.
        ticks = int(fields[11]) + int(fields[12])
        if with_children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / os.sysconf("SC_CLK_TCK")
    return 0.0


def postgres_cpu_seconds() -> float | None:
    """CPU used so far by the PostgreSQL processes on this machine, ended backends included
    (None: none runs here, the database is elsewhere)."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                found = True
                total += cpu_seconds(int(entry.name), with_children=True)
    return total if found else None
