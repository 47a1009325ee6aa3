"""The directory read model in PostgreSQL: who offers what with room, which managers have room.

Built only from events, the way any other consumer would build it: the directory's own
events from `caseline.directory.v1`, assignments from `caseline.intake.v1` and terminations
from `caseline.closure.v1` for the caseload counts. The projector (`apply`) runs inside the
idempotent consumer's transaction, so each event's effects are written exactly once; the
queries are the directory's read port (`application.handlers.Directory.read_model`).

Tables are unqualified: the service's pool has its own schema on the search path, so the
same SQL serves the `directory` schema and every schema a test gives the service.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict

from services.closure.contract import CaseTerminated
from services.directory.contract import record_principals
from services.directory.domain.events import (
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    CaseloadLimitChanged,
    DepartmentAdded,
    ServiceOffered,
    ServiceWithdrawn,
    StaffDeparted,
    StaffJoined,
    StaffRole,
)
from services.intake.contract import CaseAssigned, CaseReassigned
from shared.codec import ReceivedEvent
from shared.store import migrate_search_path
from shared.vocabulary import NeedDomain, ResourceKind

MIGRATION = """
CREATE TABLE IF NOT EXISTS agencies (
    agency_id       text        PRIMARY KEY,
    name            text        NOT NULL,
    region          text        NOT NULL,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    closed_on       date,
    closure_reason  text,
    registered_at   timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS departments (
    agency_id      text NOT NULL,
    department_id  text NOT NULL,
    name           text NOT NULL,
    PRIMARY KEY (agency_id, department_id)
);

CREATE TABLE IF NOT EXISTS services (
    agency_id          text    NOT NULL,
    service_id         text    NOT NULL,
    name               text    NOT NULL,
    need_domain        text    NOT NULL,
    resource           text    NOT NULL,
    department_id      text,
    capacity           integer NOT NULL CHECK (capacity >= 0),
    waiting_list       integer NOT NULL DEFAULT 0 CHECK (waiting_list >= 0),
    status             text    NOT NULL DEFAULT 'offered'
                               CHECK (status IN ('offered', 'withdrawn')),
    withdrawal_reason  text,
    PRIMARY KEY (agency_id, service_id)
);
CREATE INDEX IF NOT EXISTS services_offered_by_need
    ON services (need_domain) WHERE status = 'offered';

CREATE TABLE IF NOT EXISTS staff (
    agency_id         text    NOT NULL,
    staff_id          text    NOT NULL,
    name              text    NOT NULL,
    role              text    NOT NULL,
    caseload_limit    integer NOT NULL CHECK (caseload_limit >= 0),
    department_id     text,
    status            text    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'departed')),
    joined_on         date    NOT NULL,
    departed_on       date,
    departure_reason  text,
    PRIMARY KEY (agency_id, staff_id)
);

-- One row per assigned case: who carries it now. A staff member's load is a count, so an
-- assignment that arrives before the staff member's own event still counts once they do.
CREATE TABLE IF NOT EXISTS caseloads (
    case_id      text        PRIMARY KEY,
    agency_id    text        NOT NULL,
    staff_id     text        NOT NULL,
    override     boolean     NOT NULL DEFAULT false,
    assigned_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS caseloads_by_staff ON caseloads (agency_id, staff_id);

-- Cases closure terminated (R8, R12): they no longer count against their manager's caseload.
-- Kept apart from `caseloads`, so a termination read before its assignment still counts.
CREATE TABLE IF NOT EXISTS case_endings (
    case_id        text PRIMARY KEY,
    terminated_on  date NOT NULL
);

-- Agency administrators are staff too: the first tables allowed two roles only.
ALTER TABLE staff DROP CONSTRAINT IF EXISTS staff_role_check;
"""


class DepartmentView(BaseModel):
    """A department as the read model has it."""

    model_config = ConfigDict(frozen=True)

    department_id: str
    name: str


class ServiceView(BaseModel):
    """A service as the read model has it, with its agency."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    agency_name: str
    region: str
    service_id: str
    name: str
    need_domain: NeedDomain
    resource: ResourceKind
    department_id: str | None
    capacity: int
    waiting_list: int
    status: Literal["offered", "withdrawn"]
    has_room: bool


class StaffView(BaseModel):
    """A staff member with their caseload against their limit (R12: overload is visible)."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    staff_id: str
    name: str
    role: StaffRole
    department_id: str | None
    status: Literal["active", "departed"]
    joined_on: date
    departed_on: date | None
    caseload: int
    caseload_limit: int
    room: int
    """Cases the member may still take: 0 when full, departed, or the agency is closed."""
    overloaded: bool
    """More cases than the limit (an assignment with a supervisor's override)."""


class AgencySummary(BaseModel):
    """An agency: name, region and status."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    name: str
    region: str
    status: Literal["active", "closed"]
    closed_on: date | None
    closure_reason: str | None
    registered_at: datetime


class AgencyView(AgencySummary):
    """An agency with its departments, services (offered and withdrawn) and staff."""

    departments: list[DepartmentView]
    services: list[ServiceView]
    staff: list[StaffView]


class DirectoryReadModel:
    """The read-model tables: the migration and projector the runtime runs (static: they need
    no pool of their own), and the queries routes ask through the pool given here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the read-model tables in the pool's schema (idempotent)."""
        await migrate_search_path(pool, MIGRATION)

    # --- the projector ----------------------------------------------------------------------

    @staticmethod
    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Apply one consumed event on `conn` (the consumer's transaction)."""
        if event.service == "directory":
            await record_principals(conn, event)
            await _apply_directory(conn, event)
        elif event.service == "intake":
            await _apply_intake(conn, event)
        elif event.service == "closure":
            await _apply_closure(conn, event)

    # --- queries ----------------------------------------------------------------------------

    async def agency(self, agency_id: str) -> AgencyView | None:
        """One agency with its departments, services and staff; None when not (yet) known."""
        row = await self.pool.fetchrow("SELECT * FROM agencies WHERE agency_id = $1", agency_id)
        if row is None:
            return None
        departments = await self.pool.fetch(
            "SELECT department_id, name FROM departments WHERE agency_id = $1 "
            "ORDER BY department_id",
            agency_id,
        )
        services = await self.services(agency_id=agency_id, include_unavailable=True)
        staff = await self.staff(agency_id=agency_id, include_departed=True)
        return AgencyView(
            **_columns(row, AgencySummary),
            departments=[DepartmentView(**dict(d)) for d in departments],
            services=services,
            staff=staff,
        )

    async def agencies(self, *, region: str | None = None) -> list[AgencySummary]:
        """Every agency known, optionally of one region."""
        rows = await self.pool.fetch(
            "SELECT * FROM agencies WHERE ($1::text IS NULL OR region = $1) ORDER BY agency_id",
            region,
        )
        return [AgencySummary(**_columns(row, AgencySummary)) for row in rows]

    async def services(
        self,
        *,
        need_domain: NeedDomain | None = None,
        with_room: bool = False,
        region: str | None = None,
        agency_id: str | None = None,
        include_unavailable: bool = False,
    ) -> list[ServiceView]:
        """Who offers what: offered services of active agencies, optionally only with room.

        `include_unavailable` adds withdrawn services and those of closed agencies.
        """
        rows = await self.pool.fetch(
            "SELECT sv.*, a.name AS agency_name, a.region, "
            "(sv.status = 'offered' AND a.status = 'active' AND sv.capacity > 0) AS has_room "
            "FROM services sv JOIN agencies a USING (agency_id) "
            "WHERE ($1::text IS NULL OR sv.need_domain = $1) "
            "AND ($2::text IS NULL OR a.region = $2) "
            "AND ($3::text IS NULL OR sv.agency_id = $3) "
            "AND ($4 OR (sv.status = 'offered' AND a.status = 'active')) "
            "AND (NOT $5 OR sv.capacity > 0) "
            "ORDER BY sv.agency_id, sv.service_id",
            need_domain.value if need_domain else None,
            region,
            agency_id,
            include_unavailable,
            with_room,
        )
        return [ServiceView(**_columns(row, ServiceView)) for row in rows]

    async def staff(
        self,
        *,
        agency_id: str | None = None,
        role: StaffRole | None = None,
        with_room: bool = False,
        include_departed: bool = False,
    ) -> list[StaffView]:
        """Staff with their caseloads; `with_room`: active case managers under their limit."""
        rows = await self.pool.fetch(
            "WITH loads AS (SELECT agency_id, staff_id, count(*)::int AS caseload "
            "FROM caseloads c WHERE NOT EXISTS "
            "(SELECT 1 FROM case_endings e WHERE e.case_id = c.case_id) "
            "GROUP BY agency_id, staff_id) "
            "SELECT st.*, coalesce(l.caseload, 0) AS caseload, "
            "CASE WHEN st.status = 'active' AND a.status = 'active' "
            "THEN greatest(st.caseload_limit - coalesce(l.caseload, 0), 0) ELSE 0 END AS room, "
            "coalesce(l.caseload, 0) > st.caseload_limit AS overloaded "
            "FROM staff st JOIN agencies a USING (agency_id) "
            "LEFT JOIN loads l USING (agency_id, staff_id) "
            "WHERE ($1::text IS NULL OR st.agency_id = $1) "
            "AND ($2::text IS NULL OR st.role = $2) "
            "AND ($3 OR st.status = 'active') "
            "AND (NOT $4 OR (st.role = 'case_manager' AND st.status = 'active' "
            "AND a.status = 'active' AND coalesce(l.caseload, 0) < st.caseload_limit)) "
            # The least loaded first: the natural next assignee.
            "ORDER BY (coalesce(l.caseload, 0)::float / greatest(st.caseload_limit, 1)), "
            "st.agency_id, st.staff_id",
            agency_id,
            role,
            include_departed,
            with_room,
        )
        return [StaffView(**_columns(row, StaffView)) for row in rows]


async def _apply_directory(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    meta = event.envelope.metadata
    agency_id = meta.case_id
    match event.envelope.payload:
        case AgencyRegistered() as registered:
            await conn.execute(
                "INSERT INTO agencies (agency_id, name, region, registered_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (agency_id) DO NOTHING",
                agency_id,
                registered.name,
                registered.region,
                meta.occurred_at,
            )
        case DepartmentAdded() as added:
            await conn.execute(
                "INSERT INTO departments (agency_id, department_id, name) "
                "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                agency_id,
                added.department_id,
                added.name,
            )
        case ServiceOffered() as offered:
            await conn.execute(
                "INSERT INTO services (agency_id, service_id, name, need_domain, "
                "resource, department_id, capacity) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT DO NOTHING",
                agency_id,
                offered.service_id,
                offered.name,
                offered.need_domain.value,
                offered.resource.value,
                offered.department_id,
                offered.capacity,
            )
        case ServiceWithdrawn() as withdrawn:
            await conn.execute(
                "UPDATE services SET status = 'withdrawn', withdrawal_reason = $3 "
                "WHERE agency_id = $1 AND service_id = $2",
                agency_id,
                withdrawn.service_id,
                withdrawn.reason,
            )
        case CapacityChanged() as changed:
            await conn.execute(
                "UPDATE services SET capacity = $3, waiting_list = $4 "
                "WHERE agency_id = $1 AND service_id = $2",
                agency_id,
                changed.service_id,
                changed.capacity,
                changed.waiting_list,
            )
        case AgencyClosed() as closed:
            await conn.execute(
                "UPDATE agencies SET status = 'closed', closed_on = $2, "
                "closure_reason = $3 WHERE agency_id = $1",
                agency_id,
                closed.closed_on,
                closed.reason,
            )
        case StaffJoined() as joined:
            await conn.execute(
                "INSERT INTO staff (agency_id, staff_id, name, role, caseload_limit, "
                "department_id, joined_on) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT DO NOTHING",
                agency_id,
                joined.staff_id,
                joined.name,
                joined.role,
                joined.caseload_limit,
                joined.department_id,
                joined.joined_on,
            )
        case CaseloadLimitChanged() as limit:
            await conn.execute(
                "UPDATE staff SET caseload_limit = $3 WHERE agency_id = $1 AND staff_id = $2",
                agency_id,
                limit.staff_id,
                limit.caseload_limit,
            )
        case StaffDeparted() as departed:
            await conn.execute(
                "UPDATE staff SET status = 'departed', departed_on = $3, "
                "departure_reason = $4 WHERE agency_id = $1 AND staff_id = $2",
                agency_id,
                departed.staff_id,
                departed.departed_on,
                departed.reason,
            )


async def _apply_intake(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    # Of intake's events only the two that move caseloads matter here (the consumer reads
    # no other); their classes come from intake's contract.
    meta = event.envelope.metadata
    match event.envelope.payload:
        case CaseAssigned() as assigned:
            staff_id, agency_id, override = assigned.staff_id, assigned.agency_id, assigned.override
        case CaseReassigned() as reassigned:
            staff_id, agency_id, override = reassigned.to_staff_id, meta.agency_id, False
        case _:
            return
    await conn.execute(
        "INSERT INTO caseloads (case_id, agency_id, staff_id, override, "
        "assigned_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO UPDATE SET "
        "agency_id = EXCLUDED.agency_id, staff_id = EXCLUDED.staff_id, "
        "override = EXCLUDED.override, assigned_at = EXCLUDED.assigned_at",
        meta.case_id,
        agency_id,
        staff_id,
        override,
        meta.occurred_at,
    )


async def _apply_closure(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    # A terminated case leaves its manager's caseload (R12: counts fall when cases end); of
    # closure's events only `CaseTerminated` is read, its class from closure's contract.
    match event.envelope.payload:
        case CaseTerminated(terminated_on=terminated_on):
            await conn.execute(
                "INSERT INTO case_endings (case_id, terminated_on) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                event.envelope.metadata.case_id,
                terminated_on,
            )


def _columns(row: asyncpg.Record, model: type[BaseModel]) -> dict[str, Any]:
    keys = set(row.keys())
    return {name: row[name] for name in model.model_fields if name in keys}
