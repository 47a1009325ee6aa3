"""Request bodies of closure's HTTP API: unknown fields refused (a termination carrying a
class is one: R8 derives it), yes/no answers strict, codes only, and no refusal echoing
what was sent (the kit's 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from services.closure.domain.events import (
    DeclineReason,
    EmotionalReaction,
    ManagerResponse,
    TerminationReason,
)
from shared.identifiers import NoPersonalNumber

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Ids travel in URLs, Kafka keys and `ce_source`: letters, digits and `._:-` only."""

PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]


class Body(BaseModel):
    """Base of request bodies: strict and closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PreparationBody(Body):
    """R10: the four preparation steps and the client's reactions with the response."""

    community_resources_found: StrictBool
    help_again_explained: StrictBool
    independent_activity_encouraged: StrictBool
    gains_maintenance_planned: StrictBool
    reactions: list[EmotionalReaction] = Field(min_length=1, max_length=5)
    responses: list[ManagerResponse] = Field(min_length=1, max_length=4)


class TerminationBody(Body):
    """R8: the reason only; the class follows from it. A client ending care themselves
    answers the referral offer."""

    reason: TerminationReason
    client_accepts_referral: StrictBool | None = None


class DeclineBody(Body):
    """A target agency's coded reason for declining a referral."""

    reason: DeclineReason
