"""Intake keeps the contract every service's API keeps (`ServiceContract`).

Its command is opening a case; its race is two registrations of one case at once (intake
accepts one client per case, R1).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from services.intake.bootstrap import Topics, build
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService
from tests.integration.intake.conftest import person
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission


class TestIntakeContract(ServiceContract):
    service_name = "intake"
    topics = ("intake", "directory")
    allowed = Member(Role.CASE_MANAGER, "ag-contract", "cm-contract")
    refused = Member(Role.AUDITOR, "network", "auditor-contract")

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        return build(
            settings, topics=Topics(intake=topics["intake"], directory=topics["directory"])
        )

    async def command(self, served: RunningService) -> Submission:
        return Submission("POST", "/cases", {"source": "walk_in"}, self.auth(served, self.allowed))

    async def invalid_command(self, served: RunningService) -> Submission:
        return Submission("POST", "/cases", {"source": SECRET}, self.auth(served, self.allowed))

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        opened = await (await self.command(served)).send(served.http)
        assert opened.status_code == 201, opened.text
        path = f"/cases/{opened.json()['case_id']}/registration"
        headers = self.auth(served, self.allowed)
        return (
            Submission("POST", path, person("Racer One"), headers),
            Submission("POST", path, person("Racer Two"), headers),
        )
