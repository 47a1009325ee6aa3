"""Closure keeps the contract every service's API keeps (`ServiceContract`).

Its command is a termination (the client died) of a case closure learned from intake's real
events, appended to an intake store of the test's own and published by the kit's relay; its
race is two terminations of the same case (a case ends once, R8).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from services.closure.bootstrap import Topics, build
from services.intake.contract import (
    AssessedNeed,
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseSource,
    ClientRegistered,
    Severity,
)
from shared.application import CommandContext
from shared.envelope import Actor, Role, registry
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore
from shared.vocabulary import NeedDomain
from tests.harness import RunningService, eventually
from tests.integration.service_contract import SECRET, Member, ServiceContract, Submission

AGENCY = "ag-closure-contract"


async def publish_case(served: RunningService, topic: str, manager_id: str) -> str:
    """An assigned case in an intake store of its own, published to `topic`."""
    schema = f"t_intake_feed_{uuid.uuid4().hex[:10]}"
    case_id = f"case-{uuid.uuid4().hex[:12]}"
    store = EventStore(served.pool, "intake", schema=schema, events=registry)
    await store.migrate()
    context = CommandContext(agency_id=AGENCY, actor=Actor(staff_id="intake", role=Role.SYSTEM))
    events = [
        CaseFound(source=CaseSource.WALK_IN),
        ClientRegistered(client_id=f"client-{uuid.uuid4().hex[:10]}"),
        CaseAssessed(
            needs=(AssessedNeed(domain=NeedDomain.HOUSING, severity=Severity.HIGH),),
            interpreter_needed=False,
            cultural_needs_recorded=True,
        ),
        CaseAssigned(
            staff_id=manager_id,
            agency_id=AGENCY,
            override=False,
            override_reason=None,
            caseload_after=1,
            caseload_limit=10,
        ),
    ]
    await store.append(case_id, 0, [context.envelope(case_id, e) for e in events])
    producer = idempotent_producer(served.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await Relay(store, producer, topic=topic).drain()
    finally:
        await producer.stop()
        await served.pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return case_id


class TestClosureContract(ServiceContract):
    service_name = "closure"
    topics = ("closure", "intake", "careplan", "monitoring", "directory")
    allowed = Member(Role.CASE_MANAGER, AGENCY, "cm-contract")
    refused = Member(Role.AGENCY_ADMIN, AGENCY, "admin-contract")
    intake_topic: str = ""

    def build(self, settings: Settings, topics: Mapping[str, str]) -> FastAPI:
        type(self).intake_topic = topics["intake"]
        return build(settings, topics=Topics(**topics))

    async def _case(self, served: RunningService) -> str:
        case_id = await publish_case(served, type(self).intake_topic, self.allowed.staff_id)

        async def manager() -> Any:
            return await served.pool.fetchval(
                "SELECT manager_id FROM closure_cases WHERE case_id = $1", case_id
            )

        await eventually(manager, lambda found: found is not None, f"case {case_id} learned")
        return case_id

    def _termination(self, served: RunningService, case_id: str, reason: str) -> Submission:
        path = f"/cases/{case_id}/termination"
        return Submission("POST", path, {"reason": reason}, self.auth(served, self.allowed))

    async def command(self, served: RunningService) -> Submission:
        return self._termination(served, await self._case(served), "client_died")

    async def invalid_command(self, served: RunningService) -> Submission:
        return self._termination(served, await self._case(served), SECRET)

    async def racing_commands(self, served: RunningService) -> tuple[Submission, Submission]:
        ending = self._termination(served, await self._case(served), "client_died")
        return ending, ending
