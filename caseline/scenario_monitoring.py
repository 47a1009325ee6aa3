"""The demo's stages 5 and 6 (monitoring): the plans careplan put in force are followed up,
reviewed and evaluated, and what falls due unattended shows on the supervisor's board.

Monitoring learns the plans, items and consents from Kafka; the scenario waits for what it
needs with a deadline. A home visit, mailed forms (one comes back with a negative answer and
is followed up), a review that finds a new need and sends A back to planning in careplan,
the revised plan agreed, and an evaluation that rates every goal against instrument
baselines. The refusals shown once: R6d (a review leaving out a goal: 422; a form due the
day it is sent), R1 (evaluation while the revision is pending) and R7 (evaluation before the
version in force was reviewed).

The overdue scheduler runs inside the monitoring service, once a minute by default
(`CASELINE_SCHEDULER_SECONDS`, which the demo sets to a few seconds; its first pass is at
start-up), and judges "overdue" as "the due date is before today". A form is sent today
and due after today, so a form of this run becomes overdue the day after its due date, never
during the run. The scenario shows the same judgement on the plan entered from paper (its
first review and an item past their dates), and the forms of earlier runs on the same
database that are overdue by now.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import asyncpg

from caseline.scenario_desk import (
    CareCases,
    Desk,
    draft_and_agree,
    goal,
    item,
    once_learned,
    reason,
    refused,
    standard_plan,
)
from caseline.scenario_http import Reporter, checked, eventually, succeeded

FORM_ANSWER = "집주인이 다음 달 퇴거를 통보했다고 함"
"""What A's household wrote back: sealed in monitoring's vault, never in an event."""

REVIEW_NOTES = "월세 체납이 다시 늘어 소득 지원이 필요함"
"""The manager's review notes: for the vault only."""

VISIT_NOTES = "집 안이 정돈되어 있고 보일러 수리가 끝남"
"""What the manager saw on the home visit: for the vault only."""

PRIVATE_WORDS = (FORM_ANSWER, REVIEW_NOTES, VISIT_NOTES)
"""Words about the clients the auditors must not find in monitoring's events."""

SCHEDULER_WAIT_SECONDS = 60.0
"""The demo's scheduler looks every few seconds: many passes, and the learning before them,
fit in this."""

EARLIER_AGENCIES_LOOKED_AT = 200
"""A long-used database keeps every earlier run's agencies: the demo looks at so many."""

BASELINES = {"network_social": 12, "network_providers": 9, "phq9": 16}
"""A's instrument scores after the plan took effect (R7)."""

LATER_SCORES = {"network_social": 19, "network_providers": 15, "phq9": 10}
"""The same instruments scored again at evaluation."""


async def monitored(desk: Desk, case_id: str) -> dict[str, Any] | None:
    """What monitoring watches on a case (as Mapo's supervisor reads it), None until known."""
    answer = await desk.net.monitoring.get(f"/cases/{case_id}", headers=desk.supervisor)
    if answer.status_code == 404:
        return None
    found: dict[str, Any] = checked(answer)
    return found


async def in_force(desk: Desk, case_id: str, version: int) -> tuple[bool, dict[str, Any]]:
    """Wait until monitoring learned that `version` is in force and no revision is pending;
    whether it did, and what monitoring watches on the case."""
    held, seen = await eventually(
        lambda: monitored(desk, case_id),
        lambda c: c is not None and c["plan_version"] == version and not c["revision_pending"],
    )
    return held, seen or {}


async def board(desk: Desk) -> dict[str, Any]:
    """Mapo's monitoring board, as its supervisor reads it."""
    found: dict[str, Any] = await succeeded(
        desk.net.monitoring.get("/board", headers=desk.supervisor)
    )
    return found


def on(entries: list[dict[str, Any]], case_id: str, subject: str | None = None) -> bool:
    """Whether a board list names the case (and the subject: a form, an item, `review`)."""
    return any(
        e["case_id"] == case_id and (subject is None or e["subject"] == subject) for e in entries
    )


def review(goals: dict[str, str], items: dict[str, str], **answers: Any) -> dict[str, Any]:
    """A review's body: R6d's four questions (the first and fourth in `answers`)."""
    return {
        "goals": [{"goal_id": g, "progress": p} for g, p in goals.items()],
        "items": [{"item_id": i, "fit": f} for i, f in items.items()],
        "client_satisfied": True,
        "manager_satisfied": True,
        "new_needs": False,
        **answers,
    }


async def send_form(desk: Desk, case_id: str, headers: dict[str, str], due: date) -> str:
    """Mail a follow-up form (once monitoring learned the consent for it) and its id."""
    sent = checked(
        await once_learned(
            lambda: desk.net.monitoring.post(
                f"/cases/{case_id}/forms", headers=headers, json={"due_on": due.isoformat()}
            )
        )
    )
    form_id: str = sent["record_id"]
    return form_id


async def follow_up(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """Stage 5 for A and B: a home visit, forms, a review with a new need, the revision."""
    monitoring, a, kim = desk.net.monitoring, cases.crisis, desk.kim
    report.step("13. Monitoring (monitoring): a home visit, mailed forms, reviews (R6d)")
    learned = [await in_force(desk, c, 1) for c in (a, cases.interpreter, cases.paper)]
    report.check(
        all(held for held, _ in learned),
        "monitoring learned the plans in force of A, B and D from caseline.careplan.v1; "
        f"first reviews due {learned[0][1].get('next_review_on')} (A, B), "
        f"{learned[2][1].get('next_review_on')} (D)",
    )
    visit = await monitoring.post(
        f"/cases/{a}/visits",
        headers=kim,
        json={"visited_on": desk.today.isoformat(), "observations": VISIT_NOTES},
    )
    report.check(visit.status_code == 201, "kim, A's manager, records a home visit")

    due = desk.today + timedelta(days=14)
    form_a = await send_form(desk, a, kim, due)
    await send_form(desk, cases.interpreter, kim, due)
    report.step(f"   forms mailed to A's and B's households under their consent (R4), due {due}")
    await succeeded(
        monitoring.post(
            f"/cases/{a}/forms/{form_a}/return",
            headers=kim,
            json={
                "answers": [
                    {"question": "housing_secure", "answer": FORM_ANSWER, "negative": True},
                    {"question": "counselling_helps", "answer": "도움이 됨", "negative": False},
                ]
            },
        )
    )
    report.check(
        on((await board(desk))["negative_forms_without_follow_up"], a, form_a),
        "A's form comes back with a negative answer: on the board until followed up",
    )

    goals = {"g-home": "progressing", "g-mind": "progressing"}
    items = {"i-housing": "appropriate", "i-mind": "appropriate"}
    partial = review({"g-home": "progressing"}, items, implementation=3)
    missing = await monitoring.post(f"/cases/{a}/reviews", headers=kim, json=partial)
    report.check(
        refused(missing, "R6d", status=422),
        f"R6d: a review that leaves out a goal of the version in force is refused "
        f"({missing.status_code}: {reason(missing)})",
    )
    found_need = await succeeded(
        monitoring.post(
            f"/cases/{a}/reviews",
            headers=kim,
            json=review(
                goals,
                items,
                implementation=3,
                new_needs=True,
                new_need_domains=["income"],
                client_satisfied=False,
                action="revise_plan",
                notes=REVIEW_NOTES,
            ),
        )
    )
    followed = await monitoring.post(
        f"/cases/{a}/forms/{form_a}/follow-up", headers=kim, json={"kind": "revision"}
    )
    report.check(
        "PlanRevisionRequired" in found_need["events"]
        and followed.status_code == 201
        and not on((await board(desk))["negative_forms_without_follow_up"], a),
        "A's review answers the four questions and finds a new need (income): "
        f"{', '.join(found_need['events'])}; the negative form is followed up by the revision",
    )
    await revise(desk, cases, report)


async def revise(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """R6d loop: careplan sends A back to planning; evaluation waits (R1) for the revision."""
    a = cases.crisis

    async def back_in_planning() -> tuple[bool, bool, bool]:
        plan = await succeeded(desk.careplan.get(f"/cases/{a}", headers=desk.kim))
        careplan_board = await succeeded(
            desk.careplan.get(f"/agencies/{desk.mapo}/board", headers=desk.supervisor)
        )
        return (
            plan["returned_to_planning"],
            a in careplan_board["returned_to_planning"],
            on((await board(desk))["revisions_pending"], a),
        )

    held, _ = await eventually(back_in_planning, all)
    report.check(
        held,
        "R6d: careplan read monitoring's PlanRevisionRequired and sent A back to planning; "
        "both boards show it",
    )
    for instrument, score in BASELINES.items():
        await succeeded(
            desk.net.monitoring.post(
                f"/cases/{a}/baselines",
                headers=desk.kim,
                json={"instrument": instrument, "score": score},
            )
        )
    report.step(
        "   baselines scored after the plan took effect (R7): "
        + ", ".join(f"{k} {v}" for k, v in BASELINES.items())
    )
    early = await desk.net.monitoring.post(
        f"/cases/{a}/evaluations", headers=desk.kim, json=evaluation()
    )
    report.check(
        refused(early, "R1"),
        f"R1: evaluating while the revision is pending is refused: {reason(early)}",
    )
    body = standard_plan(desk)
    body["goals"].append(goal("g-income", desk.today + timedelta(days=60)))
    body["items"].append(
        item(
            "i-income",
            "g-income",
            desk.today,
            desk.today + timedelta(days=45),
            need_domain="income",
        )
    )
    version = await draft_and_agree(desk, a, desk.kim, body)
    held, _ = await in_force(desk, a, version)
    report.check(
        held,
        f"A agrees to plan v{version}, which adds income support by Mapo (R3: the new need "
        "is addressed); monitoring now follows v2",
    )


def evaluation() -> dict[str, Any]:
    """A's evaluation: every goal of v2 rated, each instrument scored again (R7)."""
    return {
        "goals": [
            {"goal_id": "g-home", "rating": "achieved"},
            {"goal_id": "g-mind", "rating": "partly"},
            {"goal_id": "g-income", "rating": "partly"},
        ],
        "scores": LATER_SCORES,
        "no_further_service_needed": False,
    }


async def evaluate(desk: Desk, cases: CareCases, pool: asyncpg.Pool, report: Reporter) -> None:
    """Stage 6 for A: refused before the version in force is reviewed, then recorded."""
    a, monitoring = cases.crisis, desk.net.monitoring
    report.step("14. Evaluation (monitoring, R7): every goal rated, instruments against baselines")
    unreviewed = await monitoring.post(
        f"/cases/{a}/evaluations", headers=desk.kim, json=evaluation()
    )
    report.check(
        refused(unreviewed, "R7"),
        f"R7: an evaluation before the version in force was reviewed is refused: "
        f"{reason(unreviewed)}",
    )
    await succeeded(
        monitoring.post(
            f"/cases/{a}/reviews",
            headers=desk.kim,
            json=review(
                {"g-home": "reached", "g-mind": "progressing", "g-income": "progressing"},
                {"i-housing": "appropriate", "i-mind": "appropriate", "i-income": "appropriate"},
                implementation=4,
            ),
        )
    )
    recorded = await succeeded(
        monitoring.post(f"/cases/{a}/evaluations", headers=desk.kim, json=evaluation())
    )
    raw = await pool.fetchval(
        "SELECT payload::text FROM monitoring.events WHERE case_id = $1 "
        "AND event_type = 'EvaluationRecorded' ORDER BY stream_version DESC LIMIT 1",
        a,
    )
    event = json.loads(raw) if raw else {}
    results = {r["instrument"]: r for r in event.get("instruments", [])}
    report.check(
        recorded["events"] == ["EvaluationRecorded"]
        and len(event.get("goals", [])) == 3
        and all(results.get(k, {}).get("baseline") == v for k, v in BASELINES.items()),
        "A's evaluation rates all 3 goals (home achieved, counselling and income partly) and "
        "scores each instrument against its baseline:",
    )
    for code, result in results.items():
        report.step(
            f"      {code:<18} {result['baseline']:>3} -> {result['score']:>3}  "
            f"change {result['change']:+d}"
        )
    permitted = event.get("permits_planned_termination")
    report.check(
        permitted is False,
        "not every goal is achieved and services go on: a planned termination is not "
        "permitted yet (what closure will check, R1/R8)",
    )


async def overdue(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """The scheduler's judgement on the board; why no form of this run can be overdue."""
    d = cases.paper
    report.step(
        "15. Overdue: monitoring's scheduler looks every few seconds here; the board shows it"
    )
    today_due = await desk.net.monitoring.post(
        f"/cases/{d}/forms", headers=desk.lee, json={"due_on": desk.today.isoformat()}
    )
    report.check(
        refused(today_due, "R6d"),
        f"R6d: a form due back the day it is sent is refused: {reason(today_due)}",
    )
    tomorrow = desk.today + timedelta(days=1)
    await send_form(desk, d, desk.lee, tomorrow)
    report.step(
        f"   D's form is due back {tomorrow}; a due date before today is overdue, so the "
        f"scheduler records its FormOverdue on {tomorrow + timedelta(days=1)} if it has not "
        "come back: no form of this run can be overdue before the run ends"
    )
    dates = await monitored(desk, d) or {}

    async def seen() -> dict[str, Any]:
        return await board(desk)

    held, _ = await eventually(
        seen,
        lambda b: on(b["reviews_overdue"], d, "review") and on(b["delayed_items"], d, "i-income"),
        SCHEDULER_WAIT_SECONDS,
    )
    report.check(
        held,
        f"the scheduler recorded ReviewOverdue for D's first review (due "
        f"{dates.get('next_review_on')}) and ItemDelayed for its income item (ended "
        f"{desk.today - timedelta(days=1)}); both are on Mapo's board",
    )
    careplan_board = await succeeded(
        desk.careplan.get(f"/agencies/{desk.mapo}/board", headers=desk.supervisor)
    )
    report.check(
        any(
            e["case_id"] == d and e["item_id"] == "i-income"
            for e in careplan_board["items_not_received"]
        ),
        "careplan's board lists D's income item as not received (past its end): advocacy "
        "may start (R6b)",
    )
    await earlier_forms(desk, report)


async def earlier_forms(desk: Desk, report: Reporter) -> None:
    """Forms sent by earlier demo runs on this database that are overdue by now (shown, not
    checked: a clean database has none)."""
    net = desk.net
    agencies = await succeeded(net.directory.get("/agencies", headers=net.admin()))
    earlier = [
        a["agency_id"]
        for a in agencies
        if a["agency_id"].startswith("mapo-") and a["agency_id"] != desk.mapo
    ][:EARLIER_AGENCIES_LOOKED_AT]
    overdue_forms: list[dict[str, Any]] = []
    for agency_id in earlier:
        answer = await net.monitoring.get(
            "/board", params={"agency_id": agency_id}, headers=net.admin()
        )
        if answer.status_code == 200:
            overdue_forms += answer.json()["forms_overdue"]
    if overdue_forms:
        first = overdue_forms[0]
        report.step(
            f"   earlier runs on this database: {len(overdue_forms)} form(s) overdue on their "
            f"agencies' boards (FormOverdue), e.g. {first['subject']} of {first['case_id']}, "
            f"due {first['due_on']}"
        )
    else:
        report.step(
            f"   earlier runs on this database: no form overdue yet ({len(earlier)} earlier "
            "Mapo agencies looked at); a run two days from now will show this run's D form"
        )


async def run_monitoring(
    desk: Desk, cases: CareCases, pool: asyncpg.Pool, report: Reporter
) -> None:
    """Stages 5 and 6 for the plans careplan put in force."""
    await follow_up(desk, cases, report)
    await evaluate(desk, cases, pool, report)
    await overdue(desk, cases, report)
