"""R9 proven from closure's events alone: what an auditor checks, event by event.

Pure: it takes closure's history (every stream, in commit order) and the day and bound it is
asked about, and names each violation: an incomplete termination without a referral event
caused by it; an issued referral whose target was not eligible when issued (had served the
client, could not meet the needs, was the closing agency, had no consent in force); a
pending referral older than the bound and never escalated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.closure.domain.events import (
    CaseOpenedLearned,
    CaseTerminated,
    ClientLearned,
    ConsentLearned,
    ConsentWithdrawalLearned,
    EvaluationLearned,
    ManagerLearned,
    NeedsLearned,
    Provider,
    ReferralAccepted,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOfferAnswered,
    ReferralPending,
    ReturnToPlanningLearned,
    ServedLearned,
    TerminationClass,
    TerminationReason,
)
from services.closure.domain.referral import ConsentTerms, has_served
from shared.envelope import RecordedEvent
from shared.vocabulary import NeedDomain

CLIENT_PREFIX = "client:"


@dataclass
class _Case:
    agency_id: str | None = None
    department_id: str | None = None
    client_id: str | None = None
    needs: set[NeedDomain] = field(default_factory=set)
    met: set[NeedDomain] = field(default_factory=set)
    owed: dict[str, CaseTerminated] = field(default_factory=dict)
    """Terminations that must have a referral event, by termination id."""
    reason: TerminationReason | None = None
    pending: dict[str, ReferralPending] = field(default_factory=dict)
    """Referrals pending now and never escalated, by referral id."""


@dataclass
class _Client:
    served: list[Provider] = field(default_factory=list)
    consents: dict[str, ConsentTerms] = field(default_factory=dict)


def referral_violations(
    history: Sequence[RecordedEvent[Any]], *, today: date, pending_bound_days: int
) -> list[str]:
    """Every violation of R9 in closure's history, each named in one line."""
    cases: dict[str, _Case] = {}
    clients: dict[str, _Client] = {}
    found: list[str] = []
    for recorded in history:
        stream = recorded.metadata.case_id
        payload = recorded.payload
        if stream.startswith(CLIENT_PREFIX):
            _client_fact(clients.setdefault(stream[len(CLIENT_PREFIX) :], _Client()), payload)
            continue
        case = cases.setdefault(stream, _Case())
        match payload:
            case CaseOpenedLearned(agency_id=agency_id):
                case.agency_id = agency_id
            case ManagerLearned() as learned:
                case.agency_id, case.department_id = learned.agency_id, learned.department_id
            case ClientLearned(client_id=client_id):
                case.client_id = client_id
            case NeedsLearned(need_domains=domains):
                case.needs |= set(domains)
            case EvaluationLearned(met_domains=met):
                case.met = set(met)
            case ReturnToPlanningLearned():
                case.met = set()
            case CaseTerminated() as ended:
                case.reason = ended.reason
                if ended.termination_class is TerminationClass.INCOMPLETE:
                    case.owed[ended.termination_id] = ended
            case ReferralOfferAnswered(termination_id=termination_id, accepted=True):
                case.owed[termination_id] = CaseTerminated(
                    termination_id=termination_id,
                    reason=case.reason or TerminationReason.CLIENT_WITHDREW,
                    termination_class=TerminationClass.CLIENT_INITIATED,
                    terminated_on=payload.answered_on,
                    agency_id=case.agency_id or "?",
                )
            case ReferralIssued() as issued:
                case.owed.pop(issued.termination_id, None)
                case.pending.pop(issued.referral_id, None)
                client = clients.get(case.client_id or "", _Client())
                found += [
                    f"case {stream}: referral {issued.referral_id} (attempt {issued.attempt}) "
                    f"to {_name(issued.target)}: {problem}"
                    for problem in _ineligible(issued, case, client)
                ]
            case ReferralPending() as pending:
                case.owed.pop(pending.termination_id, None)
                if pending.escalated:
                    case.pending.pop(pending.referral_id, None)
                else:
                    case.pending[pending.referral_id] = pending
            case (
                ReferralEscalated(referral_id=referral_id)
                | ReferralDeclinedByClient(referral_id=referral_id)
            ):
                case.pending.pop(referral_id, None)
            case ReferralAccepted(target=target):
                if case.client_id is not None:
                    clients.setdefault(case.client_id, _Client()).served.append(target)
    for stream, case in cases.items():
        found += [
            f"case {stream}: termination {t.termination_id} ({t.reason.value}) has no referral "
            "event caused by it"
            for t in case.owed.values()
        ]
        found += [
            f"case {stream}: referral {p.referral_id} pending since {p.since.isoformat()} "
            f"({(today - p.since).days} days) and never escalated"
            for p in case.pending.values()
            if (today - p.since).days > pending_bound_days
        ]
    return found


def _client_fact(client: _Client, payload: object) -> None:
    match payload:
        case ServedLearned(provider=provider):
            client.served.append(provider)
        case ConsentLearned() as consent:
            client.consents[consent.consent_id] = ConsentTerms(
                consent_id=consent.consent_id,
                agencies=consent.agencies,
                for_referral=consent.for_referral,
                valid_from=consent.valid_from,
                valid_until=consent.valid_until,
            )
        case ConsentWithdrawalLearned(consent_id=consent_id, withdrawn_on=day):
            if consent_id in client.consents:
                terms = client.consents[consent_id]
                client.consents[consent_id] = terms.model_copy(update={"withdrawn_on": day})


def _name(provider: Provider) -> str:
    if provider.department_id is None:
        return provider.agency_id
    return f"{provider.agency_id}/{provider.department_id}"


def _ineligible(issued: ReferralIssued, case: _Case, client: _Client) -> list[str]:
    """What made the target ineligible when the referral was issued (nothing when eligible)."""
    target = issued.target
    problems: list[str] = []
    served = list(client.served)
    if case.agency_id is not None:
        served.append(Provider(agency_id=case.agency_id, department_id=case.department_id))
    if has_served(target, served):
        problems.append("had already served the client")
    if case.reason is TerminationReason.AGENCY_CLOSED and target.agency_id == case.agency_id:
        problems.append("is the closing agency")
    covered = {c.need_domain for c in issued.covered}
    unmet = sorted(n.value for n in case.needs - case.met - covered)
    if unmet:
        problems.append(f"offers no service for {', '.join(unmet)}")
    consent = client.consents.get(issued.consent_id)
    if consent is None or not consent.names_for_referral(target.agency_id, issued.issued_on):
        problems.append(f"consent {issued.consent_id} did not name it for referral that day")
    return problems
