"""Monitoring processes killed with SIGKILL while their schedulers run, and two started
again side by side on the same schema, say each overdue fact exactly once (deterministic
event ids through the store's idempotent append), never for a form returned in time."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import date, timedelta

import asyncpg
import httpx

from tests.harness import eventually
from tests.integration.monitoring.conftest import (
    START,
    Stack,
    agency,
    case_in_force,
    enroll_auditor,
    running,
)
from tests.integration.service_process import service_process


def monitoring_process(
    stack: Stack, today: date
) -> AbstractAsyncContextManager[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """A monitoring process on the stack's schema and topics, its calendar at `today`."""
    topics = stack.topics
    return service_process(
        "tests.integration.monitoring.serve_monitoring",
        stack.schema,
        topics.monitoring,
        topics.intake,
        topics.careplan,
        topics.directory,
        today.isoformat(),
        what="monitoring",
    )


async def test_r6d_killed_schedulers_and_two_side_by_side_say_each_overdue_fact_once(
    own_stack: Stack, pg_pool: asyncpg.Pool
) -> None:
    schema = own_stack.schema
    # Set up in the app: two cases with plans, a form each; one returned in time.
    async with running(own_stack) as app:
        await enroll_auditor(app)
        ag = await agency(app)
        late_case = await case_in_force(app, ag)
        on_time_case = await case_in_force(app, ag)
        forms = {}
        for case_id in (late_case, on_time_case):
            sent = await app.http.post(
                f"/cases/{case_id}/forms",
                json={"due_on": (own_stack.clock() + timedelta(days=3)).isoformat()},
                headers=ag.manager,
            )
            assert sent.status_code == 201, sent.text
            forms[case_id] = sent.json()["record_id"]
        returned = await app.http.post(
            f"/cases/{on_time_case}/forms/{forms[on_time_case]}/return",
            json={"answers": [{"question": "ok", "answer": "fine", "negative": False}]},
            headers=ag.manager,
        )
        assert returned.status_code == 201, returned.text

    async def overdue() -> list[tuple[str, str]]:
        rows = await pg_pool.fetch(
            f'SELECT case_id, event_type FROM "{schema}".events '
            "WHERE event_type IN ('FormOverdue', 'ReviewOverdue', 'ItemDelayed')"
        )
        return sorted((r["case_id"], r["event_type"]) for r in rows)

    later = START + timedelta(days=45)  # past the forms, item-2's end and the first review
    expected = sorted(
        [
            (late_case, "FormOverdue"),
            (late_case, "ItemDelayed"),
            (late_case, "ReviewOverdue"),
            (on_time_case, "ItemDelayed"),
            (on_time_case, "ReviewOverdue"),
        ]
    )
    # A process whose scheduler is killed as soon as it has said anything.
    async with monitoring_process(own_stack, later) as (process, _):
        await eventually(overdue, lambda found: len(found) >= 1, "a first overdue fact")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    # Two processes side by side, both schedulers passing over the same cases.
    async with AsyncExitStack() as both:
        await both.enter_async_context(monitoring_process(own_stack, later))
        await both.enter_async_context(monitoring_process(own_stack, later))
        await eventually(overdue, lambda found: found == expected, "every overdue fact said")
        # Ten more passes of each scheduler (every 0.2 s): still once each.
        await asyncio.sleep(2)
        assert await overdue() == expected
    assert await overdue() == expected
