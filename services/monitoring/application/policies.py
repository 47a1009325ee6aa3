"""What monitoring learns from intake, careplan and closure: each event read through their
contracts becomes a `Learn...` command on the case's monitoring stream.

Applied inside the idempotent consumer's transaction, on its connection: the dedup record,
the learned events and the board move together. The commands are idempotent too (a fact
already known decides nothing), so a redelivered event changes nothing either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.careplan.contract import (
    AdvocacyConcluded,
    AdvocacyOutcome,
    CaseReturnedToPlanning,
    Delivery,
    DirectServiceRecorded,
    LinkDeclined,
    PlanAgreed,
    PlanVersionDrafted,
    ServiceDelivered,
    ServiceNotDelivered,
)
from services.closure.contract import CaseTerminated
from services.intake.contract import (
    CaseAssigned,
    CaseReassigned,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    ConsentWithdrawn,
)
from services.monitoring.adapters.drafts import Draft, DraftItem
from services.monitoring.application.handlers import Monitoring
from services.monitoring.domain.commands import (
    Command,
    LearnAssignment,
    LearnClient,
    LearnConsent,
    LearnConsentWithdrawal,
    LearnItemProgress,
    LearnPlanInForce,
    LearnReturnToPlanning,
    LearnTermination,
)
from services.monitoring.domain.events import ItemProgress, PlannedItem
from services.monitoring.domain.model import decide
from shared.application import CommandContext, UnitOfWork
from shared.codec import ReceivedEvent
from shared.consumer import ProcessingRejected
from shared.envelope import Actor, DomainEvent, Role

LEARNER = Actor(staff_id="monitoring-learner", role=Role.SYSTEM)
"""Who the learned events name as their actor."""

READS: tuple[type[DomainEvent], ...] = (
    ClientRegistered,
    CaseAssigned,
    CaseReassigned,
    ConsentRecorded,
    ConsentWithdrawn,
    PlanVersionDrafted,
    PlanAgreed,
    DirectServiceRecorded,
    LinkDeclined,
    ServiceDelivered,
    ServiceNotDelivered,
    AdvocacyConcluded,
    CaseReturnedToPlanning,
    CaseTerminated,
)
"""The events of intake, careplan and closure monitoring reads; others on their topics pass by."""


class Learner:
    """The consumer handler applying intake's, careplan's and closure's events to monitoring
    streams, on the ports `compose` built (`ConsumerSpec(bind=Learner)`)."""

    def __init__(self, ports: object) -> None:
        if not isinstance(ports, Monitoring):
            raise TypeError(f"the learner works on monitoring's ports, not {ports!r}")
        self.ports = ports

    async def __call__(self, conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Turn one event into `Learn...` commands and record what they decide, on `conn`."""
        ports = self.ports
        meta = event.envelope.metadata
        case_id = meta.case_id
        commands = await _commands(ports, conn, case_id, event.envelope.payload)
        if not commands:
            return
        context = CommandContext(
            agency_id=meta.agency_id,
            actor=LEARNER,
            correlation_id=meta.correlation_id,
            causation_id=meta.event_id,
        )
        for command in commands:
            loaded = await ports.path.load(case_id, connection=conn)
            events = decide(loaded.state, command)
            if events:
                await UnitOfWork(ports.path, conn).record(loaded, context, events)


async def _commands(
    ports: Monitoring, conn: asyncpg.Connection, case_id: str, payload: DomainEvent
) -> Sequence[Command]:
    match payload:
        case ClientRegistered(client_id=client_id):
            return [LearnClient(client_id=client_id)]
        case CaseAssigned(agency_id=agency_id, staff_id=staff_id):
            return [LearnAssignment(agency_id=agency_id, manager_id=staff_id)]
        case CaseReassigned(to_staff_id=staff_id):
            loaded = await ports.path.load(case_id, connection=conn)
            if loaded.state.agency_id is None:
                raise ProcessingRejected("a reassignment of a case never assigned here")
            return [LearnAssignment(agency_id=loaded.state.agency_id, manager_id=staff_id)]
        case ConsentRecorded() as consent:
            return [
                LearnConsent(
                    consent_id=consent.consent_id,
                    agencies=consent.agencies,
                    for_monitoring=ConsentPurpose.MONITORING in consent.purposes,
                    valid_from=consent.valid_from,
                    valid_until=consent.valid_until,
                )
            ]
        case ConsentWithdrawn(consent_id=consent_id, withdrawn_on=day):
            return [LearnConsentWithdrawal(consent_id=consent_id, withdrawn_on=day)]
        case PlanVersionDrafted() as drafted:
            items = tuple(
                DraftItem(
                    item_id=i.item_id,
                    need_domain=i.need_domain,
                    goal_id=i.goal_id,
                    own_agency=i.delivery is Delivery.OWN_AGENCY,
                    ends_on=i.end_on,
                )
                for i in drafted.items
            )
            goal_ids = tuple(g.goal_id for g in drafted.goals)
            await ports.drafts.keep(conn, case_id, Draft(drafted.plan_version, goal_ids, items))
            return []
        case PlanAgreed() as agreed:
            return [await _plan_in_force(ports, conn, case_id, agreed)]
        case DirectServiceRecorded() as service:
            draft = await ports.drafts.find(conn, case_id, service.plan_version)
            served = [
                i
                for i in (draft.items if draft else ())
                if i.own_agency
                and (i.goal_id, i.need_domain) == (service.goal_id, service.need_domain)
            ]
            return [
                LearnItemProgress(
                    plan_version=service.plan_version,
                    item_id=i.item_id,
                    progress=ItemProgress.DELIVERED,
                )
                for i in served
            ]
        case ServiceDelivered(item_id=item_id):
            return [LearnItemProgress(item_id=item_id, progress=ItemProgress.DELIVERED)]
        case LinkDeclined(item_id=item_id) | ServiceNotDelivered(item_id=item_id):
            return [LearnItemProgress(item_id=item_id, progress=ItemProgress.NOT_RECEIVED)]
        case AdvocacyConcluded(item_id=item_id, outcome=outcome):
            # Obtained: the item is back in delivery; not obtained: it stays unreceived.
            progress = (
                ItemProgress.PLANNED
                if outcome is AdvocacyOutcome.SERVICE_OBTAINED
                else ItemProgress.NOT_RECEIVED
            )
            return [LearnItemProgress(item_id=item_id, progress=progress)]
        case CaseReturnedToPlanning(plan_version=version):
            return [LearnReturnToPlanning(plan_version=version)]
        case CaseTerminated(terminated_on=day):
            return [LearnTermination(terminated_on=day)]
    return []


async def _plan_in_force(
    ports: Monitoring, conn: asyncpg.Connection, case_id: str, agreed: PlanAgreed
) -> LearnPlanInForce:
    draft = await ports.drafts.find(conn, case_id, agreed.plan_version)
    if draft is None:
        raise ProcessingRejected(
            f"plan version {agreed.plan_version} was agreed but its draft never arrived"
        )
    declined = set(agreed.declined_items)
    return LearnPlanInForce(
        plan_version=agreed.plan_version,
        activated_on=agreed.in_force_from,
        goal_ids=draft.goal_ids,
        items=tuple(
            PlannedItem(
                item_id=i.item_id,
                need_domain=i.need_domain,
                goal_id=i.goal_id,
                ends_on=i.ends_on,
                progress=ItemProgress.DECLINED if i.item_id in declined else ItemProgress.PLANNED,
            )
            for i in draft.items
        ),
    )
