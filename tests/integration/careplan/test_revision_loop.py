"""The R6d loop across services: careplan's agreed plan reaches monitoring over Kafka, a review
there finds new needs, and careplan, reading monitoring's `PlanRevisionRequired`, sends the
case back to planning once; a revised version that addresses the new need is agreed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.monitoring.bootstrap import Topics as MonitoringTopics
from services.monitoring.bootstrap import build as build_monitoring
from shared.clock import agency_today
from shared.envelope import Role
from tests.harness import unique_schema
from tests.integration.careplan.conftest import (
    Stack,
    eventually,
    known_to_careplan,
    make_agency,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import plan_body
from tests.integration.members import until_known

TODAY = agency_today()


@pytest.fixture(scope="module")
async def monitoring(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Monitoring's own app on the stack's topics, in a schema of its own."""
    topics = MonitoringTopics(
        monitoring=stack.topics.monitoring,
        intake=stack.topics.intake,
        careplan=stack.topics.careplan,
        directory=stack.topics.directory,
        closure=stack.topics.closure,
    )
    async with stack.serve(
        lambda settings: build_monitoring(settings, topics=topics),
        schema=unique_schema("monitoring"),
        base_url="http://monitoring",
    ) as running:
        stack.apps = (*stack.apps, running.app)
        try:
            yield running.http
        finally:
            stack.apps = stack.apps[:-1]


async def test_a_review_with_new_needs_sends_the_case_back_to_planning_once_r6d(
    stack: Stack, monitoring: httpx.AsyncClient
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    http, headers = stack.careplan, home.manager()
    assert (
        await http.post(f"/cases/{case_id}/plan-versions", json=plan_body(), headers=headers)
    ).status_code == 201
    assert (
        await http.post(
            f"/cases/{case_id}/plan-versions/1/agreement",
            json={"agreed_on": TODAY.isoformat()},
            headers=headers,
        )
    ).status_code == 200
    monitoring_pool = stack.apps[-1].state.runtime.pool
    await until_known(monitoring_pool, home.agency_id, home.manager_id, Role.CASE_MANAGER)
    review = {
        "implementation": 4,
        "goals": [{"goal_id": "g1", "progress": "progressing"}],
        "items": [{"item_id": "i-income", "fit": "appropriate"}],
        "new_needs": True,
        "new_need_domains": ["mental_health"],
        "client_satisfied": True,
        "manager_satisfied": True,
    }

    async def reviewed() -> httpx.Response:
        return await monitoring.post(f"/cases/{case_id}/reviews", json=review, headers=headers)

    # Monitoring learns the agreed plan from careplan's topic, then takes the review.
    answer = await eventually(reviewed, lambda r: r.status_code == 201, "a review recorded")
    assert answer.status_code == 201

    async def plan() -> dict[str, Any]:
        result: dict[str, Any] = (await http.get(f"/cases/{case_id}", headers=headers)).json()
        return result

    await eventually(plan, lambda p: p["returned_to_planning"], "back in planning")
    assert (await stack.events_in(case_id)).count("CaseReturnedToPlanning") == 1
    board = (
        await http.get(f"/agencies/{home.agency_id}/board", headers=home.supervisor_auth())
    ).json()
    assert case_id in board["returned_to_planning"]

    # The new need must now be addressed before a revision takes effect (R3).
    body = plan_body()
    body["items"].append(
        {
            "item_id": "i-mind",
            "need_domain": "mental_health",
            "goal_id": "g1",
            "delivery": "own_agency",
            "start_on": TODAY.isoformat(),
            "end_on": (TODAY + timedelta(days=30)).isoformat(),
        }
    )
    assert (
        await http.post(f"/cases/{case_id}/plan-versions", json=body, headers=headers)
    ).status_code == 201
    waiting = await plan()
    assert (waiting["in_force"], waiting["pending"]) == (1, 2)  # R4: version 1 stays in force
    assert (
        await http.post(
            f"/cases/{case_id}/plan-versions/2/agreement",
            json={"agreed_on": TODAY.isoformat()},
            headers=headers,
        )
    ).status_code == 200
    revised = await plan()
    assert (revised["in_force"], revised["returned_to_planning"]) == (2, False)
