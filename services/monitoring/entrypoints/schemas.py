"""Request bodies of monitoring's HTTP API: unknown fields refused, yes/no answers strict,
lists and texts bounded, and no refusal echoing what was sent (the kit's 422)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.monitoring.domain.events import (
    ContinueReason,
    FollowUpKind,
    GoalProgress,
    GoalRating,
    Implementation,
    ItemFit,
    ReviewAction,
)
from shared.identifiers import Identifier
from shared.text import Note
from shared.vocabulary import NeedDomain

MAX_ANSWERS = 100
"""The most goals, items or form answers one request carries."""

# Stricter than an id: a question or instrument code is a lowercase word of the forms and
# the instrument registry (`domain/instruments.py`), never a free id.
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Words = Annotated[
    Note, StringConstraints(strip_whitespace=True), Field(min_length=1, max_length=4000)
]
"""Free text about a person over several lines (no control characters but line breaks):
sealed in the vault, never in an event. The bounds stand in `Field`: given in the same
`StringConstraints` after `Note`'s validator, pydantic would check the length before
stripping and let a note of blanks through."""


class Body(BaseModel):
    """Base of request bodies."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class GoalAnswerBody(Body):
    """R6d q2 for one goal."""

    goal_id: Identifier
    progress: GoalProgress


class ItemAnswerBody(Body):
    """R6d q3 for one item."""

    item_id: Identifier
    fit: ItemFit


class ReviewBody(Body):
    """POST /cases/{case_id}/reviews: the four questions of R6d and both satisfactions."""

    implementation: Implementation = Field(description="q1: 1 not at all .. 5 fully")
    goals: list[GoalAnswerBody] = Field(max_length=MAX_ANSWERS)
    items: list[ItemAnswerBody] = Field(max_length=MAX_ANSWERS)
    new_needs: bool = Field(strict=True)
    new_need_domains: list[NeedDomain] = Field(default_factory=list, max_length=20)
    client_satisfied: bool = Field(strict=True)
    manager_satisfied: bool = Field(strict=True)
    action: ReviewAction | None = None
    continue_reason: ContinueReason | None = None
    next_review_on: date | None = Field(default=None, description="A quarter on when left out.")
    notes: Words | None = Field(default=None, repr=False)


class VisitBody(Body):
    """POST /cases/{case_id}/visits: a home visit by the case's manager."""

    visited_on: date
    observations: Words | None = Field(default=None, repr=False)


class SendFormBody(Body):
    """POST /cases/{case_id}/forms: a follow-up form mailed to the household."""

    due_on: date


class FormAnswerBody(Body):
    """One answer on a returned form; `negative` when it calls for aftercare."""

    question: Code
    answer: Words = Field(repr=False)
    negative: bool = Field(strict=True)


class ReturnFormBody(Body):
    """POST /cases/{case_id}/forms/{form_id}/return: the answers (sealed in the vault)."""

    answers: list[FormAnswerBody] = Field(min_length=1, max_length=MAX_ANSWERS)


class FollowUpBody(Body):
    """POST /cases/{case_id}/forms/{form_id}/follow-up: what answered a negative form."""

    kind: FollowUpKind
    review_id: Identifier | None = None
    notes: Words | None = Field(default=None, repr=False)


class BaselineBody(Body):
    """POST /cases/{case_id}/baselines: an instrument's baseline score (R7)."""

    instrument: Code
    score: int = Field(strict=True, ge=-1000, le=1000)
    scored_on: date | None = Field(default=None, description="Today when left out.")


class GoalRatingBody(Body):
    """R7: one goal's rating."""

    goal_id: Identifier
    rating: GoalRating


class EvaluationBody(Body):
    """POST /cases/{case_id}/evaluations: every goal rated, instruments scored (R7)."""

    goals: list[GoalRatingBody] = Field(max_length=MAX_ANSWERS)
    scores: dict[Code, Annotated[int, Field(strict=True, ge=-1000, le=1000)]] = Field(max_length=20)
    no_further_service_needed: bool = Field(strict=True)
    notes: Words | None = Field(default=None, repr=False)
