"""Monitoring beside the real directory, intake and careplan apps on real Kafka and
PostgreSQL: a case assigned and consented at intake, planned and served in careplan, is
followed up, reviewed and evaluated in monitoring from what crossed the topics alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.monitoring.bootstrap import Topics, build
from services.monitoring.domain.instruments import SERVICE_PROVIDERS, SOCIAL_NETWORK
from shared.clock import agency_today
from shared.settings import Settings
from tests.harness import eventually, running_service, unique_schema
from tests.integration.careplan.conftest import (
    Stack,
    known_to_careplan,
    make_agency,
    running_stack,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import plan_body
from tests.integration.upstream import Clock

TODAY = agency_today()


@dataclass
class Network:
    """The four services, and monitoring's clock."""

    stack: Stack
    monitoring: httpx.AsyncClient
    app: FastAPI
    clock: Clock


@pytest.fixture(scope="module")
async def network(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Network]:
    async with running_stack(database_url, kafka_bootstrap, pg_pool) as stack:
        clock = Clock(day=TODAY)
        topics = stack.topics

        def monitoring(settings: Settings) -> FastAPI:
            return build(
                settings,
                topics=Topics(
                    monitoring=topics.monitoring,
                    intake=topics.intake,
                    careplan=topics.careplan,
                    directory=topics.directory,
                    closure=topics.closure,
                ),
                today=clock,
                scheduler_seconds=0.2,
            )

        # The careplan stack owns the topics; the harness drops monitoring's schema after.
        async with running_service(
            monitoring,
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            schema=unique_schema("monitoring"),
            base_url="http://monitoring",
        ) as served:
            stack.apps = (*stack.apps, served.app)
            yield Network(stack, served.http, served.app, clock)


async def test_a_case_from_intake_and_careplan_is_followed_up_reviewed_and_evaluated(
    network: Network,
) -> None:
    stack, monitoring = network.stack, network.monitoring
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    headers = home.manager()
    consent = await stack.intake.post(
        f"/cases/{case_id}/consents",
        json={
            "agencies": [home.agency_id],
            "purposes": ["monitoring"],
            "valid_until": "2099-12-31",
        },
        headers=headers,
    )
    assert consent.status_code in (200, 201), consent.text
    await known_to_careplan(stack, case_id)
    drafted = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions", json=plan_body(), headers=headers
    )
    assert drafted.status_code == 201, drafted.text
    agreed = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions/1/agreement",
        json={"agreed_on": TODAY.isoformat()},
        headers=headers,
    )
    assert agreed.status_code == 200, agreed.text

    async def case() -> dict[str, Any] | None:
        answer = await monitoring.get(f"/cases/{case_id}", headers=headers)
        return answer.json() if answer.status_code == 200 else None

    learned = await eventually(
        case,
        lambda c: c is not None and c["plan_version"] == 1 and c["manager_id"] == home.manager_id,
        "the plan and the assignment learned",
    )
    assert learned is not None

    served = await stack.careplan.post(
        f"/cases/{case_id}/direct-services",
        json={
            "service_record_id": "ds-1",
            "kind": "skills_teaching",
            "role": "educator",
            "need_domain": "income",
            "goal_id": "g1",
            "delivered_on": TODAY.isoformat(),
        },
        headers=headers,
    )
    assert served.status_code == 201, served.text
    pool = network.app.state.runtime.pool

    async def progress() -> str | None:
        found: str | None = await pool.fetchval(
            "SELECT progress FROM monitored_items WHERE case_id = $1 AND item_id = 'i-income'",
            case_id,
        )
        return found

    await eventually(progress, lambda p: p == "delivered", "the direct service learned")

    # The consent for follow-up forms came from intake's topic (R4).
    sent = await eventually(
        lambda: monitoring.post(
            f"/cases/{case_id}/forms",
            json={"due_on": (TODAY + timedelta(days=14)).isoformat()},
            headers=headers,
        ),
        lambda r: r.status_code == 201,
        "a form sent under the monitoring consent",
    )
    form_id = sent.json()["record_id"]
    returned = await monitoring.post(
        f"/cases/{case_id}/forms/{form_id}/return",
        json={"answers": [{"question": "helpful", "answer": "not really", "negative": True}]},
        headers=headers,
    )
    assert returned.status_code == 201, returned.text

    for code, score in ((SOCIAL_NETWORK, 8), (SERVICE_PROVIDERS, 11)):
        baseline = await monitoring.post(
            f"/cases/{case_id}/baselines",
            json={"instrument": code, "score": score},
            headers=headers,
        )
        assert baseline.status_code == 201, baseline.text
    review = await monitoring.post(
        f"/cases/{case_id}/reviews",
        json={
            "implementation": 5,
            "goals": [{"goal_id": "g1", "progress": "reached"}],
            "items": [{"item_id": "i-income", "fit": "appropriate"}],
            "new_needs": False,
            "client_satisfied": False,
            "manager_satisfied": True,
            "action": "continue",
            "continue_reason": "client_chose_to_continue",
        },
        headers=headers,
    )
    assert review.status_code == 201, review.text
    followed = await monitoring.post(
        f"/cases/{case_id}/forms/{form_id}/follow-up",
        json={"kind": "review", "review_id": review.json()["record_id"]},
        headers=headers,
    )
    assert followed.status_code == 201, followed.text
    evaluated = await monitoring.post(
        f"/cases/{case_id}/evaluations",
        json={
            "goals": [{"goal_id": "g1", "rating": "achieved"}],
            "scores": {SOCIAL_NETWORK: 14, SERVICE_PROVIDERS: 15},
            "no_further_service_needed": False,
        },
        headers=headers,
    )
    assert evaluated.status_code == 201, evaluated.text
    final = await case()
    assert final is not None and final["planned_termination_permitted"]

    # Past the next review (a quarter on) and the item's end: the delivered item is never
    # delayed; only the review is overdue.
    network.clock.day = TODAY + timedelta(days=91)
    board = await eventually(
        lambda: monitoring.get("/board", headers=home.supervisor_auth()),
        lambda r: (
            case_id in [e["case_id"] for e in r.json()["reviews_overdue"]]
            if r.status_code == 200
            else False
        ),
        "nothing but the next review overdue",
    )
    assert case_id not in [e["case_id"] for e in board.json()["delayed_items"]]
    assert board.json()["negative_forms_without_follow_up"] == []
