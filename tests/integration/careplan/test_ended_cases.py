"""A case closure terminated takes no further plan command (R8), on the real broker and
database: closure's `CaseTerminated` (its contract class, appended to a closure event store of
the test's own and published by the kit's relay to the stack's closure topic) reaches
careplan's facts consumer; from then on every command on the case is refused 409 naming R8,
its stream stays as it was, and the supervisor's board no longer lists it as waiting."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.closure.contract import CaseTerminated, TerminationClass, TerminationReason
from shared.application import CommandContext
from shared.envelope import Actor, Role, registry
from shared.relay import Relay, idempotent_producer
from shared.store import EventStore
from tests.harness import unique_schema
from tests.integration.careplan.conftest import (
    Agency,
    Stack,
    eventually,
    known_to_careplan,
    make_agency,
    through_intake,
    unique,
)

TODAY = date.today()


async def publish_termination(stack: Stack, agency: Agency, case_id: str) -> None:
    """Closure ends the case (the manager left): its event on the stack's closure topic."""
    schema = unique_schema("closure_feed")
    store = EventStore(stack.pg_pool, "closure", schema=schema, events=registry)
    await store.migrate()
    context = CommandContext(
        agency_id=agency.agency_id, actor=Actor(staff_id="closure", role=Role.SYSTEM)
    )
    ended = CaseTerminated(
        termination_id=unique("termination"),
        reason=TerminationReason.MANAGER_LEFT,
        termination_class=TerminationClass.INCOMPLETE,
        terminated_on=TODAY,
        agency_id=agency.agency_id,
        manager_id=agency.manager_id,
    )
    await store.append(case_id, 0, [context.envelope(case_id, ended)])
    producer = idempotent_producer(stack.kafka_bootstrap)
    await producer.start()
    try:
        await Relay(store, producer, topic=stack.topics.closure).drain()
    finally:
        await producer.stop()
        await stack.pg_pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_terminated_case_takes_no_plan_command_and_leaves_the_board_r8(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)

    async def board() -> dict[str, Any]:
        answer = await stack.careplan.get(
            f"/agencies/{home.agency_id}/board", headers=home.supervisor_auth()
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    assert case_id in (await board())["crisis_without_intervention"]

    await publish_termination(stack, home, case_id)
    pool: asyncpg.Pool = stack.careplan_app.state.runtime.pool
    await eventually(
        lambda: pool.fetchval("SELECT terminated_on FROM case_facts WHERE case_id = $1", case_id),
        lambda found: found == TODAY,
        "careplan learned the termination",
    )

    before = await stack.events_in(case_id)
    commands: list[tuple[str, dict[str, Any]]] = [
        (
            "crisis-interventions",
            {
                "intervention_id": "ci-1",
                "risk": "homelessness",
                "role": "implementer",
                "delivered_on": TODAY.isoformat(),
            },
        ),
        (
            "plan-versions",
            {
                "plan_date": TODAY.isoformat(),
                "goals": [
                    {
                        "goal_id": "g1",
                        "wording": "안정된 주거",
                        "target_date": date(TODAY.year + 1, 1, 1).isoformat(),
                        "strengths": ["motivation"],
                    }
                ],
                "items": [],
            },
        ),
    ]
    for route, body in commands:
        refused = await stack.careplan.post(
            f"/cases/{case_id}/{route}", json=body, headers=home.manager()
        )
        assert refused.status_code == 409, f"{route}: {refused.text}"
        assert refused.json()["rule"] == "R8"
        assert "ended" in refused.json()["detail"]
    assert await stack.events_in(case_id) == before
    assert case_id not in (await board())["crisis_without_intervention"]
