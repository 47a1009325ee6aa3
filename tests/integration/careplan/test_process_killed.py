"""A careplan process killed with SIGKILL mid-run and started again loses nothing: every
command it acknowledged is in its store and reaches Kafka once per event id, and what intake
recorded while it was down is learned after."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from tests.harness import unique_schema
from tests.integration.careplan.conftest import (
    Agency,
    Stack,
    eventually,
    make_agency,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import plan_body
from tests.integration.kafka_reading import read_topic
from tests.integration.service_process import service_process


def careplan_process(
    stack: Stack, schema: str
) -> AbstractAsyncContextManager[tuple[subprocess.Popen[bytes], httpx.AsyncClient]]:
    """A careplan process on the stack's topics, answering on a port of its own."""
    topics = stack.topics
    return service_process(
        "tests.integration.careplan.serve_careplan",
        schema,
        topics.careplan,
        topics.intake,
        topics.directory,
        topics.monitoring,
        what="careplan",
    )


async def _ready(http: httpx.AsyncClient, home: Agency) -> None:
    async def board() -> int:
        answer = await http.get(f"/agencies/{home.agency_id}/board", headers=home.manager())
        return answer.status_code

    await eventually(board, lambda code: code == 200, "the agency's staff known")


async def test_a_careplan_killed_mid_run_loses_no_acknowledged_command(stack: Stack) -> None:
    schema = unique_schema("careplan_killed")
    home = await make_agency(stack)
    cases = [(await through_intake(home))[0] for _ in range(6)]
    acknowledged: list[str] = []
    try:
        async with careplan_process(stack, schema) as (process, http):
            await _ready(http, home)

            async def known() -> int:
                count: int = await stack.pg_pool.fetchval(
                    f'SELECT count(*) FROM "{schema}".case_facts WHERE assigned '
                    "AND case_id = ANY($1::text[])",
                    cases,
                )
                return count

            await eventually(known, lambda n: n == len(cases), "the cases learned")

            async def draft(case_id: str) -> None:
                try:
                    answer = await http.post(
                        f"/cases/{case_id}/plan-versions", json=plan_body(), headers=home.manager()
                    )
                except httpx.TransportError:
                    return  # the process died under it: not acknowledged
                if answer.status_code == 201:
                    acknowledged.append(case_id)

            async def drafted() -> int:
                return len(acknowledged)

            writers = [asyncio.create_task(draft(case_id)) for case_id in cases]
            await eventually(drafted, lambda n: n >= 2, "some drafts acknowledged")
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            await asyncio.gather(*writers)

        # While careplan is down, intake goes on.
        late_case, _ = await through_intake(home)

        async with careplan_process(stack, schema) as (_again, http):

            async def late_known() -> Any:
                return await stack.pg_pool.fetchval(
                    f'SELECT assigned FROM "{schema}".case_facts WHERE case_id = $1', late_case
                )

            await eventually(late_known, lambda assigned: assigned is True, "learned after")
            stored = await stack.pg_pool.fetch(
                f'SELECT case_id, event_id FROM "{schema}".events '
                "WHERE event_type = 'PlanVersionDrafted'"
            )
            assert set(acknowledged) <= {r["case_id"] for r in stored}
            event_ids = {str(r["event_id"]) for r in stored}

            async def published() -> set[str]:
                records = await read_topic(
                    stack.settings.kafka_bootstrap_servers,
                    stack.topics.careplan,
                    expect=1,
                    timeout=2,
                )
                return {
                    bytes(value).decode()
                    for record in records
                    for key, value in record.headers
                    if key == "ce_id" and value is not None
                }

            await eventually(published, lambda ids: event_ids <= ids, "every event on Kafka")
    finally:
        await stack.pg_pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
