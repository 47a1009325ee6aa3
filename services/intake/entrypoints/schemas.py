"""Intake's request bodies: what a caller may send, refused with 422 (never echoed) otherwise.

Only the shape of input is checked here; the rules are the domain's. Personal details are
accepted by registration alone.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from services.intake.domain.client import BirthDate, PersonalDetails, PersonName
from services.intake.domain.commands import MAX_LIST_ITEMS, Command
from services.intake.domain.events import (
    AssessedNeed,
    CaseSource,
    ConsentPurpose,
    InformationAndReferral,
    OverrideReason,
    ReassignmentReason,
    Risk,
    ScreenOutReason,
    StrengthKind,
)
from services.intake.domain.text import Note
from shared.clock import agency_today
from shared.identifiers import Identifier, PathId
from shared.vocabulary import NeedDomain

CaseId = PathId
ItemId = PathId

C = TypeVar("C", bound=Command)


def build_command(cls: type[C], **fields: object) -> C:
    """A domain command from request fields; its validation errors become a 422 on the body."""
    try:
        return cls.model_validate(fields)
    except ValidationError as e:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in e.errors()]
        ) from None


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, and no refusal echoes its input.

    Yes/no answers are `strict`: JSON `true` or `false`, never `"no"`, `1` or `0`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class CaseOpening(Body):
    """POST /cases: a case found by outreach, a walk-in, self-referral or inbound referral.

    Intake chooses the case id, never the caller: an id the caller chose would be refused
    when another agency holds it, and so tell the caller that it exists.
    """

    source: CaseSource
    referring_agency_id: Identifier | None = None
    referring_case_id: Identifier | None = None


class Registration(PersonalDetails):
    """POST /cases/{case_id}/registration: a new client's personal details (to the vault)."""

    confirm_new_client: bool = Field(
        default=False,
        strict=True,
        description="Register a new person even though clients with the same name and "
        "birth date exist (they are named in the 409 answer).",
    )

    @model_validator(mode="after")
    def _born_in_the_past(self) -> Registration:
        if self.birth_date > agency_today():
            raise ValueError("the birth date is in the future")
        return self

    def details(self) -> PersonalDetails:
        """The personal details alone."""
        return PersonalDetails.model_validate(self.model_dump(exclude={"confirm_new_client"}))


class ReturningClient(Body):
    """POST /cases/{case_id}/returning-client: a known client, matched by name and birth date."""

    client_id: Identifier
    name: PersonName = Field(min_length=1, max_length=100, repr=False)
    birth_date: BirthDate = Field(repr=False)


class ConsentRequest(Body):
    """POST /cases/{case_id}/consents (R4)."""

    agencies: list[Identifier] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    purposes: list[ConsentPurpose] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    valid_from: date | None = Field(default=None, description="Today when left out.")
    valid_until: date

    @model_validator(mode="after")
    def _each_once_and_a_period_in_order(self) -> ConsentRequest:
        if len(set(self.agencies)) != len(self.agencies):
            raise ValueError("each agency is named once")
        if len(set(self.purposes)) != len(self.purposes):
            raise ValueError("each purpose is named once")
        if self.valid_from is not None and self.valid_until < self.valid_from:
            raise ValueError("a consent ends on or after the day it starts")
        return self


class EligibleScreening(Body):
    """Screening outcome: case management fits (R2)."""

    outcome: Literal["eligible"]
    presenting_problems: list[NeedDomain] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    chronic: bool = Field(default=False, strict=True)


def _at_most_max_list_items_domains(value: object) -> object:
    # The event's own schema leaves the list open; the request bounds it before reading it.
    domains = value.get("domains") if isinstance(value, dict) else None
    if isinstance(domains, list) and len(domains) > MAX_LIST_ITEMS:
        raise ValueError(f"information and referral names at most {MAX_LIST_ITEMS} domains")
    return value


class ScreenedOutScreening(Body):
    """Screening outcome: screened out, with the reason and the information and referral (R2)."""

    outcome: Literal["screened_out"]
    presenting_problems: list[NeedDomain] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    reason: ScreenOutReason
    information_and_referral: Annotated[
        InformationAndReferral, BeforeValidator(_at_most_max_list_items_domains)
    ]


Screening = Annotated[EligibleScreening | ScreenedOutScreening, Field(discriminator="outcome")]


class AssessmentRequest(Body):
    """POST /cases/{case_id}/assessment."""

    needs: list[AssessedNeed] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    strengths: list[StrengthKind] = Field(default=[], max_length=MAX_LIST_ITEMS)
    risks: list[Risk] = Field(default=[], max_length=MAX_LIST_ITEMS)
    crisis: bool = Field(
        default=False, strict=True, description="The case needs crisis intervention now."
    )
    interpreter_needed: bool = Field(strict=True, description="R11: asked of every assessment.")
    cultural_needs: Note | None = Field(
        default=None,
        max_length=1000,
        repr=False,
        description="Kept in the PII vault; events only say that they are on record.",
    )


class AssignmentRequest(Body):
    """POST /cases/{case_id}/assignment (R12)."""

    staff_id: Identifier
    override_reason: OverrideReason | None = Field(
        default=None, description="A supervisor's reason to go past the caseload limit."
    )


class ReassignmentRequest(Body):
    """POST /cases/{case_id}/reassignment (R12)."""

    to_staff_id: Identifier
    reason: ReassignmentReason
    override_reason: OverrideReason | None = None
