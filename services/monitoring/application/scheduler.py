"""The overdue scheduler: every so often, says what fell due and was not done (R6d, R12).

It runs under the runtime's supervisor. It keeps no position of its own: what it has said
is in each case's stream (the state knows which reviews, forms and items were declared
overdue), and every event it writes has an id derived from the case and the fact (the
kit's `CommandContext(derived_ids=...)`), so killed and restarted at any point, or run in
two processes at once, it says each overdue fact exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from datetime import date

from services.monitoring.application.handlers import Monitoring
from services.monitoring.domain.commands import MarkOverdue
from services.monitoring.domain.model import MonitoringState, decide
from shared.application import CommandContext, UnitOfWork
from shared.envelope import Actor, DomainEvent, Role
from shared.errors import ConcurrencyError
from shared.logging import get_logger
from shared.supervisor import TaskControl

log = get_logger("caseline.monitoring.scheduler")

SCHEDULER = Actor(staff_id="monitoring-scheduler", role=Role.SYSTEM)
"""Who the overdue events name as their actor."""

OVERDUE_IDS = uuid.UUID("5b0f7a52-6d3e-4f0c-9a51-2c7e1f8e9d40")
"""The namespace of the scheduler's event ids: the same overdue fact always has the same id.
Never change it: ids already stored were derived under it, and a fact decided again after a
restart must meet its stored twin."""


def overdue_context(agency_id: str) -> CommandContext:
    """The scheduler's context on a case of `agency_id`: each event's id is derived from the
    case and the event itself, so a repeated append is answered by the store's idempotence."""
    return CommandContext(agency_id=agency_id, actor=SCHEDULER, derived_ids=OVERDUE_IDS)


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
            context = overdue_context(agency_id)
            try:
                result = await path.run(loaded, context, _overdue_on(today))
            except ConcurrencyError:
                continue  # another writer came first: the next pass decides on the new state
            said += len(result.recorded)
            if result.recorded:
                log.info("monitoring.overdue", case_id=case_id, events=result.event_types)
        return said
