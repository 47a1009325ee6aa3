"""Two real services on the real broker and database: the directory and intake.

One pair of apps serves every intake integration test: each in a schema of its own and on
topics of their own (`caseline.test-*.v1`), wired to each other the way they are in
production: the directory's staff reach intake's roster through Kafka, and intake's
assignments reach the directory's caseloads the same way. Every test uses agencies of its
own, so tests never see each other's staff or cases.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.directory.bootstrap import Topics as DirectoryTopics
from services.directory.bootstrap import build as build_directory
from services.intake.bootstrap import Topics, build
from services.intake.domain.rrn import make_resident_number
from shared.envelope import Role
from shared.settings import Settings
from shared.store import create_pool
from tests.harness import bearer, running_service, unique_schema, unique_topic
from tests.harness import eventually as eventually
from tests.harness import unique as unique
from tests.integration.kafka_reading import fresh_topics
from tests.integration.members import enroll_in_directory, until_known


@dataclass(frozen=True)
class Network:
    """The running directory and intake apps, and what the tests need around them."""

    intake: httpx.AsyncClient
    directory: httpx.AsyncClient
    settings: Settings
    schema: str
    directory_schema: str
    topics: Topics
    pool: asyncpg.Pool
    service_pool: asyncpg.Pool
    """A pool like intake's own: its schema on the search path (unqualified tables)."""
    intake_app: FastAPI
    """The running intake app itself (its state holds the ports its routes use)."""
    directory_app: FastAPI

    def auth(self, role: Role, agency_id: str, staff_id: str = "staff-x") -> dict[str, str]:
        return bearer(self.settings, role, agency_id, staff_id)

    def network_admin(self) -> dict[str, str]:
        """Network administrator netadmin-1, enrolled in the directory when the network started."""
        return self.auth(Role.NETWORK_ADMIN, "network", "netadmin-1")

    def auditor(self) -> dict[str, str]:
        """Network auditor auditor-1, enrolled in the directory when the network started."""
        return self.auth(Role.AUDITOR, "network", "auditor-1")

    async def until_known(self, agency_id: str, staff_id: str, role: Role) -> None:
        """Wait until both services learned the member from the directory's topic."""
        for app in (self.directory_app, self.intake_app):
            await until_known(app.state.runtime.pool, agency_id, staff_id, role)

    async def events_in(self, case_id: str) -> list[str]:
        rows = await self.pool.fetch(
            f'SELECT event_type FROM "{self.schema}".events WHERE case_id = $1 '
            "ORDER BY stream_version",
            case_id,
        )
        return [r["event_type"] for r in rows]

    async def vault_rows(self) -> int:
        count: int = await self.pool.fetchval(f'SELECT count(*) FROM "{self.schema}".pii_vault')
        return count


@asynccontextmanager
async def running_network(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Network]:
    """Start a directory and an intake app on topics and schemas of their own; drop them after."""
    topics = Topics(
        intake=unique_topic("intake"),
        directory=unique_topic("directory"),
        closure=unique_topic("closure"),
    )
    schema, directory_schema = unique_schema("intake"), unique_schema("directory")
    infra: dict[str, Any] = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap}
    directory_topics = DirectoryTopics(
        directory=topics.directory, intake=topics.intake, closure=topics.closure
    )
    service_pool: asyncpg.Pool | None = None
    async with (
        fresh_topics(kafka_bootstrap, topics.intake, topics.directory, topics.closure),
        running_service(
            lambda settings: build_directory(settings, topics=directory_topics),
            schema=directory_schema,
            base_url="http://directory",
            **infra,
        ) as directory,
        running_service(
            lambda settings: build(settings, topics=topics),
            schema=schema,
            base_url="http://intake",
            **infra,
        ) as intake,
    ):
        try:
            service_pool = await create_pool(database_url, max_size=4, search_path=schema)
            # Every token the tests mint is for a registered member: the network's own are
            # enrolled the way `caseline enroll` does, and learned by both over Kafka.
            store = directory.app.state.runtime.store
            await enroll_in_directory(store, "netadmin-1")
            await enroll_in_directory(store, "auditor-1", "auditor")
            for running in (directory, intake):
                await until_known(running.pool, "network", "netadmin-1", Role.NETWORK_ADMIN)
                await until_known(running.pool, "network", "auditor-1", Role.AUDITOR)
            yield Network(
                intake.http,
                directory.http,
                intake.settings,
                schema,
                directory_schema,
                topics,
                pg_pool,
                service_pool,
                intake.app,
                directory.app,
            )
        finally:
            if service_pool is not None:
                await service_pool.close()


@pytest.fixture(scope="package")
async def network(
    database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
) -> AsyncIterator[Network]:
    async with running_network(database_url, kafka_bootstrap, pg_pool) as net:
        yield net


@dataclass(frozen=True)
class Agency:
    """An agency registered in the directory, with a supervisor and case managers."""

    net: Network
    agency_id: str
    supervisor: str
    managers: tuple[str, ...]

    def manager(self, staff_id: str | None = None) -> dict[str, str]:
        return self.net.auth(Role.CASE_MANAGER, self.agency_id, staff_id or self.managers[0])

    def supervisor_auth(self) -> dict[str, str]:
        return self.net.auth(Role.SUPERVISOR, self.agency_id, self.supervisor)

    async def caseloads(self) -> dict[str, Any]:
        answer = await self.net.intake.get(
            f"/agencies/{self.agency_id}/caseloads", headers=self.supervisor_auth()
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


async def directory_post(net: Network, url: str, body: dict[str, Any], expect: int = 201) -> None:
    answer = await net.directory.post(url, json=body, headers=net.network_admin())
    assert answer.status_code == expect, answer.text


@pytest.fixture
async def agency(network: Network) -> Agency:
    """A fresh agency with a supervisor and two case managers (limits 3 and 1), on the roster."""
    return await make_agency(network, {"cm-a": 3, "cm-b": 1})


@pytest.fixture
async def elsewhere(network: Network) -> Agency:
    """Another agency of the network, with one case manager of its own."""
    return await make_agency(network, {"cm-stranger": 1})


async def add_staff(net: Network, agency_id: str, role: Role) -> dict[str, str]:
    """A new staff member of `agency_id` with `role`, once both services know them: their token."""
    staff_id = unique(role.value)
    body: dict[str, Any] = {
        "staff_id": staff_id,
        "name": "Staff",
        "role": role.value,
        "joined_on": "2024-01-02",
    }
    if role is Role.CASE_MANAGER:
        body["caseload_limit"] = 3
    await directory_post(net, f"/agencies/{agency_id}/staff", body)
    await net.until_known(agency_id, staff_id, role)
    return net.auth(role, agency_id, staff_id)


async def make_agency(net: Network, managers: dict[str, int]) -> Agency:
    """Register an agency and its staff in the directory; wait until intake's roster has them."""
    agency_id = unique("ag")
    await directory_post(
        net, "/agencies", {"agency_id": agency_id, "name": "마포종합사회복지관", "region": "Seoul"}
    )
    supervisor = unique("sup")
    await directory_post(
        net,
        f"/agencies/{agency_id}/staff",
        {
            "staff_id": supervisor,
            "name": "Supervisor",
            "role": "supervisor",
            "joined_on": "2024-01-02",
        },
    )
    ids: list[str] = []
    for name, limit in managers.items():
        staff_id = unique(name)
        ids.append(staff_id)
        await directory_post(
            net,
            f"/agencies/{agency_id}/staff",
            {
                "staff_id": staff_id,
                "name": name,
                "role": "case_manager",
                "caseload_limit": limit,
                "joined_on": "2024-01-02",
            },
        )
    made = Agency(net, agency_id, supervisor, tuple(ids))
    # One agency's events travel in order on one partition: the last one known, all are.
    last = (ids[-1], Role.CASE_MANAGER) if ids else (supervisor, Role.SUPERVISOR)
    await net.until_known(agency_id, *last)
    await eventually(
        made.caseloads,
        lambda board: len(board["staff"]) == len(managers) + 1,
        "on intake's roster (directory -> Kafka -> intake)",
    )
    return made


def person(tag: str = "", born: date = date(1961, 5, 17), serial: str = "234567") -> dict[str, Any]:
    """Registration details of a made-up person (a valid resident number for the birth date)."""
    return {
        "name": f"Test Person {tag or uuid.uuid4().hex[:6]}",
        "birth_date": born.isoformat(),
        "resident_number": make_resident_number(born, serial),
        "phone": "010-5555-0000",
        "address": "서울특별시 마포구 성미산로 1",
        "preferred_language": "ko",
    }


CONSENT_UNTIL = "2099-12-31"


async def through_intake(
    agency: Agency,
    details: dict[str, Any] | None = None,
    *,
    assign_to: str | None = None,
    cultural_needs: str | None = None,
) -> tuple[str, str]:
    """Open a case and take it through registration, consent, screening, assessment and
    assignment; returns (case id, client id)."""
    http, headers = agency.net.intake, agency.manager()
    opened = await http.post("/cases", json={"source": "walk_in"}, headers=headers)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    registered = await http.post(
        f"/cases/{case_id}/registration", json=details or person(), headers=headers
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    steps: list[tuple[str, dict[str, Any]]] = [
        (
            "consents",
            {
                "agencies": [agency.agency_id],
                "purposes": ["case_management", "referral"],
                "valid_until": CONSENT_UNTIL,
            },
        ),
        (
            "screening",
            {"outcome": "eligible", "presenting_problems": ["housing", "income", "mental_health"]},
        ),
        (
            "assessment",
            {
                "needs": [
                    {"domain": "housing", "severity": "high"},
                    {"domain": "mental_health", "severity": "moderate"},
                ],
                "strengths": ["family_support"],
                "risks": [{"kind": "homelessness", "level": "high"}],
                "interpreter_needed": False,
                "cultural_needs": cultural_needs,
            },
        ),
        ("assignment", {"staff_id": assign_to or agency.managers[0]}),
    ]
    for step, body in steps:
        answer = await http.post(f"/cases/{case_id}/{step}", json=body, headers=headers)
        assert answer.status_code in (200, 201), f"{step}: {answer.text}"
    return case_id, client_id
