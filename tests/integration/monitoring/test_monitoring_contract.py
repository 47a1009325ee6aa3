"""Monitoring keeps the contract every service's API keeps (`ServiceContract`).

Its command is mailing a follow-up form on a case with a plan in force and a consent for
monitoring (R4); its race is two returns of the same form at once (a form comes back once,
R6d). Monitoring learns its cases from intake's and careplan's topics alone, so the app runs
beside those services' event stores, whose relays publish their real contract events to the
topics it reads (the stack of `conftest.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict
from datetime import timedelta

import asyncpg
import pytest
from fastapi import FastAPI

from services.monitoring.bootstrap import Topics, build
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, running_service
from tests.integration.monitoring.conftest import (
    Agency,
    Running,
    case_in_force,
    first_week,
    stack_of,
)
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission

ANSWERS = {"answers": [{"question": "contact_ok", "answer": "yes", "negative": False}]}


class TestMonitoringContract(ServiceContract):
    service_name = "monitoring"
    topics = ("monitoring", "intake", "careplan", "directory", "closure")
    allowed = Member(Role.CASE_MANAGER, "ag-contract", "cm-contract")
    refused = Member(Role.AUDITOR, "network", "auditor-contract")

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        # On the stack's calendar: a week into the plans `case_in_force` agrees, when nothing
        # is overdue yet, so no scheduler append races the contract's commands.
        return build(settings, topics=Topics(**topics), today=first_week())

    @pytest.fixture(scope="class")
    @classmethod
    async def served(
        cls, database_url: str, kafka_bootstrap: str, pg_pool: asyncpg.Pool
    ) -> AsyncIterator[RunningService]:
        """As the base class's, but on topics that intake's and careplan's stores publish
        to (a case must be learned before any command), with the two principals recorded."""
        contract = cls()
        async with (
            stack_of(database_url, kafka_bootstrap, pg_pool) as stack,
            running_service(
                lambda settings: contract.build(settings, asdict(stack.topics)),
                database_url=database_url,
                kafka_bootstrap=kafka_bootstrap,
                schema=stack.schema,
                drop_schema=False,  # the stack drops it, with the upstream schemas
                base_url=f"http://{cls.service_name}",
            ) as running,
        ):
            for member in (cls.allowed, cls.refused):
                await running.as_member(member.role, member.agency_id, member.staff_id)
            yield Running(running.app, running.http, running.settings, running.schema, stack)

    async def _case(self, served: RunningService) -> str:
        """A case of the allowed member's agency, assigned to them, consented for monitoring
        and with plan version 1 in force, learned from intake's and careplan's topics."""
        assert isinstance(served, Running), "served by this class's own fixture"
        manager = self.auth(served, self.allowed)
        agency = Agency(
            self.allowed.agency_id, manager, manager, manager, manager_id=self.allowed.staff_id
        )
        return await case_in_force(served, agency)

    async def command(self, served: RunningService) -> Submission:
        case_id = await self._case(served)
        due_on = first_week()() + timedelta(days=14)
        body = {"due_on": due_on.isoformat()}
        return Submission("POST", f"/cases/{case_id}/forms", body, self.auth(served, self.allowed))

    async def invalid_command(self, served: RunningService) -> Submission:
        body = {"due_on": SECRET}
        return Submission(
            "POST", "/cases/case-contract/forms", body, self.auth(served, self.allowed)
        )

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        sent = await (await self.command(served)).send(served.http)
        assert sent.status_code == 201, sent.text
        path = f"{sent.request.url.path}/{sent.json()['record_id']}/return"
        headers = self.auth(served, self.allowed)
        return Submission("POST", path, ANSWERS, headers), Submission(
            "POST", path, ANSWERS, headers
        )
