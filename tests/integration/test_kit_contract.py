"""The kit's notes service keeps the contract every service's API keeps (`ServiceContract`).

It proves the contract suite itself on the smallest service the kit can run: its command is
a note on a case; its race is two notes written at the same expected version.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from shared.envelope import Role
from shared.settings import Settings
from tests.harness import RunningService, unique
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission
from tests.kit_service import build


class TestNotesContract(ServiceContract):
    service_name = "intake"  # the notes service stands in for intake on its own topic
    topics = ("notes",)
    allowed = Member(Role.CASE_MANAGER, "agency-contract", "staff-contract")
    refused = Member(Role.AUDITOR, "network", "auditor-contract")

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        return build(settings, topic=topics["notes"])

    def _note(self, served: RunningService, case_id: str, **body: object) -> Submission:
        path = f"/cases/{case_id}/notes"
        return Submission("POST", path, body, self.auth(served, self.allowed))

    async def command(self, served: RunningService) -> Submission:
        return self._note(served, unique("case"), note="first visit")

    async def invalid_command(self, served: RunningService) -> Submission:
        return self._note(served, unique("case"), note=SECRET * 20)  # over 200 characters

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        case_id = unique("case")
        return (
            self._note(served, case_id, note="one", expected_version=0),
            self._note(served, case_id, note="two", expected_version=0),
        )
