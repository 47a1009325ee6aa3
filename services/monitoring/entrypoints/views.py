"""Responses of monitoring's HTTP API: ids, dates and codes; never a word about a person."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from services.monitoring.domain.instruments import REGISTRY
from services.monitoring.domain.state import MonitoringState
from shared.application import CommandResult


class View(BaseModel):
    """Base of responses."""

    model_config = ConfigDict(frozen=True)


class Recorded(View):
    """What a command recorded: the record's id, the event types and the stream's version."""

    case_id: str
    record_id: str
    events: list[str]
    stream_version: int

    @classmethod
    def of(cls, result: CommandResult[MonitoringState], record_id: str) -> Recorded:
        """The view of a command's result."""
        return cls(
            case_id=result.stream_id,
            record_id=record_id,
            events=result.event_types,
            stream_version=result.stream_version,
        )


class FormView(View):
    """A form's dates and state."""

    form_id: str
    sent_on: date
    due_on: date
    returned_on: date | None
    negative: bool
    overdue: bool
    followed_up: bool


class CaseView(View):
    """GET /cases/{case_id}: what monitoring watches on the case."""

    case_id: str
    agency_id: str | None
    manager_id: str | None
    plan_version: int | None
    activated_on: date | None
    next_review_on: date | None
    reviews: list[str]
    revision_pending: bool
    visits: int
    forms: list[FormView]
    baselines: dict[str, int]
    evaluations: list[str]
    planned_termination_permitted: bool
    terminated_on: date | None = None
    """When closure ended the case (R8): it takes no further monitoring command."""

    @classmethod
    def of(cls, case_id: str, state: MonitoringState) -> CaseView:
        """The view of a case's state."""
        plan = state.plan
        return cls(
            case_id=case_id,
            agency_id=state.agency_id,
            manager_id=state.manager_id,
            plan_version=plan.version if plan else None,
            activated_on=plan.activated_on if plan else None,
            next_review_on=plan.next_review_on if plan else None,
            reviews=sorted(state.review_dates),
            revision_pending=state.revision_pending_for is not None,
            visits=len(state.visits),
            forms=[
                FormView(
                    form_id=f.form_id,
                    sent_on=f.sent_on,
                    due_on=f.due_on,
                    returned_on=f.returned_on,
                    negative=f.negative,
                    overdue=f.overdue,
                    followed_up=f.followed_up,
                )
                for f in sorted(state.forms.values(), key=lambda f: f.form_id)
            ],
            baselines={code: b.score for code, b in sorted(state.baselines.items())},
            evaluations=sorted(state.evaluations),
            planned_termination_permitted=state.planned_termination_permitted,
            terminated_on=state.terminated_on,
        )


class InstrumentView(View):
    """One instrument of the registry (R7)."""

    code: str
    name: str
    minimum: int
    maximum: int
    higher_is_better: bool


def instruments() -> list[InstrumentView]:
    """The registry, as GET /instruments lists it."""
    return [
        InstrumentView(
            code=i.code,
            name=i.name,
            minimum=i.minimum,
            maximum=i.maximum,
            higher_is_better=i.higher_is_better,
        )
        for i in REGISTRY.values()
    ]
