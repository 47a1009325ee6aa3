"""Closure's rules: `decide(state, command)` returns the events a command leads to, or raises
a `ClosureError` saying why not (nothing is written then).

Pure: no clock, no I/O. Termination rules live in `termination.py`, the referral loop in
`loop.py`, eligibility in `referral.py`, the state in `state.py`. What is learned from other
services is recorded once: a repeated fact decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.closure.domain.commands import (
    AcceptReferral,
    ApproveTermination,
    ClientCommand,
    ClientDeclinesReferral,
    Command,
    DeclineReferral,
    EscalatePendingReferral,
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
    MarkReferralOverdue,
    PrepareTermination,
    RetryPendingReferral,
    TerminateCase,
)
from services.closure.domain.events import (
    CaseOpenedLearned,
    ClientLearned,
    ClosureEvent,
    ConsentLearned,
    ConsentWithdrawalLearned,
    EvaluationLearned,
    ManagerLearned,
    NeedsLearned,
    ReturnToPlanningLearned,
    ServedLearned,
)
from services.closure.domain.loop import (
    accept,
    client_declines,
    complete,
    decline,
    escalate,
    mark_overdue,
    retry_pending,
)
from services.closure.domain.state import (
    CaseState,
    ClientRecord,
    evolve,
    evolve_client,
)
from services.closure.domain.termination import approve, prepare, terminate

__all__ = ["CaseState", "ClientRecord", "decide", "decide_client", "evolve", "evolve_client"]


def _learn(state: CaseState, command: Command) -> Sequence[ClosureEvent]:
    """Facts from other services; once a case ended, only what it cannot change is kept."""
    match command:
        case LearnCaseOpened(agency_id=agency_id, opened_on=opened_on):
            if state.agency_id is not None:
                return []
            return [CaseOpenedLearned(agency_id=agency_id, opened_on=opened_on)]
        case LearnClient(client_id=client_id):
            return [] if state.client_id == client_id else [ClientLearned(client_id=client_id)]
        case LearnManager() as learned:
            same = (state.agency_id, state.manager_id, state.department_id) == (
                learned.agency_id,
                learned.manager_id,
                learned.department_id,
            )
            if same or state.terminated is not None:
                return []
            return [ManagerLearned(**learned.model_dump())]
        case LearnNeeds(need_domains=domains):
            new = tuple(sorted(set(domains) - set(state.needs)))
            if not new or state.terminated is not None:
                return []
            return [NeedsLearned(need_domains=new)]
        case LearnEvaluation() as evaluation:
            if state.terminated is not None:
                return []
            return [EvaluationLearned(**evaluation.model_dump())]
        case LearnReturnToPlanning(plan_version=version):
            if state.terminated is not None:
                return []
            return [ReturnToPlanningLearned(plan_version=version)]
    raise AssertionError(f"not a learned fact: {type(command).__name__}")


def decide(state: CaseState, command: Command) -> Sequence[ClosureEvent]:
    """The events one command on a case stream leads to."""
    match command:
        case PrepareTermination():
            return prepare(state, command)
        case ApproveTermination():
            return approve(state, command)
        case TerminateCase():
            return terminate(state, command)
        case AcceptReferral():
            return accept(state, command)
        case DeclineReferral():
            return decline(state, command)
        case MarkReferralOverdue():
            return mark_overdue(state, command)
        case RetryPendingReferral():
            return retry_pending(state, command)
        case EscalatePendingReferral():
            return escalate(state, command)
        case ClientDeclinesReferral():
            return client_declines(state, command)
        case LearnLinkedCase():
            return complete(state, command)
    return _learn(state, command)


def decide_client(record: ClientRecord, command: ClientCommand) -> Sequence[ClosureEvent]:
    """The events one command on a client stream leads to (each fact once)."""
    match command:
        case LearnServed(provider=provider, via=via, source_id=source_id):
            if provider in record.served:
                return []
            return [ServedLearned(provider=provider, via=via, source_id=source_id)]
        case LearnConsent() as consent:
            known = {c.consent_id for c in record.consents}
            if consent.consent_id in known:
                return []
            return [ConsentLearned(**consent.model_dump())]
        case LearnConsentWithdrawal(consent_id=consent_id, withdrawn_on=day):
            withdrawn = {c.consent_id for c in record.consents if c.withdrawn_on is not None}
            if consent_id in withdrawn:
                return []
            return [ConsentWithdrawalLearned(consent_id=consent_id, withdrawn_on=day)]
    raise AssertionError(f"not a client command: {type(command).__name__}")
