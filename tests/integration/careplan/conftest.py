"""Careplan on the real broker and database, beside the directory and intake that feed it.

One set of apps serves every careplan integration test, each in a schema of its own and on
topics of their own (`caseline.test-*.v1`), wired as in production: the directory's agencies,
services and staff and intake's cases reach careplan over Kafka. Every test uses agencies of
its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.careplan.bootstrap import Topics as CareplanTopics
from services.careplan.bootstrap import build as build_careplan
from services.directory.bootstrap import Topics as DirectoryTopics
from services.directory.bootstrap import build as build_directory
from services.intake.bootstrap import Topics as IntakeTopics
from services.intake.bootstrap import build as build_intake
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, bearer, running_service, unique_schema, unique_topic
from tests.harness import eventually as eventually
from tests.harness import unique as unique
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import enroll_in_directory, until_known


@dataclass
class Stack:
    """The running apps and what the tests need around them."""

    careplan: httpx.AsyncClient
    intake: httpx.AsyncClient
    directory: httpx.AsyncClient
    settings: Settings
    schema: str
    pg_pool: asyncpg.Pool
    careplan_app: FastAPI
    apps: tuple[FastAPI, ...]
    topics: CareplanTopics
    database_url: str
    kafka_bootstrap: str

    def serve(
        self,
        build: Callable[[Settings], FastAPI],
        *,
        schema: str,
        base_url: str,
        drop_schema: bool = True,
    ) -> AbstractAsyncContextManager[RunningService]:
        """Another app beside the stack, on its database and broker, in `schema`
        (`running_service`: handed over healthy, its schema dropped after unless kept)."""
        return running_service(
            build,
            database_url=self.database_url,
            kafka_bootstrap=self.kafka_bootstrap,
            schema=schema,
            base_url=base_url,
            drop_schema=drop_schema,
        )

    def auth(self, role: Role, agency_id: str, staff_id: str) -> dict[str, str]:
        return bearer(self.settings, role, agency_id, staff_id)

    def network_admin(self) -> dict[str, str]:
        return self.auth(Role.NETWORK_ADMIN, "network", "netadmin-1")

    def auditor(self) -> dict[str, str]:
        return self.auth(Role.AUDITOR, "network", "auditor-1")

    async def events_in(self, case_id: str) -> list[str]:
        rows = await self.pg_pool.fetch(
            f'SELECT event_type FROM "{self.schema}".events WHERE case_id = $1 '
            "ORDER BY stream_version",
            case_id,
        )
        return [r["event_type"] for r in rows]

    async def payloads_in(self, case_id: str) -> list[str]:
        rows = await self.pg_pool.fetch(
            f'SELECT payload::text AS p FROM "{self.schema}".events WHERE case_id = $1',
            case_id,
        )
        return [r["p"] for r in rows]

    async def until_known(self, agency_id: str, staff_id: str, role: Role) -> None:
        for app in self.apps:
            await until_known(app.state.runtime.pool, agency_id, staff_id, role)


@asynccontextmanager
async def running_stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    """Directory, intake and careplan on schemas and topics of their own; dropped after."""
    topics = CareplanTopics(
        **{
            name: unique_topic(name)
            for name in ("careplan", "intake", "directory", "monitoring", "closure")
        }
    )
    directory_topics = DirectoryTopics(
        directory=topics.directory, intake=topics.intake, closure=topics.closure
    )
    intake_topics = IntakeTopics(
        intake=topics.intake, directory=topics.directory, closure=topics.closure
    )
    infra: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap}
    async with (
        fresh_topics(
            kafka_bootstrap,
            topics.careplan,
            topics.intake,
            topics.directory,
            topics.monitoring,
            topics.closure,
        ),
        running_service(
            lambda settings: build_directory(settings, topics=directory_topics),
            schema=unique_schema("directory"),
            base_url="http://directory",
            **infra,
        ) as directory,
        running_service(
            lambda settings: build_intake(settings, topics=intake_topics),
            schema=unique_schema("intake"),
            base_url="http://intake",
            **infra,
        ) as intake,
        running_service(
            lambda settings: build_careplan(settings, topics=topics),
            schema=unique_schema("careplan"),
            base_url="http://careplan",
            **infra,
        ) as careplan,
    ):
        store = directory.app.state.runtime.store
        await enroll_in_directory(store, "netadmin-1")
        await enroll_in_directory(store, "auditor-1", "auditor")
        stack = Stack(
            careplan.http,
            intake.http,
            directory.http,
            careplan.settings,
            careplan.schema,
            pg_pool,
            careplan.app,
            (directory.app, intake.app, careplan.app),
            topics,
            database_url,
            kafka_bootstrap,
        )
        await stack.until_known("network", "netadmin-1", Role.NETWORK_ADMIN)
        await stack.until_known("network", "auditor-1", Role.AUDITOR)
        yield stack


@pytest.fixture(scope="package")
async def stack(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Stack]:
    async with running_stack(database_url, kafka_bootstrap, pg_pool) as running:
        yield running


@dataclass(frozen=True)
class Agency:
    """An agency of the directory with a supervisor and a case manager, known to all three."""

    stack: Stack
    agency_id: str
    supervisor: str
    manager_id: str
    admin: str

    def manager(self) -> dict[str, str]:
        return self.stack.auth(Role.CASE_MANAGER, self.agency_id, self.manager_id)

    def supervisor_auth(self) -> dict[str, str]:
        return self.stack.auth(Role.SUPERVISOR, self.agency_id, self.supervisor)

    def admin_auth(self) -> dict[str, str]:
        return self.stack.auth(Role.AGENCY_ADMIN, self.agency_id, self.admin)


async def directory_post(stack: Stack, url: str, body: dict[str, Any]) -> None:
    answer = await stack.directory.post(url, json=body, headers=stack.network_admin())
    assert answer.status_code == 201, answer.text


async def make_agency(stack: Stack, services: dict[str, tuple[str, int]] | None = None) -> Agency:
    """Register an agency, its staff and services (id: (need, capacity)); wait until known."""
    agency_id = unique("ag")
    await directory_post(
        stack, "/agencies", {"agency_id": agency_id, "name": "복지관", "region": "Seoul"}
    )
    for service_id, (need, capacity) in (services or {}).items():
        await directory_post(
            stack,
            f"/agencies/{agency_id}/services",
            {
                "service_id": service_id,
                "name": "Service",
                "need_domain": need,
                "resource": "formal",
                "capacity": capacity,
            },
        )
    staff = {
        "supervisor": unique("sup"),
        "agency_admin": unique("adm"),
        "case_manager": unique("cm"),
    }
    for role, staff_id in staff.items():
        body: dict[str, Any] = {
            "staff_id": staff_id,
            "name": "Staff",
            "role": role,
            "joined_on": "2024-01-02",
        }
        if role == "case_manager":
            body["caseload_limit"] = 10
        await directory_post(stack, f"/agencies/{agency_id}/staff", body)
    # One agency's events travel in order on one partition: the last one known, all are.
    await stack.until_known(agency_id, staff["case_manager"], Role.CASE_MANAGER)
    return Agency(
        stack, agency_id, staff["supervisor"], staff["case_manager"], staff["agency_admin"]
    )


def resident_number(born: date, serial: str) -> str:
    """A made-up resident number for `born`: YYMMDD, the serial, and the check digit."""
    digits = born.strftime("%y%m%d") + serial
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    check = (11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11) % 10
    return f"{digits[:6]}-{digits[6:]}{check}"


def person() -> dict[str, Any]:
    born = date(1958, 3, 14)
    return {
        "name": unique("Test Person"),
        "birth_date": born.isoformat(),
        "resident_number": resident_number(born, "134567"),
        "phone": "010-5555-0000",
        "address": "서울특별시 마포구 성미산로 1",
        "preferred_language": "ko",
    }


async def through_intake(
    agency: Agency,
    *,
    link_to: tuple[str, ...] = (),
    assign: bool = True,
    interpreter: bool = False,
) -> tuple[str, str]:
    """A case through intake: registered, consented (linking to `link_to`), screened, assessed
    (housing and income, a crisis), and assigned unless not; returns (case id, client id)."""
    http, headers = agency.stack.intake, agency.manager()
    opened = await http.post("/cases", json={"source": "walk_in"}, headers=headers)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    registered = await http.post(
        f"/cases/{case_id}/registration",
        json=person() | {"confirm_new_client": True},
        headers=headers,
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "consents",
            {
                "agencies": [agency.agency_id, *link_to],
                "purposes": ["case_management", "service_linking"],
                "valid_until": "2099-12-31",
            },
        ),
        ("screening", {"outcome": "eligible", "presenting_problems": ["housing", "income"]}),
        (
            "assessment",
            {
                "needs": [
                    {"domain": "housing", "severity": "critical"},
                    {"domain": "income", "severity": "moderate"},
                ],
                "strengths": ["family_support", "motivation"],
                "risks": [{"kind": "homelessness", "level": "critical"}],
                "crisis": True,
                "interpreter_needed": interpreter,
                "cultural_needs": "통역 필요" if interpreter else None,
            },
        ),
    ]
    if assign:
        steps.append(("assignment", {"staff_id": agency.manager_id}))
    for step, body in steps:
        answer = await http.post(f"/cases/{case_id}/{step}", json=body, headers=headers)
        assert answer.status_code in (200, 201), f"{step}: {answer.text}"
    return case_id, client_id


async def known_to_careplan(stack: Stack, case_id: str, *, assigned: bool = True) -> None:
    """Wait until careplan's facts consumer applied the case's intake events."""
    pool = stack.careplan_app.state.runtime.pool

    async def probe() -> Any:
        return await pool.fetchrow(
            "SELECT assigned, client_id FROM case_facts WHERE case_id = $1", case_id
        )

    await eventually(
        probe,
        lambda row: row is not None and row["assigned"] == assigned and row["client_id"],
        f"case {case_id} known to careplan",
    )
