"""What the directory's routes accept: request bodies, ids in paths, free text.

Validation here is about input, not rules: a body that is not the right shape, an id that
could not travel in a URL or a Kafka key, text that PostgreSQL cannot keep. Such a request
is refused with 422 before anything is read or written, and the answer says where and why,
never what was sent (`shared.service`). Whether a command is allowed in the agency's
current state is the domain's to say (409).

Names, regions and reasons end up in PostgreSQL text and JSON columns and in events every
service reads: NUL cannot be stored there at all (a 500 instead of an answer), a lone
surrogate cannot be encoded, and other control characters (terminal escapes, DEL) belong in
no name. They are refused here.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.directory.domain.events import NetworkRole, StaffRole
from shared.identifiers import NoPersonalNumber
from shared.vocabulary import NeedDomain, ResourceKind

# Cc: C0 and C1 control characters, NUL and DEL among them; Cs: lone surrogates.
_UNKEEPABLE = frozenset({"Cc", "Cs"})


def refuse_control_characters(value: str) -> str:
    """`value` as it is; a ValueError (never repeating it) if it holds a control character."""
    if any(unicodedata.category(ch) in _UNKEEPABLE for ch in value):
        raise ValueError("text may not hold control characters (such as NUL) or lone surrogates")
    return value


PlainText = Annotated[str, AfterValidator(refuse_control_characters)]
"""Text of one line with no control characters; length limits are the field's own."""

Text = Annotated[PlainText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name, region or reason: 1 to 200 characters of plain text."""


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Ids travel in URLs, Kafka keys and `ce_source`: letters, digits and `._:-` only."""

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN),
    NoPersonalNumber,
]
AgencyId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN), NoPersonalNumber]


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, not ignored.

    Counts are `strict`: a JSON integer, never `true` (1), `"3"` or `3.0`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencyRegistration(Body):
    """POST /agencies."""

    agency_id: Identifier
    name: Text
    region: Text


class DepartmentRequest(Body):
    """POST /agencies/{agency_id}/departments."""

    department_id: Identifier
    name: Text


class ServiceRequest(Body):
    """POST /agencies/{agency_id}/services."""

    service_id: Identifier
    name: Text
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: Identifier | None = None
    capacity: int = Field(strict=True, ge=0, le=100_000, description="Open places (R12).")


class WithdrawalRequest(Body):
    """POST /agencies/{agency_id}/services/{service_id}/withdraw."""

    reason: Text


class CapacityRequest(Body):
    """PUT /agencies/{agency_id}/services/{service_id}/capacity."""

    capacity: int = Field(strict=True, ge=0, le=100_000, description="Open places (R12).")
    waiting_list: int = Field(
        default=0, strict=True, ge=0, le=100_000, description="Clients waiting (R12)."
    )


class ClosureRequest(Body):
    """POST /agencies/{agency_id}/close."""

    closed_on: date
    reason: Text


class StaffRequest(Body):
    """POST /agencies/{agency_id}/staff."""

    staff_id: Identifier
    name: Text
    role: StaffRole
    caseload_limit: int | None = Field(
        default=None, strict=True, ge=0, le=1000, description="Required for case managers (R12)."
    )
    department_id: Identifier | None = None
    joined_on: date


class CaseloadLimitRequest(Body):
    """PUT /agencies/{agency_id}/staff/{staff_id}/caseload-limit."""

    caseload_limit: int = Field(strict=True, ge=0, le=1000)


class DepartureRequest(Body):
    """POST /agencies/{agency_id}/staff/{staff_id}/depart."""

    departed_on: date
    reason: Text


class NetworkMemberRequest(Body):
    """POST /network/members."""

    staff_id: Identifier
    name: Text
    role: NetworkRole
    enrolled_on: date


class LeavingRequest(Body):
    """POST /network/members/{staff_id}/leave."""

    left_on: date
    reason: Text
