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
from caseline.scenario_http import Network, Reporter, ScenarioError, eventually, succeeded

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


async def run_at_scale(net: Network, size_name: str, report: Reporter) -> None:
    """The network at scale, end to end, with its report and checks."""
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
    departed = await _caseload(net, departing.agency_id, departing.managers[0])
    report.check(
        departed == 0,
        f"{departing.managers[0]} departed; the open cases they held were ended "
        f"manager_left with referrals (open now: {departed})",
    )
    report.check(erased, "a network administrator erased one client across their cases")
    await _check_counts(net, driver, report, before, after)


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
    ours = {a.agency_id for a in driver.agencies}

    async def attempts() -> Counter[str]:
        flows = await succeeded(
            net.clients["projections"].get("/network/referral-flows", headers=net.admin())
        )
        states: Counter[str] = Counter()
        for flow in flows["flows"]:
            if flow["from_agency"] in ours:
                states[flow["state"]] += flow["referrals"]
        return states

    # An acceptance completes once the target's intake opened the linked case (over Kafka).
    _, states = await eventually(
        attempts, lambda s: s["completed"] >= fates["moved_accepted"], WAIT_SECONDS
    )
    report.step(
        "   referral attempts between the scale network's agencies (projections' flows): "
        + ", ".join(f"{s} {n}" for s, n in sorted(states.items()))
    )
    report.check(
        states["completed"] == fates["moved_accepted"]
        and states["declined"] >= fates["moved_declined"],
        f"every accepted referral completed ({states['completed']} of {fates['moved_accepted']}) "
        f"and every decline moved the referral on ({states['declined']} declined)",
    )


__all__ = ["SIZES", "Size", "run_at_scale"]
