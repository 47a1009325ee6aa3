"""A case as careplan learns it, and plans to draft for it: shared by careplan's rule tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from services.careplan.domain.commands import CaseFacts, Consent, NetworkService
from services.careplan.domain.events import (
    CareplanEvent,
    Delivery,
    LanguageSupport,
    PlanGoal,
    PlanItem,
)
from services.careplan.domain.model import CarePlan, decide, evolve
from shared.application import fold
from shared.vocabulary import NeedDomain

TODAY = date(2026, 3, 2)
AGENCY = "ag-home"
PARTNER = "ag-partner"
CASE = "case-1"


def facts(**changes: Any) -> CaseFacts:
    """An assigned, assessed case of AGENCY: housing and income needs, consent to link PARTNER."""
    base: dict[str, Any] = {
        "case_id": CASE,
        "agency_id": AGENCY,
        "client_id": "client-1",
        "manager_id": "cm-1",
        "assigned": True,
        "needs": (NeedDomain.HOUSING, NeedDomain.INCOME),
        "strengths": ("family_support", "motivation"),
        "risks": ("homelessness",),
        "crisis": True,
        "interpreter_needed": False,
        "consents": (
            Consent(
                consent_id="consent-1",
                agencies=(PARTNER,),
                purposes=("service_linking",),
                valid_from=TODAY - timedelta(days=30),
                valid_until=TODAY + timedelta(days=365),
            ),
        ),
    }
    return CaseFacts(**(base | changes))


def goal(goal_id: str = "g1", **changes: Any) -> PlanGoal:
    base: dict[str, Any] = {
        "goal_id": goal_id,
        "target_date": TODAY + timedelta(days=90),
        "strengths": ("motivation",),
    }
    return PlanGoal(**(base | changes))


def own_item(item_id: str = "i-income", **changes: Any) -> PlanItem:
    base: dict[str, Any] = {
        "item_id": item_id,
        "need_domain": NeedDomain.INCOME,
        "goal_id": "g1",
        "delivery": Delivery.OWN_AGENCY,
        "start_on": TODAY,
        "end_on": TODAY + timedelta(days=60),
    }
    return PlanItem(**(base | changes))


def linked_item(item_id: str = "i-housing", **changes: Any) -> PlanItem:
    base: dict[str, Any] = {
        "item_id": item_id,
        "need_domain": NeedDomain.HOUSING,
        "goal_id": "g1",
        "delivery": Delivery.LINKED_AGENCY,
        "agency_id": PARTNER,
        "service_id": "svc-shelter",
        "start_on": TODAY,
        "end_on": TODAY + timedelta(days=60),
    }
    return PlanItem(**(base | changes))


def informal_item(item_id: str = "i-neighbour", **changes: Any) -> PlanItem:
    base: dict[str, Any] = {
        "item_id": item_id,
        "need_domain": NeedDomain.HOUSING,
        "goal_id": "g1",
        "delivery": Delivery.INFORMAL,
        "informal_resource_id": "helper-1",
        "start_on": TODAY,
        "end_on": TODAY + timedelta(days=60),
    }
    return PlanItem(**(base | changes))


def shelter(**changes: Any) -> NetworkService:
    base: dict[str, Any] = {
        "agency_id": PARTNER,
        "service_id": "svc-shelter",
        "need_domain": NeedDomain.HOUSING,
        "capacity": 3,
    }
    return NetworkService(**(base | changes))


def replay(events: Sequence[CareplanEvent]) -> CarePlan:
    return fold(CarePlan(), evolve, events)


def run(state: CarePlan, *commands: Any) -> tuple[CarePlan, list[CareplanEvent]]:
    """Decide each command in turn on the evolving state; every event recorded."""
    recorded: list[CareplanEvent] = []
    for command in commands:
        events = decide(state, command)
        recorded += events
        state = fold(state, evolve, events)
    return state, recorded


__all__ = [
    "AGENCY",
    "CASE",
    "PARTNER",
    "TODAY",
    "LanguageSupport",
    "facts",
    "goal",
    "informal_item",
    "linked_item",
    "own_item",
    "replay",
    "run",
    "shelter",
]
