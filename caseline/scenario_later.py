"""The demo's last step: a month later, on the training network's calendar.

Nothing of a demo run falls due while it runs: forms, reviews and items are judged against
the agencies' calendar, and the run lasts minutes. The demo network is a training network
(`CASELINE_TRAINING_NETWORK=1`, shown on every service's `/health`), so it may move its
calendar: every service is restarted on the same port with the agencies' calendar 31 days
ahead (`CASELINE_CALENDAR_OFFSET_DAYS`), and the schedulers look every second. What they then
record is what a supervisor would find a month from now: D's form not returned
(`FormOverdue`), its first review not held (`ReviewOverdue`), its income item ended with no
service (`ItemDelayed`, and not received on careplan's board). Every service is restarted,
not only the ones with schedulers, so the whole network agrees on one today.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from caseline.processes import ServiceProcess, start_service
from caseline.scenario_desk import CareCases, Desk
from caseline.scenario_http import Reporter, checked, eventually, succeeded
from caseline.scenario_monitoring import board, on

MONTH_AHEAD_DAYS = 31
"""Past D's form (due tomorrow), its first review and its item's end."""

MoveCalendar = Callable[[int], Awaitable[None]]
"""Restarts every service of the network with the agencies' calendar so many days ahead."""

SCHEDULER_WAIT_SECONDS = 90.0
"""The consumers catch up after the restart, then the schedulers look every second."""


async def restart_ahead(
    services: list[ServiceProcess], env: Mapping[str, str], log_dir: Path, days: int
) -> list[ServiceProcess]:
    """Every service stopped and started again on its port with the agencies' calendar
    `days` ahead on the training network, its schedulers looking every second. A later move
    goes further ahead, never back: what fell due stays recorded once."""
    ahead = {
        "CASELINE_TRAINING_NETWORK": "1",
        "CASELINE_CALENDAR_OFFSET_DAYS": str(days),
        "CASELINE_SCHEDULER_SECONDS": "1",
    }
    for service in services:
        service.stop()
    later = [
        start_service(s.service, {**env, **ahead}, log_dir / f"ahead-{days}", port=s.port)
        for s in services
    ]
    for service in later:
        await service.wait_healthy()
    return later


async def a_month_later(
    move_calendar: MoveCalendar,
    desk: Desk,
    cases: CareCases,
    form_id: str,
    report: Reporter,
) -> None:
    """Move the training network a month ahead and show what fell due."""
    report.step(
        f"17. A month later: every service restarted with the agencies' calendar "
        f"{MONTH_AHEAD_DAYS} days ahead (training network)"
    )
    await move_calendar(MONTH_AHEAD_DAYS)
    health: dict[str, Any] = checked(await desk.net.monitoring.get("/health"))
    calendar = health.get("calendar", {})
    moved_today = desk.today + timedelta(days=MONTH_AHEAD_DAYS)
    report.check(
        calendar.get("training") is True
        and calendar.get("offset_days") == MONTH_AHEAD_DAYS
        and calendar.get("today") == moved_today.isoformat(),
        f"/health says it: a training network whose today is {calendar.get('today')}",
    )
    d = cases.paper
    held, seen = await eventually(
        lambda: board(desk),
        lambda b: (
            on(b["forms_overdue"], d, form_id)
            and on(b["reviews_overdue"], d, "review")
            and on(b["delayed_items"], d, "i-income")
        ),
        SCHEDULER_WAIT_SECONDS,
    )
    report.check(
        held,
        f"R6d, R12: monitoring's scheduler recorded FormOverdue for D's form {form_id}, "
        "ReviewOverdue for its first review and ItemDelayed for its income item; all three "
        "are on Mapo's board",
    )
    overdue_forms = [e for e in (seen or {}).get("forms_overdue", []) if e["case_id"] == d]
    report.check(
        len(overdue_forms) == 1,
        "each overdue fact is on the board once (the scheduler's event ids derive from it)",
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
