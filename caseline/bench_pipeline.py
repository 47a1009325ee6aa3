"""`caseline bench pipeline`: commands offered over HTTP at fixed rates to the running
services, and how long each takes to reach projections' read models.

The six services run as child processes (`caseline serve`) on the configured stack. A
network is built and working cases are prepared (each found, registered, assessed, assigned
and with a plan in force). Then, for each rate, commands are started on an open-loop
schedule (the i-th at `i / rate` seconds, whether or not earlier ones have answered) for a
fixed time, from a mix that reaches every service:

- intake: a new case (`POST /cases`);
- careplan: a direct service on a working case;
- monitoring: a home visit on a working case;
- directory: a new member of staff;
- closure: a working case set aside for it, ended because the client moved away.

Latency is from a command's 2xx answer until every event it recorded (its
`Caseline-Recorded-Events`) is in projections' dedup records, which projections writes in
the same transaction as the read models' rows: from then on its queries show the effect.
A poller reads those records every few milliseconds, for a sample of at most 50 commands a
second (at higher rates every k-th command). Memory is each service process's peak
resident set (`VmHWM` in `/proc`). Nothing passes or fails on speed: the figures are printed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from caseline.bench_network import peak_rss, running_network, with_bar
from caseline.network_scale import Agency, ScaleDriver, Size, lost_a_race
from caseline.scenario_http import Network
from shared.clock import agency_today
from shared.settings import Settings
from shared.store import create_pool

Progress = Callable[[str], None]

MIX = ("intake", "careplan", "monitoring", "directory", "intake", "careplan", "monitoring")
"""The services the commands go to, in turn; every `CLOSURE_EVERY`-th goes to closure."""
CLOSURE_EVERY = 20
WORKING_CASES = 60
PROJECTED_WITHIN = 30.0
"""Seconds after which a command's events not yet in projections count as not projected."""
CONFLICT_RETRIES = 3
SAMPLED_PER_SECOND = 50
MAX_IN_FLIGHT = 100
"""Unanswered commands at once, as many as the HTTP clients keep connections."""
GOAL_P99_SECONDS = 0.2
GOAL_RSS_BYTES = 150 * 1024 * 1024


@dataclass
class RateFigures:
    """What one rate gave."""

    rate: int
    offered: int
    seconds: float
    answered: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    """Command-to-projection latency of the sampled commands, in seconds."""
    not_projected: int = 0
    """Sampled commands whose events projections had not applied after 30 s."""
    conflicts_retried: int = 0
    late_starts: int = 0
    """Commands started more than 50 ms after their scheduled time (the driver fell behind)."""

    answer_times: list[float] = field(default_factory=list)
    """From sending each command to its answer, in seconds."""
    elapsed: float = 0.0
    """From the first command sent to the last one answered."""

    @property
    def answered_per_second(self) -> float:
        """2xx answers per second of the time the rate took to be answered."""
        return self.answered / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float, of: list[float] | None = None) -> float:
        """The q-quantile of the command-to-projection latency (or of `of`), in seconds."""
        ordered = sorted(self.latencies if of is None else of)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def held(self) -> bool:
        """Every command answered 2xx and projected, p99 under the goal."""
        return (
            self.answered == self.offered
            and self.late_starts == 0
            and not self.not_projected
            and self.percentile(0.99) < GOAL_P99_SECONDS
        )


@dataclass
class PipelineFigures:
    """Every rate's figures and each service's peak memory."""

    rates: list[RateFigures]
    peak_rss: dict[str, int]
    prepared_seconds: float


class _Watcher:
    """Polls projections' dedup records for the event ids commands are waiting on."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def wait_for(self, event_id: str) -> asyncio.Future[float]:
        """A future set to the time projections was seen to have applied the event."""
        future = self.waiting.get(event_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self.waiting[event_id] = future
        return future

    def forget(self, event_ids: list[str]) -> None:
        """Stop looking for events a command gave up waiting for."""
        for event_id in event_ids:
            self.waiting.pop(event_id, None)

    async def run(self, stop: asyncio.Event) -> None:
        """Look every few milliseconds until stopped."""
        while not stop.is_set():
            ids = list(self.waiting)
            if ids:
                rows = await self.pool.fetch(
                    f'SELECT event_id::text FROM "{self.schema}".processed_messages '
                    "WHERE event_id = ANY($1::uuid[])",
                    ids,
                )
                seen = time.monotonic()
                for row in rows:
                    future = self.waiting.pop(row["event_id"], None)
                    if future is not None and not future.done():
                        future.set_result(seen)
            await asyncio.sleep(0.005)


class _Commands:
    """Makes the mix's commands, each a request maker for one service."""

    def __init__(self, driver: ScaleDriver, net: Network, working: list[Any], ending: list[Any]):
        self.driver = driver
        self.net = net
        self.working = itertools.cycle(working)
        self.ending = iter(ending)
        self.today = agency_today().isoformat()

    def next(self, n: int) -> tuple[str, Callable[[], Any]] | None:
        """The n-th command: the service it goes to and how to send it."""
        if n % CLOSURE_EVERY == CLOSURE_EVERY - 1:
            case = next(self.ending, None)
            return None if case is None else ("closure", self._terminate(case))
        service = MIX[n % len(MIX)]
        if service == "intake":
            agency = self.driver.agencies[n % len(self.driver.agencies)]
            me = self.driver.as_("case_manager", agency.agency_id, agency.managers[0])
            return service, lambda: self.net.intake.post(
                "/cases", headers=me, json={"source": "walk_in"}
            )
        if service == "directory":
            return service, self._staff(n)
        case_id, agency, manager = next(self.working)
        me = self.driver.as_("case_manager", agency.agency_id, manager)
        if service == "careplan":
            body = {
                "service_record_id": f"bench-{uuid.uuid4().hex[:12]}",
                "kind": "skills_teaching",
                "role": "educator",
                "need_domain": "housing",
                "goal_id": "g1",
                "delivered_on": self.today,
            }
            return service, lambda: self.net.careplan.post(
                f"/cases/{case_id}/direct-services", headers=me, json=body
            )
        visit = {"visited_on": self.today, "observations": "정기 가정 방문"}
        return service, lambda: self.net.monitoring.post(
            f"/cases/{case_id}/visits", headers=me, json=visit
        )

    def _staff(self, n: int) -> Callable[[], Any]:
        agency: Agency = self.driver.agencies[n % len(self.driver.agencies)]
        body = {
            "staff_id": f"bench-{uuid.uuid4().hex[:12]}",
            "name": "담당자",
            "role": "supervisor",
            "joined_on": "2024-01-02",
        }
        return lambda: self.net.directory.post(
            f"/agencies/{agency.agency_id}/staff", headers=self.net.admin(), json=body
        )

    def _terminate(self, case: Any) -> Callable[[], Any]:
        case_id, agency, manager = case
        me = self.driver.as_("case_manager", agency.agency_id, manager)
        return lambda: self.net.closure.post(
            f"/cases/{case_id}/termination",
            headers=me,
            json={"reason": "client_moved_away", "client_accepts_referral": True},
        )


async def _offer(rate: int, seconds: float, commands: _Commands, watcher: _Watcher) -> RateFigures:
    """Offer `rate` commands a second for `seconds` on an open-loop schedule."""
    figures = RateFigures(rate, round(rate * seconds), seconds)
    # Latency is sampled on at most `SAMPLED_PER_SECOND` commands a second, so the watcher's
    # own queries stay small and do not slow the run they measure.
    sample_every = max(1, rate // SAMPLED_PER_SECOND)
    start = time.monotonic() + 0.1

    async def one(n: int) -> None:
        chosen = commands.next(n)
        if chosen is None:
            figures.offered -= 1
            return
        _, send = chosen
        sent = time.monotonic()
        try:
            answer: httpx.Response = await send()
            for _ in range(CONFLICT_RETRIES):
                if not lost_a_race(answer):
                    break
                # The stream moved on under the command (often the service recording what
                # it learned from Kafka): reload and retry, as the answer asks.
                figures.conflicts_retried += 1
                answer = await send()
        except httpx.TransportError:
            figures.refused[0] = figures.refused.get(0, 0) + 1
            return
        if not answer.is_success:
            figures.refused[answer.status_code] = figures.refused.get(answer.status_code, 0) + 1
            return
        figures.answered += 1
        answered = time.monotonic()
        figures.answer_times.append(answered - sent)
        ids = [i for i in answer.headers.get("caseline-recorded-events", "").split(",") if i]
        if not ids or n % sample_every:
            return
        try:
            seen = await asyncio.wait_for(
                asyncio.gather(*(watcher.wait_for(i) for i in ids)), PROJECTED_WITHIN
            )
        except TimeoutError:
            figures.not_projected += 1
            watcher.forget(ids)
            return
        figures.latencies.append(max(seen) - answered)

    tasks = []
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def bounded(n: int) -> None:
        try:
            await one(n)
        finally:
            in_flight.release()

    for n in range(figures.offered):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        # Past `MAX_IN_FLIGHT` unanswered commands the services are not keeping up: the
        # next command waits for a slot (and counts as late) rather than pile up in the
        # client, whose own queue would then be what is measured.
        await in_flight.acquire()
        if time.monotonic() - due > 0.05:
            figures.late_starts += 1
        tasks.append(asyncio.create_task(bounded(n)))
    await asyncio.gather(*tasks)
    figures.elapsed = time.monotonic() - start
    return figures


async def run_pipeline_benchmark(
    configured: Settings, *, rates: list[int], seconds: float, progress: Progress
) -> PipelineFigures:
    """Start the services, prepare the network, offer each rate, read peak memory."""
    size = Size(agencies=4, managers=4, cases=0)
    pool = await create_pool(configured.database_url, max_size=2)
    try:
        async with running_network(configured, "pipeline", size, progress) as bench:
            driver, run = bench.driver, bench.run
            ending = sum(round(r * seconds) // CLOSURE_EVERY + 1 for r in rates)
            progress(f"preparing {WORKING_CASES + ending} cases with a plan in force ...")
            prepared_at = time.monotonic()
            cases = await with_bar(
                "cases with a plan in force",
                [driver.planned_case(n, run) for n in range(WORKING_CASES + ending)],
                "could not be prepared",
            )
            prepared_seconds = time.monotonic() - prepared_at
            commands = _Commands(
                driver, bench.net, list(cases[:WORKING_CASES]), list(cases[WORKING_CASES:])
            )
            watcher = _Watcher(pool, "projections")
            stop = asyncio.Event()
            watching = asyncio.create_task(watcher.run(stop))
            figures: list[RateFigures] = []
            try:
                for rate in rates:
                    progress(f"offering {rate} commands/s for {seconds:.0f} s ...")
                    figures.append(await _offer(rate, seconds, commands, watcher))
            finally:
                stop.set()
                await watching
            peak = {name: peak_rss(s.process.pid) for name, s in bench.services.items()}
            return PipelineFigures(figures, peak, prepared_seconds)
    finally:
        await pool.close()


def _pair(p50: float, p99: float) -> str:
    return f"{p50 * 1000:.0f} / {p99 * 1000:.0f}"


def render_pipeline(figures: PipelineFigures) -> str:
    """The figures as the command prints them."""
    lines = [
        f"{'offered/s':>9} {'commands':>8} {'2xx/s':>7} {'refused':>12} {'409 retried':>11} "
        f"{'late':>5} {'answer p50/p99 ms':>17} {'projected p50/p99 ms':>20} "
        f"{'not projected':>13}  held",
    ]
    for r in figures.rates:
        refused = ",".join(f"{s or 'conn'}:{n}" for s, n in sorted(r.refused.items())) or "0"
        lines.append(
            f"{r.rate:>9} {r.offered:>8} {r.answered_per_second:>7.0f} {refused:>12} "
            f"{r.conflicts_retried:>11} {r.late_starts:>5} "
            f"{_pair(r.percentile(0.5, r.answer_times), r.percentile(0.99, r.answer_times)):>17} "
            f"{_pair(r.percentile(0.5), r.percentile(0.99)):>20} {r.not_projected:>13}  "
            f"{'yes' if r.held else 'no'}"
        )
    held = [r.rate for r in figures.rates if r.held]
    lines.append(
        f"highest rate held (every command 2xx and projected, p99 < "
        f"{GOAL_P99_SECONDS * 1000:.0f} ms): {max(held) if held else 'none of those offered'}"
    )
    lines.append("peak resident memory per service (goal < 150 MB):")
    for name, size in sorted(figures.peak_rss.items()):
        mark = "" if size < GOAL_RSS_BYTES else "  over the goal"
        lines.append(f"  {name:<12} {size / 1024 / 1024:>6.0f} MiB{mark}")
    lines.append(f"(working cases prepared in {figures.prepared_seconds:.0f} s)")
    return "\n".join(lines)
