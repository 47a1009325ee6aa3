"""Events the closure service records on `caseline.closure.v1` (stages 7 and 8).

Two kinds of stream. A case stream (the intake case id) holds what closure learned about the
case (its agency, client, manager, needs, evaluations) and what it decided: preparation,
approval, the termination and its referral. A client stream (`client:<client id>`) holds what
closure learned about the person across the whole network: who has served them and which
consents are in force. Both are events, so the referral invariant (R9) can be proven from
this service's history alone. Events carry ids, dates and codes only: never a name or words
about a person.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.envelope import DomainEvent, registry
from shared.vocabulary import NeedDomain


class ClosureEvent(DomainEvent):
    """Base of every closure event."""

    service = "closure"


class _Part(BaseModel):
    """A frozen value inside an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- codes -----------------------------------------------------------------------------


class TerminationReason(StrEnum):
    """Why a case ends (R8); the class follows from the reason, never from a user."""

    GOALS_ACHIEVED = "goals_achieved"
    NO_FURTHER_SERVICE_NEEDED = "no_further_service_needed"
    CLIENT_DIED = "client_died"
    MANAGER_LEFT = "manager_left"
    AGENCY_CLOSED = "agency_closed"
    PROGRAMME_ENDED = "programme_ended"
    CLIENT_WITHDREW = "client_withdrew"
    CLIENT_MOVED_AWAY = "client_moved_away"


class TerminationClass(StrEnum):
    """R8's four classes of termination."""

    COMPLETE = "complete"
    ENDED = "ended"
    INCOMPLETE = "incomplete"
    CLIENT_INITIATED = "client_initiated"


TERMINATION_CLASS: dict[TerminationReason, TerminationClass] = {
    TerminationReason.GOALS_ACHIEVED: TerminationClass.COMPLETE,
    TerminationReason.NO_FURTHER_SERVICE_NEEDED: TerminationClass.COMPLETE,
    TerminationReason.CLIENT_DIED: TerminationClass.ENDED,
    TerminationReason.MANAGER_LEFT: TerminationClass.INCOMPLETE,
    TerminationReason.AGENCY_CLOSED: TerminationClass.INCOMPLETE,
    TerminationReason.PROGRAMME_ENDED: TerminationClass.INCOMPLETE,
    TerminationReason.CLIENT_WITHDREW: TerminationClass.CLIENT_INITIATED,
    TerminationReason.CLIENT_MOVED_AWAY: TerminationClass.CLIENT_INITIATED,
}
"""R8: the one place a reason's class is fixed."""


def class_of(reason: TerminationReason) -> TerminationClass:
    """The class R8 gives a termination reason."""
    return TERMINATION_CLASS[reason]


class EmotionalReaction(StrEnum):
    """R10: the client's reactions to the end of care."""

    NONE_OBSERVED = "none_observed"
    ANXIETY = "anxiety"
    REGRESSION = "regression"
    ANGER = "anger"
    SADNESS = "sadness"


class ManagerResponse(StrEnum):
    """R10: how the manager responded to those reactions."""

    ACCEPTED_AND_ACKNOWLEDGED = "accepted_and_acknowledged"
    EXPLAINED_THE_SEPARATION = "explained_the_separation"
    REVIEWED_GAINS = "reviewed_gains"
    ARRANGED_FOLLOW_UP_CONTACT = "arranged_follow_up_contact"


class ServedVia(StrEnum):
    """How a provider came to have served a client (R9 (a))."""

    CASE = "case"
    DELIVERED_SERVICE = "delivered_service"
    ACCEPTED_REFERRAL = "accepted_referral"


class PendingCause(StrEnum):
    """Why a referral could not be issued yet (R9)."""

    NO_CONSENT = "no_consent"
    NO_ELIGIBLE_TARGET = "no_eligible_target"


class DeclineReason(StrEnum):
    """Why a target agency declined a referral."""

    NO_CAPACITY = "no_capacity"
    OUT_OF_AREA = "out_of_area"
    NEEDS_NOT_MET = "needs_not_met"
    CLIENT_NOT_REACHABLE = "client_not_reachable"
    OTHER_PROVIDER_BETTER = "other_provider_better"


class Exclusion(StrEnum):
    """Why a provider cannot receive a referral (R9), as the options list names it."""

    CLOSING_AGENCY = "closing_agency"
    AGENCY_CLOSED = "agency_closed"
    ALREADY_SERVED = "already_served"
    NO_SERVICE_FOR_NEED = "no_service_for_need"
    NO_CONSENT = "no_consent"
    DECLINED_OR_OVERDUE = "declined_or_overdue"


# --- values ----------------------------------------------------------------------------


class Provider(_Part):
    """An agency, or one department of it (R9 counts both)."""

    agency_id: str = Field(min_length=1)
    department_id: str | None = None


class CoveredNeed(_Part):
    """The service that meets one need domain at the target, and whether it has room."""

    need_domain: NeedDomain
    service_id: str = Field(min_length=1)
    has_room: bool


# --- learned from intake, careplan, monitoring and the directory -------------------------


@registry.register
class CaseOpenedLearned(ClosureEvent):
    """Intake found the case at this agency."""

    agency_id: str = Field(min_length=1)
    opened_on: date | None = None


@registry.register
class ClientLearned(ClosureEvent):
    """The case's client id (the key of the client stream)."""

    client_id: str = Field(min_length=1)


@registry.register
class ManagerLearned(ClosureEvent):
    """The case's manager now (assignment or reassignment), and their department."""

    agency_id: str = Field(min_length=1)
    manager_id: str = Field(min_length=1)
    department_id: str | None = None
    since: date | None = None


@registry.register
class NeedsLearned(ClosureEvent):
    """Need domains the case has: assessed, presented at screening, or found by a review."""

    need_domains: tuple[NeedDomain, ...] = Field(min_length=1)


@registry.register
class EvaluationLearned(ClosureEvent):
    """Monitoring's evaluation (R7): whether it permits a planned termination (R8)."""

    evaluation_id: str = Field(min_length=1)
    evaluated_on: date
    permits_planned_termination: bool
    met_domains: tuple[NeedDomain, ...] = ()
    """The need domains whose every goal the evaluation rated achieved: no longer unmet."""


@registry.register
class ReturnToPlanningLearned(ClosureEvent):
    """The case went back to planning: an earlier evaluation no longer permits ending it."""

    plan_version: int = Field(ge=1)


@registry.register
class ServedLearned(ClosureEvent):
    """On a client stream: a provider has served this client (R9 (a))."""

    provider: Provider
    via: ServedVia
    source_id: str = Field(min_length=1)


@registry.register
class ConsentLearned(ClosureEvent):
    """On a client stream: a consent naming agencies for the referral purpose (R4)."""

    consent_id: str = Field(min_length=1)
    agencies: tuple[str, ...]
    for_referral: bool
    for_record_transfer: bool
    valid_from: date
    valid_until: date


@registry.register
class ConsentWithdrawalLearned(ClosureEvent):
    """On a client stream: a consent was withdrawn (R4)."""

    consent_id: str = Field(min_length=1)
    withdrawn_on: date


# --- decided here ----------------------------------------------------------------------


@registry.register
class TerminationPrepared(ClosureEvent):
    """R10: the end was prepared (all four steps) and the client's reactions answered."""

    prepared_on: date
    community_resources_found: bool
    help_again_explained: bool
    independent_activity_encouraged: bool
    gains_maintenance_planned: bool
    reactions: tuple[EmotionalReaction, ...] = Field(min_length=1)
    responses: tuple[ManagerResponse, ...] = Field(min_length=1)


@registry.register
class TerminationApproved(ClosureEvent):
    """R8: a supervisor approved a planned termination."""

    supervisor_id: str = Field(min_length=1)
    approved_on: date


@registry.register
class CaseTerminated(ClosureEvent):
    """R8: the case ended for a coded reason; its class derived from the reason."""

    termination_id: str = Field(min_length=1)
    reason: TerminationReason
    termination_class: TerminationClass
    terminated_on: date
    agency_id: str = Field(min_length=1)
    manager_id: str | None = None
    client_id: str | None = None


@registry.register
class ReferralOfferAnswered(ClosureEvent):
    """R8: a client ending care themselves was offered a referral; their answer."""

    termination_id: str = Field(min_length=1)
    accepted: bool
    answered_on: date


@registry.register
class ReferralIssued(ClosureEvent):
    """R9: the referral sent to an eligible target, with the facts that made it eligible."""

    referral_id: str = Field(min_length=1)
    termination_id: str = Field(min_length=1)
    attempt: int = Field(ge=1)
    target: Provider
    need_domains: tuple[NeedDomain, ...]
    covered: tuple[CoveredNeed, ...]
    consent_id: str = Field(min_length=1)
    issued_on: date
    due_on: date


@registry.register
class ReferralPending(ClosureEvent):
    """R9: no target could be issued yet; it stays on the board until issued or declined."""

    referral_id: str = Field(min_length=1)
    termination_id: str = Field(min_length=1)
    cause: PendingCause
    escalated: bool
    need_domains: tuple[NeedDomain, ...]
    since: date


@registry.register
class ReferralEscalated(ClosureEvent):
    """A pending referral went to the network administrators (no target, or waited too long)."""

    referral_id: str = Field(min_length=1)
    escalated_on: date


@registry.register
class ReferralAccepted(ClosureEvent):
    """The target's staff accepted: care continues there (a linked case opens)."""

    referral_id: str = Field(min_length=1)
    target: Provider
    accepted_on: date
    accepted_by: str = Field(min_length=1)


@registry.register
class ReferralCompleted(ClosureEvent):
    """The loop closed: intake at the target opened the linked inbound-referral case."""

    referral_id: str = Field(min_length=1)
    linked_case_id: str = Field(min_length=1)
    target: Provider


@registry.register
class ReferralDeclined(ClosureEvent):
    """The target's staff declined, with a coded reason; the next target follows."""

    referral_id: str = Field(min_length=1)
    target: Provider
    reason: DeclineReason
    declined_on: date


@registry.register
class ReferralOverdue(ClosureEvent):
    """The target did not answer by the due date; the next target follows."""

    referral_id: str = Field(min_length=1)
    target: Provider
    due_on: date


@registry.register
class ReferralDeclinedByClient(ClosureEvent):
    """R4: the client declined the referral; it leaves the board."""

    referral_id: str = Field(min_length=1)
    declined_on: date


PUBLISHED: tuple[type[ClosureEvent], ...] = (
    CaseOpenedLearned,
    ClientLearned,
    ManagerLearned,
    NeedsLearned,
    EvaluationLearned,
    ReturnToPlanningLearned,
    ServedLearned,
    ConsentLearned,
    ConsentWithdrawalLearned,
    TerminationPrepared,
    TerminationApproved,
    CaseTerminated,
    ReferralOfferAnswered,
    ReferralIssued,
    ReferralPending,
    ReferralEscalated,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralOverdue,
    ReferralDeclinedByClient,
)
"""Every event type closure records and publishes."""
