"""The stages of a case's journey and the codes a timeline row shows, without I/O.

Events from five topics arrive in no order across topics, so a case's stage is a function of
the SET of its events seen so far, never of the order they arrived in (`stage_of`): a live
projection and one replayed from the stores in another order agree row for row. Nothing
here reads a clock or a database: the projector asks, then writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
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


RETURNED_TO_PLANNING = "CaseReturnedToPlanning"
"""Careplan's word that a case went back to planning (a review found new needs, R6d)."""

STAGE_EVENT_TYPES: tuple[str, ...] = (*STAGE_OF_EVENT, RETURNED_TO_PLANNING)
"""Every event type that bears on a case's stage."""


def stage_of(seen: Iterable[tuple[str, datetime]]) -> Stage:
    """A case's stage from its stage-bearing events seen so far, `(type, occurred_at)`.

    A closed case (terminated, screened out) stays closed. Otherwise the furthest stage
    reached counts, except that a return to planning sets back everything that happened
    before its moment: only the stages reached at or after the latest return count, and the
    case is at least in planning again. The answer depends on the set alone, not its order.
    """
    events = list(seen)
    closed = [STAGE_OF_EVENT[t] for t, _ in events if STAGE_OF_EVENT.get(t) in CLOSED_STAGES]
    if closed:
        return max(closed, key=RANK.__getitem__)
    returns = [at for t, at in events if t == RETURNED_TO_PLANNING]
    since = max(returns) if returns else None
    reached = [
        STAGE_OF_EVENT[t]
        for t, at in events
        if t in STAGE_OF_EVENT and (since is None or at >= since)
    ]
    if since is not None:
        reached.append(Stage.PLANNING)
    return max(reached, key=RANK.__getitem__, default=Stage.FOUND)


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
