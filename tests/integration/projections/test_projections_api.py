"""Projections on the real Kafka and PostgreSQL: a case's journey gathered from every
service's topic, dashboards and figures, who may read them (R11), and redelivery."""

from __future__ import annotations

from typing import Any

from services.careplan.contract import PlanAgreed
from shared.codec import to_kafka
from tests.harness import eventually, unique
from tests.integration.careplan.intake_events import assigned_case
from tests.integration.projections.conftest import AGENCY, PARTNER, Projections
from tests.integration.projections.stories import DAY, referred_case, review


async def _journey(app: Projections, case_id: str, staff_id: str = "auditor-1") -> Any:
    answer = await app.served.http.get(f"/cases/{case_id}/journey", headers=app.auth(staff_id))
    return answer.json() if answer.status_code == 200 else None


async def test_a_case_journey_gathers_what_every_service_published(
    projections: Projections,
) -> None:
    case_id, linked_id = await referred_case(projections)

    journey = await eventually(
        lambda: _journey(projections, case_id),
        lambda j: j is not None and j["referred_to_case"] == linked_id and j["evaluation_id"],
        "the whole journey projected",
    )
    assert journey["stage"] == "terminated"
    assert journey["agency_id"] == AGENCY and journey["manager_id"] == "cm-north"
    assert journey["plan_version"] == 1 and journey["reviews"] == 1
    assert {i["item_id"]: i["state"] for i in journey["items"]} == {
        "item-1": "delivered",
        "item-2": "planned",
    }
    assert journey["forms"] == [{"form_id": "form-1", "state": "overdue", "due_on": str(DAY)}]
    assert journey["evaluation_permits"] is True
    assert (journey["termination_reason"], journey["termination_class"]) == (
        "goals_achieved",
        "complete",
    )
    assert (journey["referral_state"], journey["referral_target"]) == ("completed", PARTNER)
    linked = await eventually(
        lambda: _journey(projections, linked_id),
        lambda j: j is not None and j["source"] == "inbound_referral",
        "the linked case projected",
    )
    assert linked["agency_id"] == PARTNER and linked["referred_from_case"] == case_id


async def test_r11_staff_read_their_own_agency_journeys_and_another_agency_s_case_is_404(
    projections: Projections,
) -> None:
    case_id = unique("case-north")
    await projections.feed.record(
        "intake",
        case_id,
        AGENCY,
        assigned_case(AGENCY, "cm-north"),
    )
    await eventually(lambda: _journey(projections, case_id, "cm-north"), bool, "projected")
    http = projections.served.http
    for staff_id in ("sup-north", "adm-north", "netadmin-1"):
        answer = await http.get(f"/cases/{case_id}/journey", headers=projections.auth(staff_id))
        assert answer.status_code == 200, (staff_id, answer.text)
    theirs = await http.get(f"/cases/{case_id}/journey", headers=projections.auth("cm-south"))
    missing = await http.get("/cases/case-none/journey", headers=projections.auth("cm-south"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(case_id, "?") == missing.text.replace("case-none", "?")
    no_token = await http.get(f"/cases/{case_id}/journey")
    assert no_token.status_code == 401


async def test_an_agency_dashboard_counts_its_open_cases_overdue_work_and_caseloads(
    projections: Projections,
) -> None:
    case_id = unique("case-north")
    feed = projections.feed
    await feed.record("intake", case_id, AGENCY, assigned_case(AGENCY, "cm-dash"))
    from services.monitoring.contract import FormOverdue, ReviewOverdue

    await feed.record(
        "monitoring",
        case_id,
        AGENCY,
        [ReviewOverdue(plan_version=1, due_on=DAY), FormOverdue(form_id="f-9", due_on=DAY)],
    )

    async def board() -> Any:
        answer = await projections.served.http.get(
            f"/agencies/{AGENCY}/dashboard", headers=projections.auth("sup-north")
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    # Intake's and monitoring's topics are read by consumers of their own, in no set order.
    dashboard = await eventually(
        board,
        # Only this case has a review overdue; its form went overdue in the same append.
        lambda d: d["caseloads"].get("cm-dash") == 1 and d["overdue_reviews"] >= 1,
        "the dashboard counts the case and its overdue form",
    )
    assert dashboard["open_cases_by_stage"]["assigned"] >= 1
    assert dashboard["overdue_reviews"] >= 1 and dashboard["overdue_forms"] >= 1
    other = await projections.served.http.get(
        f"/agencies/{AGENCY}/dashboard", headers=projections.auth("sup-south")
    )
    assert other.status_code == 404
    audited = await projections.served.http.get(
        f"/agencies/{AGENCY}/dashboard", headers=projections.auth("auditor-1")
    )
    assert audited.status_code == 200


async def test_network_figures_are_aggregates_for_administrators_and_auditors_only(
    projections: Projections,
) -> None:
    case_id = unique("case-north")
    await projections.feed.record("intake", case_id, AGENCY, assigned_case(AGENCY, "cm-fig"))
    await eventually(lambda: _journey(projections, case_id), bool, "projected")
    http = projections.served.http
    for staff_id in ("netadmin-1", "auditor-1"):
        answer = await http.get("/network/figures", headers=projections.auth(staff_id))
        assert answer.status_code == 200, answer.text
        figures = answer.json()
        assert figures["cases"] >= 1 and figures["events_seen"] >= 4
        assert case_id not in answer.text and "cm-fig" not in answer.text
    refused = await http.get("/network/figures", headers=projections.auth("sup-north"))
    assert refused.status_code == 403


async def test_a_redelivered_event_is_applied_once(projections: Projections) -> None:
    case_id = unique("case-north")
    feed = projections.feed
    await feed.record("intake", case_id, AGENCY, assigned_case(AGENCY, "cm-north"))
    await feed.record("monitoring", case_id, AGENCY, [review()])
    await eventually(
        lambda: _journey(projections, case_id),
        lambda j: j is not None and j["reviews"] == 1,
        "the review projected",
    )
    # Kafka delivers the same message again (a producer retry, a rebalance).
    [stored] = await feed.stores["monitoring"].read_stream_raw(case_id)
    record = to_kafka(stored, "monitoring")
    await feed.producer.send_and_wait(
        feed.topics.monitoring, record.value, key=record.key, headers=record.headers
    )
    # A later event of the same case (same partition) proves the duplicate was read first.
    await feed.record("careplan", case_id, AGENCY, [PlanAgreed(plan_version=1, in_force_from=DAY)])
    journey = await eventually(
        lambda: _journey(projections, case_id),
        lambda j: j is not None and j["plan_version"] == 1,
        "the later event projected",
    )
    assert journey["reviews"] == 1
    seen = await projections.served.pool.fetchval(
        "SELECT count(*) FROM events_seen WHERE case_id = $1 AND event_type = 'ReviewRecorded'",
        case_id,
    )
    assert seen == 1
