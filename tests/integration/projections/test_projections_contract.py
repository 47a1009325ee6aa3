"""Projections keeps the API contract every service keeps (`ServiceContract`).

Projections takes no command, so the contract runs as for a read-only service
(`read_only`): its "command" is the network figures an auditor reads and a case manager is
refused (403), its invalid one carries `SECRET` as a case id in the path, and the race test
does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from fastapi import FastAPI

from services.projections.bootstrap import Topics, build
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission

AGENCY = "ag-proj-contract"


class TestProjectionsContract(ServiceContract):
    service_name = "projections"
    topics = ("projections", "intake", "careplan", "monitoring", "closure", "directory")
    allowed: ClassVar[Member] = Member(Role.AUDITOR, "network", "auditor-contract")
    refused: ClassVar[Member] = Member(Role.CASE_MANAGER, AGENCY, "cm-contract")
    read_only = True

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        return build(settings, topics=Topics(**topics))

    async def command(self, served: RunningService) -> Submission:
        return Submission("GET", "/network/figures", None, self.auth(served, self.allowed))

    async def invalid_command(self, served: RunningService) -> Submission:
        return Submission("GET", f"/cases/{SECRET}/journey", None, self.auth(served, self.allowed))
