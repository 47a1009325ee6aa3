"""At scale, through a crash (R9, the multi-agency section): an agency with 500 open cases
closes while a real `caseline serve closure` process fans out; the process is killed with
SIGKILL in the middle and started again. Afterwards exactly 500 terminations and 500 referral
events exist, none twice, each referral in the same append as its termination."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from caseline.processes import ServiceProcess, start_service
from services.closure.bootstrap import Topics
from services.directory.contract import (
    AgencyClosed,
    AgencyRegistered,
    ServiceOffered,
    StaffJoined,
)
from services.intake.contract import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    Severity,
)
from shared.clock import agency_today
from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, Role
from shared.relay import Relay, idempotent_producer
from shared.settings import secrets_of_a_run
from shared.store import EventStore
from shared.vocabulary import NeedDomain, ResourceKind
from tests.integration.kafka_reading import fresh_topics

pytestmark = pytest.mark.infra

CASES = 500
WAIT_SECONDS = 240.0
ACTOR = Actor(staff_id="upstream", role=Role.SYSTEM)


def _envelope(stream: str, agency: str, payload: DomainEvent) -> Envelope[DomainEvent]:
    return Envelope(
        metadata=EventMetadata(case_id=stream, agency_id=agency, actor=ACTOR), payload=payload
    )


async def _count(pool: asyncpg.Pool, schema: str, sql: str) -> int:
    value: int = await pool.fetchval(sql.replace("{s}", f'"{schema}"'))
    return value


async def _until(pool: asyncpg.Pool, schema: str, sql: str, wanted: int, what: str) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = await _count(pool, schema, sql)
        if found >= wanted:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"after {WAIT_SECONDS:.0f} s only {found} of {wanted}: {what}")
        await asyncio.sleep(0.05)


TERMINATED = "SELECT count(*) FROM {s}.events WHERE event_type = 'CaseTerminated'"


@pytest.fixture
async def upstream(
    kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[tuple[str, Topics, dict[str, Relay]]]:
    namespace = f"crash-{uuid.uuid4().hex[:8]}"
    topics = Topics.in_namespace(namespace)
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    relays: dict[str, Relay] = {}
    for service in ("intake", "directory"):
        store = EventStore(pg_pool, service, schema=f"t_{service}_{namespace.replace('-', '_')}")
        await store.migrate()
        relays[service] = Relay(store, producer, topic=getattr(topics, service))
    schema = f"t_closure_{namespace.replace('-', '_')}"
    try:
        async with fresh_topics(
            kafka_bootstrap,
            topics.closure,
            topics.intake,
            topics.careplan,
            topics.monitoring,
            topics.directory,
        ):
            yield namespace, topics, relays
    finally:
        await producer.stop()
        for name in (schema, *(r.store.schema for r in relays.values())):
            await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_500_open_cases_of_a_closing_agency_end_and_are_referred_once_through_sigkill_r9(
    upstream: tuple[str, Topics, dict[str, Relay]],
    pg_pool: asyncpg.Pool,
    database_url: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    namespace, _, relays = upstream
    schema = f"t_closure_{namespace.replace('-', '_')}"
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASELINE_DB_SCHEMA": schema,
        "CASELINE_TOPIC_NAMESPACE": namespace,
        "CASELINE_SCHEDULER_SECONDS": "0.2",
        "CASELINE_RELAY_POLL_SECONDS": "0.1",
        "CASELINE_LOG_LEVEL": "WARNING",
        **secrets_of_a_run(),
    }
    today = agency_today()
    closing, target = f"ag-closing-{namespace}", f"ag-target-{namespace}"
    directory, intake = relays["directory"], relays["intake"]
    for agency in (closing, target):
        await directory.store.append(
            agency,
            0,
            [
                _envelope(
                    agency,
                    agency,
                    AgencyRegistered(
                        agency_id=agency, name="A", region="Seoul", registered_on=None
                    ),
                ),
                _envelope(
                    agency,
                    agency,
                    StaffJoined(
                        staff_id="mgr-1",
                        name="M",
                        role="case_manager",
                        caseload_limit=1000,
                        joined_on=today - timedelta(days=400),
                    ),
                ),
                _envelope(
                    agency,
                    agency,
                    ServiceOffered(
                        service_id=f"{agency}-housing",
                        name="S",
                        need_domain=NeedDomain.HOUSING,
                        resource=ResourceKind.FORMAL,
                        capacity=10,
                    ),
                ),
            ],
        )
    for n in range(CASES):
        case_id, client_id = f"case-{n:04d}-{namespace}", f"client-{n:04d}-{namespace}"
        payloads: list[DomainEvent] = [
            ClientRegistered(client_id=client_id, returning_client=False),
            CaseAssessed(
                needs=(AssessedNeed(domain=NeedDomain.HOUSING, severity=Severity.HIGH),),
                interpreter_needed=False,
                cultural_needs_recorded=True,
            ),
            CaseAssigned(
                staff_id="mgr-1",
                agency_id=closing,
                override=False,
                override_reason=None,
                caseload_after=n + 1,
                caseload_limit=1000,
            ),
        ]
        if n % 2 == 0:  # half consented to a referral to the target; half wait for consent
            payloads.append(
                ConsentRecorded(
                    consent_id=f"consent-{n}",
                    client_id=client_id,
                    agencies=(target,),
                    purposes=(ConsentPurpose.REFERRAL,),
                    valid_from=today - timedelta(days=10),
                    valid_until=today + timedelta(days=300),
                )
            )
        await intake.store.append(case_id, 0, [_envelope(case_id, closing, p) for p in payloads])
    await directory.drain()
    await intake.drain()

    logs = tmp_path / "logs"
    process: ServiceProcess = start_service("closure", env, logs)
    try:
        await process.wait_healthy(timeout=90)
        await _until(
            pg_pool,
            schema,
            "SELECT count(*) FROM {s}.closure_cases WHERE manager_id IS NOT NULL",
            CASES,
            "cases learned",
        )
        await _until(
            pg_pool,
            schema,
            "SELECT count(*) FROM {s}.events WHERE event_type = 'ConsentLearned'",
            CASES // 2,
            "consents learned",
        )
        await directory.store.append(
            closing,
            3,
            [_envelope(closing, closing, AgencyClosed(closed_on=today, reason="funding_ended"))],
        )
        await directory.drain()
        await _until(pg_pool, schema, TERMINATED, 25, "terminations begun")
        process.process.kill()  # SIGKILL, in the middle of the fan-out
        process.process.wait(10)
        at_kill = await _count(pg_pool, schema, TERMINATED)
        assert 0 < at_kill < CASES, f"the kill came at {at_kill} terminations, not mid fan-out"
        process = start_service("closure", env, logs / "restarted")
        await process.wait_healthy(timeout=90)
        await _until(pg_pool, schema, TERMINATED, CASES, "every case terminated")
        await asyncio.sleep(1.0)  # a few more scheduler passes: nothing more may be written
    finally:
        process.stop()

    s = f'"{schema}"'
    terminated = await pg_pool.fetch(
        f"SELECT case_id, count(*) AS n FROM {s}.events WHERE event_type = 'CaseTerminated' "
        "GROUP BY case_id"
    )
    assert len(terminated) == CASES and all(r["n"] == 1 for r in terminated)
    referrals = await pg_pool.fetch(
        f"SELECT case_id, event_type, count(*) AS n FROM {s}.events "
        "WHERE event_type IN ('ReferralIssued', 'ReferralPending') GROUP BY case_id, event_type"
    )
    assert len(referrals) == CASES and all(r["n"] == 1 for r in referrals)
    kinds = [r["event_type"] for r in referrals]
    assert kinds.count("ReferralIssued") == CASES // 2
    assert kinds.count("ReferralPending") == CASES // 2
    split = await pg_pool.fetchval(
        f"SELECT count(*) FROM {s}.events t JOIN {s}.events r ON r.case_id = t.case_id "
        "AND r.stream_version = t.stream_version + 1 "
        "WHERE t.event_type = 'CaseTerminated' AND r.event_type NOT IN "
        "('ReferralIssued', 'ReferralPending')"
    )
    assert split == 0
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {s}.closure_fanout") == 0
