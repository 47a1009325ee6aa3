"""Indirect services (R6): linking an item, the partner's answers, and advocacy.

Each function takes the folded plan and one command and refuses (a `CareplanError` naming the
rule) or returns the events to record.
"""

from __future__ import annotations

from services.careplan.domain.commands import (
    AnswerLink,
    ConcludeAdvocacy,
    LinkItem,
    StartAdvocacy,
    TakeAdvocacyStep,
)
from services.careplan.domain.errors import (
    AdvocacyRefused,
    AnswerRefused,
    DuplicateRecord,
    ItemDeclined,
    LinkOutReasonMissing,
    LinkRefused,
    NoConsent,
    UnknownRecord,
)
from services.careplan.domain.events import (
    STEP_EVENTS,
    AdvocacyConcluded,
    AdvocacyOutcome,
    AdvocacyStarted,
    CareplanEvent,
    CaseReturnedToPlanning,
    Delivery,
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    MoxleyStep,
    ReRequestBy,
    ServiceDelivered,
    ServiceNotDelivered,
)
from services.careplan.domain.planning import require_assigned, require_plan_in_force
from services.careplan.domain.state import AdvocacyState, CarePlan, ItemState, ItemStatus

RELINKABLE = frozenset({ItemStatus.PLANNED, ItemStatus.LINK_DECLINED, ItemStatus.NOT_DELIVERED})
"""An item may be linked while not yet linked, or again after it was not received."""

CONSENTED_STEPS = frozenset({MoxleyStep.MASS_MEDIA, MoxleyStep.CONSUMER_GROUPS})
"""The most confrontational strategies, taken only with the client's explicit consent."""


def _item(state: CarePlan, item_id: str) -> ItemState:
    found = state.items.get(item_id)
    if found is None:
        raise UnknownRecord(f"item {item_id} is not in the plan in force", rule="R3")
    if found.status is ItemStatus.CLIENT_DECLINED:
        raise ItemDeclined(f"the client declined item {item_id}: it is never activated", rule="R4")
    return found


def link_item(state: CarePlan, command: LinkItem) -> list[CareplanEvent]:
    """R6a: link to an open formal service (full: the waiting list) or an informal resource;
    R4: only to an agency the client's consent names for linking."""
    version = require_plan_in_force(state, command)
    found = _item(state, command.item_id)
    item = found.item
    if command.link_id in state.links:
        raise DuplicateRecord(f"link {command.link_id} is recorded", rule="R6a")
    if item.delivery is Delivery.OWN_AGENCY:
        raise LinkRefused(
            f"item {item.item_id} is delivered by the own agency: record its direct services",
            rule="R6a",
        )
    if found.status not in RELINKABLE:
        raise LinkRefused(f"item {item.item_id} is already {found.status}", rule="R6a")
    if item.delivery is Delivery.INFORMAL:
        return [
            ItemLinked(
                plan_version=version.plan_version,
                item_id=item.item_id,
                link_id=command.link_id,
                need_domain=item.need_domain,
                delivery=item.delivery,
                informal_resource_id=item.informal_resource_id,
                role=command.role,
                linked_on=command.today,
            )
        ]
    service = command.service
    if service is None or (service.agency_id, service.service_id) != (
        item.agency_id,
        item.service_id,
    ):
        raise LinkRefused(
            f"the network does not offer service {item.service_id} of agency {item.agency_id}",
            rule="R6a",
        )
    if not service.open:
        raise LinkRefused(
            f"service {service.service_id} is withdrawn or its agency closed", rule="R6a"
        )
    if service.need_domain is not item.need_domain:
        raise LinkRefused(
            f"service {service.service_id} does not meet {item.need_domain}", rule="R6a"
        )
    if service.agency_id != command.case.agency_id and not command.case.consents_to_linking(
        service.agency_id, command.today
    ):
        raise NoConsent(
            f"the client's consent does not name agency {service.agency_id} for linking; "
            "record the client's consent at intake first",
            rule="R4",
        )
    linking_out = service.agency_id != command.case.agency_id
    if linking_out and command.own_room and command.link_out_reason is None:
        raise LinkOutReasonMissing(
            f"the own agency offers {item.need_domain} with room: linking out needs a coded reason",
            rule="R6a",
        )
    waitlisted = service.capacity <= 0
    return [
        ItemLinked(
            plan_version=version.plan_version,
            item_id=item.item_id,
            link_id=command.link_id,
            need_domain=item.need_domain,
            delivery=item.delivery,
            agency_id=service.agency_id,
            department_id=service.department_id,
            service_id=service.service_id,
            waitlisted=waitlisted,
            client_id=command.case.client_id if waitlisted else None,
            link_out_reason=command.link_out_reason,
            role=command.role,
            linked_on=command.today,
        )
    ]


def answer_link(state: CarePlan, command: AnswerLink) -> list[CareplanEvent]:
    """The partner agency answers its link (an informal resource's: the case's agency):
    accepted or declined while open, delivered or not once accepted."""
    link = state.links.get(command.link_id)
    if link is None:
        raise UnknownRecord(f"link {command.link_id} is not recorded", rule="R6a")
    answering_for = link.agency_id or command.case.agency_id
    if command.answering_agency_id != answering_for:
        raise AnswerRefused("only the agency a link is addressed to answers it", rule="R6a")
    if command.answered_on > command.today:
        raise AnswerRefused("an answer is never dated ahead", rule="R6a")
    open_states = (ItemStatus.LINKED, ItemStatus.WAITLISTED)
    ids = {"item_id": link.item_id, "link_id": command.link_id}
    match command.answer:
        case "accepted" | "declined" if link.status not in open_states:
            raise AnswerRefused(f"link {command.link_id} is already {link.status}", rule="R6a")
        case "accepted":
            return [LinkAccepted(**ids, agency_id=answering_for, answered_on=command.answered_on)]
        case "declined":
            if command.decline_reason is None:
                raise AnswerRefused("a declined link names its coded reason", rule="R6a")
            return [
                LinkDeclined(
                    **ids,
                    agency_id=answering_for,
                    reason=command.decline_reason,
                    answered_on=command.answered_on,
                )
            ]
    delivering = (ItemStatus.ACCEPTED, *(open_states if link.agency_id is None else ()))
    if link.status not in delivering:
        raise AnswerRefused(
            f"link {command.link_id} is {link.status}: delivery follows acceptance", rule="R6a"
        )
    if command.answer == "delivered":
        return [ServiceDelivered(**ids, agency_id=link.agency_id, delivered_on=command.answered_on)]
    if command.not_delivered_reason is None:
        raise AnswerRefused("a service not delivered names its coded reason", rule="R6a")
    return [
        ServiceNotDelivered(
            **ids,
            agency_id=link.agency_id,
            reason=command.not_delivered_reason,
            answered_on=command.answered_on,
        )
    ]


def start_advocacy(state: CarePlan, command: StartAdvocacy) -> list[CareplanEvent]:
    """R6b: only for an item not received; the client encouraged and the service requested
    again, by the client or by the manager with the client's agreement."""
    require_plan_in_force(state, command)
    found = _item(state, command.item_id)
    if command.advocacy_id in state.advocacies:
        raise DuplicateRecord(f"advocacy {command.advocacy_id} is recorded", rule="R6b")
    if not found.not_received(command.today):
        raise AdvocacyRefused(
            f"item {command.item_id} is {found.status} and not past its end: "
            "advocacy is for a service not received",
            rule="R6b",
        )
    if any(a.open and a.item_id == command.item_id for a in state.advocacies.values()):
        raise AdvocacyRefused(f"advocacy for item {command.item_id} is in progress", rule="R6b")
    if not command.client_encouraged:
        raise AdvocacyRefused("advocacy begins by encouraging the client to ask again", rule="R6b")
    if command.re_request_by is ReRequestBy.MANAGER_WITH_AGREEMENT and not command.client_agreed:
        raise AdvocacyRefused(
            "the manager requests again only with the client's agreement", rule="R6b"
        )
    return [
        AdvocacyStarted(
            advocacy_id=command.advocacy_id,
            item_id=command.item_id,
            client_encouraged=command.client_encouraged,
            re_request_by=command.re_request_by,
            role=command.role,
            started_on=command.today,
        )
    ]


def _open_advocacy(state: CarePlan, advocacy_id: str) -> AdvocacyState:
    found = state.advocacies.get(advocacy_id)
    if found is None:
        raise UnknownRecord(f"advocacy {advocacy_id} is not recorded", rule="R6b")
    if not found.open:
        raise AdvocacyRefused(f"advocacy {advocacy_id} was concluded", rule="R6b")
    return found


def take_advocacy_step(state: CarePlan, command: TakeAdvocacyStep) -> list[CareplanEvent]:
    """R6b: a step more than one above the last needs a coded reason; 6 and 7 the client's
    consent."""
    require_assigned(command)
    found = _open_advocacy(state, command.advocacy_id)
    if command.step > found.last_step + 1 and command.escalation_reason is None:
        raise AdvocacyRefused(
            f"step {int(command.step)} is more than one above the last tried "
            f"({found.last_step}): give a coded reason",
            rule="R6b",
        )
    if command.step in CONSENTED_STEPS and not command.client_consented:
        raise AdvocacyRefused(
            f"step {int(command.step)} needs the client's explicit consent", rule="R6b"
        )
    event_class = STEP_EVENTS[command.step]
    return [
        event_class(
            advocacy_id=command.advocacy_id,
            item_id=found.item_id,
            role=command.role,
            escalation_reason=command.escalation_reason,
            client_consented=command.client_consented,
            taken_on=command.today,
        )
    ]


def conclude_advocacy(state: CarePlan, command: ConcludeAdvocacy) -> list[CareplanEvent]:
    """R6b: obtained puts the item back in delivery; not obtained sends the case back to
    planning for a revision."""
    require_assigned(command)
    found = _open_advocacy(state, command.advocacy_id)
    if found.steps == 0:
        raise AdvocacyRefused("advocacy concludes after at least one step", rule="R6b")
    concluded: list[CareplanEvent] = [
        AdvocacyConcluded(
            advocacy_id=command.advocacy_id,
            item_id=found.item_id,
            outcome=command.outcome,
            role=command.role,
            concluded_on=command.today,
        )
    ]
    if command.outcome is AdvocacyOutcome.NOT_OBTAINED:
        concluded.append(
            CaseReturnedToPlanning(
                plan_version=state.in_force or 0, advocacy_id=command.advocacy_id
            )
        )
    return concluded
