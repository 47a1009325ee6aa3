"""What the directory's routes accept: request bodies, ids in paths, free text.

Validation here is about input, not rules: a body that is not the right shape, an id that
could not travel in a URL or a Kafka key, text that PostgreSQL cannot keep. Such a request
is refused with 422 before anything is read or written, and the answer says where and why,
never what was sent (`shared.service`). Whether a command is allowed in the agency's
current state is the domain's to say (409).

Names, regions and reasons refuse control characters (`shared.text.PlainText`).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.directory.domain.events import NetworkRole, StaffRole
from shared.identifiers import Identifier, PathId
from shared.text import Line
from shared.vocabulary import NeedDomain, ResourceKind

Text = Line
"""A name, region or reason: 1 to 200 characters of plain text."""


AgencyId = PathId
ItemId = PathId


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
