"""The overdue scheduler: every so often, says what fell due and was not done (R6d, R12).

It runs under the runtime's supervisor. It keeps no position of its own: what it has said
is in each case's stream (the state knows which reviews, forms and items were declared
overdue), and every event it writes has an id derived from the case and the fact, so
killed and restarted at any point it says each overdue fact exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import date

from services.monitoring.application.handlers import Monitoring, ScheduledContext
from services.monitoring.domain.commands import MarkOverdue
from services.monitoring.domain.model import MonitoringState, decide
from shared.application import UnitOfWork
from shared.envelope import Actor, DomainEvent, Role
from shared.errors import ConcurrencyError
from shared.logging import get_logger
from shared.supervisor import TaskControl

log = get_logger("caseline.monitoring.scheduler")

SCHEDULER = Actor(staff_id="monitoring-scheduler", role=Role.SYSTEM)
"""Who the overdue events name as their actor."""


def _overdue_on(
    today: date,
) -> Callable[[MonitoringState, UnitOfWork[MonitoringState]], Sequence[DomainEvent]]:
    command = MarkOverdue(today=today)

    def overdue(state: MonitoringState, _: UnitOfWork[MonitoringState]) -> Sequence[DomainEvent]:
        return decide(state, command)

    return overdue


class OverdueScheduler:
    """Finds the cases with something due and records what is overdue in each."""

    def __init__(self, ports: Monitoring, *, interval: float = 60.0) -> None:
        self.ports = ports
        self.interval = interval

    async def supervised(self, control: TaskControl) -> None:
        """The supervised body: a pass, then a wait, until the service stops."""
        while not control.stopping:
            said = await self.run_once()
            control.running(f"{said} overdue event(s) in the last pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(control.stop.wait(), self.interval)

    async def run_once(self) -> int:
        """One pass over the cases with something due; the number of events recorded."""
        today = self.ports.today()
        path = self.ports.path
        said = 0
        for case_id in await self.ports.board.due_cases(self.ports.pool, today):
            loaded = await path.load(case_id)
            agency_id = loaded.state.agency_id
            if agency_id is None:
                continue
            context = ScheduledContext(agency_id=agency_id, actor=SCHEDULER)
            try:
                result = await path.run(loaded, context, _overdue_on(today))
            except ConcurrencyError:
                continue  # another writer came first: the next pass decides on the new state
            said += len(result.recorded)
            if result.recorded:
                log.info("monitoring.overdue", case_id=case_id, events=result.event_types)
        return said
