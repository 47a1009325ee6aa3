"""Monitoring processes killed with SIGKILL while their schedulers run, and two started
again side by side on the same schema, say each overdue fact exactly once (deterministic
event ids through the store's idempotent append), never for a form returned in time."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from tests.harness import eventually
from tests.integration.monitoring.conftest import (
    START,
    Stack,
    agency,
    case_in_force,
    enroll_auditor,
    running,
    stack_of,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def monitoring_process(
    stack: Stack, today: date
) -> AsyncIterator[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """A monitoring process on the stack's schema and topics, its calendar at `today`."""
    port = _free_port()
    topics = stack.topics
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.monitoring.serve_monitoring",
            str(port),
            stack.schema,
            topics.monitoring,
            topics.intake,
            topics.careplan,
            topics.directory,
            today.isoformat(),
        ],
        env={**os.environ, "CASELINE_LOG_LEVEL": "WARNING", "CASELINE_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def health() -> int:
                try:
                    return (await http.get("/health")).status_code
                except httpx.TransportError:
                    return 0

            await eventually(health, lambda code: code == 200, "monitoring up")
            yield process, http
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)


@pytest.fixture
async def own_stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    async with stack_of(database_url, kafka_bootstrap, pg_pool) as built:
        yield built


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
