"""The demo's stages 7 and 8 (closure): cases end for coded reasons, and every end that
leaves care unfinished is written with its referral to an agency that has never served the
client and can meet the needs (R8, R9, R10).

Driven over the services' HTTP APIs only: the directory (more partners, a manager's
departure, Mapo's closure), intake (consents naming referral targets, a reassignment, a case
still at assessment), monitoring (the evaluation a planned end needs) and closure
(preparation, approval, termination, referral options, the targets' answers, the client's
refusal, FHIR). Closure learns all it decides on from Kafka, so each step first waits,
bounded, until closure shows what it needs; the fan-out of a departure or a closure runs in
closure's scheduler, whose interval the demo sets to a few seconds. Mapo's closure and the
overdue referral are in `scenario_agency_closure`.
"""

from __future__ import annotations

from typing import Any

from caseline.scenario_agency_closure import agency_closure, overdue_referral
from caseline.scenario_closure_desk import (
    CLOSURE_WAIT_SECONDS,
    Targets,
    closure_case,
    consent_to_referral,
    extend_network,
    short,
    until_case,
    until_eligible,
)
from caseline.scenario_desk import CareCases, Desk, reason, refused
from caseline.scenario_http import Reporter, eventually, succeeded
from caseline.scenario_later import MoveCalendar
from caseline.scenario_monitoring import LATER_SCORES


async def planned_end(desk: Desk, cases: CareCases, report: Reporter) -> None:
    """R1, R8, R10: A's case ends as planned, after an evaluation that permits it."""
    net, a = desk.net, cases.crisis
    report.step("19. A planned termination (closure): evaluation, preparation, approval (R8)")
    known, _ = await until_case(net, a, lambda c: c["manager_id"] is not None)
    early = await net.closure.post(
        f"/cases/{a}/termination", headers=desk.kim, json={"reason": "goals_achieved"}
    )
    report.check(
        known and refused(early, "R1"),
        f"R1: a planned end while the last evaluation does not permit it is refused: "
        f"{reason(early)}",
    )
    await succeeded(
        net.monitoring.post(
            f"/cases/{a}/evaluations",
            headers=desk.kim,
            json={
                "goals": [
                    {"goal_id": g, "rating": "achieved"} for g in ("g-home", "g-mind", "g-income")
                ],
                "scores": LATER_SCORES,
                "no_further_service_needed": False,
            },
        )
    )
    permits, seen = await until_case(net, a, lambda c: c["evaluation_permits"])
    report.check(
        permits and not seen.get("unmet_needs"),
        "R7, R1: monitoring's second evaluation rates every goal achieved; closure learned it "
        "from caseline.monitoring.v1: a planned end is permitted and no need is left unmet",
    )
    unprepared = await net.closure.post(
        f"/cases/{a}/termination", headers=desk.kim, json={"reason": "goals_achieved"}
    )
    typed = await net.closure.post(
        f"/cases/{a}/termination",
        headers=desk.kim,
        json={"reason": "goals_achieved", "termination_class": "complete"},
    )
    report.check(
        refused(unprepared, "R10") and typed.status_code == 422,
        f"R10: ending before the preparation is recorded is refused ({reason(unprepared)}); "
        f"R8: a termination that types its own class is refused ({typed.status_code})",
    )
    await succeeded(
        net.closure.post(
            f"/cases/{a}/preparation",
            headers=desk.kim,
            json={
                "community_resources_found": True,
                "help_again_explained": True,
                "independent_activity_encouraged": True,
                "gains_maintenance_planned": True,
                "reactions": ["anxiety", "sadness"],
                "responses": ["accepted_and_acknowledged", "reviewed_gains"],
            },
        )
    )
    unapproved = await net.closure.post(
        f"/cases/{a}/termination", headers=desk.kim, json={"reason": "goals_achieved"}
    )
    await succeeded(net.closure.post(f"/cases/{a}/approval", headers=desk.supervisor))
    ended = await succeeded(
        net.closure.post(
            f"/cases/{a}/termination", headers=desk.kim, json={"reason": "goals_achieved"}
        )
    )
    report.check(
        refused(unapproved, "R8") and ended["events"] == ["CaseTerminated"],
        "R10, R8: kim records the preparation (resources found, how to ask again, the client's "
        "anxiety accepted); without the supervisor's approval the end is refused, with it "
        f"A ends goals_achieved (complete, no referral): {ended['events']}",
    )


async def client_ends(desk: Desk, cases: CareCases, targets: Targets, report: Reporter) -> None:
    """R8, R4: B moves away and accepts a referral, then declines it; never forced."""
    net, b = desk.net, cases.interpreter
    report.step("20. B moves away: a referral is offered, accepted, then declined by B (R4)")
    await consent_to_referral(desk, b, desk.kim, [targets.seodaemun])
    learned = await until_eligible(net, b, [targets.seodaemun])
    unanswered = await net.closure.post(
        f"/cases/{b}/termination", headers=desk.kim, json={"reason": "client_moved_away"}
    )
    report.check(
        learned and refused(unanswered, "R8"),
        f"R8: a client-initiated end without the client's answer to the referral offer is "
        f"refused: {reason(unanswered)}",
    )
    ended = await succeeded(
        net.closure.post(
            f"/cases/{b}/termination",
            headers=desk.kim,
            json={"reason": "client_moved_away", "client_accepts_referral": True},
        )
    )
    report.check(
        ended["events"] == ["CaseTerminated", "ReferralOfferAnswered", "ReferralIssued"]
        and (ended["target"] or {}).get("agency_id") == targets.seodaemun,
        f"R9: B accepts the offer; the referral goes to Seodaemun, not Incheon (whose "
        f"counselling already served B): {', '.join(ended['events'])}",
    )
    declined = await succeeded(
        net.closure.post(f"/cases/{b}/referral/client-decline", headers=desk.kim)
    )
    report.check(
        declined["events"] == ["ReferralDeclinedByClient"]
        and declined["referral_status"] == "declined_by_client",
        "R4: B then declines the referral; it is recorded, never forced "
        f"({declined['referral_status']})",
    )


async def departure(
    desk: Desk, cases: CareCases, targets: Targets, staff: dict[str, str], report: Reporter
) -> str:
    """R12, R8, R9: lee leaves; the case reassigned before stays open, the other is
    terminated with a referral that is declined, moves on, is accepted and opens a case."""
    net, c, d = desk.net, cases.declining, cases.paper
    kim, lee = staff["kim"], staff["lee"]
    report.step("21. A manager departs: one case reassigned first, the other referred (R8, R9)")

    async def loads() -> dict[str, int]:
        board = await succeeded(
            net.intake.get(f"/agencies/{desk.mapo}/caseloads", headers=desk.kim)
        )
        return {s["staff_id"]: s["caseload"] for s in board["staff"]}

    fell, seen = await eventually(loads, lambda s: s.get(kim) == 0, CLOSURE_WAIT_SECONDS)
    report.check(
        fell,
        f"R12: intake read A's and B's CaseTerminated from caseline.closure.v1 and kim's "
        f"caseload fell to {seen.get(kim)}",
    )
    await succeeded(
        net.intake.post(
            f"/cases/{d}/reassignment",
            headers=desk.supervisor,
            json={"to_staff_id": kim, "reason": "staff_departed"},
        )
    )
    await consent_to_referral(desk, c, desk.lee, [targets.seodaemun])
    await consent_to_referral(desk, d, desk.kim, [targets.seodaemun, targets.yeonhui])
    reassigned, _ = await until_case(net, d, lambda s: s["manager_id"] == kim)
    ready = await until_eligible(net, c, [targets.incheon, targets.seodaemun])
    await succeeded(
        net.directory.post(
            f"/agencies/{desk.mapo}/staff/{lee}/depart",
            headers=net.admin(),
            json={"departed_on": desk.today.isoformat(), "reason": "이직"},
        )
    )
    ended, seen_c = await until_case(net, c, lambda s: s["terminated"] is not None)
    referral = seen_c.get("referral") or {}
    still = await closure_case(net, d) or {}
    report.check(
        reassigned
        and ready
        and ended
        and seen_c["terminated"]["reason"] == "manager_left"
        and seen_c["terminated"]["termination_class"] == "incomplete"
        and referral.get("status") == "issued"
        and still.get("terminated") is None,
        f"R8, R9: lee departs today; closure's scheduler ends C (manager_left, incomplete) "
        f"with its referral issued to {short((referral.get('target') or {}).get('agency_id'))} "
        "in the same append; D, reassigned to kim before, stays open",
    )
    referral_id = str(referral.get("referral_id"))
    declined = await succeeded(
        net.closure.post(
            f"/referrals/{referral_id}/decline",
            headers=targets.incheon_staff,
            json={"reason": "no_capacity"},
        )
    )
    report.check(
        declined["events"] == ["ReferralDeclined", "ReferralIssued"]
        and (declined["target"] or {}).get("agency_id") == targets.seodaemun,
        "R9: Incheon's staff decline it (no_capacity); the next eligible target, Seodaemun, "
        f"is issued in the same append: {', '.join(declined['events'])}",
    )
    accepted = await succeeded(
        net.closure.post(f"/referrals/{referral_id}/acceptance", headers=targets.seodaemun_staff)
    )
    closed, seen_c = await until_case(
        net, c, lambda s: (s["referral"] or {}).get("status") == "completed"
    )
    report.check(
        accepted["events"] == ["ReferralAccepted"] and closed,
        "R9: Seodaemun accepts; its intake opens the linked inbound-referral case from "
        "caseline.closure.v1 and closure closes the loop (ReferralCompleted)",
    )
    fhir = await succeeded(net.closure.get(f"/referrals/{referral_id}/fhir", headers=net.admin()))
    resources = [e["resource"] for e in fhir["entry"]]
    request = next(r for r in resources if r["resourceType"] == "ServiceRequest")
    tasks = [
        (short(r["owner"]["reference"].split("/", 1)[1]), r["status"])
        for r in resources
        if r["resourceType"] == "Task"
    ]
    report.check(
        request["status"] == "completed" and [s for _, s in tasks] == ["rejected", "completed"],
        f"R9: GET /referrals/{referral_id}/fhir is a FHIR R4 Bundle, ServiceRequest "
        f"{request['status']}, one Task per target: "
        + ", ".join(f"{owner} {status}" for owner, status in tasks),
    )
    return referral_id


async def run_closure(
    desk: Desk,
    agencies: dict[str, Any],
    cases: CareCases,
    screened_out: str,
    report: Reporter,
    move_calendar: MoveCalendar,
) -> None:
    """Stages 7 and 8 for Mapo's cases, then Mapo's closure; `move_calendar` moves the
    training network's calendar further ahead for the overdue referral."""
    targets = await extend_network(desk, agencies, report)
    await planned_end(desk, cases, report)
    await client_ends(desk, cases, targets, report)
    await departure(desk, cases, targets, agencies["mapo"]["staff"], report)
    await agency_closure(desk, cases, targets, screened_out, report)
    await overdue_referral(desk.net, cases.paper, targets, report, move_calendar)
