"""Closure's folded state: a case (what it learned, what it decided) and a client (who
served them, which consents stand). `evolve` applies one event; it never refuses."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.closure.domain.events import (
    CaseOpenedLearned,
    CaseTerminated,
    ClientLearned,
    ClosureEvent,
    ConsentLearned,
    ConsentWithdrawalLearned,
    EvaluationLearned,
    ManagerLearned,
    NeedsLearned,
    PendingCause,
    Provider,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOfferAnswered,
    ReferralOverdue,
    ReferralPending,
    ReturnToPlanningLearned,
    ServedLearned,
    TerminationApproved,
    TerminationClass,
    TerminationPrepared,
    TerminationReason,
)
from services.closure.domain.referral import ClientHistory, ConsentTerms
from shared.vocabulary import NeedDomain


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReferralStatus(StrEnum):
    """Where a case's referral stands."""

    ISSUED = "issued"
    PENDING = "pending"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    DECLINED_BY_CLIENT = "declined_by_client"


class Referral(_Frozen):
    """The referral written with a termination, and where it stands now."""

    referral_id: str
    termination_id: str
    status: ReferralStatus
    attempt: int = 0
    target: Provider | None = None
    due_on: date | None = None
    since: date
    cause: PendingCause | None = None
    escalated: bool = False
    need_domains: tuple[NeedDomain, ...] = ()
    tried: tuple[Provider, ...] = ()


class Termination(_Frozen):
    """How the case ended."""

    termination_id: str
    reason: TerminationReason
    termination_class: TerminationClass
    terminated_on: date


class CaseState(_Frozen):
    """One case as closure knows it."""

    agency_id: str | None = None
    client_id: str | None = None
    manager_id: str | None = None
    department_id: str | None = None
    needs: tuple[NeedDomain, ...] = ()
    met: tuple[NeedDomain, ...] = ()
    """Needs the latest evaluation found met (every goal for them achieved)."""
    evaluation_permits: bool = False
    prepared: bool = False
    approved: bool = False
    terminated: Termination | None = None
    referral: Referral | None = None

    @property
    def is_open(self) -> bool:
        """Known here and not terminated."""
        return self.agency_id is not None and self.terminated is None

    @property
    def unmet_needs(self) -> tuple[NeedDomain, ...]:
        """The needs a referral must meet (R9 (b)): every need not found met."""
        return tuple(n for n in self.needs if n not in self.met)

    @property
    def own_provider(self) -> Provider | None:
        """The agency (and department) serving the case now."""
        if self.agency_id is None:
            return None
        return Provider(agency_id=self.agency_id, department_id=self.department_id)


def _with_referral(state: CaseState, **changes: object) -> CaseState:
    assert state.referral is not None
    return state.model_copy(update={"referral": state.referral.model_copy(update=changes)})


def evolve(state: CaseState, event: ClosureEvent) -> CaseState:
    """The case state after one event."""
    match event:
        case CaseOpenedLearned(agency_id=agency_id):
            return state.model_copy(update={"agency_id": agency_id})
        case ClientLearned(client_id=client_id):
            return state.model_copy(update={"client_id": client_id})
        case ManagerLearned() as learned:
            return state.model_copy(
                update={
                    "agency_id": learned.agency_id,
                    "manager_id": learned.manager_id,
                    "department_id": learned.department_id,
                }
            )
        case NeedsLearned(need_domains=domains):
            return state.model_copy(update={"needs": tuple(sorted({*state.needs, *domains}))})
        case EvaluationLearned(permits_planned_termination=permits, met_domains=met):
            return state.model_copy(
                update={"evaluation_permits": permits, "met": tuple(sorted(set(met)))}
            )
        case ReturnToPlanningLearned():
            # R1: back in planning, an earlier evaluation (and what followed it) lapses.
            return state.model_copy(
                update={
                    "evaluation_permits": False,
                    "prepared": False,
                    "approved": False,
                    "met": (),
                }
            )
        case TerminationPrepared():
            return state.model_copy(update={"prepared": True})
        case TerminationApproved():
            return state.model_copy(update={"approved": True})
        case CaseTerminated() as ended:
            return state.model_copy(
                update={
                    "terminated": Termination(
                        termination_id=ended.termination_id,
                        reason=ended.reason,
                        termination_class=ended.termination_class,
                        terminated_on=ended.terminated_on,
                    )
                }
            )
        case ReferralIssued() as issued:
            tried = state.referral.tried if state.referral else ()
            return state.model_copy(
                update={
                    "referral": Referral(
                        referral_id=issued.referral_id,
                        termination_id=issued.termination_id,
                        status=ReferralStatus.ISSUED,
                        attempt=issued.attempt,
                        target=issued.target,
                        due_on=issued.due_on,
                        since=state.referral.since if state.referral else issued.issued_on,
                        need_domains=issued.need_domains,
                        tried=tried,
                    )
                }
            )
        case ReferralPending() as pending:
            previous = state.referral
            return state.model_copy(
                update={
                    "referral": Referral(
                        referral_id=pending.referral_id,
                        termination_id=pending.termination_id,
                        status=ReferralStatus.PENDING,
                        attempt=previous.attempt if previous else 0,
                        since=pending.since,
                        cause=pending.cause,
                        escalated=pending.escalated,
                        need_domains=pending.need_domains,
                        tried=previous.tried if previous else (),
                    )
                }
            )
        case ReferralEscalated():
            return _with_referral(state, escalated=True)
        case ReferralAccepted():
            return _with_referral(state, status=ReferralStatus.ACCEPTED)
        case ReferralCompleted():
            return _with_referral(state, status=ReferralStatus.COMPLETED)
        case ReferralDeclined(target=target) | ReferralOverdue(target=target):
            assert state.referral is not None
            return _with_referral(state, tried=(*state.referral.tried, target))
        case ReferralDeclinedByClient():
            return _with_referral(state, status=ReferralStatus.DECLINED_BY_CLIENT)
        case ReferralOfferAnswered():
            return state
    return state


class ClientRecord(_Frozen):
    """One client as closure knows them across the network."""

    served: tuple[Provider, ...] = ()
    consents: tuple[ConsentTerms, ...] = ()

    def history(self) -> ClientHistory:
        """The snapshot a referral decision takes."""
        return ClientHistory(served=self.served, consents=self.consents)


def evolve_client(record: ClientRecord, event: ClosureEvent) -> ClientRecord:
    """The client record after one event."""
    match event:
        case ServedLearned(provider=provider):
            if provider in record.served:
                return record
            return record.model_copy(update={"served": (*record.served, provider)})
        case ConsentLearned() as consent:
            terms = ConsentTerms(
                consent_id=consent.consent_id,
                agencies=consent.agencies,
                for_referral=consent.for_referral,
                valid_from=consent.valid_from,
                valid_until=consent.valid_until,
            )
            kept = tuple(c for c in record.consents if c.consent_id != consent.consent_id)
            return record.model_copy(update={"consents": (*kept, terms)})
        case ConsentWithdrawalLearned(consent_id=consent_id, withdrawn_on=day):
            return record.model_copy(
                update={
                    "consents": tuple(
                        c.model_copy(update={"withdrawn_on": day})
                        if c.consent_id == consent_id
                        else c
                        for c in record.consents
                    )
                }
            )
    return record
