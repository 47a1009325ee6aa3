"""A referred case's whole journey as each service would publish it, for projections' tests.

A case at the north agency is found, assessed and assigned (intake), gets a plan agreed with
one item linked out and delivered (careplan), is reviewed and has a form go overdue
(monitoring), ends complete with a referral to the south agency that accepts it, and the
linked case opens there (closure, then the south agency's intake).
"""

from __future__ import annotations

from datetime import date, timedelta

from services.careplan.contract import (
    Delivery,
    ItemLinked,
    PlanAgreed,
    PlanGoal,
    PlanItem,
    PlanVersionDrafted,
    ServiceDelivered,
)
from services.closure.contract import (
    CaseTerminated,
    Provider,
    ReferralAccepted,
    ReferralCompleted,
    ReferralIssued,
)
from services.intake.contract import CaseFound
from services.monitoring.contract import (
    EvaluationRecorded,
    FormOverdue,
    FormSent,
    GoalRated,
    InstrumentResult,
    ReviewRecorded,
)
from shared.envelope import DomainEvent, Role
from shared.vocabulary import NeedDomain
from tests.harness import unique
from tests.integration.careplan.intake_events import assigned_case
from tests.integration.projections.conftest import AGENCY, PARTNER, Projections

DAY = date(2026, 3, 2)


def plan() -> list[DomainEvent]:
    goal = PlanGoal(goal_id="goal-1", target_date=DAY + timedelta(days=90), strengths=("skills",))
    items = (
        PlanItem(
            item_id="item-1",
            need_domain=NeedDomain.HOUSING,
            goal_id="goal-1",
            delivery=Delivery.LINKED_AGENCY,
            agency_id=PARTNER,
            service_id="svc-housing",
            start_on=DAY,
            end_on=DAY + timedelta(days=60),
        ),
        PlanItem(
            item_id="item-2",
            need_domain=NeedDomain.INCOME,
            goal_id="goal-1",
            delivery=Delivery.OWN_AGENCY,
            start_on=DAY,
            end_on=DAY + timedelta(days=60),
        ),
    )
    return [
        PlanVersionDrafted(plan_version=1, plan_date=DAY, goals=(goal,), items=items),
        PlanAgreed(plan_version=1, in_force_from=DAY),
        ItemLinked(
            plan_version=1,
            item_id="item-1",
            link_id="link-1",
            need_domain=NeedDomain.HOUSING,
            delivery=Delivery.LINKED_AGENCY,
            agency_id=PARTNER,
            service_id="svc-housing",
            linked_on=DAY,
        ),
        ServiceDelivered(item_id="item-1", link_id="link-1", agency_id=PARTNER, delivered_on=DAY),
    ]


def review() -> ReviewRecorded:
    return ReviewRecorded(
        review_id="review-1",
        plan_version=1,
        reviewed_on=DAY + timedelta(days=30),
        implementation=4,
        goals=(),
        items=(),
        new_needs=False,
        client_satisfied=True,
        manager_satisfied=True,
        next_review_on=DAY + timedelta(days=60),
    )


Stream = tuple[str, str, str, list[DomainEvent], Role]
"""One stream's events as its service records them: service, case id, agency, events, role."""


def referred_streams(case_id: str, linked_id: str) -> list[Stream]:
    """The story's streams, each in its own order; across streams any order may arrive."""
    target = Provider(agency_id=PARTNER)
    ended = DAY + timedelta(days=85)
    manager = Role.CASE_MANAGER
    return [
        ("intake", case_id, AGENCY, assigned_case(AGENCY, "cm-north"), manager),
        ("careplan", case_id, AGENCY, plan(), manager),
        (
            "monitoring",
            case_id,
            AGENCY,
            [
                review(),
                FormSent(form_id="form-1", consent_id="consent-1", sent_on=DAY, due_on=DAY),
                FormOverdue(form_id="form-1", due_on=DAY),
                EvaluationRecorded(
                    evaluation_id="evaluation-1",
                    plan_version=1,
                    evaluated_on=DAY + timedelta(days=80),
                    goals=(GoalRated(goal_id="goal-1", rating="achieved"),),
                    instruments=(
                        InstrumentResult(instrument="phq9", baseline=10, score=5, change=5),
                        InstrumentResult(instrument="network", baseline=1, score=3, change=2),
                    ),
                    no_further_service_needed=True,
                    permits_planned_termination=True,
                ),
            ],
            manager,
        ),
        (
            "closure",
            case_id,
            AGENCY,
            [
                CaseTerminated(
                    termination_id="term-1",
                    reason="goals_achieved",
                    termination_class="complete",
                    terminated_on=ended,
                    agency_id=AGENCY,
                ),
                ReferralIssued(
                    referral_id="ref-1",
                    termination_id="term-1",
                    attempt=1,
                    target=target,
                    need_domains=(NeedDomain.HOUSING,),
                    covered=(),
                    consent_id="consent-1",
                    issued_on=ended,
                    due_on=ended + timedelta(days=14),
                ),
                ReferralAccepted(
                    referral_id="ref-1", target=target, accepted_on=ended, accepted_by="sup-south"
                ),
                ReferralCompleted(referral_id="ref-1", linked_case_id=linked_id, target=target),
            ],
            Role.SUPERVISOR,
        ),
        (
            "intake",
            linked_id,
            PARTNER,
            [
                CaseFound(
                    source="inbound_referral",
                    referring_agency_id=AGENCY,
                    referring_case_id=case_id,
                )
            ],
            manager,
        ),
    ]


async def referred_case(app: Projections) -> tuple[str, str]:
    """Record the whole story; the referring case's id and the linked case's id."""
    case_id, linked_id = unique("case-north"), unique("case-south")
    for service, stream_id, agency_id, events, role in referred_streams(case_id, linked_id):
        await app.feed.record(service, stream_id, agency_id, events, role=role)
    return case_id, linked_id
