"""What closure is asked to do, in the imperative. Dates are compared with the `today` each
command carries, never with a clock in the domain.

A command that may issue a referral carries the network and the client's history as
snapshots (read by the application from what closure learned), so `decide` stays pure and
the decision it makes can be replayed. No command carries a termination class: R8 derives
it from the reason.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.closure.domain.events import (
    DeclineReason,
    EmotionalReaction,
    ManagerResponse,
    Provider,
    ServedVia,
    TerminationReason,
)
from services.closure.domain.referral import ClientHistory, NetworkSnapshot
from shared.vocabulary import NeedDomain

DEFAULT_ANSWER_DAYS = 14
"""How long a target has to answer a referral before it goes overdue (practice)."""


class ClosureCommand(BaseModel):
    """Base of closure's commands."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ReferralFacts(ClosureCommand):
    """What a referral decision needs besides the case: the day, the network, the client's
    history, and how long a target has to answer."""

    today: date
    network: NetworkSnapshot = NetworkSnapshot()
    history: ClientHistory = ClientHistory()
    answer_days: int = Field(default=DEFAULT_ANSWER_DAYS, ge=1)


# --- learned on a case stream ----------------------------------------------------------


class LearnCaseOpened(ClosureCommand):
    """Remember that intake opened the case at this agency."""

    agency_id: str = Field(min_length=1)
    opened_on: date | None = None


class LearnClient(ClosureCommand):
    """Remember the case's client."""

    client_id: str = Field(min_length=1)


class LearnManager(ClosureCommand):
    """Remember who manages the case now, in which department."""

    agency_id: str = Field(min_length=1)
    manager_id: str = Field(min_length=1)
    department_id: str | None = None
    since: date | None = None


class LearnNeeds(ClosureCommand):
    """Remember need domains of the case."""

    need_domains: tuple[NeedDomain, ...]


class LearnEvaluation(ClosureCommand):
    """Remember monitoring's evaluation."""

    evaluation_id: str = Field(min_length=1)
    evaluated_on: date
    permits_planned_termination: bool
    met_domains: tuple[NeedDomain, ...] = ()


class LearnReturnToPlanning(ClosureCommand):
    """Remember the case went back to planning."""

    plan_version: int = Field(ge=1)


class LearnLinkedCase(ClosureCommand):
    """Intake at a referral's target opened the linked inbound-referral case."""

    agency_id: str = Field(min_length=1)
    linked_case_id: str = Field(min_length=1)


# --- learned on a client stream --------------------------------------------------------


class LearnServed(ClosureCommand):
    """Remember a provider that served the client."""

    provider: Provider
    via: ServedVia
    source_id: str = Field(min_length=1)


class LearnConsent(ClosureCommand):
    """Remember a consent of the client."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...]
    for_referral: bool
    for_record_transfer: bool
    valid_from: date
    valid_until: date


class LearnConsentWithdrawal(ClosureCommand):
    """Remember a consent was withdrawn."""

    consent_id: str = Field(min_length=1)
    withdrawn_on: date


# --- decided by staff, the fan-out and the scheduler -----------------------------------


class PrepareTermination(ClosureCommand):
    """R10: record the preparation for the end and the client's reactions and the answer."""

    today: date
    community_resources_found: bool
    help_again_explained: bool
    independent_activity_encouraged: bool
    gains_maintenance_planned: bool
    reactions: tuple[EmotionalReaction, ...] = Field(min_length=1)
    responses: tuple[ManagerResponse, ...] = Field(min_length=1)


class ApproveTermination(ClosureCommand):
    """R8: a supervisor approves the planned termination."""

    today: date
    supervisor_id: str = Field(min_length=1)


class TerminateCase(ClosureCommand):
    """R8: end the case for a reason; an incomplete end comes with its referral (R9)."""

    termination_id: str = Field(min_length=1)
    referral_id: str = Field(min_length=1)
    reason: TerminationReason
    client_accepts_referral: bool | None = None
    facts: ReferralFacts


class AcceptReferral(ClosureCommand):
    """The target's staff accept the referral."""

    referral_id: str = Field(min_length=1)
    agency_id: str = Field(min_length=1)
    staff_id: str = Field(min_length=1)
    today: date


class DeclineReferral(ClosureCommand):
    """The target's staff decline the referral; the next eligible target is issued."""

    referral_id: str = Field(min_length=1)
    agency_id: str = Field(min_length=1)
    reason: DeclineReason
    facts: ReferralFacts


class MarkReferralOverdue(ClosureCommand):
    """The scheduler: an unanswered referral past its due date moves on."""

    facts: ReferralFacts


class RetryPendingReferral(ClosureCommand):
    """Issue a pending referral if a target has become eligible (consent, a new service)."""

    facts: ReferralFacts


class EscalatePendingReferral(ClosureCommand):
    """A referral pending longer than the bound goes to the network administrators."""

    today: date
    bound_days: int = Field(ge=0)


class ClientDeclinesReferral(ClosureCommand):
    """R4: the client declines the referral (issued or pending)."""

    today: date


Command = (
    LearnCaseOpened
    | LearnClient
    | LearnManager
    | LearnNeeds
    | LearnEvaluation
    | LearnReturnToPlanning
    | LearnLinkedCase
    | PrepareTermination
    | ApproveTermination
    | TerminateCase
    | AcceptReferral
    | DeclineReferral
    | MarkReferralOverdue
    | RetryPendingReferral
    | EscalatePendingReferral
    | ClientDeclinesReferral
)
"""Every command on a case stream."""

ClientCommand = LearnServed | LearnConsent | LearnConsentWithdrawal
"""Every command on a client stream."""
