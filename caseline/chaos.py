"""`caseline chaos`: the network's cases driven through every stage while its processes die.

On a private Kafka broker and PostgreSQL cluster of its own (a temporary folder and free
ports, never the shared stack), the run starts the six services, builds a network of
agencies and drives cases over HTTP as the demo's scale phase does. Meanwhile it publishes
poison messages and, every few seconds, causes one fault (`caseline/chaos_faults.py`):
each service SIGKILLed at least twice and started again, the broker killed and started
once, PostgreSQL restarted once. Cases keep being started until every fault has happened.

The driver retries what a user's client would (a dropped connection, 503), each command
under one `Idempotency-Key`, so a retry after a lost answer is recorded once. Afterwards,
with the network at rest, `caseline/chaos_audit.py` checks that nothing acknowledged was
lost, nothing was applied twice, the DLQ holds only the poison, and `caseline verify`
(chains, the referral invariant, projections against a replay) holds. It prints the counts.
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

from caseline.catalog import publishing_services, runnable_services
from caseline.chaos_audit import (
    AckAudit,
    applied_twice,
    audit_acknowledged,
    effects_decided_twice,
    read_topics,
)
from caseline.chaos_faults import Fault, Monkey, Poison, fault_plan, publish_poison
from caseline.demo import Report
from caseline.infra.private_stack import PrivateStack, private_stack
from caseline.network_scale import AnswerLost, ScaleDriver, Size
from caseline.processes import ServiceProcess, start_service
from caseline.scenario import enroll_administrator, service_env, settings_of_a_run
from caseline.scenario_agency_closure import QUIET_SECONDS, until_quiet, verified
from caseline.scenario_http import Network, ScenarioError, eventually
from shared.clock import agency_today
from shared.settings import load_settings
from shared.store import create_pool
from shared.topics import DLQ_TOPIC, topic_for

CONCURRENCY = 16


@dataclass(frozen=True)
class ChaosOptions:
    """How big and how rough a chaos run is."""

    cases: int = 60
    """Cases started at least; more are started until every fault has happened."""
    agencies: int = 4
    every: float = 3.0
    """Seconds between two faults."""
    seed: int | None = None
    most_cases: int = 2000


@dataclass
class DriveOutcome:
    """What became of the cases driven under faults."""

    started: int = 0
    reached: Counter[str] = field(default_factory=Counter)
    answer_lost: int = 0
    failed: list[str] = field(default_factory=list)


async def _drive(
    driver: ScaleDriver, run: str, faults: asyncio.Task[None], options: ChaosOptions
) -> DriveOutcome:
    """Start cases (at most `CONCURRENCY` at once) until at least `options.cases` were
    started and every fault has happened; wait for them all."""
    outcome = DriveOutcome()
    running: set[asyncio.Task[None]] = set()

    def settle(done: set[asyncio.Task[None]]) -> None:
        for task in done:
            error = task.exception()
            if isinstance(error, AnswerLost):
                outcome.answer_lost += 1
            elif error is not None:
                where = traceback.extract_tb(error.__traceback__)[-1]
                outcome.failed.append(f"{type(error).__name__} in {where.name}: {str(error)[:200]}")

    def reached(fate: str) -> None:
        outcome.reached[fate] += 1

    while (outcome.started < options.cases or not faults.done()) and (
        outcome.started < options.most_cases
    ):
        if len(running) >= CONCURRENCY:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            settle(done)
        running.add(asyncio.create_task(driver.run_case(outcome.started, run, reached)))
        outcome.started += 1
    if running:
        done, _ = await asyncio.wait(running)
        settle(done)
    return outcome


async def run_chaos(options: ChaosOptions, report: Report, log_root: Path) -> None:
    """The whole chaos run on a private stack, its checks recorded in `report`."""
    seed = options.seed if options.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:6]
    log_dir = log_root / f"chaos-{run}"
    report.step(f"1. A private Kafka broker and PostgreSQL cluster (seed {seed}, logs {log_dir})")
    async with private_stack() as stack:
        settings = settings_of_a_run(stack.database_url, stack.kafka_bootstrap)
        env = service_env(settings)
        services = {
            name: start_service(name, env, log_dir / "life-0") for name in runnable_services()
        }
        net: Network | None = None
        try:
            for service in services.values():
                await service.wait_healthy()
            urls = {name: service.url for name, service in services.items()}
            net = Network(settings, run, urls)
            await enroll_administrator(net, env, report, label="2.")
            await _run_network(net, stack, services, env, log_dir, options, rng, report)
        finally:
            if net is not None:
                await net.close()
            for service in services.values():
                service.stop()


async def _run_network(
    net: Network,
    stack: PrivateStack,
    services: dict[str, ServiceProcess],
    env: dict[str, str],
    log_dir: Path,
    options: ChaosOptions,
    rng: random.Random,
    report: Report,
) -> None:
    size = Size(agencies=options.agencies, managers=2, cases=options.cases)
    driver = ScaleDriver(net, size, agency_today(), concurrency=CONCURRENCY)
    report.step(f"3. {size.agencies} agencies with their staff, as the directory registers them")
    await driver.build(net.admin(), net.run)
    known, _ = await eventually(driver.known_everywhere, bool, 120)
    report.check(known, "every service learned the network's staff from caseline.directory.v1")

    plan = fault_plan(list(services), rng)
    report.step(
        f"4. Cases driven over HTTP while one fault strikes every {options.every:.0f} s: "
        + ", ".join(plan)
    )
    poisons = await publish_poison(stack.kafka_bootstrap)
    for poison in poisons:
        report.step(f"   poison published on {poison.topic}: {poison.flaw} ({poison.event_id})")
    started = time.monotonic()
    monkey = Monkey(stack, services, env, log_dir, plan, options.every, _told(report))
    faults = asyncio.create_task(monkey.run())
    outcome = await _drive(driver, net.run, faults, options)
    await faults
    drive_seconds = time.monotonic() - started
    report.step(
        f"   {outcome.started} cases started in {drive_seconds:.0f} s; "
        f"{driver.tally.commands} commands answered 2xx ({driver.tally.replayed} of them "
        f"from a kept answer after a retry), {sum(driver.tally.retried.values())} retried "
        f"after 'later' answers, {driver.tally.conflicts} conflicts retried"
    )
    report.check(
        not outcome.failed,
        f"every case reached its fate ({sum(outcome.reached.values())}) or lost an answer to "
        f"a kill ({outcome.answer_lost}); failed: {len(outcome.failed)} "
        f"{Counter(outcome.failed).most_common(3)}",
    )
    report.check(
        _each_hit(monkey.faults, list(services)),
        f"{len(monkey.faults)} faults: every service killed at least twice, the broker and "
        "PostgreSQL restarted once",
    )
    await _audit(net, stack.database_url, stack.kafka_bootstrap, driver, poisons, report)


def _told(report: Report) -> Callable[[Fault], None]:
    def tell(fault: Fault) -> None:
        what = "restarted" if fault.target in ("kafka", "postgres") else "SIGKILLed"
        report.step(
            f"   {fault.at:5.0f} s  {fault.target} {what}; answering again after "
            f"{fault.recovered_after:.1f} s"
        )

    return tell


def _each_hit(faults: list[Fault], services: list[str]) -> bool:
    hits = Counter(f.target for f in faults)
    return all(hits[s] >= 2 for s in services) and hits["kafka"] == hits["postgres"] == 1


async def _audit(
    net: Network,
    database_url: str,
    bootstrap: str,
    driver: ScaleDriver,
    poisons: list[Poison],
    report: Report,
) -> None:
    report.step("5. With the faults over, the network comes to rest and is audited")
    pool = await create_pool(database_url, max_size=4)
    try:
        quiet = await until_quiet(pool)
        report.step(f"   the stores and relays quiet for {QUIET_SECONDS:.0f} s: {quiet}")
        await _audited(net, pool, bootstrap, driver, poisons, report)
    finally:
        await pool.close()


async def _audited(
    net: Network,
    pool: asyncpg.Pool,
    bootstrap: str,
    driver: ScaleDriver,
    poisons: list[Poison],
    report: Report,
) -> None:
    publishers = publishing_services()
    topics = await read_topics(bootstrap, [*(topic_for(s) for s in publishers), DLQ_TOPIC])
    by_url = {str(client.base_url).rstrip("/"): name for name, client in net.clients.items()}
    acknowledged: dict[str, set[str]] = {}
    for url, ids in driver.tally.recorded:
        acknowledged.setdefault(by_url[url], set()).update(ids)
    audit = await audit_acknowledged(pool, net.settings, acknowledged, topics)
    twice = await effects_decided_twice(pool, publishers)
    dedup_twice = await applied_twice(pool, [*runnable_services()])
    injected = {p.event_id for p in poisons}
    dead = topics[DLQ_TOPIC].dead_letters
    stray = [(i, by) for i, by in dead if i not in injected]
    caught = {i for i, _ in dead if i in injected}
    republished = sum(topics[topic_for(s)].republished for s in publishers)
    _print_counts(audit, twice, dead, injected, republished)
    report.check(
        not audit.missing,
        f"nothing acknowledged was lost: {audit.acknowledged} events named in 2xx answers, "
        f"{audit.in_store} in their stores, {audit.on_kafka} on Kafka, {audit.projected} of "
        f"{audit.to_project} applied by projections {audit.missing[:3]}",
    )
    report.check(
        not any(twice.values()) and dedup_twice == 0,
        f"no effect applied twice: {sum(twice.values())} streams with an event decided twice "
        f"from one cause, {dedup_twice} events recorded twice by a consumer; "
        f"{republished} messages published again after a relay was killed were passed over",
    )
    report.check(
        not stray and caught == injected,
        f"the DLQ holds only the poison published: {len(dead)} dead letters, all of the "
        f"{len(injected)} poison messages ({len(stray)} others {stray[:3]})",
    )
    verdict = await verified(net.settings, pool, report, wait_seconds=120)
    report.check(
        verdict.ok,
        "verify: every chain verifies, every incomplete termination has its referral (R9), "
        "projections' read models equal their replay"
        if verdict.ok
        else f"verify: {len(verdict.violations)} violation(s)",
    )


def _print_counts(
    audit: AckAudit,
    twice: dict[str, int],
    dead: list[tuple[str, str]],
    injected: set[str],
    republished: int,
) -> None:
    table = Table(title="caseline chaos: what the audit counted")
    table.add_column("count")
    table.add_column("value", justify="right")
    rows = [
        ("events acknowledged in 2xx answers", audit.acknowledged),
        ("  found in their stores", audit.in_store),
        ("  found on Kafka", audit.on_kafka),
        ("  of a type projections reads", audit.to_project),
        ("  applied by projections", audit.projected),
        ("messages published again (passed over)", republished),
        ("events decided twice from one cause", sum(twice.values())),
        ("poison messages published", len(injected)),
        ("dead letters on caseline.dlq.v1", len(dead)),
        ("  of the published poison", sum(1 for i, _ in dead if i in injected)),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}")
    Console().print(table)


def chaos_command(options: ChaosOptions) -> int:
    """Run chaos and print the report; 0 when every check held."""
    from shared.logging import configure_logging

    configure_logging(load_settings(service="chaos", log_level="WARNING", log_format="console"))
    report = Report()
    report.step(
        "caseline chaos: cases through every stage while services are killed and the broker "
        "and database restart; then nothing lost, nothing applied twice, the DLQ holds only "
        "the poison, verify holds\n"
    )
    log_root = Path(load_settings().local_dir) / "logs"
    try:
        asyncio.run(run_chaos(options, report, log_root))
    except ScenarioError as e:
        report.check(False, f"the run could not go on: {e}")
    report.step("")
    report.step(
        "Result: every check held."
        if not report.failures
        else f"Result: {len(report.failures)} check(s) did not hold."
    )
    return 0 if not report.failures else 1
