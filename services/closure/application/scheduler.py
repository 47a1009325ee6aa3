"""Closure's background work, under the runtime's supervisor: the fan-out of an agency's
closure or a manager's departure, overdue referrals, and pending referrals (issued once a
target becomes eligible, escalated past the bound).

It keeps no position of its own. The fan-out queue row of a case is deleted in the very
transaction that terminates it, and every event it writes has an id derived from the stream
and the event, so killed at any point and restarted it terminates each case once and says
each overdue fact once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from services.closure.adapters.board import FanoutItem
from services.closure.application.handlers import (
    Closure,
    CommandWithFacts,
    execute,
    system_context,
)
from services.closure.domain.commands import (
    Command,
    EscalatePendingReferral,
    MarkReferralOverdue,
    ReferralFacts,
    RetryPendingReferral,
    TerminateCase,
)
from services.closure.domain.errors import ClosureError
from services.closure.domain.model import CaseState
from shared.application import UnitOfWork
from shared.errors import ConcurrencyError
from shared.logging import get_logger
from shared.supervisor import TaskControl

log = get_logger("caseline.closure.scheduler")

FANOUT_IDS = uuid.UUID("1f6c2d8e-93a4-4b57-8e0d-6a2b9c4f7e31")
"""The namespace of the fan-out's termination and referral ids."""


def fanout_ids(item: FanoutItem) -> tuple[str, str]:
    """The termination and referral ids of a queued termination: the same every time."""
    key = uuid.uuid5(FANOUT_IDS, f"{item.cause_id}/{item.case_id}").hex[:20]
    return f"term-{key}", f"ref-{key}"


class ClosureScheduler:
    """One pass after another: fan-out first, then overdue and pending referrals."""

    def __init__(self, ports: Closure, *, interval: float = 60.0) -> None:
        self.ports = ports
        self.interval = interval

    async def supervised(self, control: TaskControl) -> None:
        """The supervised body: a pass, then a wait, until the service stops."""
        while not control.stopping:
            done = await self.run_once()
            control.running(f"{done} decision(s) in the last pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(control.stop.wait(), self.interval)

    async def run_once(self) -> int:
        """One pass; the number of streams it appended to."""
        done = await self.fan_out()
        today = self.ports.today()
        for case_id in await self.ports.board.overdue_cases(self.ports.pool, today):
            done += await self._system(case_id, lambda f: MarkReferralOverdue(facts=f))
        for case_id in await self.ports.board.pending_cases(self.ports.pool):
            done += await self._system(case_id, lambda f: RetryPendingReferral(facts=f))
            escalation = EscalatePendingReferral(
                today=today, bound_days=self.ports.escalate_after_days
            )
            done += await self._system(case_id, escalation)
        return done

    async def fan_out(self) -> int:
        """Terminate every queued case whose day has come, each in its own transaction."""
        done = 0
        while True:
            items = await self.ports.board.fanout_due(self.ports.pool, self.ports.today())
            if not items:
                return done
            progressed = False
            for item in items:
                try:
                    done += await self._terminate(item)
                    progressed = True
                except ConcurrencyError:
                    continue  # another writer came first: the next pass decides again
            if not progressed:
                return done

    async def _terminate(self, item: FanoutItem) -> int:
        ports = self.ports
        loaded = await ports.cases.load(item.case_id)
        state = loaded.state
        termination_id, referral_id = fanout_ids(item)
        reassigned = item.manager_id is not None and state.manager_id != item.manager_id
        if not state.is_open or reassigned:
            # Ended already (by hand, or by another cause), or reassigned before the day.
            async with ports.cases.unit_of_work() as uow:
                await ports.board.fanout_done(uow.conn, item)
            return 0
        context = system_context(state.agency_id or "", item.cause_id)

        def command(facts: ReferralFacts) -> Command:
            return TerminateCase(
                termination_id=termination_id,
                referral_id=referral_id,
                reason=item.reason,
                facts=facts,
            )

        async def dequeue(uow: UnitOfWork[CaseState], _: CaseState) -> None:
            await ports.board.fanout_done(uow.conn, item)

        result = await execute(ports, loaded, context, command, after=dequeue)
        log.info(
            "closure.fanout.terminated",
            case_id=item.case_id,
            reason=item.reason.value,
            events=result.event_types,
        )
        return 1

    async def _system(self, case_id: str, command: Command | CommandWithFacts) -> int:
        ports = self.ports
        loaded = await ports.cases.load(case_id)
        if loaded.state.agency_id is None:
            return 0
        context = system_context(loaded.state.agency_id)
        try:
            result = await execute(ports, loaded, context, command)
        except (ConcurrencyError, ClosureError):
            return 0  # another writer came first, or the case moved on: next pass
        if result.recorded:
            log.info("closure.referral.moved", case_id=case_id, events=result.event_types)
        return 1 if result.recorded else 0
