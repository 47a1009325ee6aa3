"""Planning rules: crisis intervention, drafting, the client's agreement, direct services.

Each function takes the folded plan and one command and refuses (a `CareplanError` naming
the rule, R1 naming the next step) or returns the events to record.
"""

from __future__ import annotations

from datetime import date

from services.careplan.domain.commands import (
    AgreeToPlan,
    Command,
    DraftPlan,
    RecordCrisisIntervention,
    RecordDirectService,
    ReturnToPlanning,
)
from services.careplan.domain.errors import (
    AgreementRefused,
    ClientErasedError,
    DirectServiceRefused,
    DuplicateRecord,
    ItemDeclined,
    LanguageSupportMissing,
    NeedNotAssessed,
    PlanIncomplete,
    StageNotReached,
    UnknownRecord,
)
from services.careplan.domain.events import (
    CareplanEvent,
    CaseReturnedToPlanning,
    CrisisInterventionRecorded,
    Delivery,
    DirectServiceRecorded,
    PlanAgreed,
    PlanVersionDrafted,
)
from services.careplan.domain.state import CarePlan, ItemStatus
from shared.vocabulary import NeedDomain


def require_assigned(command: Command) -> None:
    """R1 (and R11): the case was assigned at intake, and the client not erased."""
    if command.case.erased:
        raise ClientErasedError("the client was erased: nothing more is planned", rule="R11")
    if not command.case.assigned:
        raise StageNotReached(
            "the case is not assigned yet; next step: assign it to a case manager at intake",
            rule="R1",
        )


def require_on_or_after_assignment(command: Command, dated: date, what: str) -> None:
    """R1: planning follows assignment, so nothing of a plan is dated before the day intake
    assigned the case (an auditor reads an earlier date as a plan made before the case
    was taken on). Unknown for cases learned before careplan kept that day: then unbound."""
    assigned_on = command.case.assigned_on
    if assigned_on is not None and dated < assigned_on:
        raise StageNotReached(
            f"{what} {dated} is before the case was assigned on {assigned_on}; "
            f"the earliest allowed date is {assigned_on}",
            rule="R1",
        )


def require_plan_in_force(state: CarePlan, command: Command) -> PlanVersionDrafted:
    """R1: implementation follows a plan the client agreed to."""
    require_assigned(command)
    version = state.version_in_force
    if version is None:
        next_step = (
            f"record the client's agreement to plan version {state.pending}"
            if state.pending
            else "draft a care plan with the client"
        )
        raise StageNotReached(f"no plan is in force yet; next step: {next_step}", rule="R1")
    return version


def assessed_needs(state: CarePlan, command: Command) -> frozenset[NeedDomain]:
    """The needs the assessment found, and those a review found since (R3, R6d)."""
    return frozenset(command.case.needs) | state.new_needs


def record_crisis_intervention(
    state: CarePlan, command: RecordCrisisIntervention
) -> list[CareplanEvent]:
    """R5a: from assignment on, before any plan, naming the risk it addresses."""
    require_assigned(command)
    require_on_or_after_assignment(command, command.delivered_on, "a crisis intervention on")
    if command.intervention_id in state.crisis_interventions:
        raise DuplicateRecord(f"intervention {command.intervention_id} is recorded", rule="R5")
    if command.case.risks and command.risk not in command.case.risks:
        raise DirectServiceRefused(
            "a crisis intervention names a risk the assessment found", rule="R5"
        )
    if command.delivered_on > command.today:
        raise DirectServiceRefused("a crisis intervention is never dated ahead", rule="R5")
    return [
        CrisisInterventionRecorded(
            intervention_id=command.intervention_id,
            risk=command.risk,
            role=command.role,
            need_domain=command.need_domain,
            delivered_on=command.delivered_on,
        )
    ]


def draft_plan(state: CarePlan, command: DraftPlan) -> list[CareplanEvent]:
    """R3: goals with target dates and strengths; items for assessed needs; R11 language."""
    require_assigned(command)
    if command.plan_date > command.today:
        raise PlanIncomplete("a plan is never dated ahead of today", rule="R3")
    require_on_or_after_assignment(command, command.plan_date, "the plan date")
    if not command.goals:
        raise PlanIncomplete("a plan version needs at least one goal", rule="R3")
    needs = assessed_needs(state, command)
    goal_ids = {goal.goal_id for goal in command.goals}
    for goal in command.goals:
        if goal.target_date < command.plan_date:
            raise PlanIncomplete(
                f"goal {goal.goal_id}: its target date is before the plan date", rule="R3"
            )
        unknown = [s for s in goal.strengths if s not in command.case.strengths]
        if command.case.strengths and unknown:
            raise PlanIncomplete(
                f"goal {goal.goal_id} names a strength the assessment did not find", rule="R3"
            )
    for item in command.items:
        if item.need_domain not in needs:
            raise NeedNotAssessed(
                f"item {item.item_id}: {item.need_domain} was not assessed", rule="R3"
            )
        if item.goal_id not in goal_ids:
            raise UnknownRecord(f"item {item.item_id} serves no goal of this plan", rule="R3")
        if item.end_on < item.start_on:
            raise PlanIncomplete(f"item {item.item_id} ends before it starts", rule="R3")
        if command.case.interpreter_needed and item.client_facing and not item.language_support:
            raise LanguageSupportMissing(
                f"item {item.item_id} is client-facing and the client needs an interpreter: "
                "record the language support arranged",
                rule="R11",
            )
    for reason in command.unaddressed:
        if reason.need_domain not in needs:
            raise NeedNotAssessed(f"{reason.need_domain} was not assessed", rule="R3")
    return [
        PlanVersionDrafted(
            plan_version=state.latest + 1,
            plan_date=command.plan_date,
            goals=command.goals,
            items=command.items,
            unaddressed=command.unaddressed,
        )
    ]


def agree_to_plan(state: CarePlan, command: AgreeToPlan) -> list[CareplanEvent]:
    """R4: the client agrees to the version waiting; R3: every assessed need is covered."""
    require_assigned(command)
    if state.pending is None or command.plan_version != state.pending:
        waiting = f"version {state.pending} waits" if state.pending else "no version waits"
        raise AgreementRefused(
            f"plan version {command.plan_version} is not the one waiting for agreement ({waiting})",
            rule="R4",
        )
    version = state.versions[command.plan_version]
    item_ids = {item.item_id for item in version.items}
    if not set(command.declined_items) <= item_ids:
        raise UnknownRecord("the client declined an item this version does not have", rule="R4")
    # Before R4's window: a version drafted before careplan kept the assignment day may
    # carry a plan date before it, and its agreement must not be dated back with it.
    require_on_or_after_assignment(command, command.agreed_on, "the agreement date")
    if command.agreed_on > command.today or command.agreed_on < version.plan_date:
        raise AgreementRefused("an agreement is dated between the plan date and today", rule="R4")
    covered = {item.need_domain for item in version.items} | {
        reason.need_domain for reason in version.unaddressed
    }
    uncovered = sorted(assessed_needs(state, command) - covered)
    if uncovered:
        raise PlanIncomplete(
            f"assessed needs without an item or a coded reason: {', '.join(uncovered)}; "
            "draft a version that addresses them",
            rule="R3",
        )
    return [
        PlanAgreed(
            plan_version=command.plan_version,
            in_force_from=command.agreed_on,
            declined_items=command.declined_items,
            superseded_version=state.in_force,
        )
    ]


def record_direct_service(state: CarePlan, command: RecordDirectService) -> list[CareplanEvent]:
    """R5: kind, role, need, goal and date, by the case's agency only."""
    if command.acting_agency_id != command.case.agency_id:
        raise DirectServiceRefused(
            "direct services are recorded by the case's agency only", rule="R5"
        )
    version = require_plan_in_force(state, command)
    if command.service_record_id in state.direct_services:
        raise DuplicateRecord(f"direct service {command.service_record_id} is recorded", rule="R5")
    if command.goal_id not in {goal.goal_id for goal in version.goals}:
        raise UnknownRecord(f"goal {command.goal_id} is not in the plan in force", rule="R5")
    if command.need_domain not in assessed_needs(state, command):
        raise NeedNotAssessed(f"{command.need_domain} was not assessed", rule="R3")
    serving = [
        found
        for found in state.items.values()
        if found.item.delivery is Delivery.OWN_AGENCY
        and found.item.need_domain is command.need_domain
        and found.item.goal_id == command.goal_id
    ]
    if serving and all(found.status is ItemStatus.CLIENT_DECLINED for found in serving):
        raise ItemDeclined(
            f"the client declined the own agency's {command.need_domain} item for goal "
            f"{command.goal_id}: it is never activated",
            rule="R4",
        )
    if command.delivered_on > command.today:
        raise DirectServiceRefused("a direct service is never dated ahead", rule="R5")
    return [
        DirectServiceRecorded(
            service_record_id=command.service_record_id,
            plan_version=version.plan_version,
            kind=command.kind,
            role=command.role,
            need_domain=command.need_domain,
            goal_id=command.goal_id,
            delivered_on=command.delivered_on,
        )
    ]


def return_to_planning(state: CarePlan, command: ReturnToPlanning) -> list[CareplanEvent]:
    """R6d: a review found new needs; recorded once per review however often it arrives."""
    if command.review_id in state.reviews_returned:
        return []
    return [
        CaseReturnedToPlanning(
            plan_version=state.in_force or 0,
            review_id=command.review_id,
            need_domains=command.need_domains,
        )
    ]
