"""R8 and R10: when a case may end, and the referral an incomplete end is written with (R9).

`terminate` is the one function that decides a termination. For an incomplete end (and a
client-initiated one whose client accepts the offer) it returns the termination and its
referral event together, so the one is never appended without the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.closure.domain.commands import (
    ApproveTermination,
    PrepareTermination,
    ReferralFacts,
    TerminateCase,
)
from services.closure.domain.errors import (
    R1,
    R8,
    R10,
    ApprovalMissing,
    CaseAlreadyTerminated,
    CaseNotOpen,
    EvaluationMissing,
    PreparationIncomplete,
    PreparationMissing,
    ReferralAnswerMissing,
    ReferralAnswerNotAsked,
)
from services.closure.domain.events import (
    CaseTerminated,
    ClosureEvent,
    PendingCause,
    Provider,
    ReferralIssued,
    ReferralOfferAnswered,
    ReferralPending,
    TerminationApproved,
    TerminationClass,
    TerminationPrepared,
    TerminationReason,
    class_of,
)
from services.closure.domain.referral import (
    ClientHistory,
    Option,
    best_option,
    pending_cause,
    referral_options,
)
from services.closure.domain.state import CaseState


def ensure_open(state: CaseState) -> None:
    """Refuse a command on a case closure does not know, or one already ended."""
    if state.terminated is not None:
        raise CaseAlreadyTerminated(
            f"the case was terminated on {state.terminated.terminated_on.isoformat()} "
            f"({state.terminated.reason.value}): it takes no further command",
            rule=R8,
        )
    if state.agency_id is None:
        raise CaseNotOpen(
            "intake has not opened this case here yet: find and register it at intake first",
            rule=R1,
        )


def prepare(state: CaseState, command: PrepareTermination) -> Sequence[ClosureEvent]:
    """R10: the four preparation steps, all done, with the reactions and the response."""
    ensure_open(state)
    steps = {
        "community resources found": command.community_resources_found,
        "how to ask for help again explained": command.help_again_explained,
        "independent activity encouraged": command.independent_activity_encouraged,
        "how the gains are kept planned": command.gains_maintenance_planned,
    }
    undone = [name for name, done in steps.items() if not done]
    if undone:
        raise PreparationIncomplete(
            f"the end is not prepared yet ({', '.join(undone)}): do these before recording it",
            rule=R10,
        )
    return [
        TerminationPrepared(
            prepared_on=command.today,
            community_resources_found=True,
            help_again_explained=True,
            independent_activity_encouraged=True,
            gains_maintenance_planned=True,
            reactions=command.reactions,
            responses=command.responses,
        )
    ]


def _ensure_evaluated(state: CaseState) -> None:
    if not state.evaluation_permits:
        raise EvaluationMissing(
            "a planned termination follows an evaluation with every goal achieved or no "
            "further service needed: record the evaluation in monitoring first",
            rule=R1,
        )


def approve(state: CaseState, command: ApproveTermination) -> Sequence[ClosureEvent]:
    """R8: a supervisor approves a planned termination, after the evaluation and R10."""
    ensure_open(state)
    _ensure_evaluated(state)
    if not state.prepared:
        raise PreparationMissing(
            "record the preparation for the end (R10) before the supervisor approves it",
            rule=R10,
        )
    if state.approved:
        return []
    return [TerminationApproved(supervisor_id=command.supervisor_id, approved_on=command.today)]


def _ensure_planned_end_allowed(state: CaseState) -> None:
    _ensure_evaluated(state)
    if not state.prepared:
        raise PreparationMissing(
            "record the preparation for the end (R10) first, then the supervisor's approval",
            rule=R10,
        )
    if not state.approved:
        raise ApprovalMissing(
            "a planned termination needs a supervisor's approval: ask the supervisor to "
            "approve it first",
            rule=R8,
        )


def referral_decision(
    state: CaseState,
    *,
    referral_id: str,
    termination_id: str,
    facts: ReferralFacts,
    attempt: int,
    closing_agency: str | None,
    tried: tuple[Provider, ...],
) -> ClosureEvent:
    """R9: the referral issued to the best eligible target, or pending with its cause."""
    options = options_for(state, facts, closing_agency=closing_agency, tried=tried)
    chosen = best_option(options)
    if chosen is None:
        cause = pending_cause(options)
        return ReferralPending(
            referral_id=referral_id,
            termination_id=termination_id,
            cause=cause,
            escalated=cause is PendingCause.NO_ELIGIBLE_TARGET,
            need_domains=state.unmet_needs,
            since=state.referral.since if state.referral else facts.today,
        )
    assert chosen.consent_id is not None  # an eligible option has one
    return ReferralIssued(
        referral_id=referral_id,
        termination_id=termination_id,
        attempt=attempt,
        target=chosen.provider,
        need_domains=state.unmet_needs,
        covered=chosen.covered,
        consent_id=chosen.consent_id,
        issued_on=facts.today,
        due_on=facts.today + timedelta(days=facts.answer_days),
    )


def options_for(
    state: CaseState,
    facts: ReferralFacts,
    *,
    closing_agency: str | None,
    tried: tuple[Provider, ...] = (),
) -> tuple[Option, ...]:
    """The ranked options for this case: its own provider counts as having served."""
    served = facts.history.served
    own = state.own_provider
    if own is not None and own not in served:
        served = (*served, own)
    history = ClientHistory(served=served, consents=facts.history.consents)
    return referral_options(
        needs=state.unmet_needs,
        network=facts.network,
        history=history,
        today=facts.today,
        closing_agency=closing_agency,
        tried=tried,
    )


def terminate(state: CaseState, command: TerminateCase) -> Sequence[ClosureEvent]:
    """R8: end the case; an incomplete end is written with its referral, in one list (R9)."""
    ensure_open(state)
    assert state.agency_id is not None
    klass = class_of(command.reason)
    client_initiated = klass is TerminationClass.CLIENT_INITIATED
    if client_initiated and command.client_accepts_referral is None:
        raise ReferralAnswerMissing(
            "a client ending care is offered a referral: record their answer "
            "(client_accepts_referral) with the termination",
            rule=R8,
        )
    if not client_initiated and command.client_accepts_referral is not None:
        raise ReferralAnswerNotAsked(
            "only a client-initiated termination records an answer to a referral offer",
            rule=R8,
        )
    if klass is TerminationClass.COMPLETE:
        _ensure_planned_end_allowed(state)
    today = command.facts.today
    ended = CaseTerminated(
        termination_id=command.termination_id,
        reason=command.reason,
        termination_class=klass,
        terminated_on=today,
        agency_id=state.agency_id,
        manager_id=state.manager_id,
        client_id=state.client_id,
    )
    events: list[ClosureEvent] = [ended]
    refer = klass is TerminationClass.INCOMPLETE
    if klass is TerminationClass.CLIENT_INITIATED:
        accepted = bool(command.client_accepts_referral)
        events.append(
            ReferralOfferAnswered(
                termination_id=command.termination_id, accepted=accepted, answered_on=today
            )
        )
        refer = accepted
    if refer:
        closing = state.agency_id if command.reason is TerminationReason.AGENCY_CLOSED else None
        events.append(
            referral_decision(
                state,
                referral_id=command.referral_id,
                termination_id=command.termination_id,
                facts=command.facts,
                attempt=1,
                closing_agency=closing,
                tried=(),
            )
        )
    return events
