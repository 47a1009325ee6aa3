"""The directory keeps the contract every service's API keeps (`ServiceContract`).

Its command is registering an agency; its race is two network administrators registering
the same agency at once (an agency is registered once).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from services.directory.bootstrap import Topics, build
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, unique
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission


class TestDirectoryContract(ServiceContract):
    service_name = "directory"
    topics = ("directory", "intake", "closure")
    allowed = Member(Role.NETWORK_ADMIN, "network", "admin-contract")
    refused = Member(Role.AUDITOR, "network", "auditor-contract")

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        return build(settings, topics=Topics(**topics))

    def _registration(self, served: RunningService, agency_id: str) -> Submission:
        body = {"agency_id": agency_id, "name": "Contract Welfare Centre", "region": "Seoul"}
        return Submission("POST", "/agencies", body, self.auth(served, self.allowed))

    async def command(self, served: RunningService) -> Submission:
        return self._registration(served, unique("ag"))

    async def invalid_command(self, served: RunningService) -> Submission:
        body = {"agency_id": unique("ag"), "name": "Contract", "region": {"where": SECRET}}
        return Submission("POST", "/agencies", body, self.auth(served, self.allowed))

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        agency_id = unique("ag")
        return self._registration(served, agency_id), self._registration(served, agency_id)
