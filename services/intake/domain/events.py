"""Events the intake service records (stages 1 and 2, docs/domain.md), on caseline.intake.v1.

No event carries personal data: a client appears only as a pseudonymous `client_id`, and the
name, birth date, resident number, phone, address, language and cultural needs stay in the
PII vault. Fields are codes, dates and ids, never free text that could hold a person's details
(an assignment's `override_reason` and a reassignment's `reason` are codes too: free text there
could carry a client's details).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.envelope import DomainEvent, registry
from shared.vocabulary import NeedDomain


class CaseSource(StrEnum):
    """How a case was found (stage 1: intake or case finding)."""

    OUTREACH = "outreach"
    WALK_IN = "walk_in"
    SELF_REFERRAL = "self_referral"
    INBOUND_REFERRAL = "inbound_referral"


class ConsentPurpose(StrEnum):
    """What a client allows their information to be used for (R4)."""

    CASE_MANAGEMENT = "case_management"
    """The case's own agency working the case: screening, assessment, planning, monitoring."""
    SERVICE_LINKING = "service_linking"
    REFERRAL = "referral"
    RECORD_TRANSFER = "record_transfer"
    """The client's record goes to another agency for continuity (R10)."""
    MONITORING = "monitoring"
    EVALUATION = "evaluation"


class ScreenOutReason(StrEnum):
    """Why a client does not need case management (R2)."""

    SINGLE_SIMPLE_NEED = "single_simple_need"
    NEEDS_MET_ELSEWHERE = "needs_met_elsewhere"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    CLIENT_DECLINED = "client_declined"
    NOT_ELIGIBLE = "not_eligible"


class InformationAndReferralKind(StrEnum):
    """What a screened-out client was given instead of case management (R2)."""

    INFORMATION_GIVEN = "information_given"
    REFERRED_TO_SERVICE = "referred_to_service"
    NO_SERVICE_FITS = "no_service_fits"


class Severity(StrEnum):
    """How severe an assessed need or risk is."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"


class StrengthKind(StrEnum):
    """A strength the plan can build on (strengths-based practice, R3)."""

    FAMILY_SUPPORT = "family_support"
    SOCIAL_NETWORK = "social_network"
    COMMUNITY_TIES = "community_ties"
    MOTIVATION = "motivation"
    SKILLS = "skills"
    STABLE_HOUSING = "stable_housing"
    STABLE_INCOME = "stable_income"
    GOOD_HEALTH = "good_health"
    COPING = "coping"


class RiskKind(StrEnum):
    """A risk found at assessment."""

    SELF_HARM = "self_harm"
    HARM_TO_OTHERS = "harm_to_others"
    ABUSE_OR_NEGLECT = "abuse_or_neglect"
    HOMELESSNESS = "homelessness"
    MEDICAL_EMERGENCY = "medical_emergency"
    FINANCIAL_CRISIS = "financial_crisis"
    SUBSTANCE_USE = "substance_use"
    SOCIAL_ISOLATION = "social_isolation"


class OverrideReason(StrEnum):
    """Why a supervisor lets a case manager go past their caseload limit (R12)."""

    CRISIS_NO_ONE_ELSE_AVAILABLE = "crisis_no_one_else_available"
    CONTINUITY_WITH_THE_CLIENT = "continuity_with_the_client"
    LANGUAGE_OR_CULTURE_MATCH = "language_or_culture_match"
    SPECIALIST_SKILLS = "specialist_skills"
    TEMPORARY_COVER = "temporary_cover"


class ReassignmentReason(StrEnum):
    """Why a case moves to another case manager."""

    STAFF_DEPARTED = "staff_departed"
    AGENCY_CLOSED = "agency_closed"
    CASELOAD_BALANCING = "caseload_balancing"
    CLIENT_REQUEST = "client_request"
    LANGUAGE_OR_CULTURE_MATCH = "language_or_culture_match"
    CONFLICT_OF_INTEREST = "conflict_of_interest"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InformationAndReferral(_Part):
    """The information-and-referral outcome of a screening out (R2)."""

    kind: InformationAndReferralKind
    domains: tuple[NeedDomain, ...] = Field(min_length=1)
    referred_agency_id: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _a_referral_names_the_agency(self) -> InformationAndReferral:
        referred = self.kind is InformationAndReferralKind.REFERRED_TO_SERVICE
        if referred != (self.referred_agency_id is not None):
            raise ValueError("a referral to a service, and only one, names the agency referred to")
        return self


class AssessedNeed(_Part):
    """A need in one domain, with its severity."""

    domain: NeedDomain
    severity: Severity


class Risk(_Part):
    """A risk with its level."""

    kind: RiskKind
    level: Severity


class IntakeEvent(DomainEvent):
    """Base of every intake event: published on caseline.intake.v1."""

    service = "intake"


def _distinct(values: tuple[object, ...], what: str) -> None:
    if len(set(values)) != len(values):
        raise ValueError(f"each {what} appears once")


@registry.register
class CaseFound(IntakeEvent):
    """A case was opened: found by outreach, a walk-in, self-referral or an inbound referral."""

    source: CaseSource
    referring_agency_id: str | None = None
    referring_case_id: str | None = None

    @model_validator(mode="after")
    def _referral_links_the_referring_case(self) -> CaseFound:
        referred = self.source is CaseSource.INBOUND_REFERRAL
        if referred != (self.referring_case_id is not None):
            raise ValueError("an inbound referral, and only one, names the referring case")
        if referred and not self.referring_agency_id:
            raise ValueError("an inbound referral names the referring agency")
        return self


@registry.register
class PossibleDuplicateAcknowledged(IntakeEvent):
    """Registration found clients with the same name and birth date; staff confirmed a new one."""

    client_id: str = Field(min_length=1)
    possible_duplicate_of: tuple[str, ...] = Field(min_length=1)


@registry.register
class ClientRegistered(IntakeEvent):
    """The case's client was registered; their personal data is in the vault under `client_id`."""

    client_id: str = Field(min_length=1)
    returning_client: bool = False


@registry.register
class ConsentRecorded(IntakeEvent):
    """The client consented to the named agencies using their information for the purposes (R4)."""

    consent_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    agencies: tuple[str, ...] = Field(min_length=1)
    purposes: tuple[ConsentPurpose, ...] = Field(min_length=1)
    valid_from: date
    valid_until: date

    @model_validator(mode="after")
    def _a_period_that_ends_after_it_starts(self) -> ConsentRecorded:
        if self.valid_until < self.valid_from:
            raise ValueError("a consent ends on or after the day it starts")
        _distinct(self.agencies, "agency")
        _distinct(self.purposes, "purpose")
        return self


@registry.register
class ConsentWithdrawn(IntakeEvent):
    """The client withdrew a consent; it allows nothing from that day on (R4)."""

    consent_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    withdrawn_on: date


@registry.register
class CaseScreenedIn(IntakeEvent):
    """Screening found the client fits case management: complex, multiple or chronic needs (R2)."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1)
    chronic: bool


@registry.register
class CaseScreenedOut(IntakeEvent):
    """Screening found case management does not fit; the client got information and referral."""

    presenting_problems: tuple[NeedDomain, ...] = Field(min_length=1)
    reason: ScreenOutReason
    information_and_referral: InformationAndReferral


@registry.register
class CaseAssessed(IntakeEvent):
    """Needs by domain, strengths, risks, crisis, and whether language support is needed (R11)."""

    needs: tuple[AssessedNeed, ...] = Field(min_length=1)
    strengths: tuple[StrengthKind, ...] = ()
    risks: tuple[Risk, ...] = ()
    crisis: bool = False
    interpreter_needed: bool
    cultural_needs_recorded: bool


@registry.register
class CaseAssigned(IntakeEvent):
    """A case manager of the case's agency took the case; an override records a full caseload."""

    staff_id: str = Field(min_length=1)
    agency_id: str = Field(min_length=1)
    override: bool
    override_reason: OverrideReason | None
    caseload_after: int = Field(ge=1)
    caseload_limit: int = Field(ge=0)


@registry.register
class CaseReassigned(IntakeEvent):
    """The case moved from one case manager to another."""

    from_staff_id: str = Field(min_length=1)
    to_staff_id: str = Field(min_length=1)
    reason: ReassignmentReason


@registry.register
class CaseloadOverrideRecorded(IntakeEvent):
    """A supervisor let a reassignment take a case manager past their caseload limit (R12)."""

    staff_id: str = Field(min_length=1)
    supervisor_id: str = Field(min_length=1)
    reason: OverrideReason
    caseload_after: int = Field(ge=1)
    caseload_limit: int = Field(ge=0)


@registry.register
class ClientErased(IntakeEvent):
    """The client's vault key was destroyed: their personal fields can no longer be read."""

    client_id: str = Field(min_length=1)
