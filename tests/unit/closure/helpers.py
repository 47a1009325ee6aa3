"""A closure case built from commands, the way the service builds it, and a small network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.closure.domain.commands import (
    ClientCommand,
    Command,
    LearnCaseOpened,
    LearnClient,
    LearnEvaluation,
    LearnManager,
    LearnNeeds,
    PrepareTermination,
    ReferralFacts,
    TerminateCase,
)
from services.closure.domain.events import (
    ClosureEvent,
    EmotionalReaction,
    ManagerResponse,
    Provider,
    TerminationReason,
)
from services.closure.domain.model import (
    CaseState,
    ClientRecord,
    decide,
    decide_client,
    evolve,
    evolve_client,
)
from services.closure.domain.referral import (
    Candidate,
    ClientHistory,
    ConsentTerms,
    NetworkSnapshot,
    OfferedService,
)
from shared.vocabulary import NeedDomain

TODAY = date(2026, 6, 1)
AGENCY = "agency-a"
MANAGER = "mgr-1"
CLIENT = "client-1"


def run(state: CaseState, command: Command) -> tuple[CaseState, list[ClosureEvent]]:
    """Decide and fold, as the command path does."""
    events = list(decide(state, command))
    for event in events:
        state = evolve(state, event)
    return state, events


def given(*commands: Command, state: CaseState | None = None) -> CaseState:
    """The state after each command in turn."""
    current = state or CaseState()
    for command in commands:
        current, _ = run(current, command)
    return current


def client_given(*commands: ClientCommand) -> ClientRecord:
    """A client record after each command in turn."""
    record = ClientRecord()
    for command in commands:
        for event in decide_client(record, command):
            record = evolve_client(record, event)
    return record


def open_case(*needs: NeedDomain, agency: str = AGENCY, department: str | None = None) -> CaseState:
    """A case intake opened, assigned and assessed with `needs` (housing by default)."""
    return given(
        LearnCaseOpened(agency_id=agency, opened_on=TODAY),
        LearnClient(client_id=CLIENT),
        LearnManager(agency_id=agency, manager_id=MANAGER, department_id=department),
        LearnNeeds(need_domains=needs or (NeedDomain.HOUSING,)),
    )


def evaluated(state: CaseState, permits: bool = True) -> CaseState:
    """The case after an evaluation."""
    return given(
        LearnEvaluation(
            evaluation_id="ev-1", evaluated_on=TODAY, permits_planned_termination=permits
        ),
        state=state,
    )


def preparation(**changes: object) -> PrepareTermination:
    """A complete R10 preparation, with `changes`."""
    values: dict[str, object] = {
        "today": TODAY,
        "community_resources_found": True,
        "help_again_explained": True,
        "independent_activity_encouraged": True,
        "gains_maintenance_planned": True,
        "reactions": (EmotionalReaction.ANXIETY,),
        "responses": (ManagerResponse.ACCEPTED_AND_ACKNOWLEDGED,),
    }
    values.update(changes)
    return PrepareTermination.model_validate(values)


def service(
    agency: str, domain: NeedDomain, room: bool = True, dept: str | None = None
) -> Candidate:
    """A provider offering one service."""
    return Candidate(
        provider=Provider(agency_id=agency, department_id=dept),
        services=(
            OfferedService(
                service_id=f"{agency}-{domain.value}", need_domain=domain, has_room=room
            ),
        ),
    )


def consent(*agencies: str, consent_id: str = "consent-1", **changes: object) -> ConsentTerms:
    """A referral consent naming `agencies`, valid around TODAY."""
    values: dict[str, object] = {
        "consent_id": consent_id,
        "agencies": agencies,
        "for_referral": True,
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2026, 12, 31),
    }
    values.update(changes)
    return ConsentTerms.model_validate(values)


def facts(
    *candidates: Candidate,
    served: Sequence[Provider] = (),
    consents: Sequence[ConsentTerms] = (),
    today: date = TODAY,
) -> ReferralFacts:
    """The network and the client's history a decision takes."""
    return ReferralFacts(
        today=today,
        network=NetworkSnapshot(candidates=tuple(candidates)),
        history=ClientHistory(served=tuple(served), consents=tuple(consents)),
    )


def terminate(
    reason: TerminationReason, referral_facts: ReferralFacts, accepts: bool | None = None
) -> TerminateCase:
    """A termination for `reason`."""
    return TerminateCase(
        termination_id="term-1",
        referral_id="ref-1",
        reason=reason,
        client_accepts_referral=accepts,
        facts=referral_facts,
    )
