"""`caseline demo`: case events through the intake store, the relay, Kafka and a consumer.

This is the event kit's walk-through; the service issues grow it into the full multi-agency
scenario. Every step checks what it claims, and the run exits non-zero when one did not hold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import typer
from faststream.kafka import KafkaBroker

from caseline.scenario import run_network_scenario
from caseline.scenario_http import ScenarioError
from services.intake.contract import CaseFound, CaseSource
from shared.codec import ReceivedEvent, to_kafka
from shared.consumer import DeadLetterQueue, IdempotentConsumer, subscribe_idempotent
from shared.envelope import Actor, Envelope, EventMetadata, Role, registry
from shared.errors import ConcurrencyError, InfrastructureUnavailable
from shared.relay import Relay, idempotent_producer
from shared.settings import load_settings, secrets_of_a_run
from shared.store import EventStore, create_pool, redact_dsn
from shared.topics import ensure_topics

CONSUMER = "demo.caseload-board"
BOARD_SCHEMA = "demo"
DEMO_INBOX = "caseline.demo-inbox.v1"
"""The kit walk-through's own topic: its store, its redelivery and its poisoned message stay
off the services' topics, which only the services themselves publish to."""


@dataclass
class Report:
    """What the demo saw, step by step, and whether every check held."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        """Print and keep one line of the walk-through."""
        self.lines.append(text)
        typer.echo(text)

    def check(self, held: bool, claim: str) -> None:
        """Record a claim the demo makes, and whether it held."""
        mark = "ok  " if held else "FAIL"
        self.step(f"   [{mark}] {claim}")
        if not held:
            self.failures.append(claim)


def _found(
    case_id: str, agency: str, staff: str, source: CaseSource, **links: str
) -> Envelope[CaseFound]:
    return Envelope(
        metadata=EventMetadata(
            case_id=case_id, agency_id=agency, actor=Actor(staff_id=staff, role=Role.CASE_MANAGER)
        ),
        payload=CaseFound(source=source, **links),
    )


async def _board_handler(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """The consumer's effect: one row on the caseload board per case opened."""
    payload = event.envelope.payload
    if isinstance(payload, CaseFound):
        await conn.execute(
            f"INSERT INTO {BOARD_SCHEMA}.caseload_board (event_id, case_id, agency_id, source) "
            "VALUES ($1, $2, $3, $4)",
            event.envelope.metadata.event_id,
            event.envelope.metadata.case_id,
            event.envelope.metadata.agency_id,
            payload.source.value,
        )


async def _eventually(check: Callable[[], Awaitable[bool]], seconds: float = 60.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def run_demo(database_url: str, bootstrap: str, report: Report, size: str = "full") -> None:
    """Open cases, race two writers, relay to Kafka, consume, dead-letter, verify chains."""
    pool = await create_pool(database_url, max_size=6)
    producer = idempotent_producer(bootstrap)
    await producer.start()
    stop = asyncio.Event()
    relay_task: asyncio.Task[None] | None = None
    # The walk-through prints its own story; FastStream's per-message lines would drown it.
    broker = KafkaBroker(bootstrap, logger=None)
    try:
        # The walk-through keeps its own schema: the intake service's store is its alone.
        store = EventStore(pool, "intake", schema=BOARD_SCHEMA)
        await store.migrate()
        await pool.execute(
            f"CREATE SCHEMA IF NOT EXISTS {BOARD_SCHEMA}; CREATE TABLE IF NOT EXISTS "
            f"{BOARD_SCHEMA}.caseload_board (event_id uuid, case_id text, agency_id text, "
            "source text, shown_at timestamptz NOT NULL DEFAULT now())"
        )
        consumer = IdempotentConsumer(
            CONSUMER,
            pool,
            schema=BOARD_SCHEMA,
            events=registry,
            handle=_board_handler,
            dead_letters=DeadLetterQueue(producer),
        )
        await consumer.migrate()
        relay = Relay(store, producer, topic=DEMO_INBOX)
        relay_task = asyncio.create_task(relay.run(stop))
        await ensure_topics(bootstrap, [DEMO_INBOX])
        subscribe_idempotent(broker, consumer, DEMO_INBOX, group_id=CONSUMER)
        await broker.start()

        run = uuid.uuid4().hex[:6]
        mapo, busan = "agency-seoul-mapo", "agency-busan-haeundae"
        walk_in, outreach, referred = (
            f"case-{run}-{n}" for n in ("walkin", "outreach", "referred")
        )
        report.step("2. Three cases open in two agencies (an event store in schema demo)")
        opened = [
            _found(walk_in, mapo, "staff-kim", CaseSource.WALK_IN),
            _found(outreach, mapo, "staff-lee", CaseSource.OUTREACH),
            _found(
                referred,
                busan,
                "staff-park",
                CaseSource.INBOUND_REFERRAL,
                referring_agency_id=mapo,
                referring_case_id=walk_in,
            ),
        ]
        for env in opened:
            result = await store.append(env.metadata.case_id, 0, [env])
            report.step(
                f"   {env.metadata.case_id}: {env.payload.source.value} at {env.metadata.agency_id}"
                f" -> version {result.stream_version}, position {result.positions[0]}"
            )

        report.step("3. Two case managers open the same case at the same moment")
        race_case = f"case-{run}-race"
        outcomes = await asyncio.gather(
            store.append(race_case, 0, [_found(race_case, mapo, "staff-kim", CaseSource.WALK_IN)]),
            store.append(race_case, 0, [_found(race_case, mapo, "staff-choi", CaseSource.WALK_IN)]),
            return_exceptions=True,
        )
        conflicts = [o for o in outcomes if isinstance(o, ConcurrencyError)]
        report.check(
            len(conflicts) == 1 and await store.stream_version(race_case) == 1,
            f"one append won, the other was refused: {conflicts[0] if conflicts else '-'}",
        )
        retry = await store.append(walk_in, 0, [opened[0]])
        report.check(not retry.written, "a retried append with the same event id wrote nothing")

        report.step(f"4. The relay publishes the events table to {DEMO_INBOX} in commit order")
        caught_up = await _eventually(lambda: _lag_is_zero(relay))
        progress = await relay.progress()
        report.check(
            caught_up,
            f"relay published up to position {progress.published_position}"
            f" of {progress.last_position} (lag {progress.lag})",
        )

        report.step("5. The caseload-board consumer applies each event once")
        our_cases = [walk_in, outreach, referred, race_case]
        board = await _eventually(lambda: _board_count(pool, our_cases, 4))
        report.check(board, "4 cases on the board (effects + dedup record + offset in one commit)")

        # A redelivery and a poisoned message, on one key so they arrive in this order.
        [first] = await store.read_stream_raw(walk_in)
        record = to_kafka(first, "intake")
        await (await producer.send(DEMO_INBOX, record.value, record.key, headers=record.headers))
        poison_headers = [
            (n, b"caseline.intake.CaseFound.v1" if n == "ce_type" else v) for n, v in record.headers
        ]
        await (await producer.send(DEMO_INBOX, b"{not json", record.key, headers=poison_headers))
        dead = await _eventually(lambda: _dead_lettered(pool, str(first.event_id)))
        reason = await pool.fetchval(
            f"SELECT reason FROM {BOARD_SCHEMA}.dead_lettered_messages WHERE consumer = $1 "
            "AND event_id = $2",
            CONSUMER,
            str(first.event_id),
        )
        report.check(dead, f"a message that is not JSON went to caseline.dlq.v1: {reason}")
        applied = await pool.fetchval(
            f"SELECT count(*) FROM {BOARD_SCHEMA}.caseload_board WHERE event_id = $1",
            first.event_id,
        )
        report.check(applied == 1, "the same event delivered twice was applied once")

        report.step("6. Auditors verify each case's hash chain")
        for case_id in our_cases:
            chain = await store.verify_case(case_id)
            report.check(chain.ok, f"{case_id}: {chain.events_checked} event(s), chain verifies")

        settings = load_settings(database_url=database_url, kafka_bootstrap_servers=bootstrap)
        if settings.insecure_settings():
            # The demo's services sign and seal with secrets of this run, never the public ones.
            secrets = secrets_of_a_run()
            settings = load_settings(
                database_url=database_url,
                kafka_bootstrap_servers=bootstrap,
                token_secret=secrets["CASELINE_TOKEN_SECRET"],
                pii_kek=secrets["CASELINE_PII_KEK"],
                pii_index_key=secrets["CASELINE_PII_INDEX_KEY"],
            )
        try:
            await run_network_scenario(
                settings, pool, report, Path(settings.local_dir) / "logs", size
            )
        except (ScenarioError, InfrastructureUnavailable) as e:
            report.check(False, f"the scenario could not go on: {e}")
    finally:
        stop.set()
        await broker.stop()
        if relay_task is not None:
            await asyncio.wait_for(relay_task, 10)
        await producer.stop()
        await pool.close()


async def _lag_is_zero(relay: Relay) -> bool:
    return (await relay.progress()).lag == 0


async def _board_count(pool: asyncpg.Pool, cases: list[str], expected: int) -> bool:
    count = await pool.fetchval(
        f"SELECT count(*) FROM {BOARD_SCHEMA}.caseload_board WHERE case_id = ANY($1::text[])",
        cases,
    )
    return bool(count == expected)


async def _dead_lettered(pool: asyncpg.Pool, event_id: str) -> bool:
    found = await pool.fetchval(
        f"SELECT count(*) FROM {BOARD_SCHEMA}.dead_lettered_messages "
        "WHERE consumer = $1 AND event_id = $2",
        CONSUMER,
        event_id,
    )
    return bool(found)


def demo_command(size: str = "full") -> None:
    """Bring the stack up, walk case events through the kit, print what happened."""
    import contextlib

    from caseline.infra.provide import provide_database, provide_kafka
    from shared.logging import configure_logging

    configure_logging(load_settings(service="demo", log_level="WARNING", log_format="console"))
    report = Report()
    report.step(
        "caseline demo: the event kit, then a network of agencies from intake through care "
        "planning, monitoring, evaluation, termination and referral, end to end\n"
    )
    report.step("1. The stack: Kafka and PostgreSQL")
    tried: list[str] = []
    with contextlib.ExitStack() as cleanup:
        bootstrap = provide_kafka(cleanup, tried)
        database_url = provide_database(cleanup, tried) if bootstrap else ""
        if not (bootstrap and database_url):
            typer.echo(
                "no Kafka or PostgreSQL to run on. Tried:\n  - " + "\n  - ".join(tried), err=True
            )
            raise typer.Exit(1)
        report.step(f"   Kafka {bootstrap}, PostgreSQL {redact_dsn(database_url)}")
        asyncio.run(run_demo(database_url, bootstrap, report, size))
    held = len(report.failures) == 0
    report.step("")
    report.step(
        "Result: every check held."
        if held
        else f"Result: {len(report.failures)} check(s) did not hold."
    )
    raise typer.Exit(0 if held else 1)
