"""What closure learns from intake, careplan and monitoring (each case's state, needs and
history) and from the directory (the network, and the closures and departures it fans out).

Applied inside the idempotent consumer's transaction, on its connection: the dedup record,
the learned events, the read models and the fan-out queue move together. The commands are
idempotent too (a fact already known decides nothing), so a redelivered event changes
nothing either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.careplan.contract import (
    CaseReturnedToPlanning,
    PlanVersionDrafted,
    ServiceDelivered,
)
from services.closure.adapters.plans import PlanGoals
from services.closure.application.handlers import CLOSURE_SYSTEM, Closure, learn_on_client
from services.closure.domain.commands import (
    ClientCommand,
    Command,
    LearnCaseOpened,
    LearnClient,
    LearnConsent,
    LearnConsentWithdrawal,
    LearnEvaluation,
    LearnLinkedCase,
    LearnManager,
    LearnNeeds,
    LearnReturnToPlanning,
    LearnServed,
)
from services.closure.domain.events import Provider, ServedVia, TerminationReason
from services.closure.domain.model import decide
from services.directory.contract import PUBLISHED as DIRECTORY_EVENTS
from services.directory.contract import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
    record_principals,
)
from services.intake.contract import (
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseReassigned,
    CaseScreenedIn,
    ClientRegistered,
    ConsentPurpose,
    ConsentRecorded,
    ConsentWithdrawn,
)
from services.monitoring.contract import EvaluationRecorded, GoalRating, PlanRevisionRequired
from shared.application import CommandContext, UnitOfWork
from shared.codec import ReceivedEvent
from shared.consumer import EventHandler
from shared.envelope import DomainEvent

CASE_READS: tuple[type[DomainEvent], ...] = (
    CaseFound,
    ClientRegistered,
    CaseScreenedIn,
    CaseAssessed,
    CaseAssigned,
    CaseReassigned,
    ConsentRecorded,
    ConsentWithdrawn,
    ServiceDelivered,
    CaseReturnedToPlanning,
    PlanVersionDrafted,
    EvaluationRecorded,
    PlanRevisionRequired,
)
"""The events of intake, careplan and monitoring closure reads; others pass by."""

NETWORK_READS: tuple[type[DomainEvent], ...] = DIRECTORY_EVENTS
"""Every directory event: who may act, the network, closures and departures."""


def _context(event: ReceivedEvent) -> CommandContext:
    meta = event.envelope.metadata
    return CommandContext(
        agency_id=meta.agency_id,
        actor=CLOSURE_SYSTEM,
        correlation_id=meta.correlation_id,
        causation_id=meta.event_id,
    )


async def _case_commands(
    ports: Closure, conn: asyncpg.Connection, case_id: str, agency_id: str, payload: DomainEvent
) -> Sequence[Command]:
    match payload:
        case CaseFound():
            return [LearnCaseOpened(agency_id=agency_id)]
        case ClientRegistered(client_id=client_id):
            return [LearnCaseOpened(agency_id=agency_id), LearnClient(client_id=client_id)]
        case CaseScreenedIn(presenting_problems=problems) if problems:
            return [LearnNeeds(need_domains=problems)]
        case CaseAssessed(needs=needs) if needs:
            return [LearnNeeds(need_domains=tuple(n.domain for n in needs))]
        case CaseAssigned(agency_id=assigned_at, staff_id=staff_id):
            department = await ports.network.department_of(conn, assigned_at, staff_id)
            return [
                LearnManager(agency_id=assigned_at, manager_id=staff_id, department_id=department)
            ]
        case CaseReassigned(to_staff_id=staff_id):
            department = await ports.network.department_of(conn, agency_id, staff_id)
            return [
                LearnManager(agency_id=agency_id, manager_id=staff_id, department_id=department)
            ]
        case CaseReturnedToPlanning(plan_version=version, need_domains=domains):
            learned: list[Command] = [LearnReturnToPlanning(plan_version=version)]
            if domains:
                learned.append(LearnNeeds(need_domains=domains))
            return learned
        case PlanRevisionRequired(need_domains=domains) if domains:
            return [LearnNeeds(need_domains=domains)]
        case PlanVersionDrafted(plan_version=version, items=items):
            goals = [(item.goal_id, item.need_domain) for item in items]
            await PlanGoals.keep(conn, case_id, version, goals)
            return []
        case EvaluationRecorded() as evaluation:
            achieved = {g.goal_id for g in evaluation.goals if g.rating is GoalRating.ACHIEVED}
            met = await PlanGoals.met_domains(conn, case_id, evaluation.plan_version, achieved)
            return [
                LearnEvaluation(
                    evaluation_id=evaluation.evaluation_id,
                    evaluated_on=evaluation.evaluated_on,
                    permits_planned_termination=evaluation.permits_planned_termination,
                    met_domains=met,
                )
            ]
    return []


def _client_command(payload: DomainEvent) -> tuple[str, ClientCommand] | None:
    match payload:
        case ConsentRecorded() as consent:
            return consent.client_id, LearnConsent(
                consent_id=consent.consent_id,
                agencies=consent.agencies,
                for_referral=ConsentPurpose.REFERRAL in consent.purposes,
                for_record_transfer=ConsentPurpose.RECORD_TRANSFER in consent.purposes,
                valid_from=consent.valid_from,
                valid_until=consent.valid_until,
            )
        case ConsentWithdrawn(client_id=client_id, consent_id=consent_id, withdrawn_on=day):
            return client_id, LearnConsentWithdrawal(consent_id=consent_id, withdrawn_on=day)
    return None


def case_learner(ports: Closure) -> EventHandler:
    """The consumer handler applying intake's, careplan's and monitoring's events."""

    async def learn(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        meta = event.envelope.metadata
        payload = event.envelope.payload
        context = _context(event)
        if isinstance(payload, CaseFound) and payload.referring_case_id:
            # The loop closes on the referring case: its referral is completed.
            linked = LearnLinkedCase(agency_id=meta.agency_id, linked_case_id=meta.case_id)
            referring = await ports.cases.load(payload.referring_case_id, connection=conn)
            completed = decide(referring.state, linked)
            if completed and referring.state.agency_id is not None:
                referring_context = context.model_copy(
                    update={"agency_id": referring.state.agency_id}
                )
                await UnitOfWork(ports.cases, conn).record(referring, referring_context, completed)
        client_fact = _client_command(payload)
        if client_fact is not None:
            await learn_on_client(ports, conn, client_fact[0], context, client_fact[1])
            return
        case_id = meta.case_id
        for command in await _case_commands(ports, conn, case_id, meta.agency_id, payload):
            loaded = await ports.cases.load(case_id, connection=conn)
            events = decide(loaded.state, command)
            if events:
                await UnitOfWork(ports.cases, conn).record(loaded, context, events)
        state = (await ports.cases.load(case_id, connection=conn)).state
        if state.is_open and state.agency_id is not None:
            # A case learned after its agency closed (the topics are not ordered between
            # them) is terminated like the others, under the same closure event.
            closed = await ports.network.closure_of(conn, state.agency_id)
            if closed is not None:
                await ports.board.enqueue_case(
                    conn, closed[0], case_id, TerminationReason.AGENCY_CLOSED, closed[1]
                )
        if state.client_id is None:
            return
        # R9 (a): who has served the client, across the whole network.
        served: list[LearnServed] = []
        if state.own_provider is not None and state.manager_id is not None:
            served.append(
                LearnServed(provider=state.own_provider, via=ServedVia.CASE, source_id=case_id)
            )
        if isinstance(payload, ServiceDelivered) and payload.agency_id:
            served.append(
                LearnServed(
                    provider=Provider(agency_id=payload.agency_id),
                    via=ServedVia.DELIVERED_SERVICE,
                    source_id=payload.link_id,
                )
            )
        for fact in served:
            await learn_on_client(ports, conn, state.client_id, context, fact)

    return learn


def network_learner(ports: Closure) -> EventHandler:
    """The consumer handler applying the directory's events: principals, the network read
    model, and the fan-out an agency's closure or a manager's departure asks for."""

    async def learn(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        await record_principals(conn, event)
        meta = event.envelope.metadata
        agency_id = meta.case_id  # a directory stream is one agency
        network = ports.network
        match event.envelope.payload:
            case AgencyRegistered():
                await network.agency_registered(conn, agency_id)
            case ServiceOffered() as offered:
                await network.service_offered(
                    conn,
                    agency_id,
                    offered.service_id,
                    offered.need_domain,
                    offered.department_id,
                    offered.capacity,
                )
            case ServiceWithdrawn(service_id=service_id):
                await network.service_withdrawn(conn, agency_id, service_id)
            case CapacityChanged(service_id=service_id, capacity=capacity):
                await network.capacity_changed(conn, agency_id, service_id, capacity)
            case StaffJoined(staff_id=staff_id, department_id=department_id):
                await network.staff_joined(conn, agency_id, staff_id, department_id)
            case AgencyClosed(closed_on=closed_on):
                await network.agency_closed(conn, agency_id, closed_on, meta.event_id)
                await ports.board.enqueue_agency_closure(conn, meta.event_id, agency_id, closed_on)
            case StaffDeparted(staff_id=staff_id, departed_on=departed_on):
                await ports.board.enqueue_departure(
                    conn, meta.event_id, agency_id, staff_id, departed_on
                )

    return learn
