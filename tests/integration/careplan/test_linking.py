"""Linking and advocacy through the API on the network the directory published (R6a, R6b,
R11): waiting lists, linking out while the own agency has room, informal helpers, language
support, and advocacy that does not obtain the service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.careplan.adapters.board import board
from shared.clock import agency_today
from tests.integration.careplan.conftest import (
    Agency,
    Stack,
    eventually,
    known_to_careplan,
    make_agency,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import plan_body

TODAY = agency_today()


async def agreed(home: Agency, case_id: str, body: dict[str, Any]) -> None:
    http, headers = home.stack.careplan, home.manager()
    drafted = await http.post(f"/cases/{case_id}/plan-versions", json=body, headers=headers)
    assert drafted.status_code == 201, drafted.text
    answer = await http.post(
        f"/cases/{case_id}/plan-versions/{drafted.json()['plan_version']}/agreement",
        json={"agreed_on": TODAY.isoformat()},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text


async def test_a_full_service_puts_the_client_on_its_waiting_list_naming_who_waits_r6a_r12(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 0)})
    home = await make_agency(stack)
    case_id, client_id = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))

    linked = await stack.careplan.post(
        f"/cases/{case_id}/items/i-housing/links", json={}, headers=home.manager()
    )

    assert linked.status_code == 201, linked.text
    rows = await stack.pg_pool.fetch(
        f'SELECT payload FROM "{stack.schema}".events WHERE case_id = $1 '
        "AND event_type = 'ItemLinked'",
        case_id,
    )
    assert '"waitlisted": true' in rows[0]["payload"]
    assert client_id in rows[0]["payload"]
    inbox = (
        await stack.careplan.get(f"/agencies/{partner.agency_id}/inbox", headers=partner.manager())
    ).json()
    assert [entry["status"] for entry in inbox] == ["waitlisted"]


async def test_linking_out_while_the_own_agency_has_room_needs_a_coded_reason_r6a(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack, {"svc-own-housing": ("housing", 5)})
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))
    url = f"/cases/{case_id}/items/i-housing/links"
    before = await stack.events_in(case_id)

    refused = await stack.careplan.post(url, json={}, headers=home.manager())

    assert refused.status_code == 409 and refused.json()["rule"] == "R6a"
    assert await stack.events_in(case_id) == before
    linked = await stack.careplan.post(
        url, json={"link_out_reason": "client_choice"}, headers=home.manager()
    )
    assert linked.status_code == 201, linked.text


async def test_an_informal_helper_is_linked_its_name_sealed_and_its_delivery_recorded_r6a(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    body = plan_body()
    body["unaddressed"] = []
    body["items"].append(
        {
            "item_id": "i-neighbour",
            "need_domain": "housing",
            "goal_id": "g1",
            "delivery": "informal",
            "informal_resource_id": "helper-1",
            "helper_name": "이웃 김영희",
            "start_on": TODAY.isoformat(),
            "end_on": (TODAY + timedelta(days=30)).isoformat(),
        }
    )
    await agreed(home, case_id, body)
    http, headers = stack.careplan, home.manager()

    linked = await http.post(f"/cases/{case_id}/items/i-neighbour/links", json={}, headers=headers)
    assert linked.status_code == 201, linked.text
    delivered = await http.post(
        f"/links/{linked.json()['link_id']}/answer",
        json={"answer": "delivered", "answered_on": TODAY.isoformat()},
        headers=headers,
    )

    assert delivered.status_code == 200, delivered.text
    words = (await http.get(f"/cases/{case_id}/plan-versions/1/words", headers=headers)).json()
    assert words["helpers"] == {"helper-1": "이웃 김영희"}
    assert "김영희" not in " ".join(await stack.payloads_in(case_id))


async def test_a_client_facing_item_without_language_support_is_refused_when_needed_r11(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, interpreter=True)
    await known_to_careplan(stack, case_id)
    http, headers = stack.careplan, home.manager()

    refused = await http.post(f"/cases/{case_id}/plan-versions", json=plan_body(), headers=headers)

    assert refused.status_code == 409 and refused.json()["rule"] == "R11"
    assert await stack.events_in(case_id) == []
    body = plan_body()
    body["items"][0]["language_support"] = "interpreter"
    accepted = await http.post(f"/cases/{case_id}/plan-versions", json=body, headers=headers)
    assert accepted.status_code == 201, accepted.text


async def test_advocacy_that_does_not_obtain_the_service_sends_the_case_back_to_planning_r6b(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))
    http, headers = stack.careplan, home.manager()
    linked = await http.post(f"/cases/{case_id}/items/i-housing/links", json={}, headers=headers)
    link_id = linked.json()["link_id"]
    for body in (
        {"answer": "accepted"},
        {"answer": "not_delivered", "not_delivered_reason": "provider_unavailable"},
    ):
        answered = await http.post(
            f"/links/{link_id}/answer",
            json=body | {"answered_on": TODAY.isoformat()},
            headers=partner.manager(),
        )
        assert answered.status_code == 200, answered.text
    started = await http.post(
        f"/cases/{case_id}/advocacies",
        json={
            "advocacy_id": "adv-1",
            "item_id": "i-housing",
            "client_encouraged": True,
            "re_request_by": "manager_with_agreement",
            "client_agreed": True,
            "note": "내담자가 다시 신청하기로 함",
        },
        headers=headers,
    )
    assert started.status_code == 201, started.text
    steps = f"/cases/{case_id}/advocacies/adv-1/steps"
    assert (await http.post(steps, json={"step": 1}, headers=headers)).status_code == 201
    escalate = {"step": 6, "escalation_reason": "pattern_of_refusal"}
    no_consent = await http.post(steps, json=escalate, headers=headers)
    assert no_consent.status_code == 409 and no_consent.json()["rule"] == "R6b"
    with_consent = await http.post(
        steps, json=escalate | {"client_consented": True}, headers=headers
    )
    assert with_consent.status_code == 201, with_consent.text

    concluded = await http.post(
        f"/cases/{case_id}/advocacies/adv-1/conclusion",
        json={"outcome": "not_obtained"},
        headers=headers,
    )

    assert concluded.status_code == 200, concluded.text
    assert concluded.json()["events"] == ["AdvocacyConcluded", "CaseReturnedToPlanning"]
    view = (await http.get(f"/cases/{case_id}", headers=headers)).json()
    assert view["returned_to_planning"] is True


async def test_linking_to_a_service_of_an_agency_that_closed_is_refused_r6a(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))
    closed = await stack.directory.post(
        f"/agencies/{partner.agency_id}/close",
        json={"closed_on": TODAY.isoformat(), "reason": "funding ended"},
        headers=stack.network_admin(),
    )
    assert closed.status_code in (200, 201), closed.text
    pool = stack.careplan_app.state.runtime.pool

    async def closed_on() -> Any:
        return await pool.fetchval(
            "SELECT closed_on FROM network_agencies WHERE agency_id = $1", partner.agency_id
        )

    await eventually(closed_on, lambda day: day is not None, "the closure learned")
    before = await stack.events_in(case_id)

    refused = await stack.careplan.post(
        f"/cases/{case_id}/items/i-housing/links", json={}, headers=home.manager()
    )

    assert refused.status_code == 409 and refused.json()["rule"] == "R6a"
    assert await stack.events_in(case_id) == before


async def test_a_consent_withdrawn_at_intake_no_longer_lets_careplan_link_to_the_partner_r4(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))
    pool = stack.careplan_app.state.runtime.pool
    consent_id = await pool.fetchval(
        "SELECT c.consent_id FROM client_consents c JOIN case_facts f "
        "ON f.client_id = c.client_id WHERE f.case_id = $1",
        case_id,
    )
    withdrawn = await stack.intake.post(
        f"/cases/{case_id}/consents/{consent_id}/withdrawal", headers=home.manager()
    )
    assert withdrawn.status_code in (200, 201), withdrawn.text

    async def withdrawn_on() -> Any:
        return await pool.fetchval(
            "SELECT withdrawn_on FROM client_consents WHERE consent_id = $1", consent_id
        )

    await eventually(withdrawn_on, lambda day: day is not None, "the withdrawal learned")
    refused = await stack.careplan.post(
        f"/cases/{case_id}/items/i-housing/links", json={}, headers=home.manager()
    )

    assert refused.status_code == 409 and refused.json()["rule"] == "R4"
    inbox = await stack.careplan.get(
        f"/agencies/{partner.agency_id}/inbox", headers=partner.manager()
    )
    assert inbox.json() == []


async def test_an_item_past_its_end_without_delivery_shows_as_not_received_on_the_board_r6b(
    stack: Stack,
) -> None:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    await agreed(home, case_id, plan_body(partner))
    pool = stack.careplan_app.state.runtime.pool

    today = await board(pool, home.agency_id, TODAY)
    after_the_end = await board(pool, home.agency_id, TODAY + timedelta(days=61))

    assert today.items_not_received == []
    assert {i["item_id"] for i in after_the_end.items_not_received} == {"i-income", "i-housing"}
