"""Careplan's commands, in the imperative, with the facts from other services they decide on.

What careplan learned from intake (`CaseFacts`) and the directory (`NetworkService`) travels
in the command, as `today` does: the domain reads no table and no clock.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.careplan.domain.events import (
    AdvocacyOutcome,
    Code,
    DirectRole,
    DirectServiceKind,
    EscalationReason,
    IndirectRole,
    LinkDeclineReason,
    LinkOutReason,
    MoxleyStep,
    NotDeliveredReason,
    PlanGoal,
    PlanItem,
    RecordId,
    ReRequestBy,
    UnaddressedNeed,
)
from shared.grants import ConsentGrant
from shared.vocabulary import NeedDomain

LINKING = "service_linking"
"""The consent purpose that lets careplan address a link to an agency (R4)."""


class Fact(BaseModel):
    """Base of facts and commands: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


Consent = ConsentGrant
"""A consent of the client as intake recorded it (R4): the kit's grant, so a link and a read
from the vault find a consent in force (named, for the purpose, in its dates, not withdrawn)
by the one rule."""


class CaseFacts(Fact):
    """What careplan learned of a case from intake's events."""

    case_id: str
    agency_id: str
    client_id: str | None = None
    manager_id: str | None = None
    assigned: bool = False
    assigned_on: date | None = None
    """The agencies' calendar date intake assigned the case on; None when careplan learned
    the case before it kept this date (then no plan date is bound by it)."""
    needs: tuple[NeedDomain, ...] = ()
    strengths: tuple[str, ...] = ()
    risks: tuple[str, ...] = ()
    crisis: bool = False
    interpreter_needed: bool = False
    consents: tuple[Consent, ...] = ()
    erased: bool = False
    terminated_on: date | None = None
    """When closure ended the case (R8): from then on it takes no plan command."""

    def consents_to_linking(self, agency_id: str, on: date) -> bool:
        """Whether a consent in force names `agency_id` for linking (R4)."""
        return any(c.names(agency_id, LINKING, on) for c in self.consents)


class NetworkService(Fact):
    """A service of the network as careplan learned it from the directory."""

    agency_id: str
    service_id: str
    department_id: str | None = None
    need_domain: NeedDomain
    capacity: int = 0
    waiting_list: int = 0
    withdrawn: bool = False
    agency_closed: bool = False

    @property
    def open(self) -> bool:
        """Offered by an open agency and not withdrawn."""
        return not self.withdrawn and not self.agency_closed


class Command(Fact):
    """Base of careplan's commands: the case facts and the agencies' `today`."""

    case: CaseFacts
    today: date


class RecordCrisisIntervention(Command):
    """Record a crisis intervention (R5a): from assignment on, naming the risk."""

    intervention_id: RecordId
    risk: Code
    role: DirectRole
    need_domain: NeedDomain | None = None
    delivered_on: date


class DraftPlan(Command):
    """Draft the next plan version with the client (R3)."""

    plan_date: date
    goals: tuple[PlanGoal, ...]
    items: tuple[PlanItem, ...]
    unaddressed: tuple[UnaddressedNeed, ...] = ()


class AgreeToPlan(Command):
    """Record the client's agreement to a drafted version, with the items declined (R4)."""

    plan_version: int
    agreed_on: date
    declined_items: tuple[RecordId, ...] = ()


class RecordDirectService(Command):
    """Record a direct service by the case's agency (R5)."""

    acting_agency_id: str
    service_record_id: RecordId
    kind: DirectServiceKind
    role: DirectRole
    need_domain: NeedDomain
    goal_id: RecordId
    delivered_on: date


class LinkItem(Command):
    """Link an item of the version in force to its service or informal resource (R6a).

    `service` is the directory's view of the item's service (None for an informal one);
    `own_room` whether the case's agency offers the same need with open places."""

    item_id: RecordId
    link_id: RecordId
    service: NetworkService | None = None
    own_room: bool = False
    link_out_reason: LinkOutReason | None = None
    role: IndirectRole = IndirectRole.LINKER


class AnswerLink(Command):
    """A partner's (or, for an informal resource, the manager's) answer to a link."""

    link_id: RecordId
    answering_agency_id: str
    answer: str = Field(pattern="^(accepted|declined|delivered|not_delivered)$")
    decline_reason: LinkDeclineReason | None = None
    not_delivered_reason: NotDeliveredReason | None = None
    answered_on: date


class StartAdvocacy(Command):
    """Begin advocacy for an item not received (R6b)."""

    advocacy_id: RecordId
    item_id: RecordId
    client_encouraged: bool
    re_request_by: ReRequestBy
    client_agreed: bool = False
    role: IndirectRole = IndirectRole.ADVOCATE


class TakeAdvocacyStep(Command):
    """Record one Moxley step (R6b)."""

    advocacy_id: RecordId
    step: MoxleyStep
    escalation_reason: EscalationReason | None = None
    client_consented: bool = False
    role: IndirectRole = IndirectRole.ADVOCATE


class ConcludeAdvocacy(Command):
    """Conclude advocacy: service obtained or not obtained (R6b)."""

    advocacy_id: RecordId
    outcome: AdvocacyOutcome
    role: IndirectRole = IndirectRole.ADVOCATE


class ReturnToPlanning(Command):
    """Send the case back to planning after a review found new needs (R6d)."""

    plan_version: int
    review_id: RecordId
    need_domains: tuple[NeedDomain, ...] = ()


CareplanCommand = (
    RecordCrisisIntervention
    | DraftPlan
    | AgreeToPlan
    | RecordDirectService
    | LinkItem
    | AnswerLink
    | StartAdvocacy
    | TakeAdvocacyStep
    | ConcludeAdvocacy
    | ReturnToPlanning
)
