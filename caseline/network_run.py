"""The scale phase of the demo: build the network, drive its cases with progress bars, close
an agency, let a manager depart, erase a client, then report what the services say.

Every figure printed is read from the services: projections' network figures (before and
after, so the phase's own terminations and referrals show as the difference), its referral
flows and dashboards, and the closing agency's open cases. Throughput is the commands the
services accepted per second of the phase; latency is the time from an assignment's answer
until projections' journey shows the manager, measured on every tenth case.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from caseline.network_scale import SIZES, ScaleDriver, Size
from caseline.scenario_agency_closure import REFERRAL_DUE_AHEAD_DAYS
from caseline.scenario_http import Network, Reporter, ScenarioError, eventually, succeeded
from caseline.scenario_later import MoveCalendar

WAIT_SECONDS = 300.0
"""How long the phase waits for a consumer-driven outcome (the closure fan-out)."""


async def services_today(net: Network) -> Any:
    """The day the services judge by (a training network's calendar may run ahead)."""
    from datetime import date

    health = (await net.intake.get("/health")).json()
    return date.fromisoformat(health["calendar"]["today"])


async def network_figures(net: Network) -> dict[str, Any]:
    """Projections' aggregates, as a network administrator reads them."""
    figures: dict[str, Any] = await succeeded(
        net.clients["projections"].get("/network/figures", headers=net.admin())
    )
    return figures


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    keys = sorted(set(after) | set(before))
    return {
        k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run_at_scale(
    net: Network, size_name: str, report: Reporter, move_calendar: MoveCalendar
) -> None:
    """The network at scale, end to end, with its report and checks; `move_calendar`
    restarts the network further ahead on its training calendar, for the overdue referrals."""
    size = SIZES[size_name]
    report.step(
        f"25. The network at scale ({size_name}): {size.agencies} agencies in "
        f"{min(size.agencies, 5)} regions, {size.agencies * size.managers} case managers, "
        f"{size.cases} cases through every stage"
    )
    driver = ScaleDriver(net, size, await services_today(net))
    console = Console(stderr=True)
    before = await network_figures(net)
    started = time.monotonic()
    with Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        await _build(net, driver, bars, report)
        drive_started = time.monotonic()
        failures = await _drive(driver, net.run, bars)
        drive_seconds = time.monotonic() - drive_started
        closing, departing = driver.agencies[0], driver.agencies[1]
        expected_open = await _open_cases(net, closing.agency_id)
        await _depart_and_close(net, driver, report)
        erased = await _erase_one(net, driver)
        ended = bars.add_task("closure ends the closed agency's cases", total=expected_open)

        async def closed_out() -> int:
            left = await _open_cases(net, closing.agency_id)
            bars.update(ended, completed=expected_open - left)
            return left

        held, left = await eventually(closed_out, lambda n: n == 0, WAIT_SECONDS)
        departed = await _caseload(net, departing.agency_id, departing.managers[0])
        unanswered, overdue = await _fall_overdue(net, driver, bars, report, move_calendar)
    phase_seconds = time.monotonic() - started
    after = await network_figures(net)
    _report(net, driver, report, before, after, phase_seconds, drive_seconds)
    report.check(
        not failures, f"every case reached its fate: {len(failures)} failed {failures[:3]}"
    )
    report.check(
        held and expected_open >= (200 if size_name == "full" else 10),
        f"{closing.agency_id} closed with {expected_open} open cases; closure's fan-out ended "
        f"each with its referral (open now: {left})",
    )
    report.check(
        departed == 0,
        f"{departing.managers[0]} departed; the open cases they held were ended "
        f"manager_left with referrals (open now: {departed})",
    )
    report.check(erased, "a network administrator erased one client across their cases")
    report.check(
        unanswered > 0 and overdue >= unanswered,
        f"{unanswered} referrals left unanswered past their 14 days: closure's scheduler "
        f"recorded {overdue} overdue and moved each to its next target (R9)",
    )
    await _check_counts(net, driver, report, before, after)


OVERDUE_AHEAD_DAYS = REFERRAL_DUE_AHEAD_DAYS + 15
"""Where the calendar moves last: past the 14 days of every referral the phase issued."""


async def _fall_overdue(
    net: Network,
    driver: ScaleDriver,
    bars: Progress,
    report: Reporter,
    move_calendar: MoveCalendar,
) -> tuple[int, int]:
    """Leave every issued referral unanswered and move the calendar past their due dates;
    how many were waiting, and how many closure then recorded overdue."""
    unanswered = (await _attempts(net, driver))["issued"]
    report.step(
        f"   {unanswered} referrals wait unanswered; the network restarts "
        f"{OVERDUE_AHEAD_DAYS} days ahead on its training calendar"
    )
    await move_calendar(OVERDUE_AHEAD_DAYS)
    task = bars.add_task("unanswered referrals fall overdue", total=unanswered)

    async def overdue() -> int:
        count = (await _attempts(net, driver))["overdue"]
        bars.update(task, completed=min(count, unanswered))
        return count

    _, seen = await eventually(overdue, lambda n: n >= unanswered, WAIT_SECONDS)
    return unanswered, seen


async def _attempts(net: Network, driver: ScaleDriver) -> Counter[str]:
    """Referral attempts sent by the scale network's agencies, by state (projections)."""
    ours = {a.agency_id for a in driver.agencies}
    flows = await succeeded(
        net.clients["projections"].get("/network/referral-flows", headers=net.admin())
    )
    states: Counter[str] = Counter()
    for flow in flows["flows"]:
        if flow["from_agency"] in ours:
            states[flow["state"]] += flow["referrals"]
    return states


async def _build(net: Network, driver: ScaleDriver, bars: Progress, report: Reporter) -> None:
    task = bars.add_task("agencies, services and staff", total=1)
    await driver.build(net.admin(), net.run)
    bars.update(task, completed=1)
    known, _ = await eventually(driver.known_everywhere, bool, 120)
    if not known:
        raise ScenarioError("the services did not learn the scale network's staff in time")
    regions = Counter(a.region for a in driver.agencies)
    report.step(
        "   registered: "
        + ", ".join(f"{region} {n}" for region, n in sorted(regions.items()))
        + f"; {sum(len(a.managers) for a in driver.agencies)} case managers, each service "
        "learned them from caseline.directory.v1"
    )


async def _drive(driver: ScaleDriver, run: str, bars: Progress) -> list[str]:
    cases = bars.add_task("cases through their stages", total=driver.size.cases)
    fates: Counter[str] = Counter()

    def done(fate: str) -> None:
        fates[fate] += 1
        bars.update(cases, advance=1)

    outcomes = await asyncio.gather(
        *(driver.run_case(n, run, done) for n in range(driver.size.cases)),
        return_exceptions=True,
    )
    return [str(o) for o in outcomes if isinstance(o, BaseException)]


async def _dashboard(net: Network, agency_id: str) -> dict[str, Any]:
    """An agency's dashboard in projections, as a network administrator reads it."""
    dashboard: dict[str, Any] = await succeeded(
        net.clients["projections"].get(f"/agencies/{agency_id}/dashboard", headers=net.admin())
    )
    return dashboard


async def _open_cases(net: Network, agency_id: str) -> int:
    dashboard = await _dashboard(net, agency_id)
    return int(sum(dashboard["open_cases_by_stage"].values()))


async def _caseload(net: Network, agency_id: str, staff_id: str) -> int:
    async def held() -> int:
        return int((await _dashboard(net, agency_id))["caseloads"].get(staff_id, 0))

    _, count = await eventually(held, lambda n: n == 0, WAIT_SECONDS)
    return count


async def _depart_and_close(net: Network, driver: ScaleDriver, report: Reporter) -> None:
    admin, today = net.admin(), driver.today.isoformat()
    departing = driver.agencies[1]
    await succeeded(
        net.directory.post(
            f"/agencies/{departing.agency_id}/staff/{departing.managers[0]}/depart",
            headers=admin,
            json={"departed_on": today, "reason": "이직"},
        )
    )
    closing = driver.agencies[0]
    await succeeded(
        net.directory.post(
            f"/agencies/{closing.agency_id}/close",
            headers=admin,
            json={"closed_on": today, "reason": "운영 종료"},
        )
    )
    report.step(
        f"   {departing.managers[0]} departs {departing.agency_id}; {closing.agency_id} closes "
        "(directory); closure's scheduler ends their open cases with referrals"
    )


async def _erase_one(net: Network, driver: ScaleDriver) -> bool:
    case_id, client_id = next(iter(driver.clients.items()))
    answer = await net.intake.post(f"/clients/{client_id}/erasure", headers=net.admin())
    del case_id
    return answer.status_code in (200, 201)


def _report(
    net: Network,
    driver: ScaleDriver,
    report: Reporter,
    before: dict[str, Any],
    after: dict[str, Any],
    phase_seconds: float,
    drive_seconds: float,
) -> None:
    tally = driver.tally
    lat = tally.latencies
    report.step(
        f"   the phase took {phase_seconds:.0f} s; {tally.commands} commands answered 2xx in "
        f"{drive_seconds:.0f} s of driving: {tally.commands / drive_seconds:.0f} commands/s "
        f"(retried: {sum(tally.retried.values())} after 503 or a dropped connection, "
        f"{tally.conflicts} after a 409 conflict with another write to the same stream)"
    )
    if lat:
        report.step(
            f"   command to read model (assignment answered -> projections shows the manager), "
            f"{len(lat)} samples: p50 {_percentile(lat, 0.5) * 1000:.0f} ms, "
            f"p99 {_percentile(lat, 0.99) * 1000:.0f} ms, mean {statistics.mean(lat) * 1000:.0f} ms"
        )
    report.step("   cases by stage (the whole network, projections):")
    for stage, n in sorted(after["cases_by_stage"].items()):
        report.step(f"      {stage:<14}{n:>7}")
    report.step("   terminations by class in this phase (projections, after - before):")
    for cls, n in _delta(after["terminations_by_class"], before["terminations_by_class"]).items():
        report.step(f"      {cls:<14}{n:>7}")
    report.step("   referrals by state in this phase (projections, after - before):")
    for state, n in _delta(after["referrals_by_state"], before["referrals_by_state"]).items():
        report.step(f"      {state:<20}{n:>7}")
    report.step(f"   managers over their caseload limit: {after['overloaded_managers']}")
    del net


async def _check_counts(
    net: Network,
    driver: ScaleDriver,
    report: Reporter,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    fates = driver.tally.done
    ended = sum(_delta(after["terminations_by_class"], before["terminations_by_class"]).values())
    moved = fates["moved_accepted"] + fates["moved_declined"]
    driven = fates["complete"] + moved
    report.check(
        ended >= driven,
        f"projections counts {ended} terminations in this phase: {driven} driven to an end "
        f"(complete {fates['complete']}, moved away {moved}) and the rest by the agency's "
        "closure and the departure",
    )
    # An acceptance completes once the target's intake opened the linked case (over Kafka).
    answered = driver.tally.answered
    _, states = await eventually(
        lambda: _attempts(net, driver),
        lambda s: s["completed"] >= answered["accepted"],
        WAIT_SECONDS,
    )
    report.step(
        "   referral attempts between the scale network's agencies (projections' flows): "
        + ", ".join(f"{s} {n}" for s, n in sorted(states.items()))
    )
    report.check(
        states["completed"] == answered["accepted"]
        and states["declined"] >= answered["declined"]
        and not driver.tally.refused,
        f"every referral the targets accepted completed ({states['completed']} of "
        f"{answered['accepted']}) and every decline moved it on ({states['declined']} declined "
        f"of {answered['declined']}); referrals not issued when answered: "
        f"{driver.tally.refused[:3] or 'none'}",
    )


__all__ = ["SIZES", "Size", "run_at_scale"]
