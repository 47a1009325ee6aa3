"""A case's care plan as careplan folds it: versions, the one in force, items, links, advocacy.

Frozen state and `evolve`, which folds one event; the rules that decide are in `planning.py`
(R1, R3, R4, R5, R11) and `implementation.py` (R6), dispatched from `model.decide`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from services.careplan.domain.events import (
    AdvocacyConcluded,
    AdvocacyOutcome,
    AdvocacyStarted,
    AdvocacyStepTaken,
    CareplanEvent,
    CaseReturnedToPlanning,
    CrisisInterventionRecorded,
    Delivery,
    DirectServiceRecorded,
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    PlanAgreed,
    PlanItem,
    PlanVersionDrafted,
    ServiceDelivered,
    ServiceNotDelivered,
)
from shared.vocabulary import NeedDomain


class ItemStatus(StrEnum):
    """Where an item of the version in force stands."""

    PLANNED = "planned"
    CLIENT_DECLINED = "client_declined"
    LINKED = "linked"
    WAITLISTED = "waitlisted"
    ACCEPTED = "accepted"
    LINK_DECLINED = "link_declined"
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"


@dataclass(frozen=True)
class ItemState:
    """An item of the version in force and what became of it."""

    item: PlanItem
    status: ItemStatus = ItemStatus.PLANNED
    link_id: str | None = None
    delivered: bool = False

    def not_received(self, today: date) -> bool:
        """R6b: declined by the partner, not delivered, or past its end with no delivery."""
        if self.status in (ItemStatus.LINK_DECLINED, ItemStatus.NOT_DELIVERED):
            return True
        return (
            self.status is not ItemStatus.CLIENT_DECLINED
            and not self.delivered
            and self.item.end_on < today
        )


@dataclass(frozen=True)
class LinkState:
    """A link: the item it serves, the agency it is addressed to (None: informal), its state."""

    item_id: str
    agency_id: str | None
    status: ItemStatus


@dataclass(frozen=True)
class AdvocacyState:
    """One advocacy for an item: the last Moxley step tried, open or concluded."""

    item_id: str
    last_step: int = 0
    steps: int = 0
    outcome: AdvocacyOutcome | None = None

    @property
    def open(self) -> bool:
        """Whether it has not been concluded."""
        return self.outcome is None


@dataclass(frozen=True)
class CarePlan:
    """A case's plan history as careplan's stream folds it."""

    versions: Mapping[int, PlanVersionDrafted] = field(default_factory=dict)
    latest: int = 0
    in_force: int | None = None
    in_force_from: date | None = None
    items: Mapping[str, ItemState] = field(default_factory=dict)
    links: Mapping[str, LinkState] = field(default_factory=dict)
    advocacies: Mapping[str, AdvocacyState] = field(default_factory=dict)
    crisis_interventions: frozenset[str] = frozenset()
    direct_services: frozenset[str] = frozenset()
    reviews_returned: frozenset[str] = frozenset()
    returned_to_planning: bool = False
    new_needs: frozenset[NeedDomain] = frozenset()

    @property
    def pending(self) -> int | None:
        """The drafted version waiting for the client's agreement, if any (R4)."""
        if self.latest and self.latest != self.in_force and self.latest > (self.in_force or 0):
            return self.latest
        return None

    @property
    def version_in_force(self) -> PlanVersionDrafted | None:
        """The version the client agreed to last (R4)."""
        return None if self.in_force is None else self.versions[self.in_force]


def evolve(state: CarePlan, event: CareplanEvent) -> CarePlan:
    """The plan after one event."""
    match event:
        case CrisisInterventionRecorded():
            return replace(
                state, crisis_interventions=state.crisis_interventions | {event.intervention_id}
            )
        case PlanVersionDrafted():
            versions = {**state.versions, event.plan_version: event}
            return replace(state, versions=versions, latest=event.plan_version)
        case PlanAgreed():
            return _agreed(state, event)
        case DirectServiceRecorded():
            return _direct_service(state, event)
        case ItemLinked():
            status = ItemStatus.WAITLISTED if event.waitlisted else ItemStatus.LINKED
            links = {
                **state.links,
                event.link_id: LinkState(event.item_id, event.agency_id, status),
            }
            return _item_moved(replace(state, links=links), event.item_id, status, event.link_id)
        case LinkAccepted():
            return _link_moved(state, event.link_id, ItemStatus.ACCEPTED)
        case LinkDeclined():
            return _link_moved(state, event.link_id, ItemStatus.LINK_DECLINED)
        case ServiceDelivered():
            return _link_moved(state, event.link_id, ItemStatus.DELIVERED)
        case ServiceNotDelivered():
            return _link_moved(state, event.link_id, ItemStatus.NOT_DELIVERED)
        case AdvocacyStarted():
            advocacies = {**state.advocacies, event.advocacy_id: AdvocacyState(event.item_id)}
            return replace(state, advocacies=advocacies)
        case AdvocacyStepTaken():
            found = state.advocacies[event.advocacy_id]
            stepped = replace(found, last_step=int(event.step), steps=found.steps + 1)
            return replace(state, advocacies={**state.advocacies, event.advocacy_id: stepped})
        case AdvocacyConcluded():
            return _advocacy_concluded(state, event)
        case CaseReturnedToPlanning():
            return replace(
                state,
                returned_to_planning=True,
                reviews_returned=state.reviews_returned
                | ({event.review_id} if event.review_id else set()),
                new_needs=state.new_needs | set(event.need_domains),
            )
    return state


def _agreed(state: CarePlan, event: PlanAgreed) -> CarePlan:
    # An item kept from the version before (same id) keeps its links and deliveries.
    items: dict[str, ItemState] = {}
    for item in state.versions[event.plan_version].items:
        if item.item_id in event.declined_items:
            items[item.item_id] = ItemState(item, ItemStatus.CLIENT_DECLINED)
        elif item.item_id in state.items:
            items[item.item_id] = replace(state.items[item.item_id], item=item)
        else:
            items[item.item_id] = ItemState(item)
    return replace(
        state,
        in_force=event.plan_version,
        in_force_from=event.in_force_from,
        items=items,
        returned_to_planning=False,
    )


def _direct_service(state: CarePlan, event: DirectServiceRecorded) -> CarePlan:
    # The own agency's items for that need and goal were delivered.
    items = dict(state.items)
    for item_id, found in state.items.items():
        item = found.item
        if (
            item.delivery is Delivery.OWN_AGENCY
            and item.need_domain is event.need_domain
            and item.goal_id == event.goal_id
            and found.status is not ItemStatus.CLIENT_DECLINED
        ):
            items[item_id] = replace(found, status=ItemStatus.DELIVERED, delivered=True)
    return replace(
        state,
        items=items,
        direct_services=state.direct_services | {event.service_record_id},
    )


def _item_moved(
    state: CarePlan, item_id: str, status: ItemStatus, link_id: str | None = None
) -> CarePlan:
    found = state.items.get(item_id)
    if found is None:
        return state
    moved = replace(
        found,
        status=status,
        link_id=link_id or found.link_id,
        delivered=found.delivered or status is ItemStatus.DELIVERED,
    )
    return replace(state, items={**state.items, item_id: moved})


def _link_moved(state: CarePlan, link_id: str, status: ItemStatus) -> CarePlan:
    link = state.links[link_id]
    links = {**state.links, link_id: replace(link, status=status)}
    return _item_moved(replace(state, links=links), link.item_id, status, link_id)


def _advocacy_concluded(state: CarePlan, event: AdvocacyConcluded) -> CarePlan:
    found = state.advocacies[event.advocacy_id]
    advocacies = {**state.advocacies, event.advocacy_id: replace(found, outcome=event.outcome)}
    moved = replace(state, advocacies=advocacies)
    if event.outcome is AdvocacyOutcome.SERVICE_OBTAINED:
        # The item is back in delivery: accepted again, waiting to be delivered.
        item = moved.items.get(event.item_id)
        if item is not None and item.link_id is not None and item.link_id in moved.links:
            link = moved.links[item.link_id]
            links = {**moved.links, item.link_id: replace(link, status=ItemStatus.ACCEPTED)}
            moved = replace(moved, links=links)
        moved = _item_moved(moved, event.item_id, ItemStatus.ACCEPTED)
    return moved
