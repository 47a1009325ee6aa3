"""The stages of a case's journey and the codes a timeline row shows, without I/O.

Events from five topics arrive in no order across topics, so a stage only ever moves forward
(by rank), except back to planning, which careplan says explicitly. Nothing here reads a
clock or a database: the projector asks, then writes.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Stage(StrEnum):
    """Where a case stands, in the order a case normally moves through them."""

    FOUND = "found"
    SCREENED_IN = "screened_in"
    ASSESSED = "assessed"
    ASSIGNED = "assigned"
    PLANNING = "planning"
    IN_FORCE = "in_force"
    MONITORING = "monitoring"
    EVALUATED = "evaluated"
    SCREENED_OUT = "screened_out"
    TERMINATED = "terminated"


RANK: dict[Stage, int] = {stage: rank for rank, stage in enumerate(Stage)}
"""A stage's place: a later event of an earlier stage never moves a case back."""

CLOSED_STAGES: frozenset[Stage] = frozenset({Stage.SCREENED_OUT, Stage.TERMINATED})
"""Stages after which a case is no longer open."""

STAGE_OF_EVENT: dict[str, Stage] = {
    "CaseFound": Stage.FOUND,
    "CaseScreenedIn": Stage.SCREENED_IN,
    "CaseScreenedOut": Stage.SCREENED_OUT,
    "CaseAssessed": Stage.ASSESSED,
    "CaseAssigned": Stage.ASSIGNED,
    "PlanVersionDrafted": Stage.PLANNING,
    "PlanAgreed": Stage.IN_FORCE,
    "ReviewRecorded": Stage.MONITORING,
    "EvaluationRecorded": Stage.EVALUATED,
    "CaseTerminated": Stage.TERMINATED,
}
"""The stage an event of that type shows the case has reached."""


def is_echo(event_type: str) -> bool:
    """Whether the event only records what its service learned from another one (monitoring's
    and closure's `...Learned`): the original is already in the journey and the timeline."""
    return event_type.endswith("Learned")


def key_codes(payload: BaseModel) -> dict[str, str | int | bool]:
    """The ids, codes, dates and flags of an event, one level deep (`target.agency_id`).

    Events carry no personal data (every service's contract says so), so every scalar
    field may be shown; tuples (goals, items, needs) are left to the journey.
    """
    codes: dict[str, str | int | bool] = {}

    def take(prefix: str, values: dict[str, object]) -> None:
        for name, value in values.items():
            if isinstance(value, (str, int, bool)):
                codes[f"{prefix}{name}"] = value
            elif isinstance(value, dict) and not prefix:
                take(f"{name}.", value)

    take("", payload.model_dump(mode="json"))
    return codes
