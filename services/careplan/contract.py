"""Careplan's public contract: the events it publishes on caseline.careplan.v1.

Other services (monitoring, closure, projections) read plans, their goals and items, the
version in force, links and their answers through these classes and declare the ones they
read (`ConsumerSpec.reads`); they never import careplan's domain model.
"""

from services.careplan.domain.events import (
    STEP_EVENTS,
    AdvocacyConcluded,
    AdvocacyOutcome,
    AdvocacyStarted,
    AdvocacyStepTaken,
    AppealedThroughChainOfCommand,
    AppealedToAgencyStatutes,
    AppealedToFunder,
    AppealedToOmbudsman,
    CareplanEvent,
    CaseReturnedToPlanning,
    CrisisInterventionRecorded,
    Delivery,
    DirectServiceKind,
    DirectServiceRecorded,
    ExposedInMassMedia,
    IndirectRole,
    ItemLinked,
    JoinedConsumerGroups,
    LinkAccepted,
    LinkDeclined,
    MoxleyStep,
    NegotiatedWithFrontLineStaff,
    PlanAgreed,
    PlanGoal,
    PlanItem,
    PlanVersionDrafted,
    ServiceDelivered,
    ServiceNotDelivered,
    UnaddressedNeed,
)

PUBLISHED: tuple[type[CareplanEvent], ...] = (
    CrisisInterventionRecorded,
    PlanVersionDrafted,
    PlanAgreed,
    DirectServiceRecorded,
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    ServiceDelivered,
    ServiceNotDelivered,
    AdvocacyStarted,
    *STEP_EVENTS.values(),
    AdvocacyConcluded,
    CaseReturnedToPlanning,
)
"""Every event type careplan publishes."""

ITEM_STATE_EVENTS: tuple[type[CareplanEvent], ...] = (
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    ServiceDelivered,
    ServiceNotDelivered,
)
"""The events that move an item of the version in force (linked, answered, delivered or not)."""

__all__ = [
    "ITEM_STATE_EVENTS",
    "PUBLISHED",
    "STEP_EVENTS",
    "AdvocacyConcluded",
    "AdvocacyOutcome",
    "AdvocacyStarted",
    "AdvocacyStepTaken",
    "AppealedThroughChainOfCommand",
    "AppealedToAgencyStatutes",
    "AppealedToFunder",
    "AppealedToOmbudsman",
    "CareplanEvent",
    "CaseReturnedToPlanning",
    "CrisisInterventionRecorded",
    "Delivery",
    "DirectServiceKind",
    "DirectServiceRecorded",
    "ExposedInMassMedia",
    "IndirectRole",
    "ItemLinked",
    "JoinedConsumerGroups",
    "LinkAccepted",
    "LinkDeclined",
    "MoxleyStep",
    "NegotiatedWithFrontLineStaff",
    "PlanAgreed",
    "PlanGoal",
    "PlanItem",
    "PlanVersionDrafted",
    "ServiceDelivered",
    "ServiceNotDelivered",
    "UnaddressedNeed",
]
