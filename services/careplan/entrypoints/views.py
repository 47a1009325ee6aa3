"""Careplan's responses: a command's answer and a case's plan, in ids, codes and dates."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.careplan.domain.events import ItemLinked
from services.careplan.domain.model import CarePlan
from shared.application import CommandResult


class View(BaseModel):
    """Base of responses."""

    model_config = ConfigDict(frozen=True)


class CommandAnswer(View):
    """What a command recorded: the events' types and the stream's new version."""

    case_id: str
    events: list[str]
    stream_version: int
    plan_version: int | None = None
    link_id: str | None = None
    """The id careplan gave a new link: its partner answers it at /links/{link_id}/answer."""


class ItemView(View):
    """An item of the version in force and where it stands."""

    item_id: str
    need_domain: str
    goal_id: str
    delivery: str
    agency_id: str | None
    service_id: str | None
    start_on: date
    end_on: date
    status: str
    link_id: str | None
    delivered: bool
    not_received: bool


class PlanView(View):
    """A case's plan: versions, the one in force, the one waiting, items, advocacy."""

    case_id: str
    stream_version: int
    in_force: int | None
    in_force_from: date | None
    pending: int | None
    returned_to_planning: bool
    versions: list[dict[str, Any]]
    items: list[ItemView]
    advocacies: list[dict[str, Any]]
    crisis_interventions: int
    direct_services: int


def answer(result: CommandResult[CarePlan]) -> CommandAnswer:
    """The answer to a recorded command."""
    return CommandAnswer(
        case_id=result.stream_id,
        events=result.event_types,
        stream_version=result.stream_version,
        plan_version=result.state.latest or None,
        link_id=next((e.link_id for e in result.events if isinstance(e, ItemLinked)), None),
    )


def plan_view(case_id: str, plan: CarePlan, version: int, today: date) -> PlanView:
    """A case's plan as staff of its agency, auditors and network admins read it."""
    return PlanView(
        case_id=case_id,
        stream_version=version,
        in_force=plan.in_force,
        in_force_from=plan.in_force_from,
        pending=plan.pending,
        returned_to_planning=plan.returned_to_planning,
        versions=[
            {
                "plan_version": number,
                "plan_date": drafted.plan_date.isoformat(),
                "goals": [g.model_dump(mode="json") for g in drafted.goals],
                "items": [i.item_id for i in drafted.items],
                "unaddressed": [u.model_dump(mode="json") for u in drafted.unaddressed],
            }
            for number, drafted in sorted(plan.versions.items())
        ],
        items=[
            ItemView(
                item_id=item_id,
                need_domain=str(found.item.need_domain),
                goal_id=found.item.goal_id,
                delivery=str(found.item.delivery),
                agency_id=found.item.agency_id,
                service_id=found.item.service_id,
                start_on=found.item.start_on,
                end_on=found.item.end_on,
                status=str(found.status),
                link_id=found.link_id,
                delivered=found.delivered,
                not_received=found.not_received(today),
            )
            for item_id, found in plan.items.items()
        ],
        advocacies=[
            {
                "advocacy_id": advocacy_id,
                "item_id": a.item_id,
                "last_step": a.last_step,
                "open": a.open,
                "outcome": None if a.outcome is None else str(a.outcome),
            }
            for advocacy_id, a in plan.advocacies.items()
        ],
        crisis_interventions=len(plan.crisis_interventions),
        direct_services=len(plan.direct_services),
    )
