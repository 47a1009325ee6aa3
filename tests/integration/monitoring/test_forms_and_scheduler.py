"""Mailed forms and the overdue scheduler on real Kafka and PostgreSQL: consent (R4), sealed
answers and aftercare (R6d, R11), the board, and overdue facts said exactly once across a
restart (R6d, R12)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from services.intake.contract import ClientErased, ConsentPurpose
from tests.harness import eventually
from tests.integration.monitoring.conftest import (
    Agency,
    Running,
    Stack,
    agency,
    case_in_force,
    enroll_auditor,
    review_body,
    running,
)


async def send(app: Running, ag: Agency, case_id: str, due_in: int = 14) -> Any:
    due = app.stack.clock() + timedelta(days=due_in)
    return await app.http.post(
        f"/cases/{case_id}/forms", json={"due_on": due.isoformat()}, headers=ag.manager
    )


ANSWERS = {
    "answers": [
        {"question": "services_helpful", "answer": "the visits come too rarely", "negative": True},
        {"question": "contact_ok", "answer": "yes", "negative": False},
    ]
}


async def test_r4_a_form_without_a_consent_for_monitoring_is_refused_and_writes_nothing(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag, purposes=(ConsentPurpose.CASE_MANAGEMENT,))
    before = await monitoring.events(case_id)
    refused = await send(monitoring, ag, case_id)
    assert refused.status_code == 409 and refused.json()["rule"] == "R4", refused.text
    assert await monitoring.events(case_id) == before


async def test_r6d_a_returned_form_is_sealed_and_a_negative_answer_waits_on_the_board(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    sent = await send(monitoring, ag, case_id)
    assert sent.status_code == 201, sent.text
    form_id = sent.json()["record_id"]

    unsent = await monitoring.http.post(
        f"/cases/{case_id}/forms/form-never/return", json=ANSWERS, headers=ag.manager
    )
    assert unsent.status_code == 409 and unsent.json()["rule"] == "R6d"

    returned = await monitoring.http.post(
        f"/cases/{case_id}/forms/{form_id}/return", json=ANSWERS, headers=ag.manager
    )
    assert returned.status_code == 201, returned.text
    payloads = await monitoring.pool.fetch(
        "SELECT payload::text FROM events WHERE case_id = $1", case_id
    )
    assert not any("too rarely" in r["payload"] for r in payloads)
    assert (
        await monitoring.pool.fetchval(
            "SELECT count(*) FROM vault_documents WHERE document_id = $1", f"form:{form_id}"
        )
        == 1
    )

    before = await monitoring.events(case_id)
    again = await monitoring.http.post(
        f"/cases/{case_id}/forms/{form_id}/return", json=ANSWERS, headers=ag.manager
    )
    assert again.status_code == 409 and again.json()["rule"] == "R6d"
    assert await monitoring.events(case_id) == before

    board = await monitoring.http.get("/board", headers=ag.supervisor)
    assert board.status_code == 200
    waiting = board.json()["negative_forms_without_follow_up"]
    assert [(e["case_id"], e["subject"]) for e in waiting] == [(case_id, form_id)]

    followed = await monitoring.http.post(
        f"/cases/{case_id}/forms/{form_id}/follow-up",
        json={"kind": "contact", "notes": "called; more visits agreed"},
        headers=ag.manager,
    )
    assert followed.status_code == 201, followed.text
    board = await monitoring.http.get("/board", headers=ag.supervisor)
    assert board.json()["negative_forms_without_follow_up"] == []


async def test_r11_an_erased_client_has_nothing_more_kept_and_the_return_writes_nothing(
    monitoring: Running,
) -> None:
    ag = await agency(monitoring)
    case_id = await case_in_force(monitoring, ag)
    form_id = (await send(monitoring, ag, case_id)).json()["record_id"]
    client_id = await monitoring.pool.fetchval(
        "SELECT payload->>'client_id' FROM events WHERE case_id = $1 "
        "AND event_type = 'ClientLearned'",
        case_id,
    )
    await monitoring.stack.intake.record(case_id, ag.agency_id, ClientErased(client_id=client_id))

    async def shredded() -> bool:
        found = await monitoring.pool.fetchval(
            "SELECT shredded_at IS NOT NULL FROM vault_keys WHERE client_id = $1", client_id
        )
        return bool(found)

    await eventually(shredded, bool, "the client shredded")
    before = await monitoring.events(case_id)
    refused = await monitoring.http.post(
        f"/cases/{case_id}/forms/{form_id}/return", json=ANSWERS, headers=ag.manager
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R11", refused.text
    assert await monitoring.events(case_id) == before


async def overdue_events(pool: asyncpg.Pool, case_id: str) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT event_type, payload::text FROM events WHERE case_id = $1 "
        "AND event_type IN ('FormOverdue', 'ReviewOverdue', 'ItemDelayed') ORDER BY position",
        case_id,
    )
    return [(r["event_type"], r["payload"]) for r in rows]


async def test_r6d_overdue_is_said_once_across_a_restart_and_never_for_a_form_returned_in_time(
    own_stack: Stack,
) -> None:
    clock = own_stack.clock
    async with running(own_stack) as app:
        await enroll_auditor(app)
        ag = await agency(app)
        late_case = await case_in_force(app, ag)
        on_time_case = await case_in_force(app, ag)
        late = (await send(app, ag, late_case)).json()["record_id"]
        on_time = (await send(app, ag, on_time_case)).json()["record_id"]
        clock.day += timedelta(days=14)  # the due date itself: nothing is overdue yet

        async def return_form() -> Any:
            return await app.http.post(
                f"/cases/{on_time_case}/forms/{on_time}/return",
                json={"answers": [{"question": "ok", "answer": "fine", "negative": False}]},
                headers=ag.manager,
            )

        # The moved clock wakes the scheduler, whose pass may write to this case's stream
        # first (an item's end falls due too): a conflict answer asks the client to reload
        # and retry, which is what a case manager's screen does.
        returned = await eventually(
            return_form,
            lambda answer: not (answer.status_code == 409 and "rule" not in answer.json()),
            "the return not refused by a conflict with the scheduler's pass",
        )
        assert returned.status_code == 201, returned.text
        clock.day += timedelta(days=1)  # past the due date
        said = await eventually(
            lambda: overdue_events(app.pool, late_case),
            lambda found: any(t == "FormOverdue" for t, _ in found),
            "the late form overdue",
        )
        # Past item-2's end (day 20) and the first review (day 30) as well.
        clock.day += timedelta(days=20)
        said = await eventually(
            lambda: overdue_events(app.pool, late_case),
            lambda found: {t for t, _ in found} == {"FormOverdue", "ItemDelayed", "ReviewOverdue"},
            "the review overdue and the item delayed",
        )
        board = (await app.http.get("/board", headers=ag.supervisor)).json()
        assert late_case in [e["case_id"] for e in board["forms_overdue"]]
        assert late_case in [e["case_id"] for e in board["reviews_overdue"]]
        assert ("item-2", late_case) in [
            (e["subject"], e["case_id"]) for e in board["delayed_items"]
        ]
        assert on_time_case not in [e["case_id"] for e in board["forms_overdue"]]
    # Stopped; the same service starts again on the same schema and topics.
    async with running(own_stack) as again:
        status = (await again.http.get("/health")).json()
        assert "scheduler:overdue" in status["tasks"]

        async def passes() -> int:
            task = (await again.http.get("/health")).json()["tasks"]["scheduler:overdue"]
            return int(task["state"] == "running")

        await eventually(passes, bool, "the scheduler running again")
        await eventually(
            lambda: overdue_events(again.pool, on_time_case),
            lambda found: {t for t, _ in found} >= {"ReviewOverdue"},
            "the on-time case's review overdue",
        )
        assert await overdue_events(again.pool, late_case) == said
        on_time_said = await overdue_events(again.pool, on_time_case)
        assert "FormOverdue" not in [t for t, _ in on_time_said]
        assert late in [
            e["subject"]
            for e in (await again.http.get("/board", headers=ag.supervisor)).json()["forms_overdue"]
        ]
    assert len(said) == 3


async def test_r6d_a_review_clears_the_overdue_review_from_the_board(own_stack: Stack) -> None:
    async with running(own_stack) as app:
        await enroll_auditor(app)
        ag = await agency(app)
        case_id = await case_in_force(app, ag)
        own_stack.clock.day += timedelta(days=30)
        await eventually(
            lambda: overdue_events(app.pool, case_id),
            lambda found: "ReviewOverdue" in [t for t, _ in found],
            "the review overdue",
        )
        for _ in range(20):
            reviewed = await app.http.post(
                f"/cases/{case_id}/reviews", json=review_body(), headers=ag.manager
            )
            if reviewed.status_code != 409:  # the scheduler may append between load and write
                break
        assert reviewed.status_code == 201, reviewed.text
        board = (await app.http.get("/board", headers=ag.supervisor)).json()
        assert case_id not in [e["case_id"] for e in board["reviews_overdue"]]
