"""Careplan keeps the contract every service's API keeps (`ServiceContract`).

Its command is a crisis intervention on a case careplan learned from intake's real events
(published by the kit's relay to the test's intake topic); its race is two agreements to
the same drafted version (a version is agreed to once, R4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from services.careplan.bootstrap import Topics, build
from shared.clock import agency_today
from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, eventually, unique
from tests.integration.careplan.intake_events import publish_intake_case
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission

AGENCY = "ag-careplan-contract"


class TestCareplanContract(ServiceContract):
    service_name = "careplan"
    topics = ("careplan", "intake", "directory", "monitoring", "closure")
    allowed = Member(Role.CASE_MANAGER, AGENCY, "cm-contract")
    refused = Member(Role.AGENCY_ADMIN, AGENCY, "admin-contract")
    intake_topic: str = ""

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        type(self).intake_topic = topics["intake"]
        return build(settings, topics=Topics(**topics))

    async def _case(self, served: RunningService) -> str:
        """A case assigned at intake, once careplan has learned it."""
        case_id = await publish_intake_case(
            served.pool,
            served.settings.kafka_bootstrap_servers,
            type(self).intake_topic,
            AGENCY,
            self.allowed.staff_id,
        )

        async def assigned() -> Any:
            return await served.pool.fetchval(
                "SELECT assigned FROM case_facts WHERE case_id = $1", case_id
            )

        await eventually(assigned, lambda found: found is True, f"case {case_id} learned")
        return case_id

    def _crisis(self, served: RunningService, case_id: str, risk: str) -> Submission:
        body = {
            "intervention_id": unique("ci"),
            "risk": risk,
            "role": "implementer",
            "delivered_on": agency_today().isoformat(),
        }
        path = f"/cases/{case_id}/crisis-interventions"
        return Submission("POST", path, body, self.auth(served, self.allowed))

    async def command(self, served: RunningService) -> Submission:
        return self._crisis(served, await self._case(served), "homelessness")

    async def invalid_command(self, served: RunningService) -> Submission:
        return self._crisis(served, await self._case(served), SECRET)

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        case_id = await self._case(served)
        today = agency_today().isoformat()
        plan = {
            "plan_date": today,
            "goals": [
                {
                    "goal_id": "g1",
                    "wording": "Keep the home",
                    "target_date": today,
                    "strengths": ["motivation"],
                }
            ],
            "items": [],
            "unaddressed": [
                {"need_domain": "income", "reason": "met_elsewhere"},
                {"need_domain": "housing", "reason": "client_declined"},
            ],
        }
        headers = self.auth(served, self.allowed)
        drafted = await served.http.post(
            f"/cases/{case_id}/plan-versions", json=plan, headers=headers
        )
        assert drafted.status_code == 201, drafted.text
        agreement = Submission(
            "POST",
            f"/cases/{case_id}/plan-versions/1/agreement",
            {"agreed_on": today},
            headers,
        )
        return agreement, agreement
