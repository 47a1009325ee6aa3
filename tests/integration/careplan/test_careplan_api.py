"""Careplan's API on real Kafka and PostgreSQL: cases learned from intake, services from the
directory; every refusal a 409 with its rule id and nothing written."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from shared.clock import agency_today
from tests.integration.careplan.conftest import (
    Agency,
    Stack,
    eventually,
    known_to_careplan,
    make_agency,
    through_intake,
)

TODAY = agency_today()


def plan_body(partner: Agency | None = None, **changes: Any) -> dict[str, Any]:
    """Goal g1; an own-agency income item; a housing item linked to the partner's shelter."""
    items: list[dict[str, Any]] = [
        {
            "item_id": "i-income",
            "need_domain": "income",
            "goal_id": "g1",
            "delivery": "own_agency",
            "start_on": TODAY.isoformat(),
            "end_on": (TODAY + timedelta(days=60)).isoformat(),
        }
    ]
    if partner is not None:
        items.append(
            {
                "item_id": "i-housing",
                "need_domain": "housing",
                "goal_id": "g1",
                "delivery": "linked_agency",
                "agency_id": partner.agency_id,
                "service_id": "svc-shelter",
                "start_on": TODAY.isoformat(),
                "end_on": (TODAY + timedelta(days=60)).isoformat(),
            }
        )
    body: dict[str, Any] = {
        "plan_date": TODAY.isoformat(),
        "goals": [
            {
                "goal_id": "g1",
                "wording": "안정된 주거를 찾고 월세를 스스로 낸다",
                "target_date": (TODAY + timedelta(days=90)).isoformat(),
                "strengths": ["motivation"],
            }
        ],
        "items": items,
        "unaddressed": [] if partner else [{"need_domain": "housing", "reason": "met_elsewhere"}],
        "notes": "가족과 함께 작성",
    }
    return body | changes


async def partner_and_home(stack: Stack) -> tuple[Agency, Agency]:
    partner = await make_agency(stack, {"svc-shelter": ("housing", 2)})
    home = await make_agency(stack)
    return home, partner


async def planned_case(home: Agency, partner: Agency, *, consent: bool = True) -> str:
    """A case assigned at `home`, with plan version 1 drafted and agreed."""
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,) if consent else ())
    await known_to_careplan(home.stack, case_id)
    http, headers = home.stack.careplan, home.manager()
    drafted = await http.post(
        f"/cases/{case_id}/plan-versions", json=plan_body(partner), headers=headers
    )
    assert drafted.status_code == 201, drafted.text
    agreed = await http.post(
        f"/cases/{case_id}/plan-versions/1/agreement",
        json={"agreed_on": TODAY.isoformat()},
        headers=headers,
    )
    assert agreed.status_code == 200, agreed.text
    return case_id


async def test_drafting_before_assignment_is_refused_with_the_next_step_and_nothing_written_r1(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home, assign=False)
    await known_to_careplan(stack, case_id, assigned=False)

    refused = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions", json=plan_body(), headers=home.manager()
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "R1"
    assert "next step" in refused.json()["detail"]
    assert await stack.events_in(case_id) == []


async def test_a_crisis_case_shows_on_the_board_until_its_crisis_intervention_r1_r5(
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
    recorded = await stack.careplan.post(
        f"/cases/{case_id}/crisis-interventions",
        json={
            "intervention_id": "ci-1",
            "risk": "homelessness",
            "role": "implementer",
            "delivered_on": TODAY.isoformat(),
        },
        headers=home.manager(),
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["events"] == ["CrisisInterventionRecorded"]
    assert case_id not in (await board())["crisis_without_intervention"]


async def test_a_plan_takes_effect_on_agreement_and_its_words_stay_in_the_vault_r3_r4(
    stack: Stack,
) -> None:
    home, partner = await partner_and_home(stack)
    case_id, _ = await through_intake(home, link_to=(partner.agency_id,))
    await known_to_careplan(stack, case_id)
    http, headers = stack.careplan, home.manager()

    drafted = await http.post(
        f"/cases/{case_id}/plan-versions", json=plan_body(partner), headers=headers
    )
    assert drafted.status_code == 201, drafted.text
    view = (await http.get(f"/cases/{case_id}", headers=headers)).json()
    assert (view["in_force"], view["pending"]) == (None, 1)
    board = (
        await http.get(f"/agencies/{home.agency_id}/board", headers=home.supervisor_auth())
    ).json()
    assert [p["case_id"] for p in board["plans_awaiting_agreement"]] == [case_id]

    agreed = await http.post(
        f"/cases/{case_id}/plan-versions/1/agreement",
        json={"agreed_on": TODAY.isoformat(), "declined_items": ["i-income"]},
        headers=headers,
    )
    assert agreed.status_code == 200, agreed.text
    view = (await http.get(f"/cases/{case_id}", headers=headers)).json()
    assert (view["in_force"], view["pending"]) == (1, None)
    statuses = {item["item_id"]: item["status"] for item in view["items"]}
    assert statuses == {"i-income": "client_declined", "i-housing": "planned"}

    words = await http.get(f"/cases/{case_id}/plan-versions/1/words", headers=headers)
    assert words.status_code == 200, words.text
    assert words.json()["goals"] == {"g1": "안정된 주거를 찾고 월세를 스스로 낸다"}
    payloads = " ".join(await stack.payloads_in(case_id))
    assert "주거" not in payloads and "가족" not in payloads


async def test_an_item_for_a_need_not_assessed_is_refused_and_nothing_is_written_r3(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    body = plan_body()
    body["items"][0]["need_domain"] = "legal"

    refused = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions", json=body, headers=home.manager()
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "R3"
    assert await stack.events_in(case_id) == []
    vault_rows = await stack.pg_pool.fetchval(
        f'SELECT count(*) FROM "{stack.schema}".vault_documents'
        " WHERE client_id = (SELECT client_id FROM "
        f'"{stack.schema}".case_facts WHERE case_id = $1)',
        case_id,
    )
    assert vault_rows == 0


async def test_linking_without_consent_to_the_partner_is_refused_and_its_inbox_stays_empty_r4(
    stack: Stack,
) -> None:
    home, partner = await partner_and_home(stack)
    case_id = await planned_case(home, partner, consent=False)
    before = await stack.events_in(case_id)

    refused = await stack.careplan.post(
        f"/cases/{case_id}/items/i-housing/links",
        json={},
        headers=home.manager(),
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "R4"
    assert await stack.events_in(case_id) == before
    inbox = await stack.careplan.get(
        f"/agencies/{partner.agency_id}/inbox", headers=partner.manager()
    )
    assert inbox.status_code == 200 and inbox.json() == []


async def test_a_partner_answers_its_link_and_sees_nothing_else_of_the_case_r6a(
    stack: Stack,
) -> None:
    home, partner = await partner_and_home(stack)
    case_id = await planned_case(home, partner)
    http = stack.careplan

    linked = await http.post(
        f"/cases/{case_id}/items/i-housing/links",
        json={"role": "broker"},
        headers=home.manager(),
    )
    assert linked.status_code == 201, linked.text
    link_id = linked.json()["link_id"]
    inbox = (
        await http.get(f"/agencies/{partner.agency_id}/inbox", headers=partner.manager())
    ).json()
    assert [(e["link_id"], e["case_id"], e["status"]) for e in inbox] == [
        (link_id, case_id, "linked")
    ]
    assert (await http.get(f"/cases/{case_id}", headers=partner.manager())).status_code == 404
    assert (
        await http.get(f"/agencies/{home.agency_id}/board", headers=partner.manager())
    ).status_code == 404

    # The home agency cannot answer for the partner: the link is not theirs to answer.
    wrong = await http.post(
        f"/links/{link_id}/answer",
        json={"answer": "accepted", "answered_on": TODAY.isoformat()},
        headers=home.manager(),
    )
    assert wrong.status_code == 404
    for body in (
        {"answer": "accepted"},
        {"answer": "delivered"},
    ):
        answered = await http.post(
            f"/links/{link_id}/answer",
            json=body | {"answered_on": TODAY.isoformat()},
            headers=partner.manager(),
        )
        assert answered.status_code == 200, answered.text
    view = (await http.get(f"/cases/{case_id}", headers=home.manager())).json()
    assert {i["item_id"]: i["status"] for i in view["items"]}["i-housing"] == "delivered"


async def test_a_declined_link_goes_to_advocacy_which_climbs_and_obtains_the_service_r6b(
    stack: Stack,
) -> None:
    home, partner = await partner_and_home(stack)
    case_id = await planned_case(home, partner)
    http, headers = stack.careplan, home.manager()
    linked = await http.post(f"/cases/{case_id}/items/i-housing/links", json={}, headers=headers)
    assert linked.status_code == 201, linked.text
    link_id = linked.json()["link_id"]
    declined = await http.post(
        f"/links/{link_id}/answer",
        json={"answer": "declined", "decline_reason": "no_capacity", "answered_on": str(TODAY)},
        headers=partner.manager(),
    )
    assert declined.status_code == 200, declined.text

    async def board() -> dict[str, Any]:
        answer = await http.get(f"/agencies/{home.agency_id}/board", headers=home.supervisor_auth())
        result: dict[str, Any] = answer.json()
        return result

    assert [i["item_id"] for i in (await board())["items_not_received"]] == ["i-housing"]
    started = await http.post(
        f"/cases/{case_id}/advocacies",
        json={
            "advocacy_id": "adv-1",
            "item_id": "i-housing",
            "client_encouraged": True,
            "re_request_by": "client",
        },
        headers=headers,
    )
    assert started.status_code == 201, started.text
    skipped = await http.post(
        f"/cases/{case_id}/advocacies/adv-1/steps", json={"step": 3}, headers=headers
    )
    assert skipped.status_code == 409 and skipped.json()["rule"] == "R6b"
    for number in (1, 2):
        stepped = await http.post(
            f"/cases/{case_id}/advocacies/adv-1/steps",
            json={"step": number, "role": "negotiator"},
            headers=headers,
        )
        assert stepped.status_code == 201, stepped.text
    assert [a["advocacy_id"] for a in (await board())["advocacy_in_progress"]] == ["adv-1"]
    concluded = await http.post(
        f"/cases/{case_id}/advocacies/adv-1/conclusion",
        json={"outcome": "service_obtained"},
        headers=headers,
    )
    assert concluded.status_code == 200, concluded.text
    assert (await board())["advocacy_in_progress"] == []
    assert (await board())["items_not_received"] == []
    assert (await stack.events_in(case_id))[-4:] == [
        "AdvocacyStarted",
        "NegotiatedWithFrontLineStaff",
        "AppealedThroughChainOfCommand",
        "AdvocacyConcluded",
    ]


async def test_who_may_act_tokens_roles_and_agencies(stack: Stack) -> None:
    home, partner = await partner_and_home(stack)
    case_id = await planned_case(home, partner)
    http = stack.careplan
    url = f"/cases/{case_id}/direct-services"
    body = {
        "service_record_id": "ds-1",
        "kind": "skills_teaching",
        "role": "educator",
        "need_domain": "income",
        "goal_id": "g1",
        "delivered_on": TODAY.isoformat(),
    }

    assert (await http.post(url, json=body)).status_code == 401
    assert (await http.post(url, json=body, headers=home.admin_auth())).status_code == 403
    assert (await http.post(url, json=body, headers=stack.auditor())).status_code == 403
    assert (await http.post(url, json=body, headers=partner.manager())).status_code == 404
    assert (await http.get(f"/cases/{case_id}", headers=stack.auditor())).status_code == 200
    assert (await http.get(f"/cases/{case_id}", headers=stack.network_admin())).status_code == 200
    recorded = await http.post(url, json=body, headers=home.manager())
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["events"] == ["DirectServiceRecorded"]


async def test_bad_input_is_a_422_that_never_repeats_it(stack: Stack) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    body = plan_body()
    body["goals"][0]["strengths"] = ["Not A Code 900101-1234567"]
    body["surprise"] = "secret-words"

    refused = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions", json=body, headers=home.manager()
    )

    assert refused.status_code == 422
    assert "900101" not in refused.text and "secret-words" not in refused.text
    colon = plan_body()
    colon["goals"][0]["goal_id"] = "g:1"
    for url, sent in (
        (f"/cases/{case_id}/plan-versions", colon),
        (f"/cases/{case_id}/plan-versions/0/agreement", {"agreed_on": TODAY.isoformat()}),
    ):
        answer = await stack.careplan.post(url, json=sent, headers=home.manager())
        assert answer.status_code == 422, answer.text
    assert await stack.events_in(case_id) == []


async def test_two_agreements_racing_leave_one_recorded_and_the_other_a_409_r4(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    http, headers = stack.careplan, home.manager()
    assert (
        await http.post(f"/cases/{case_id}/plan-versions", json=plan_body(), headers=headers)
    ).status_code == 201

    answers = await asyncio.gather(
        *(
            http.post(
                f"/cases/{case_id}/plan-versions/1/agreement",
                json={"agreed_on": TODAY.isoformat()},
                headers=headers,
            )
            for _ in range(2)
        )
    )

    assert sorted(a.status_code for a in answers) == [200, 409]
    assert (await stack.events_in(case_id)).count("PlanAgreed") == 1


async def test_an_erased_client_has_no_words_left_and_nothing_new_is_planned_r11(
    stack: Stack,
) -> None:
    home = await make_agency(stack)
    case_id, client_id = await through_intake(home)
    await known_to_careplan(stack, case_id)
    http, headers = stack.careplan, home.manager()
    assert (
        await http.post(f"/cases/{case_id}/plan-versions", json=plan_body(), headers=headers)
    ).status_code == 201

    erased = await stack.intake.post(
        f"/clients/{client_id}/erasure", json={}, headers=home.supervisor_auth()
    )
    assert erased.status_code in (200, 201), erased.text

    async def words() -> Any:
        return (await http.get(f"/cases/{case_id}/plan-versions/1/words", headers=headers)).json()

    await eventually(words, lambda found: found == {"erased": True}, "shredded in careplan")
    refused = await http.post(
        f"/cases/{case_id}/plan-versions/1/agreement",
        json={"agreed_on": TODAY.isoformat()},
        headers=headers,
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "R11"
