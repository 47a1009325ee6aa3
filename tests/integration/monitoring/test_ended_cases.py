"""A case closure terminated takes no further monitoring command (R8), on the real broker and
database: closure's `CaseTerminated` (its contract class, published from a closure event
store of the test's own) reaches monitoring's learner; from then on every command on the
case is refused 409 naming R8 with its stream unchanged, and the scheduler says nothing of it
overdue while an open case's review falls overdue beside it (R6d, R12)."""

from __future__ import annotations

from datetime import timedelta

from services.closure.contract import CaseTerminated, TerminationClass, TerminationReason
from tests.harness import eventually, unique
from tests.integration.monitoring.conftest import (
    Stack,
    agency,
    case_in_force,
    enroll_auditor,
    review_body,
    running,
)
from tests.integration.monitoring.test_forms_and_scheduler import overdue_events


async def test_r8_a_terminated_case_takes_no_command_and_never_falls_overdue(
    own_stack: Stack,
) -> None:
    async with running(own_stack) as app:
        await enroll_auditor(app)
        ag = await agency(app)
        ended_case = await case_in_force(app, ag)
        open_case = await case_in_force(app, ag)
        ended_on = own_stack.clock()

        await own_stack.closure.record(
            ended_case,
            ag.agency_id,
            CaseTerminated(
                termination_id=unique("termination"),
                reason=TerminationReason.CLIENT_DIED,
                termination_class=TerminationClass.ENDED,
                terminated_on=ended_on,
                agency_id=ag.agency_id,
                manager_id=ag.manager_id,
            ),
        )
        await eventually(
            lambda: app.case(ended_case, ag.supervisor),
            lambda c: c is not None and c["terminated_on"] == ended_on.isoformat(),
            "monitoring learned the termination",
        )

        before = await app.events(ended_case)
        assert before[-1] == "CaseTerminationLearned"
        due = (ended_on + timedelta(days=14)).isoformat()
        commands = [
            ("reviews", review_body()),
            ("visits", {"visited_on": ended_on.isoformat()}),
            ("forms", {"due_on": due}),
        ]
        for route, body in commands:
            refused = await app.http.post(
                f"/cases/{ended_case}/{route}", json=body, headers=ag.manager
            )
            assert refused.status_code == 409, f"{route}: {refused.text}"
            assert refused.json()["rule"] == "R8"
            assert "ended" in refused.json()["detail"]
        assert await app.events(ended_case) == before

        # Long past the first review date: the open case's review falls overdue, the ended
        # case's never does, and only the open one is on the board.
        own_stack.clock.day += timedelta(days=60)
        await eventually(
            lambda: overdue_events(app.pool, open_case),
            lambda found: "ReviewOverdue" in [t for t, _ in found],
            "the open case's review overdue",
        )
        assert await overdue_events(app.pool, ended_case) == []
        assert await app.events(ended_case) == before
        board = (await app.http.get("/board", headers=ag.supervisor)).json()
        listed = {
            e["case_id"] for entries in board.values() if isinstance(entries, list) for e in entries
        }
        assert open_case in listed and ended_case not in listed
