"""A case's care plan: its frozen state, `evolve`, and `decide`, which dispatches each command
to the one function that holds its rules (planning: R1, R3, R4, R5, R11; implementation: R6).
"""

from __future__ import annotations

from services.careplan.domain import implementation, planning
from services.careplan.domain.commands import (
    AgreeToPlan,
    AnswerLink,
    CareplanCommand,
    ConcludeAdvocacy,
    DraftPlan,
    LinkItem,
    RecordCrisisIntervention,
    RecordDirectService,
    ReturnToPlanning,
    StartAdvocacy,
    TakeAdvocacyStep,
)
from services.careplan.domain.errors import CaseEnded
from services.careplan.domain.events import CareplanEvent
from services.careplan.domain.state import (
    AdvocacyState,
    CarePlan,
    ItemState,
    ItemStatus,
    LinkState,
    evolve,
)

__all__ = [
    "AdvocacyState",
    "CarePlan",
    "ItemState",
    "ItemStatus",
    "LinkState",
    "decide",
    "evolve",
]


def decide(state: CarePlan, command: CareplanCommand) -> list[CareplanEvent]:
    """The events a command records, or a `CareplanError` naming the rule it breaks."""
    ended_on = command.case.terminated_on
    if ended_on is not None:
        # R8: termination is the last stage; whatever the command, the plan is closed.
        raise CaseEnded(
            f"the case ended on {ended_on.isoformat()}: it takes no further plan command",
            rule="R8",
        )
    match command:
        case RecordCrisisIntervention():
            return planning.record_crisis_intervention(state, command)
        case DraftPlan():
            return planning.draft_plan(state, command)
        case AgreeToPlan():
            return planning.agree_to_plan(state, command)
        case RecordDirectService():
            return planning.record_direct_service(state, command)
        case ReturnToPlanning():
            return planning.return_to_planning(state, command)
        case LinkItem():
            return implementation.link_item(state, command)
        case AnswerLink():
            return implementation.answer_link(state, command)
        case StartAdvocacy():
            return implementation.start_advocacy(state, command)
        case TakeAdvocacyStep():
            return implementation.take_advocacy_step(state, command)
        case ConcludeAdvocacy():
            return implementation.conclude_advocacy(state, command)
