"""The answers of projections' routes: ids, codes, dates and counts, never personal data."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ItemState(_View):
    """An item of the case's plan and where it stands."""

    item_id: str
    plan_version: int
    need_domain: str
    delivery: str
    state: str


class FormState(_View):
    """A follow-up form and where it stands."""

    form_id: str
    state: str
    due_on: date | None


class JourneyView(_View):
    """A case across every service: `GET /cases/{case_id}/journey`."""

    case_id: str
    agency_id: str
    stage: str
    source: str | None
    manager_id: str | None
    plan_version: int | None
    drafted_version: int | None
    items: list[ItemState]
    reviews: int
    last_review_on: date | None
    review_overdue: bool
    forms: list[FormState]
    evaluation_id: str | None
    evaluation_permits: bool | None
    termination_reason: str | None
    termination_class: str | None
    terminated_on: date | None
    referral_id: str | None
    referral_state: str | None
    referral_target: str | None
    referred_from_case: str | None
    referred_to_case: str | None
    updated_at: datetime


class ManagerLoad(_View):
    """A present case manager's open cases against the limit the directory gives (R12)."""

    staff_id: str
    caseload_limit: int
    open_cases: int
    overloaded: bool


class ReferralFlow(_View):
    """Referral attempts one agency sent another, in one state."""

    from_agency: str
    to_agency: str
    state: str
    referrals: int


class DashboardView(_View):
    """An agency's dashboard: `GET /agencies/{agency_id}/dashboard`."""

    agency_id: str
    open_cases_by_stage: dict[str, int]
    overdue_reviews: int
    overdue_forms: int
    referrals_pending: int
    referrals_overdue: int
    referrals_awaiting_answer: int
    caseloads: dict[str, int]
    managers: list[ManagerLoad]
    referral_flows: list[ReferralFlow]
    """Referrals this agency sent or received, by the other agency and state."""


class FiguresView(_View):
    """The network's aggregates: `GET /network/figures`."""

    cases: int
    agencies: int
    cases_by_stage: dict[str, int]
    terminations_by_class: dict[str, int]
    referrals_by_state: dict[str, int]
    events_seen: int
    overloaded_managers: int


class FlowsView(_View):
    """Referrals between the network's agencies: `GET /network/referral-flows`."""

    flows: list[ReferralFlow]


class ClientCase(_View):
    """One of a client's cases; `case_id` is withheld from staff of other agencies (R11)."""

    case_id: str | None
    agency_id: str
    stage: str
    termination_class: str | None
    referral_state: str | None
    referral_target: str | None
    opened: datetime | None


class ClientJourneyView(_View):
    """A client's path through the network, pseudonymous: `GET /clients/{client_id}/journey`."""

    client_id: str
    cases: list[ClientCase]


class AddressedLink(_View):
    """A link of another agency's plan item to one of this agency's services (R6a)."""

    link_id: str
    from_agency: str
    need_domain: str
    service_id: str | None
    waitlisted: bool
    state: str


class AddressedReferral(_View):
    """A referral of a client to this agency (R9), one attempt."""

    referral_id: str
    attempt: int
    from_agency: str
    state: str
    issued_on: date
    due_on: date


class AddressedView(_View):
    """What other agencies addressed to this one: `GET /agencies/{agency_id}/addressed`."""

    agency_id: str
    links: list[AddressedLink]
    referrals: list[AddressedReferral]
