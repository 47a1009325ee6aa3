"""The demo's agency closure (R8, R9): Mapo closes with cases open at three stages and
each ends with its referral; the referral options of one are shown; the referral left
unanswered is followed to its due date; and `caseline verify`'s check closes the run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from caseline.scenario_closure_desk import (
    Targets,
    closure_case,
    options_of,
    short,
    until_case,
    until_eligible,
)
from caseline.scenario_desk import CareCases, Desk
from caseline.scenario_http import Network, Reporter, succeeded
from caseline.scenario_later import MONTH_AHEAD_DAYS, MoveCalendar
from caseline.verify import Verdict, verify
from caseline.verify_command import PENDING_BOUND_DAYS, check_drift
from shared.clock import agency_today
from shared.settings import Settings


async def open_at_assessment(desk: Desk, targets: Targets, report: Reporter) -> str:
    """A walk-in at Mapo, registered, screened and assessed, not yet assigned."""
    # The scenario module starts this one: its client helpers are imported when first used.
    from caseline.scenario import Client, register

    intake = desk.net.intake
    client = Client(
        "정다온", date(1972, 9, 21), "97531", "010-5772-1566", "서울특별시 마포구 연남로 3"
    )
    case_id: str = (
        await succeeded(intake.post("/cases", headers=desk.kim, json={"source": "walk_in"}))
    )["case_id"]
    await register(intake, desk.kim, case_id, client)
    await succeeded(
        intake.post(
            f"/cases/{case_id}/consents",
            headers=desk.kim,
            json={
                "agencies": [desk.mapo, targets.incheon, targets.seodaemun],
                "purposes": ["case_management", "referral"],
                "valid_until": "2030-12-31",
            },
        )
    )
    await succeeded(
        intake.post(
            f"/cases/{case_id}/screening",
            headers=desk.kim,
            json={"outcome": "eligible", "presenting_problems": ["housing", "income"]},
        )
    )
    await succeeded(
        intake.post(
            f"/cases/{case_id}/assessment",
            headers=desk.kim,
            json={
                "needs": [
                    {"domain": "housing", "severity": "high"},
                    {"domain": "income", "severity": "moderate"},
                ],
                "interpreter_needed": False,
            },
        )
    )
    report.step(f"   E {case_id}: a walk-in registered, screened and assessed, not yet assigned")
    return case_id


async def agency_closure(
    desk: Desk, cases: CareCases, targets: Targets, screened_out: str, report: Reporter
) -> None:
    """R8, R9: Mapo closes; every open case, at whatever stage, ends with its referral."""
    net, d = desk.net, cases.paper
    report.step("22. Mapo closes with open cases at three stages (R8, R9)")
    e = await open_at_assessment(desk, targets, report)
    known = await until_eligible(net, e, [targets.incheon, targets.seodaemun])
    known = known and await until_eligible(net, d, [targets.seodaemun, targets.yeonhui])
    await succeeded(
        net.directory.post(
            f"/agencies/{desk.mapo}/close",
            headers=net.admin(),
            json={"closed_on": desk.today.isoformat(), "reason": "운영 법인 해산"},
        )
    )
    ended = {}
    for label, case_id in (("D", d), ("E", e), ("screened out", screened_out)):
        held, seen = await until_case(net, case_id, lambda s: s["referral"] is not None)
        ended[label] = seen if held else {}
    lines = []
    for label, seen in ended.items():
        term, ref = seen.get("terminated") or {}, seen.get("referral") or {}
        lines.append(
            f"{label}: {term.get('reason')} ({term.get('termination_class')}), referral "
            f"{ref.get('status')} "
            + (
                f"to {short((ref.get('target') or {}).get('agency_id'))}"
                if ref.get("target")
                else f"({ref.get('cause')})"
            )
        )
    d_ref, e_ref, s_ref = (ended[k].get("referral") or {} for k in ended)
    report.check(
        known
        and all(
            (s.get("terminated") or {}).get("reason") == "agency_closed" for s in ended.values()
        )
        and (d_ref.get("target") or {}).get("agency_id") == targets.seodaemun
        and (e_ref.get("target") or {}).get("agency_id") == targets.incheon
        and s_ref.get("status") == "pending"
        and s_ref.get("cause") == "no_consent",
        "R8, R9: every open case of Mapo ends agency_closed (incomplete) with its referral: "
        + "; ".join(lines),
    )
    await show_options(net, d, report)
    board = await succeeded(net.closure.get("/board", headers=net.admin()))
    mine = [line for line in board if line["case_id"] == screened_out]
    report.check(
        bool(mine) and not mine[0]["escalated"],
        f"R9: the screened-out client's referral waits on closure's board (cause "
        f"{mine[0]['cause'] if mine else '-'}, age {mine[0]['age_days'] if mine else '-'} "
        "days): no consent names another agency for referral; escalated after 7 days",
    )


async def show_options(net: Network, case_id: str, report: Reporter) -> None:
    """`GET /cases/{id}/referral-options` once: this run's providers, ranked or excluded."""
    found = await options_of(net, case_id)
    ours = [o for o in found["options"] if o["provider"]["agency_id"].endswith(net.run)]
    others = len(found["options"]) - len(ours)
    report.step(f"   GET /cases/{case_id}/referral-options (D, needs {', '.join(found['needs'])}):")
    for option in ours:
        name = short(option["provider"]["agency_id"])
        if option["eligible"]:
            room = "waiting list" if option["waitlisted"] else "room"
            report.step(f"      rank {option['rank']}  {name:<12} ({room})")
        else:
            why = ", ".join(option["exclusions"])
            if option["missing"]:
                why += f" (missing {', '.join(option['missing'])})"
            report.step(f"      excluded {name:<12} {why}")
    if others:
        report.step(f"      and {others} provider(s) of earlier runs: no consent names them")
    incheon = next((o for o in ours if o["provider"]["agency_id"].startswith("incheon-mh-")), None)
    report.check(
        incheon is not None and incheon["exclusions"] == ["already_served"],
        "R9 (a): Incheon covers every need but already served this client (A's counselling "
        "was delivered there), so it is skipped for Seodaemun",
    )


REFERRAL_DUE_AHEAD_DAYS = MONTH_AHEAD_DAYS + 15
"""Where the calendar moves for the referrals: 15 days past the month the network already
moved, one day past a referral's 14 days to answer."""


async def overdue_referral(
    net: Network, case_id: str, targets: Targets, report: Reporter, move_calendar: MoveCalendar
) -> None:
    """R9: a referral unanswered by its due date moves to the next target.

    Referrals fall due 14 days after issue on the agencies' calendar, so none of this run can
    go overdue on the real calendar: the step shows the due date, the referral in the
    target's inbox and closure's scheduler running the pass that moves it on. Where the
    demo network is a training network: the whole network is then moved 15 days further
    ahead and the scheduler's `ReferralOverdue` and next target are watched for.
    """
    report.step("23. An unanswered referral: due in 14 days, then moved on by the scheduler (R9)")
    seen = await closure_case(net, case_id) or {}
    referral = seen.get("referral") or {}
    inbox = await succeeded(net.closure.get("/inbox", headers=targets.seodaemun_staff))
    waiting = [line for line in inbox if line["case_id"] == case_id]
    health: dict[str, Any] = (await net.closure.get("/health")).json()
    scheduler: dict[str, Any] = next(
        (t for name, t in health.get("tasks", {}).items() if name.startswith("scheduler:")), {}
    )
    report.check(
        bool(waiting) and scheduler.get("state") == "running",
        f"R9: D's referral waits in Seodaemun's inbox, due {referral.get('due_on')}; closure's "
        f"scheduler runs ({scheduler.get('detail')}): unanswered by then, it records "
        "ReferralOverdue and issues Yeonhui, the next eligible target, in one append",
    )
    await move_calendar(REFERRAL_DUE_AHEAD_DAYS)
    moved, after = await until_case(
        net,
        case_id,
        lambda s: ((s["referral"] or {}).get("target") or {}).get("agency_id") == targets.yeonhui,
    )
    calendar = (await net.closure.get("/health")).json().get("calendar", {})
    moved_on = after.get("referral") or {}
    report.check(
        moved and moved_on.get("attempt") == 2,
        f"R9: the network restarted on a training calendar {REFERRAL_DUE_AHEAD_DAYS} days ahead "
        f"(today {calendar.get('today')}): its scheduler recorded ReferralOverdue for "
        f"Seodaemun and issued D's referral to Yeonhui (attempt {moved_on.get('attempt')}, "
        f"due {moved_on.get('due_on')}) in one append",
    )


QUIET_SECONDS = 3.0
"""How long no store may take an event before the auditors' replay starts."""


async def until_quiet(pool: asyncpg.Pool, bound: float = 300.0) -> bool:
    """Wait (bounded) until no service's store has taken an event for `QUIET_SECONDS` and
    every relay has published all it holds: the schedulers a calendar move woke (every
    referral of earlier runs on this database falls due too) have finished, so the replay
    compares a network at rest instead of chasing it."""
    import asyncio
    import time

    schemas = [
        r["table_schema"]
        for r in await pool.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'log_head' "
            "AND table_schema IN ('intake', 'careplan', 'monitoring', 'closure', 'directory')"
        )
    ]

    async def heads() -> tuple[int, ...]:
        values = []
        for schema in schemas:
            last = await pool.fetchval(f'SELECT last_position FROM "{schema}".log_head')
            published = await pool.fetchval(
                f'SELECT coalesce(max(position), 0) FROM "{schema}".relay_positions'
            )
            values += [int(last or 0), int(last or 0) - int(published or 0)]
        return tuple(values)

    deadline = time.monotonic() + bound
    seen, since = await heads(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await heads()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_SECONDS and not any(now[1::2]):
            return True
    return False


async def verified(
    settings: Settings, pool: asyncpg.Pool, report: Reporter, *, wait_seconds: float
) -> Verdict:
    """`caseline verify`'s checks, projections' drift included, each line reported."""
    verdict = await verify(pool, today=agency_today(), pending_bound_days=PENDING_BOUND_DAYS)
    await check_drift(settings, pool, {}, verdict, wait_seconds=wait_seconds)
    for line in verdict.checked:
        report.step(f"   checked  {line}")
    for line in verdict.violations[:10]:
        report.step(f"   VIOLATION {line}")
    return verdict


async def verify_network(settings: Settings, pool: asyncpg.Pool, report: Reporter) -> None:
    """`caseline verify`'s own check, on the stores the demo's services wrote: every hash
    chain, R9 proven from closure's events alone (against the directory's history), and
    projections' read models against a replay of the history."""
    report.step(
        "26. caseline verify: every service's hash chains, R9 from closure's events alone, "
        "and projections' read models rebuilt from the stores (caseline replay)"
    )
    quiet = await until_quiet(pool)
    report.step(f"   the network's stores and relays quiet for {QUIET_SECONDS:.0f} s: {quiet}")
    verdict = await verified(settings, pool, report, wait_seconds=60)
    report.check(
        verdict.ok,
        "verify: ok: every incomplete termination has its referral event, every issued "
        "referral's target was eligible that day (R9), no pending referral is past "
        f"{PENDING_BOUND_DAYS} days unescalated, projections' read models equal their replay"
        if verdict.ok
        else f"verify: {len(verdict.violations)} violation(s)",
    )
