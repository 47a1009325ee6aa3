"""Careplan's request bodies: unknown fields refused, ids and codes checked, words bounded.

A body that does not fit answers 422 saying where and why, never repeating the value (the
kit's handler). Words about the client (a goal's wording, a helper's name, a note) are
accepted here only to be sealed in the vault; no event carries them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.careplan.domain.events import (
    AdvocacyOutcome,
    Code,
    Delivery,
    DirectRole,
    DirectServiceKind,
    EscalationReason,
    IndirectRole,
    LanguageSupport,
    LinkDeclineReason,
    LinkOutReason,
    NotDeliveredReason,
    ReRequestBy,
    UnaddressedReason,
)
from shared.identifiers import Identifier as KitIdentifier
from shared.identifiers import PathId as PathId
from shared.text import Note
from shared.vocabulary import NeedDomain

RECORD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""The kit's id pattern without `:`."""

PlanVersion = Annotated[int, Path(ge=1, le=10_000)]

Identifier = Annotated[KitIdentifier, StringConstraints(pattern=RECORD_PATTERN)]
"""An id a caller gives a goal, item or record: the kit's `Identifier`, but holding no `:`,
because careplan also names vault documents `kind:id` with it (`advocacy:<id>`), and an id
with a `:` of its own would make two documents' names ambiguous."""

Text = Annotated[Note, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
"""Words about the client, for the vault only: the kit's `Note` (line breaks allowed, no other
control characters), up to 2000 characters."""


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CrisisRequest(Body):
    """POST /cases/{case_id}/crisis-interventions."""

    intervention_id: Identifier
    risk: Code
    role: DirectRole = DirectRole.IMPLEMENTER
    need_domain: NeedDomain | None = None
    delivered_on: date


class GoalRequest(Body):
    """A goal: its wording goes to the vault, the rest into the event."""

    goal_id: Identifier
    wording: Text
    target_date: date
    strengths: list[Code] = Field(min_length=1, max_length=20)


class ItemRequest(Body):
    """An item: delivery by the own agency, a linked agency's service, or an informal helper."""

    item_id: Identifier
    need_domain: NeedDomain
    goal_id: Identifier
    delivery: Delivery
    agency_id: Identifier | None = None
    department_id: Identifier | None = None
    service_id: Identifier | None = None
    informal_resource_id: Identifier | None = None
    helper_name: Text | None = Field(default=None, description="Sealed in the vault.")
    start_on: date
    end_on: date
    client_facing: bool = True
    language_support: LanguageSupport | None = None

    @model_validator(mode="after")
    def _delivery_names_its_provider(self) -> Self:
        if self.delivery is Delivery.LINKED_AGENCY and not (self.agency_id and self.service_id):
            raise ValueError("a linked item names the agency_id and service_id")
        if self.delivery is Delivery.INFORMAL and not self.informal_resource_id:
            raise ValueError("an informal item names its informal_resource_id")
        if self.delivery is not Delivery.INFORMAL and self.helper_name is not None:
            raise ValueError("only an informal item names a helper")
        return self


class UnaddressedRequest(Body):
    """An assessed need without an item, and why."""

    need_domain: NeedDomain
    reason: UnaddressedReason


class PlanRequest(Body):
    """POST /cases/{case_id}/plan-versions."""

    plan_date: date
    goals: list[GoalRequest] = Field(min_length=1, max_length=20)
    items: list[ItemRequest] = Field(default_factory=list, max_length=50)
    unaddressed: list[UnaddressedRequest] = Field(default_factory=list, max_length=20)
    notes: Text | None = None

    @model_validator(mode="after")
    def _ids_once(self) -> Self:
        goals = [g.goal_id for g in self.goals]
        items = [i.item_id for i in self.items]
        if len(set(goals)) != len(goals) or len(set(items)) != len(items):
            raise ValueError("each goal_id and item_id appears once")
        return self


class AgreementRequest(Body):
    """POST /cases/{case_id}/plan-versions/{version}/agreement."""

    agreed_on: date
    declined_items: list[Identifier] = Field(default_factory=list, max_length=50)


class DirectServiceRequest(Body):
    """POST /cases/{case_id}/direct-services."""

    service_record_id: Identifier
    kind: DirectServiceKind
    role: DirectRole
    need_domain: NeedDomain
    goal_id: Identifier
    delivered_on: date
    note: Text | None = None


class LinkRequest(Body):
    """POST /cases/{case_id}/items/{item_id}/links (careplan chooses the link's id: a partner
    answers it by that id alone)."""

    role: IndirectRole = IndirectRole.LINKER
    link_out_reason: LinkOutReason | None = None


class LinkAnswerRequest(Body):
    """POST /links/{link_id}/answer: the partner's answer."""

    answer: Literal["accepted", "declined", "delivered", "not_delivered"]
    decline_reason: LinkDeclineReason | None = None
    not_delivered_reason: NotDeliveredReason | None = None
    answered_on: date


class AdvocacyRequest(Body):
    """POST /cases/{case_id}/advocacies."""

    advocacy_id: Identifier
    item_id: Identifier
    client_encouraged: bool
    re_request_by: ReRequestBy
    client_agreed: bool = False
    role: IndirectRole = IndirectRole.ADVOCATE
    note: Text | None = None


class StepRequest(Body):
    """POST /cases/{case_id}/advocacies/{advocacy_id}/steps."""

    step: int = Field(strict=True, ge=1, le=7)
    escalation_reason: EscalationReason | None = None
    client_consented: bool = False
    role: IndirectRole = IndirectRole.ADVOCATE


class ConclusionRequest(Body):
    """POST /cases/{case_id}/advocacies/{advocacy_id}/conclusion."""

    outcome: AdvocacyOutcome
    role: IndirectRole = IndirectRole.ADVOCATE
