"""What the fuzzer sends requests to: one running app, its principals, real records and seeds.

Intake and the directory are fuzzed on the running network (`test_fuzz.fuzzed`). Careplan,
monitoring, closure and projections are fuzzed each alone, as `ServiceContract.served` runs a
service: on a schema and topics of its own, its principals recorded straight into its members
(no directory beside it), and one case it learned from real upstream events (intake's, and for
monitoring careplan's plan in force) published by the kit's relay to its topics, so that
generated requests reach a real case as well as unknown ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from services.careplan.bootstrap import Topics as CareplanTopics
from services.careplan.bootstrap import build as build_careplan
from services.careplan.contract import PlanAgreed, PlanGoal, PlanVersionDrafted
from services.closure.bootstrap import Topics as ClosureTopics
from services.closure.bootstrap import build as build_closure
from services.monitoring.bootstrap import Topics as MonitoringTopics
from services.monitoring.bootstrap import build as build_monitoring
from services.projections.bootstrap import Topics as ProjectionsTopics
from services.projections.bootstrap import build as build_projections
from shared.application import CommandContext
from shared.envelope import Actor, DomainEvent, Role, registry
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore
from tests.harness import RunningService, eventually, running_service, unique_schema, unique_topic
from tests.integration.careplan.intake_events import assigned_case
from tests.integration.monitoring.conftest import plan_items, review_body


@dataclass(frozen=True)
class Seed:
    """A request that reaches past validation: a body and query of real records, to vary."""

    body: dict[str, Any] | None = None
    query: dict[str, Any] | None = None


@dataclass(frozen=True)
class Target:
    """A running app to fuzz, who may call it, and requests that reach its records."""

    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings
    members: Mapping[Role, tuple[str, str]]
    """role -> (agency id, staff id) of a member with standing in the app."""
    records: dict[str, list[str]] = field(default_factory=dict)
    """path parameter -> real ids the app holds."""
    seeds: dict[str, Seed] = field(default_factory=dict)
    """operation -> a request the app takes in."""


AGENCY = "ag-fuzz-alone"
MANAGER = "cm-fuzz"
MEMBERS: dict[Role, tuple[str, str]] = {
    Role.CASE_MANAGER: (AGENCY, MANAGER),
    Role.SUPERVISOR: (AGENCY, "sup-fuzz"),
    Role.AGENCY_ADMIN: (AGENCY, "adm-fuzz"),
    Role.AUDITOR: ("network", "auditor-fuzz"),
    Role.NETWORK_ADMIN: ("network", "netadmin-fuzz"),
}
"""The principals recorded in every service fuzzed alone, one per role."""

ACTIVATED = date.today() - timedelta(days=7)
"""The plan monitoring's real case has in force: a week old, so nothing is overdue yet."""


async def publish(
    pool: asyncpg.Pool,
    kafka_bootstrap: str,
    topic: str,
    service: str,
    case_id: str,
    events: list[DomainEvent],
) -> None:
    """Append `events` to a `service` store of their own and publish them to `topic`."""
    schema = unique_schema(f"{service}_feed")
    store = EventStore(pool, service, schema=schema, events=registry)
    await store.migrate()
    context = CommandContext(agency_id=AGENCY, actor=Actor(staff_id=MANAGER, role=Role.SYSTEM))
    await store.append(case_id, 0, [context.envelope(case_id, e) for e in events])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        await Relay(store, producer, topic=topic).drain()
    finally:
        await producer.stop()
        await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _plan() -> list[DomainEvent]:
    goals = tuple(
        PlanGoal(goal_id=g, target_date=ACTIVATED + timedelta(days=90), strengths=("family",))
        for g in ("goal-1", "goal-2")
    )
    return [
        PlanVersionDrafted(
            plan_version=1, plan_date=ACTIVATED, goals=goals, items=plan_items(ACTIVATED)
        ),
        PlanAgreed(plan_version=1, in_force_from=ACTIVATED, declined_items=()),
    ]


def _today(days: int = 0) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


@dataclass(frozen=True)
class Alone:
    """How one service is built on topics of its own, learns its case and is seeded."""

    topics: tuple[str, ...]
    build: Callable[[Settings, Mapping[str, str]], FastAPI]
    learned: Callable[[RunningService, str], Any]
    """Polls what the app knows of the case: truthy once it learned it."""
    seeds: Callable[[], dict[str, Seed]]


def _careplan_seeds() -> dict[str, Seed]:
    return {
        "POST /cases/{case_id}/crisis-interventions": Seed(
            {
                "intervention_id": "ci-1",
                "risk": "homelessness",
                "role": "implementer",
                "delivered_on": _today(),
            }
        ),
        "POST /cases/{case_id}/plan-versions": Seed(
            {
                "plan_date": _today(),
                "goals": [
                    {
                        "goal_id": "g1",
                        "wording": "A safe home",
                        "target_date": _today(90),
                        "strengths": ["motivation"],
                    }
                ],
                "items": [
                    {
                        "item_id": "i-1",
                        "need_domain": "housing",
                        "goal_id": "g1",
                        "delivery": "own_agency",
                        "start_on": _today(),
                        "end_on": _today(60),
                    }
                ],
                "unaddressed": [{"need_domain": "income", "reason": "client_declined"}],
            }
        ),
    }


def _monitoring_seeds() -> dict[str, Seed]:
    return {
        "POST /cases/{case_id}/reviews": Seed(review_body()),
        "POST /cases/{case_id}/visits": Seed({"visited_on": _today()}),
        "POST /cases/{case_id}/forms": Seed({"due_on": _today(14)}),
        "POST /cases/{case_id}/baselines": Seed(
            {"instrument": "phq9", "score": 10, "scored_on": _today()}
        ),
    }


def _closure_seeds() -> dict[str, Seed]:
    return {
        "POST /cases/{case_id}/termination": Seed({"reason": "client_died"}),
    }


ALONE: dict[str, Alone] = {
    "careplan": Alone(
        ("careplan", "intake", "directory", "monitoring", "closure"),
        lambda settings, topics: build_careplan(settings, topics=CareplanTopics(**topics)),
        lambda served, case_id: served.pool.fetchval(
            "SELECT assigned FROM case_facts WHERE case_id = $1", case_id
        ),
        _careplan_seeds,
    ),
    "monitoring": Alone(
        ("monitoring", "intake", "careplan", "directory", "closure"),
        lambda settings, topics: build_monitoring(settings, topics=MonitoringTopics(**topics)),
        lambda served, case_id: served.pool.fetchval(
            "SELECT plan_version FROM monitored_cases WHERE case_id = $1", case_id
        ),
        _monitoring_seeds,
    ),
    "closure": Alone(
        ("closure", "intake", "careplan", "monitoring", "directory"),
        lambda settings, topics: build_closure(settings, topics=ClosureTopics(**topics)),
        lambda served, case_id: served.pool.fetchval(
            "SELECT manager_id FROM closure_cases WHERE case_id = $1", case_id
        ),
        _closure_seeds,
    ),
    "projections": Alone(
        ("projections", "intake", "careplan", "monitoring", "closure", "directory"),
        lambda settings, topics: build_projections(settings, topics=ProjectionsTopics(**topics)),
        lambda served, case_id: served.pool.fetchval(
            "SELECT manager_id FROM journeys WHERE case_id = $1", case_id
        ),
        dict,
    ),
}


class AloneServices:
    """Careplan, monitoring, closure and projections, each started alone when a test first asks."""

    def __init__(self, database_url: str, kafka_bootstrap: str, exits: AsyncExitStack) -> None:
        self.database_url = database_url
        self.kafka_bootstrap = kafka_bootstrap
        self.exits = exits
        self.started: dict[str, Target] = {}

    async def target(self, service: str) -> Target:
        """The running service, its case learned; started once."""
        if service not in self.started:
            self.started[service] = await self._start(service, ALONE[service])
        return self.started[service]

    async def _start(self, service: str, alone: Alone) -> Target:
        topics = {name: unique_topic(name) for name in alone.topics}
        served = await self.exits.enter_async_context(
            running_service(
                lambda settings: alone.build(settings, topics),
                database_url=self.database_url,
                kafka_bootstrap=self.kafka_bootstrap,
                schema=unique_schema(service),
                topics=tuple(topics.values()),
                base_url=f"http://{service}",
            )
        )
        for role, (agency_id, staff_id) in MEMBERS.items():
            await served.as_member(role, agency_id, staff_id)
        case_id = f"case-fuzz-{service}"
        await publish(
            served.pool,
            self.kafka_bootstrap,
            topics["intake"],
            "intake",
            case_id,
            assigned_case(AGENCY, MANAGER),
        )
        if service == "monitoring":
            await publish(
                served.pool, self.kafka_bootstrap, topics["careplan"], "careplan", case_id, _plan()
            )
        await eventually(lambda: alone.learned(served, case_id), bool, f"{service} learned")
        return Target(
            served.app,
            served.http,
            served.settings,
            MEMBERS,
            {"case_id": [case_id], "agency_id": [AGENCY], "version": ["1"]},
            alone.seeds(),
        )
