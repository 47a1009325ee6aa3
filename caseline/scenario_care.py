"""The demo's stages 3 and 4 (careplan): the clients assigned at intake get plans and services.

It picks up where intake left the cases: each assigned client gets a care plan built from the
assessment and agrees to it (one declines an item), receives direct services and a crisis
intervention, and is linked to the mental-health centre in Incheon, whose own staff answer the
links over careplan's API (one accepted, one declined). Advocacy climbs Moxley's steps 1 and
2 for the declined one and obtains the service. A fourth plan was agreed on paper five weeks
ago and is entered now, so the overdue scheduler has something to find later. Each rule that
refuses here is shown once: R1, R3, R4 (a declined item, a missing consent) and R6b.

Everything goes through the services' HTTP APIs, as their users would; where a service must
first learn something from Kafka (an assignment, a consent), the request is retried against a
deadline, never for ever. Names, wording and numbers are made up.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from caseline.scenario_http import Network, Reporter, checked, eventually, succeeded
from shared.clock import agency_today
from shared.envelope import Role

GOAL_WORDING = {
    "g-home": "이번 겨울 전에 안정된 주거를 되찾는다",
    "g-mind": "불면과 불안을 줄이고 상담을 꾸준히 받는다",
    "g-income": "체납된 월세를 정리하고 기초생계급여를 신청한다",
}
"""What each goal says, in the client's words: sealed in careplan's vault, never in an event."""

HELPER_NAME = "이웃 정미숙"
"""The informal helper the third client declines: a name for the vault only."""

PRIVATE_WORDS = (*GOAL_WORDING.values(), HELPER_NAME)
"""Words about the clients the auditors must not find in careplan's events."""

WAITING_RULES = frozenset({"R1", "R4", "R6a"})
"""Refusals that lift once a consumer has caught up (an assignment, a consent, a service)."""


@dataclass(frozen=True)
class Desk:
    """The people at work: Mapo's managers and supervisor, and the partner agency's staff."""

    net: Network
    mapo: str
    incheon: str
    kim: dict[str, str]
    lee: dict[str, str]
    supervisor: dict[str, str]
    partner: dict[str, str]
    today: date

    @property
    def careplan(self) -> httpx.AsyncClient:
        """Careplan's HTTP client."""
        return self.net.careplan

    @property
    def mental_health_item(self) -> dict[str, Any]:
        """The item linked to Incheon's counselling service (its ids as the directory has them)."""
        return {
            "need_domain": "mental_health",
            "delivery": "linked_agency",
            "agency_id": self.incheon,
            "department_id": "incheon-casework",
            "service_id": "incheon-mental_health",
        }


@dataclass(frozen=True)
class CareCases:
    """The four cases intake assigned, by the part each plays from here on."""

    crisis: str
    """A: the walk-in client in crisis (kim): crisis intervention, revision, evaluation."""
    interpreter: str
    """B: the Vietnamese-speaking client (kim): a declined link, advocacy."""
    declining: str
    """C: the self-referred client (lee): declines an item; linked once the consent allows."""
    paper: str
    """D: the returning client at the caseload limit (lee): a plan agreed on paper."""

    def all(self) -> list[str]:
        """Every case, A to D."""
        return [self.crisis, self.interpreter, self.declining, self.paper]


def desk_of(net: Network, agencies: dict[str, Any]) -> Desk:
    """The tokens of the people the care stages need, from the network intake used."""
    mapo, incheon = agencies["mapo"], agencies["incheon"]
    return Desk(
        net=net,
        mapo=mapo["id"],
        incheon=incheon["id"],
        kim=net.token(Role.CASE_MANAGER, mapo["id"], mapo["staff"]["kim"]),
        lee=net.token(Role.CASE_MANAGER, mapo["id"], mapo["staff"]["lee"]),
        supervisor=net.token(Role.SUPERVISOR, mapo["id"], mapo["supervisor"]),
        partner=net.token(Role.CASE_MANAGER, incheon["id"], incheon["staff"]["choi"]),
        today=agency_today(),
    )


def refused(answer: httpx.Response, rule: str, status: int = 409) -> bool:
    """Whether a service refused with the rule expected (and so wrote nothing)."""
    return answer.status_code == status and answer.json().get("rule") == rule


def reason(answer: httpx.Response) -> str:
    """The refusal's own words, for the report."""
    detail = answer.json().get("detail", "")
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
    return str(detail)


async def once_learned(
    send: Callable[[], Awaitable[httpx.Response]], seconds: float = 60.0
) -> httpx.Response:
    """Send a request until the service has learned what it needs from Kafka: while it
    answers 404 (the case is not known yet) or a refusal in `WAITING_RULES`, try again."""

    def waiting(answer: httpx.Response) -> bool:
        return answer.status_code == 404 or (
            answer.status_code == 409 and answer.json().get("rule") in WAITING_RULES
        )

    _, answer = await eventually(send, lambda a: not waiting(a), seconds)
    return answer


def goal(
    goal_id: str, target: date, strengths: tuple[str, ...] = ("family_support",)
) -> dict[str, Any]:
    """A goal of a plan: its wording (for the vault), target date and strengths used."""
    return {
        "goal_id": goal_id,
        "wording": GOAL_WORDING[goal_id],
        "target_date": target.isoformat(),
        "strengths": list(strengths),
    }


def item(item_id: str, goal_id: str, start: date, end: date, **delivery: Any) -> dict[str, Any]:
    """An item of a plan: delivered by the own agency unless `delivery` says otherwise."""
    return {
        "item_id": item_id,
        "goal_id": goal_id,
        "delivery": "own_agency",
        "start_on": start.isoformat(),
        "end_on": end.isoformat(),
        **delivery,
    }


async def draft_and_agree(
    desk: Desk,
    case_id: str,
    manager: dict[str, str],
    body: dict[str, Any],
    *,
    agreed_on: date | None = None,
    declined: tuple[str, ...] = (),
) -> int:
    """Draft a plan version with the client and record their agreement (R3, R4)."""
    drafted = checked(
        await once_learned(
            lambda: desk.careplan.post(
                f"/cases/{case_id}/plan-versions", headers=manager, json=body
            )
        )
    )
    version: int = drafted["plan_version"]
    await succeeded(
        desk.careplan.post(
            f"/cases/{case_id}/plan-versions/{version}/agreement",
            headers=manager,
            json={
                "agreed_on": (agreed_on or desk.today).isoformat(),
                "declined_items": list(declined),
            },
        )
    )
    return version


async def consent(
    desk: Desk, case_id: str, manager: dict[str, str], agencies: list[str], purposes: list[str]
) -> None:
    """Record a consent at intake: what the client allows, for which agencies (R4)."""
    await succeeded(
        desk.net.intake.post(
            f"/cases/{case_id}/consents",
            headers=manager,
            json={"agencies": agencies, "purposes": purposes, "valid_until": "2030-12-31"},
        )
    )


async def careplan_board(desk: Desk) -> dict[str, Any]:
    """Mapo's careplan board as its supervisor sees it."""
    board: dict[str, Any] = await succeeded(
        desk.careplan.get(f"/agencies/{desk.mapo}/board", headers=desk.supervisor)
    )
    return board


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


async def enter_paper_plan(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """D: a plan agreed on paper five weeks ago is entered now, with its real dates; its first
    review (a month after agreement) and its income item (ended yesterday) are both past."""
    agreed_on = desk.today - timedelta(days=35)
    body = {
        "plan_date": agreed_on.isoformat(),
        "goals": [goal("g-income", desk.today + timedelta(days=60), ("motivation",))],
        "items": [
            item(
                "i-income",
                "g-income",
                agreed_on,
                desk.today - timedelta(days=1),
                need_domain="income",
            )
        ],
    }
    version = await draft_and_agree(desk, cases.paper, desk.lee, body, agreed_on=agreed_on)
    report.step(
        f"   D: plan v{version} agreed on paper on {agreed_on} and entered today; its income "
        f"item ended {desk.today - timedelta(days=1)} with no service recorded"
    )


async def crisis_first(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """R5a: the client in crisis gets an intervention from assignment on, before any plan;
    until then the case is on the supervisor's board."""
    held, board = await eventually(
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


def standard_plan(desk: Desk, *, interpreter: bool = False) -> dict[str, Any]:
    """Housing by Mapo itself and counselling linked to Incheon, for the assessed needs."""
    support = {"language_support": "interpreter"} if interpreter else {}
    today = desk.today
    return {
        "plan_date": today.isoformat(),
        "goals": [
            goal("g-home", today + timedelta(days=90)),
            goal("g-mind", today + timedelta(days=120)),
        ],
        "items": [
            item(
                "i-housing",
                "g-home",
                today,
                today + timedelta(days=60),
                need_domain="housing",
                **support,
            ),
            item(
                "i-mind",
                "g-mind",
                today,
                today + timedelta(days=90),
                **desk.mental_health_item,
                **support,
            ),
        ],
        "notes": "주 1회 방문 상담; 집주인과 체납 협의 예정",
    }


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
        f"R4: C agreed to plan v{version} but declined the neighbour's weekly visits: "
        f"items {states}",
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
                    "note": "임대차 계약과 주거급여 신청 방법을 함께 정리",
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
                "note": "거절 통지에 낙담했으나 다시 신청하기로 함",
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


async def staff_known(desk: Desk, report: Reporter) -> None:
    """Careplan and monitoring check every token against the members they learned from
    caseline.directory.v1: wait (bounded) until they know the people the stages need."""
    mapo_board = f"/agencies/{desk.mapo}/board"
    probes = [
        (desk.careplan, mapo_board, headers) for headers in (desk.kim, desk.lee, desk.supervisor)
    ]
    probes.append((desk.careplan, f"/agencies/{desk.incheon}/inbox", desk.partner))
    probes += [
        (desk.net.monitoring, "/board", headers)
        for headers in (desk.kim, desk.lee, desk.supervisor)
    ]

    async def answers() -> list[int]:
        return [(await http.get(path, headers=h)).status_code for http, path, h in probes]

    held, seen = await eventually(answers, lambda codes: all(c == 200 for c in codes))
    report.check(
        held,
        "careplan and monitoring learned Mapo's and Incheon's staff from caseline.directory.v1 "
        f"and accept their tokens ({len(seen)} requests answered {sorted(set(seen))})",
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
    await enter_paper_plan(desk, cases, report)
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
