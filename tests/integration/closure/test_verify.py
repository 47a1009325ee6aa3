"""`caseline verify` on the real stores (R9, hash chains): clean history passes; each kind of
violation, planted with superuser SQL past the immutability triggers, is caught and named,
and the command exits non-zero."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from caseline.verify import verify
from shared.vocabulary import NeedDomain
from tests.integration.closure.conftest import (
    TODAY,
    Running,
    Stack,
    agency,
    answer,
    enroll_auditor,
    open_case,
    running,
)

pytestmark = pytest.mark.infra

HOUSING = NeedDomain.HOUSING


@pytest.fixture(scope="module")
async def closure(stack: Stack) -> AsyncIterator[Running]:
    """The app with its scheduler all but idle: a planted stale pending referral must not be
    escalated by a live pass before the audit reads it."""
    stack.scheduler_seconds = 3600.0
    async with running(stack) as app:
        await enroll_auditor(app)
        yield app


def _schemas(app: Running) -> dict[str, str]:
    stack = app.stack
    return {
        "closure": stack.schema,
        "intake": stack.intake.store.schema,
        "careplan": stack.careplan.store.schema,
        "monitoring": stack.monitoring.store.schema,
        "directory": stack.directory.store.schema,
    }


async def _tamper(pool: asyncpg.Pool, schema: str, sql: str, *args: object) -> None:
    """Change stored events as only a superuser can: past the append-only triggers."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(f'SET LOCAL search_path = "{schema}"')
        await conn.execute(sql, *args)


async def _terminated(app: Running, reason: str, *consent: str) -> tuple[str, str]:
    home = await agency(app, HOUSING)
    target_agencies = [await agency(app, HOUSING) for _ in consent]
    case_id, _ = await open_case(app, home, consent_for=tuple(a.agency_id for a in target_agencies))
    await answer(
        await app.http.post(
            f"/cases/{case_id}/termination", json={"reason": reason}, headers=home.supervisor
        ),
        201,
    )
    return case_id, home.agency_id


async def test_verify_passes_a_clean_history_and_names_every_planted_violation_r9(
    closure: Running, pg_pool: asyncpg.Pool, database_url: str
) -> None:
    schema = closure.stack.schema
    missing, _ = await _terminated(closure, "manager_left", "x")
    served, served_agency = await _terminated(closure, "programme_ended", "x")
    stale, _ = await _terminated(closure, "agency_closed")  # no consent: pending
    ghost, _ = await _terminated(closure, "programme_ended", "x")
    verdict = await verify(pg_pool, schemas=_schemas(closure), today=TODAY, pending_bound_days=7)
    assert verdict.ok, verdict.violations

    # 1. An incomplete termination whose referral event was removed.
    await _tamper(
        pg_pool,
        schema,
        "DELETE FROM events WHERE case_id = $1 AND event_type = 'ReferralIssued'",
        missing,
    )
    # 2. A referral redirected to the agency that has served the client.
    await _tamper(
        pg_pool,
        schema,
        "UPDATE events SET payload = jsonb_set(payload, '{target,agency_id}', to_jsonb($2::text)) "
        "WHERE case_id = $1 AND event_type = 'ReferralIssued'",
        served,
        served_agency,
    )
    # 3. A pending referral made older than the bound, never escalated.
    await _tamper(
        pg_pool,
        schema,
        "UPDATE events SET payload = jsonb_set(payload, '{since}', to_jsonb($2::text)) "
        "WHERE case_id = $1 AND event_type = 'ReferralPending'",
        stale,
        (TODAY - timedelta(days=30)).isoformat(),
    )
    # 4. A referral naming a service the directory never showed at the target.
    await _tamper(
        pg_pool,
        schema,
        "UPDATE events SET payload = jsonb_set(payload, '{covered,0,service_id}', "
        "'\"ghost-service\"') WHERE case_id = $1 AND event_type = 'ReferralIssued'",
        ghost,
    )
    # 5. Another service's event altered (intake's assessment of the first case).
    await _tamper(
        pg_pool,
        closure.stack.intake.store.schema,
        "UPDATE events SET payload = jsonb_set(payload, '{crisis}', 'true') "
        "WHERE case_id = $1 AND event_type = 'CaseAssessed'",
        missing,
    )
    verdict = await verify(pg_pool, schemas=_schemas(closure), today=TODAY, pending_bound_days=7)
    named = "\n".join(verdict.violations)
    assert f"case {missing}: termination" in named and "has no referral event" in named
    assert f"case {served}: referral" in named and "had already served the client" in named, (
        await closure.events(served),
        named,
    )
    assert f"case {stale}: referral" in named and "never escalated" in named, (
        await closure.pool.fetch(
            "SELECT event_type, payload::text FROM events WHERE case_id = $1", stale
        ),
        named,
    )
    assert f"case {ghost}: referral" in named and "no service ghost-service" in named
    assert f"intake: stream {missing}: hash chain broken" in named
    assert f"closure: stream {served}: hash chain broken" in named

    command = [
        str(Path(sys.executable).parent / "caseline"),
        "verify",
        "--no-drift",  # this stack has no projections; its drift check has tests of its own
        *(arg for s, n in _schemas(closure).items() for arg in ("--schema", f"{s}={n}")),
    ]
    done = subprocess.run(
        command,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "had already served the client" in done.stdout
    assert missing in done.stdout
