"""The demo's stages 3 and 4 (careplan): the clients assigned at intake get plans and services.

It picks up where intake left the cases: each assigned client gets a care plan built from the
assessment and agrees to it (one declines an item), receives direct services and a crisis
intervention, and is linked to the mental-health centre in Incheon, whose own staff answer the
links over careplan's API (one accepted, one declined). Advocacy climbs Moxley's steps 1 and
2 for the declined one and obtains the service. A fourth plan, agreed today, is left
unattended, so that a month later (`scenario_later`) its review, item and form are late.
Each rule that refuses here is shown once: R1, R3, R4 (a declined item, a missing consent)
and R6b.

Everything goes through the services' HTTP APIs, as their users would (the people and the
requests are in `scenario_desk`). Names, wording and numbers are made up.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import httpx

from caseline.scenario_desk import (
    GOAL_WORDING,
    PLAN_NOTES,
    CareCases,
    Desk,
    careplan_board,
    consent,
    desk_of,
    draft_and_agree,
    goal,
    item,
    once_learned,
    reason,
    refused,
    staff_known,
    standard_plan,
)
from caseline.scenario_http import Network, Reporter, checked, eventually, succeeded

HELPER_NAME = "이웃 정미숙"
"""The informal helper the third client declines: a name for the vault only."""

SERVICE_NOTE = "임대차 계약과 주거급여 신청 방법을 함께 정리"
"""What a direct service covered: for the vault only."""

ADVOCACY_NOTE = "거절 통지에 낙담했으나 다시 신청하기로 함"
"""How the client took the refusal: for the vault only."""

PRIVATE_WORDS = (*GOAL_WORDING.values(), HELPER_NAME, PLAN_NOTES, SERVICE_NOTE, ADVOCACY_NOTE)
"""Words about the clients the auditors must not find in careplan's events."""


async def plan_before_assignment(desk: Desk, report: Reporter) -> None:
    """R1: a case intake found but has not assigned gets no plan; the answer names the step."""
    found = await succeeded(
        desk.net.intake.post("/cases", headers=desk.kim, json={"source": "walk_in"})
    )
    case_id = found["case_id"]
    body = {
        "plan_date": desk.today.isoformat(),
        "goals": [goal("g-home", desk.today + timedelta(days=90))],
    }

    async def draft() -> httpx.Response:
        return await desk.careplan.post(
            f"/cases/{case_id}/plan-versions", headers=desk.kim, json=body
        )

    # 404 until careplan learned intake's CaseFound; then the rule answers.
    _, answer = await eventually(draft, lambda a: a.status_code != 404)
    report.check(
        refused(answer, "R1"),
        f"R1: a plan for a case not yet assigned is refused: {reason(answer)}",
    )


async def enter_short_plan(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """D: a plan agreed today with an income item that ends within the week; nothing is
    recorded for it afterwards, so a month later its review, its item and its form are late
    (`scenario_later`)."""
    ends = desk.today + timedelta(days=7)
    body = {
        "plan_date": desk.today.isoformat(),
        "goals": [goal("g-income", desk.today + timedelta(days=60), ("motivation",))],
        "items": [item("i-income", "g-income", desk.today, ends, need_domain="income")],
    }
    version = await draft_and_agree(desk, cases.paper, desk.lee, body, agreed_on=desk.today)
    report.step(
        f"   D: plan v{version} agreed today; its income item ends {ends}, and nobody will "
        "record a service for it"
    )


async def crisis_first(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """R5a: the client in crisis gets an intervention from assignment on, before any plan;
    until then the case is on the supervisor's board."""
    held, _ = await eventually(
        lambda: careplan_board(desk),
        lambda b: cases.crisis in b["crisis_without_intervention"],
    )
    report.check(held, "A is on the board as a crisis case without a crisis intervention")
    recorded = await once_learned(
        lambda: desk.careplan.post(
            f"/cases/{cases.crisis}/crisis-interventions",
            headers=desk.kim,
            json={
                "intervention_id": "crisis-shelter-night",
                "risk": "homelessness",
                "role": "implementer",
                "need_domain": "housing",
                "delivered_on": desk.today.isoformat(),
            },
        )
    )
    board = await careplan_board(desk)
    report.check(
        recorded.status_code == 201 and cases.crisis not in board["crisis_without_intervention"],
        "R5a: A's crisis intervention (emergency shelter for the homelessness risk) is "
        "recorded before any plan, and A leaves the crisis list",
    )


async def plan_with_clients(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """A, B and C: plans built from the assessment with each client; C declines an item."""
    for label, case_id, body in (
        ("A", cases.crisis, standard_plan(desk)),
        ("B", cases.interpreter, standard_plan(desk, interpreter=True)),
    ):
        version = await draft_and_agree(desk, case_id, desk.kim, body)
        report.step(
            f"   {label}: plan v{version} agreed: housing by Mapo, counselling linked to "
            f"Incheon{' (interpreter arranged, R11)' if label == 'B' else ''}"
        )

    body = standard_plan(desk)
    food = item("i-food", "g-home", desk.today, desk.today + timedelta(days=30), need_domain="food")
    wrong = await once_learned(
        lambda: desk.careplan.post(
            f"/cases/{cases.declining}/plan-versions",
            headers=desk.lee,
            json={**body, "items": [*body["items"], food]},
        )
    )
    report.check(
        refused(wrong, "R3"),
        f"R3: an item for a need the assessment did not find is refused: {reason(wrong)}",
    )
    neighbour = item(
        "i-neighbour",
        "g-mind",
        desk.today,
        desk.today + timedelta(days=90),
        need_domain="mental_health",
        delivery="informal",
        informal_resource_id="helper-neighbour",
        helper_name=HELPER_NAME,
    )
    version = await draft_and_agree(
        desk,
        cases.declining,
        desk.lee,
        {**body, "items": [*body["items"], neighbour]},
        declined=("i-neighbour",),
    )
    plan = await succeeded(desk.careplan.get(f"/cases/{cases.declining}", headers=desk.lee))
    states = {i["item_id"]: i["status"] for i in plan["items"]}
    report.check(
        plan["in_force"] == version and states.get("i-neighbour") == "client_declined",
        f"R4: C agreed to plan v{version} but declined one item, a neighbour's weekly visits "
        f"({', '.join(f'{i} {state}' for i, state in states.items())})",
    )


async def link(desk: Desk, case_id: str, manager: dict[str, str], item_id: str) -> httpx.Response:
    """Link an item to its partner (careplan chooses the link's id)."""
    return await desk.careplan.post(
        f"/cases/{case_id}/items/{item_id}/links", headers=manager, json={"role": "linker"}
    )


async def answer(desk: Desk, link_id: str, said: str, **why: str) -> httpx.Response:
    """The partner agency's staff answer a link addressed to them."""
    return await desk.careplan.post(
        f"/links/{link_id}/answer",
        headers=desk.partner,
        json={"answer": said, "answered_on": desk.today.isoformat(), **why},
    )


async def implement(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """Direct services, links answered by Incheon's staff, and advocacy (R4, R5, R6)."""
    for label, case_id, kind, role in (
        ("A", cases.crisis, "skills_teaching", "educator"),
        ("B", cases.interpreter, "supporting_change", "supporter"),
    ):
        await succeeded(
            desk.careplan.post(
                f"/cases/{case_id}/direct-services",
                headers=desk.kim,
                json={
                    "service_record_id": f"housing-{kind}",
                    "kind": kind,
                    "role": role,
                    "need_domain": "housing",
                    "goal_id": "g-home",
                    "delivered_on": desk.today.isoformat(),
                    "note": SERVICE_NOTE,
                },
            )
        )
        report.step(f"   {label}: direct service for housing by Mapo ({kind}, {role}, R5)")

    declined = await link(desk, cases.declining, desk.lee, "i-neighbour")
    report.check(
        refused(declined, "R4"),
        f"R4: the item C declined is never linked: {reason(declined)}",
    )
    unconsented = await link(desk, cases.declining, desk.lee, "i-mind")
    report.check(
        refused(unconsented, "R4"),
        f"R4: linking C to Incheon without a consent naming it is refused: {reason(unconsented)}",
    )
    await consent(desk, cases.declining, desk.lee, [desk.mapo, desk.incheon], ["service_linking"])
    links: dict[str, str] = {}
    for label, case_id, manager in (
        ("A", cases.crisis, desk.kim),
        ("B", cases.interpreter, desk.kim),
        ("C", cases.declining, desk.lee),
    ):
        linked = checked(
            await once_learned(functools.partial(link, desk, case_id, manager, "i-mind"))
        )
        links[label] = linked["link_id"]
    report.step("   C's consent to linking recorded at intake; A, B and C linked to Incheon")

    inbox = await succeeded(
        desk.careplan.get(f"/agencies/{desk.incheon}/inbox", headers=desk.partner)
    )
    mine = {entry["link_id"] for entry in inbox}
    report.check(
        set(links.values()) <= mine,
        f"Incheon's staff see the 3 links in their inbox (ids and codes only: "
        f"{sorted({e['need_domain'] for e in inbox})})",
    )
    answers = {
        "A": await answer(desk, links["A"], "accepted"),
        "B": await answer(desk, links["B"], "declined", decline_reason="not_eligible"),
        "C": await answer(desk, links["C"], "accepted"),
    }
    delivered = await answer(desk, links["A"], "delivered")
    report.check(
        all(a.is_success for a in (*answers.values(), delivered)),
        "Incheon accepts A's and C's links and delivers A's counselling; it declines B's "
        "(not eligible)",
    )
    board = await careplan_board(desk)
    report.check(
        any(
            e["case_id"] == cases.interpreter and e["item_id"] == "i-mind"
            for e in board["items_not_received"]
        ),
        "the board shows B's counselling as not received",
    )
    await advocate(desk, cases, links["B"], report)


async def advocate(desk: Desk, cases: CareCases, link_id: str, report: Reporter) -> None:
    """R6b: advocacy for B's declined counselling, step by step, until it is obtained."""
    base = f"/cases/{cases.interpreter}/advocacies"
    await succeeded(
        desk.careplan.post(
            base,
            headers=desk.kim,
            json={
                "advocacy_id": "adv-counselling",
                "item_id": "i-mind",
                "client_encouraged": True,
                "re_request_by": "client",
                "note": ADVOCACY_NOTE,
            },
        )
    )
    steps = f"{base}/adv-counselling/steps"
    first = await desk.careplan.post(
        steps, headers=desk.kim, json={"step": 1, "role": "negotiator"}
    )
    skipped = await desk.careplan.post(steps, headers=desk.kim, json={"step": 3})
    report.check(
        refused(skipped, "R6b"),
        f"R6b: jumping from step 1 to step 3 without a coded reason is refused: {reason(skipped)}",
    )
    second = await desk.careplan.post(steps, headers=desk.kim, json={"step": 2})
    concluded = await desk.careplan.post(
        f"{base}/adv-counselling/conclusion",
        headers=desk.kim,
        json={"outcome": "service_obtained"},
    )
    delivered = await answer(desk, link_id, "delivered")
    plan = await succeeded(desk.careplan.get(f"/cases/{cases.interpreter}", headers=desk.kim))
    counselling = next(i for i in plan["items"] if i["item_id"] == "i-mind")
    report.check(
        all(a.is_success for a in (first, second, concluded, delivered))
        and counselling["delivered"],
        "R6b: B, encouraged, asks again; the manager negotiates with front-line staff (step 1), "
        "appeals through the chain of command (step 2), the service is obtained and Incheon "
        "delivers it",
    )


async def run_care(
    net: Network, agencies: dict[str, Any], cases: CareCases, report: Reporter
) -> Desk:
    """Stages 3 and 4 for the cases intake assigned; the desk the later stages use."""
    desk = desk_of(net, agencies)
    report.step(
        "11. Care planning at Mapo (careplan): crisis first, then plans the clients agree to"
    )
    for label, case_id, who in (
        ("A", cases.crisis, "walk-in client in crisis, kim"),
        ("B", cases.interpreter, "Vietnamese-speaking client, kim"),
        ("C", cases.declining, "self-referred client, lee"),
        ("D", cases.paper, "returning client, lee over the limit"),
    ):
        report.step(f"   {label} = {case_id} ({who})")
    await staff_known(desk, report)
    # The consents careplan and monitoring need: linking to Incheon for A and B, follow-up
    # forms for A, B and D (C consents to linking later, to show the refusal before it).
    for case_id, manager, agencies_named, purposes in (
        (cases.crisis, desk.kim, [desk.mapo, desk.incheon], ["service_linking", "monitoring"]),
        (cases.interpreter, desk.kim, [desk.mapo, desk.incheon], ["service_linking", "monitoring"]),
        (cases.paper, desk.lee, [desk.mapo], ["monitoring"]),
    ):
        await consent(desk, case_id, manager, agencies_named, purposes)
    await plan_before_assignment(desk, report)
    await enter_short_plan(desk, cases, report)
    await crisis_first(desk, cases, report)
    await plan_with_clients(desk, cases, report)
    report.step("12. Implementation: direct services, links the partner answers, advocacy")
    await implement(desk, cases, report)
    return desk


async def words_read_back(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """The goals' wording comes back from careplan's vault to the case's manager (logged)."""
    words = await succeeded(
        desk.careplan.get(f"/cases/{cases.crisis}/plan-versions/1/words", headers=desk.kim)
    )
    expected = {g: GOAL_WORDING[g] for g in ("g-home", "g-mind")}
    report.check(
        words.get("goals") == expected,
        "A's goals, in the client's words, are read back from careplan's vault by A's "
        "manager (the read is a row of the vault's access log)",
    )
