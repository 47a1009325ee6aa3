"""R9: the referral loop after the termination: accepted, declined (the next target follows),
overdue (the same), issued later, escalated, or declined by the client (R4)."""

from __future__ import annotations

from collections.abc import Sequence

from services.closure.domain.commands import (
    AcceptReferral,
    ClientDeclinesReferral,
    DeclineReferral,
    EscalatePendingReferral,
    LearnLinkedCase,
    MarkReferralOverdue,
    ReferralFacts,
    RetryPendingReferral,
)
from services.closure.domain.errors import (
    R4,
    R9,
    NoSuchReferral,
    NotTheTarget,
    ReferralAlreadySettled,
    ReferralNotAwaitingAnswer,
)
from services.closure.domain.events import (
    ClosureEvent,
    Provider,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOverdue,
    TerminationReason,
)
from services.closure.domain.state import CaseState, Referral, ReferralStatus
from services.closure.domain.termination import referral_decision


def _referral(state: CaseState, referral_id: str | None = None) -> Referral:
    referral = state.referral
    if referral is None or (referral_id is not None and referral.referral_id != referral_id):
        raise NoSuchReferral("this case has no such referral", rule=R9)
    return referral


def _settled(referral: Referral) -> bool:
    return referral.status in (
        ReferralStatus.ACCEPTED,
        ReferralStatus.COMPLETED,
        ReferralStatus.DECLINED_BY_CLIENT,
    )


def _awaiting(referral: Referral) -> Provider:
    if _settled(referral):
        raise ReferralAlreadySettled(
            f"the referral was {referral.status.value.replace('_', ' ')}: nothing more changes it",
            rule=R9,
        )
    if referral.status is not ReferralStatus.ISSUED or referral.target is None:
        raise ReferralNotAwaitingAnswer(
            "the referral is pending, not issued to a target: nobody can answer it yet",
            rule=R9,
        )
    return referral.target


def _next_target(
    state: CaseState, referral: Referral, facts: ReferralFacts, also_tried: Provider | None
) -> ClosureEvent:
    """The next eligible target after one declined or went overdue (or pending)."""
    assert state.terminated is not None
    closing = (
        state.agency_id if state.terminated.reason is TerminationReason.AGENCY_CLOSED else None
    )
    tried = referral.tried if also_tried is None else (*referral.tried, also_tried)
    return referral_decision(
        state,
        referral_id=referral.referral_id,
        termination_id=referral.termination_id,
        facts=facts,
        attempt=referral.attempt + 1,
        closing_agency=closing,
        tried=tried,
    )


def accept(state: CaseState, command: AcceptReferral) -> Sequence[ClosureEvent]:
    """The target's staff accept: the loop closes there."""
    referral = _referral(state, command.referral_id)
    target = _awaiting(referral)
    if target.agency_id != command.agency_id:
        raise NotTheTarget("only the agency the referral was issued to answers it", rule=R9)
    return [
        ReferralAccepted(
            referral_id=referral.referral_id,
            target=target,
            accepted_on=command.today,
            accepted_by=command.staff_id,
        )
    ]


def complete(state: CaseState, command: LearnLinkedCase) -> Sequence[ClosureEvent]:
    """An accepted referral is completed once the target's intake opened the linked case;
    anything else (a repeat, a case from elsewhere) decides nothing."""
    referral = state.referral
    if referral is None or referral.status is not ReferralStatus.ACCEPTED:
        return []
    if referral.target is None or referral.target.agency_id != command.agency_id:
        return []
    return [
        ReferralCompleted(
            referral_id=referral.referral_id,
            linked_case_id=command.linked_case_id,
            target=referral.target,
        )
    ]


def decline(state: CaseState, command: DeclineReferral) -> Sequence[ClosureEvent]:
    """The target's staff decline with a reason; the next eligible target is issued with it."""
    referral = _referral(state, command.referral_id)
    target = _awaiting(referral)
    if target.agency_id != command.agency_id:
        raise NotTheTarget("only the agency the referral was issued to answers it", rule=R9)
    declined = ReferralDeclined(
        referral_id=referral.referral_id,
        target=target,
        reason=command.reason,
        declined_on=command.facts.today,
    )
    return [declined, _next_target(state, referral, command.facts, target)]


def mark_overdue(state: CaseState, command: MarkReferralOverdue) -> Sequence[ClosureEvent]:
    """An issued referral past its due date goes overdue and moves on; nothing otherwise."""
    referral = state.referral
    if referral is None or referral.status is not ReferralStatus.ISSUED:
        return []
    assert referral.target is not None and referral.due_on is not None
    if command.facts.today <= referral.due_on:
        return []
    overdue = ReferralOverdue(
        referral_id=referral.referral_id, target=referral.target, due_on=referral.due_on
    )
    return [overdue, _next_target(state, referral, command.facts, referral.target)]


def retry_pending(state: CaseState, command: RetryPendingReferral) -> Sequence[ClosureEvent]:
    """A pending referral is issued once a target has become eligible; nothing otherwise."""
    referral = state.referral
    if referral is None or referral.status is not ReferralStatus.PENDING:
        return []
    decided = _next_target(state, referral, command.facts, None)
    return [decided] if isinstance(decided, ReferralIssued) else []


def escalate(state: CaseState, command: EscalatePendingReferral) -> Sequence[ClosureEvent]:
    """A referral pending past the bound, not yet escalated, goes to the network."""
    referral = state.referral
    if referral is None or referral.status is not ReferralStatus.PENDING or referral.escalated:
        return []
    if (command.today - referral.since).days < command.bound_days:
        return []
    return [ReferralEscalated(referral_id=referral.referral_id, escalated_on=command.today)]


def client_declines(state: CaseState, command: ClientDeclinesReferral) -> Sequence[ClosureEvent]:
    """R4: the client declines the referral, issued or pending: it is never forced."""
    referral = _referral(state)
    if _settled(referral):
        raise ReferralAlreadySettled(
            f"the referral was {referral.status.value.replace('_', ' ')}: nothing more changes it",
            rule=R4,
        )
    return [ReferralDeclinedByClient(referral_id=referral.referral_id, declined_on=command.today)]
