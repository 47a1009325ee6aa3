"""A training network's calendar: monitoring restarted a few days ahead of the real calendar
sees a form mailed today (in real days) as overdue and says so once (R6d), and its `/health`
tells everyone the network is a training one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from services.monitoring.bootstrap import build
from shared.clock import agency_today, calendar_offset_days
from shared.settings import Settings
from tests.harness import eventually, running_service
from tests.integration.monitoring.conftest import (
    Running,
    Stack,
    agency,
    case_in_force,
    enroll_auditor,
)
from tests.integration.monitoring.test_forms_and_scheduler import overdue_events


@asynccontextmanager
async def on_the_agencies_calendar(stack: Stack, **calendar: Any) -> AsyncIterator[Running]:
    """Monitoring as `caseline serve` builds it: `today` left to the kit's calendar (not the
    stack's test clock), the scheduler's interval from settings (CASELINE_SCHEDULER_SECONDS)."""

    def app(settings: Settings) -> FastAPI:
        return build(settings, topics=stack.topics)

    async with running_service(
        app,
        database_url=stack.database_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        schema=stack.schema,
        drop_schema=False,
        base_url="http://monitoring",
        scheduler_seconds=0.2,
        **calendar,
    ) as served:
        yield Running(served.app, served.http, served.settings, served.schema, stack)


async def scheduler_passes(app: Running, passes: int = 3) -> None:
    """Let the overdue scheduler run a few more times (its interval is 0.2 s)."""
    await asyncio.sleep(0.2 * (passes + 1))


async def test_r6d_a_form_mailed_today_is_overdue_once_on_a_training_calendar_three_days_ahead(
    own_stack: Stack,
) -> None:
    real_today = agency_today()
    async with on_the_agencies_calendar(own_stack) as live:
        health = (await live.http.get("/health")).json()
        assert health["calendar"] == {
            "offset_days": 0,
            "training": False,
            "today": real_today.isoformat(),
        }
        await enroll_auditor(live)
        ag = await agency(live)
        case_id = await case_in_force(live, ag, activated=real_today)
        sent = await live.http.post(
            f"/cases/{case_id}/forms",
            json={"due_on": (real_today + timedelta(days=1)).isoformat()},
            headers=ag.manager,
        )
        assert sent.status_code == 201, sent.text
        await scheduler_passes(live)
        assert await overdue_events(live.pool, case_id) == []

    # The demonstration restarts the service with the network's calendar moved ahead.
    async with on_the_agencies_calendar(
        own_stack, calendar_offset_days=3, training_network=True
    ) as training:
        health = (await training.http.get("/health")).json()
        assert health["calendar"] == {
            "offset_days": 3,
            "training": True,
            "today": (real_today + timedelta(days=3)).isoformat(),
        }
        said = await eventually(
            lambda: overdue_events(training.pool, case_id),
            lambda found: [t for t, _ in found] == ["FormOverdue"],
            "the form overdue on the training calendar",
        )
        await scheduler_passes(training)
        assert await overdue_events(training.pool, case_id) == said
        board = (await training.http.get("/board", headers=ag.supervisor)).json()
        assert case_id in [e["case_id"] for e in board["forms_overdue"]]

    # Stopped, the process's calendar is the real one again.
    assert calendar_offset_days() == 0
    assert agency_today() == real_today
