"""Events careplan records on `caseline.careplan.v1`: plans, agreement, services, links, advocacy.

One stream per case (the case id intake chose; Kafka key = case id). Events carry ids, codes
and dates only: a goal's wording, notes and an informal helper's name live in careplan's
vault under the client's id (R11), so an erased client's words are gone while every chain
still verifies.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.envelope import DomainEvent, registry
from shared.vocabulary import NeedDomain

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
"""A code (a strength, a risk): lower-case letters, digits and underscores, never words."""

RecordId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
"""An id chosen by the service or the caller: a goal, an item, a link, an advocacy."""


class Delivery(StrEnum):
    """How an item of the plan is delivered (R3)."""

    OWN_AGENCY = "own_agency"
    LINKED_AGENCY = "linked_agency"
    INFORMAL = "informal"


class UnaddressedReason(StrEnum):
    """Why an assessed need has no item in the plan (R3)."""

    CLIENT_DECLINED = "client_declined"
    NO_RESOURCE = "no_resource"
    MET_ELSEWHERE = "met_elsewhere"


class LanguageSupport(StrEnum):
    """The language support arranged for a client-facing item (R11)."""

    INTERPRETER = "interpreter"
    TRANSLATED_MATERIALS = "translated_materials"
    BILINGUAL_STAFF = "bilingual_staff"


class DirectServiceKind(StrEnum):
    """The three direct services (R5a-c)."""

    CRISIS_INTERVENTION = "crisis_intervention"
    SKILLS_TEACHING = "skills_teaching"
    SUPPORTING_CHANGE = "supporting_change"


class DirectRole(StrEnum):
    """The manager's role in a direct service (R5)."""

    IMPLEMENTER = "implementer"
    EDUCATOR = "educator"
    GUIDE = "guide"
    FACILITATOR = "facilitator"
    INFORMATION_SPECIALIST = "information_specialist"
    SUPPORTER = "supporter"


class IndirectRole(StrEnum):
    """The manager's role in indirect work (R6c), recorded with each step."""

    BROKER = "broker"
    LINKER = "linker"
    DELIVERY_COORDINATOR = "delivery_coordinator"
    ADVOCATE = "advocate"
    NETWORK_BUILDER = "network_builder"
    TECHNICAL_SUPPORT = "technical_support"
    NEGOTIATOR = "negotiator"


class LinkOutReason(StrEnum):
    """Why a need is linked out while the own agency offers it with room (R6a)."""

    CLIENT_CHOICE = "client_choice"
    SPECIALISED_SERVICE = "specialised_service"
    CLOSER_TO_HOME = "closer_to_home"
    CONFLICT_OF_INTEREST = "conflict_of_interest"


class LinkDeclineReason(StrEnum):
    """Why a partner agency declined a link."""

    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    OUT_OF_AREA = "out_of_area"
    SERVICE_SUSPENDED = "service_suspended"


class NotDeliveredReason(StrEnum):
    """Why a partner agency did not deliver an accepted link."""

    CLIENT_DID_NOT_ATTEND = "client_did_not_attend"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    SERVICE_ENDED = "service_ended"


class ReRequestBy(StrEnum):
    """Who requests a service again after it was not received (R6b)."""

    CLIENT = "client"
    MANAGER_WITH_AGREEMENT = "manager_with_agreement"


class MoxleyStep(IntEnum):
    """Moxley's advocacy strategies, least to most confrontational (R6b)."""

    NEGOTIATE_FRONT_LINE = 1
    CHAIN_OF_COMMAND = 2
    AGENCY_STATUTES = 3
    EXTERNAL_OMBUDSMAN = 4
    AGENCY_FUNDER = 5
    MASS_MEDIA = 6
    CONSUMER_GROUPS = 7


class EscalationReason(StrEnum):
    """Why advocacy climbs more than one step at once (R6b, practice)."""

    IMMEDIATE_RISK = "immediate_risk"
    LOWER_STEPS_UNAVAILABLE = "lower_steps_unavailable"
    PATTERN_OF_REFUSAL = "pattern_of_refusal"


class AdvocacyOutcome(StrEnum):
    """How advocacy ended (R6b)."""

    SERVICE_OBTAINED = "service_obtained"
    NOT_OBTAINED = "not_obtained"


class Part(BaseModel):
    """Base of the values events carry: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanGoal(Part):
    """A goal of a plan version: its id, target date and the strengths it builds on (R3).

    Its wording is in the vault (document `goal:<plan_version>:<goal_id>`)."""

    goal_id: RecordId
    target_date: date
    strengths: tuple[Code, ...] = Field(min_length=1)


class PlanItem(Part):
    """An item of a plan version: the need it serves, how it is delivered, for which goal,
    from when to when (R3); the language support arranged for a client-facing item (R11)."""

    item_id: RecordId
    need_domain: NeedDomain
    goal_id: RecordId
    delivery: Delivery
    agency_id: RecordId | None = None
    department_id: RecordId | None = None
    service_id: RecordId | None = None
    informal_resource_id: RecordId | None = Field(
        default=None, description="The client's informal helper; the name is in the vault."
    )
    start_on: date
    end_on: date
    client_facing: bool = True
    language_support: LanguageSupport | None = None


class UnaddressedNeed(Part):
    """An assessed need the plan has no item for, with the coded reason (R3)."""

    need_domain: NeedDomain
    reason: UnaddressedReason


class CareplanEvent(DomainEvent):
    """Base of every careplan event."""

    service = "careplan"


@registry.register
class CrisisInterventionRecorded(CareplanEvent):
    """A crisis intervention (R5a), allowed from assignment on, naming the risk it addresses."""

    intervention_id: RecordId
    risk: Code
    role: DirectRole
    need_domain: NeedDomain | None = None
    delivered_on: date


@registry.register
class PlanVersionDrafted(CareplanEvent):
    """A plan version (1 the first, n+1 a revision) was drafted with the client (R3).

    It takes effect only once the client agrees to it (`PlanAgreed`, R4)."""

    plan_version: int = Field(ge=1)
    plan_date: date
    goals: tuple[PlanGoal, ...] = Field(min_length=1)
    items: tuple[PlanItem, ...]
    unaddressed: tuple[UnaddressedNeed, ...] = ()


@registry.register
class PlanAgreed(CareplanEvent):
    """The client agreed to a plan version: from `in_force_from` it is the version in force;
    the items the client declined are never activated (R4)."""

    plan_version: int = Field(ge=1)
    in_force_from: date
    declined_items: tuple[RecordId, ...] = ()
    superseded_version: int | None = Field(default=None, description="The version it replaces.")


@registry.register
class DirectServiceRecorded(CareplanEvent):
    """The case's agency delivered a direct service (R5): kind, role, need, goal, date."""

    service_record_id: RecordId
    plan_version: int = Field(ge=1)
    kind: DirectServiceKind
    role: DirectRole
    need_domain: NeedDomain
    goal_id: RecordId
    delivered_on: date


@registry.register
class ItemLinked(CareplanEvent):
    """An item was linked to a formal service of another agency, or to an informal resource
    of this client (R6a). `waitlisted`: the service was full and `client_id` waits on its list
    (R12)."""

    plan_version: int = Field(ge=1)
    item_id: RecordId
    link_id: RecordId
    need_domain: NeedDomain
    delivery: Delivery
    agency_id: RecordId | None = None
    department_id: RecordId | None = None
    service_id: RecordId | None = None
    informal_resource_id: RecordId | None = None
    waitlisted: bool = False
    client_id: RecordId | None = Field(default=None, description="Who waits, when waitlisted.")
    link_out_reason: LinkOutReason | None = None
    role: IndirectRole = IndirectRole.LINKER
    linked_on: date


@registry.register
class LinkAccepted(CareplanEvent):
    """The partner agency accepted a link."""

    item_id: RecordId
    link_id: RecordId
    agency_id: RecordId
    answered_on: date


@registry.register
class LinkDeclined(CareplanEvent):
    """The partner agency declined a link, with a coded reason: the item was not received."""

    item_id: RecordId
    link_id: RecordId
    agency_id: RecordId
    reason: LinkDeclineReason
    answered_on: date


@registry.register
class ServiceDelivered(CareplanEvent):
    """The partner agency (or the informal resource, as the manager records) delivered."""

    item_id: RecordId
    link_id: RecordId
    agency_id: RecordId | None = None
    delivered_on: date


@registry.register
class ServiceNotDelivered(CareplanEvent):
    """The partner agency did not deliver an accepted link: the item was not received."""

    item_id: RecordId
    link_id: RecordId
    agency_id: RecordId | None = None
    reason: NotDeliveredReason
    answered_on: date


@registry.register
class AdvocacyStarted(CareplanEvent):
    """Advocacy began for an item not received: the client was encouraged and the service
    requested again, by the client or by the manager with the client's agreement (R6b)."""

    advocacy_id: RecordId
    item_id: RecordId
    client_encouraged: bool
    re_request_by: ReRequestBy
    role: IndirectRole = IndirectRole.ADVOCATE
    started_on: date


class AdvocacyStepTaken(CareplanEvent):
    """Base of the seven Moxley steps (R6b): each step is its own event type.

    `escalation_reason` is required for a step more than one above the last one tried;
    `client_consented` for steps 6 and 7."""

    step: ClassVar[MoxleyStep]

    advocacy_id: RecordId
    item_id: RecordId
    role: IndirectRole = IndirectRole.ADVOCATE
    escalation_reason: EscalationReason | None = None
    client_consented: bool = False
    taken_on: date


@registry.register
class NegotiatedWithFrontLineStaff(AdvocacyStepTaken):
    """Moxley step 1: negotiate with the front-line staff."""

    step = MoxleyStep.NEGOTIATE_FRONT_LINE


@registry.register
class AppealedThroughChainOfCommand(AdvocacyStepTaken):
    """Moxley step 2: appeal through the chain of command."""

    step = MoxleyStep.CHAIN_OF_COMMAND


@registry.register
class AppealedToAgencyStatutes(AdvocacyStepTaken):
    """Moxley step 3: appeal to the agency's statutes."""

    step = MoxleyStep.AGENCY_STATUTES


@registry.register
class AppealedToOmbudsman(AdvocacyStepTaken):
    """Moxley step 4: appeal to an external ombudsman."""

    step = MoxleyStep.EXTERNAL_OMBUDSMAN


@registry.register
class AppealedToFunder(AdvocacyStepTaken):
    """Moxley step 5: appeal to the agency's funder."""

    step = MoxleyStep.AGENCY_FUNDER


@registry.register
class ExposedInMassMedia(AdvocacyStepTaken):
    """Moxley step 6: expose in the mass media (needs the client's consent)."""

    step = MoxleyStep.MASS_MEDIA


@registry.register
class JoinedConsumerGroups(AdvocacyStepTaken):
    """Moxley step 7: work with organised consumer groups (needs the client's consent)."""

    step = MoxleyStep.CONSUMER_GROUPS


STEP_EVENTS: dict[MoxleyStep, type[AdvocacyStepTaken]] = {
    cls.step: cls
    for cls in (
        NegotiatedWithFrontLineStaff,
        AppealedThroughChainOfCommand,
        AppealedToAgencyStatutes,
        AppealedToOmbudsman,
        AppealedToFunder,
        ExposedInMassMedia,
        JoinedConsumerGroups,
    )
}
"""The event type of each Moxley step."""


@registry.register
class AdvocacyConcluded(CareplanEvent):
    """Advocacy ended: the service obtained (the item is back in delivery) or not obtained
    (the plan must be revised) (R6b)."""

    advocacy_id: RecordId
    item_id: RecordId
    outcome: AdvocacyOutcome
    role: IndirectRole = IndirectRole.ADVOCATE
    concluded_on: date


@registry.register
class CaseReturnedToPlanning(CareplanEvent):
    """The case went back to planning: a review found new needs (R6d) or advocacy did not
    obtain a service (R6b). Until a revised version is agreed, the version in force stays
    and evaluation or a planned termination waits."""

    plan_version: int = Field(ge=0, description="The version in force when it went back.")
    review_id: RecordId | None = Field(default=None, description="The monitoring review.")
    advocacy_id: RecordId | None = None
    need_domains: tuple[NeedDomain, ...] = ()
