"""What careplan learns from other services' topics: cases from intake, the network from the
directory, and from closure which cases ended (R8: they take no further plan command).

An idempotent consumer applies intake's, the directory's and closure's events (through their
contract classes) in its own transaction, so each is applied once however often it is
delivered. The commands read these tables on their own connection and carry what they found
to the pure domain as `CaseFacts` and `NetworkService`. Queries are unqualified: the pool's
search path is careplan's schema.
"""

from __future__ import annotations

import json
from datetime import date

import asyncpg

from services.careplan.domain.commands import CaseFacts, Consent, NetworkService
from services.closure.contract import CaseTerminated
from services.directory.contract import (
    PRINCIPAL_EVENTS,
    AgencyClosed,
    AgencyRegistered,
    CapacityChanged,
    ServiceOffered,
    ServiceWithdrawn,
    record_principals,
)
from services.intake.contract import (
    CaseAssessed,
    CaseAssigned,
    CaseFound,
    CaseReassigned,
    ClientErased,
    ClientRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
)
from shared.clock import agency_date
from shared.codec import ReceivedEvent
from shared.envelope import DomainEvent
from shared.store import migrate_search_path
from shared.vocabulary import NeedDomain

READS: tuple[type[DomainEvent], ...] = (
    CaseFound,
    ClientRegistered,
    ConsentRecorded,
    ConsentWithdrawn,
    CaseAssessed,
    CaseAssigned,
    CaseReassigned,
    ClientErased,
    *PRINCIPAL_EVENTS,
    ServiceOffered,
    ServiceWithdrawn,
    CapacityChanged,
    CaseTerminated,
)
"""The event types careplan's facts consumer reads from intake's, the directory's and
closure's topics."""


MIGRATION = """
CREATE TABLE IF NOT EXISTS case_facts (
    case_id             text    PRIMARY KEY,
    agency_id           text    NOT NULL,
    client_id           text,
    manager_id          text,
    assigned            boolean NOT NULL DEFAULT false,
    needs               jsonb   NOT NULL DEFAULT '[]',
    strengths           jsonb   NOT NULL DEFAULT '[]',
    risks               jsonb   NOT NULL DEFAULT '[]',
    crisis              boolean NOT NULL DEFAULT false,
    interpreter_needed  boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS case_facts_by_client ON case_facts (client_id);
-- R8: when closure ended the case; added after the first tables.
ALTER TABLE case_facts ADD COLUMN IF NOT EXISTS terminated_on date;

-- The agencies' calendar date of intake's CaseAssigned (R1: no plan is dated before it).
-- Rows learned before this column existed keep NULL: the date is unknown, nothing is bound.
ALTER TABLE case_facts ADD COLUMN IF NOT EXISTS assigned_on date;

CREATE TABLE IF NOT EXISTS client_consents (
    consent_id    text  PRIMARY KEY,
    client_id     text  NOT NULL,
    agencies      jsonb NOT NULL,
    purposes      jsonb NOT NULL,
    valid_from    date  NOT NULL,
    valid_until   date  NOT NULL,
    withdrawn_on  date
);
CREATE INDEX IF NOT EXISTS client_consents_by_client ON client_consents (client_id);

CREATE TABLE IF NOT EXISTS erased_clients (
    client_id  text PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS network_agencies (
    agency_id  text PRIMARY KEY,
    closed_on  date
);

CREATE TABLE IF NOT EXISTS network_services (
    agency_id      text    NOT NULL,
    service_id     text    NOT NULL,
    department_id  text,
    need_domain    text    NOT NULL,
    capacity       integer NOT NULL DEFAULT 0,
    waiting_list   integer NOT NULL DEFAULT 0,
    withdrawn      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (agency_id, service_id)
);
"""


async def migrate(pool: asyncpg.Pool) -> None:
    """Create the facts tables in the pool's schema (idempotent)."""
    await migrate_search_path(pool, MIGRATION)


async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """Apply one of intake's, the directory's or closure's events, in the consumer's
    transaction."""
    meta = event.envelope.metadata
    payload = event.envelope.payload
    if event.service == "directory":
        await record_principals(conn, event)
        await _apply_directory(conn, meta.case_id, payload)
        return
    if event.service == "closure":
        if isinstance(payload, CaseTerminated):
            # Read before intake's events of the case, it still holds once they arrive.
            await conn.execute(
                "INSERT INTO case_facts (case_id, agency_id, terminated_on) VALUES ($1, $2, $3) "
                "ON CONFLICT (case_id) DO UPDATE SET terminated_on = EXCLUDED.terminated_on",
                meta.case_id,
                payload.agency_id,
                payload.terminated_on,
            )
        return
    case_id = meta.case_id
    match payload:
        case CaseFound():
            await conn.execute(
                "INSERT INTO case_facts (case_id, agency_id) VALUES ($1, $2) "
                "ON CONFLICT (case_id) DO NOTHING",
                case_id,
                meta.agency_id,
            )
        case ClientRegistered():
            await _ensure_case(conn, case_id, meta.agency_id)
            await conn.execute(
                "UPDATE case_facts SET client_id = $2 WHERE case_id = $1",
                case_id,
                payload.client_id,
            )
        case ConsentRecorded():
            await conn.execute(
                "INSERT INTO client_consents (consent_id, client_id, agencies, purposes, "
                "valid_from, valid_until) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (consent_id) DO NOTHING",
                payload.consent_id,
                payload.client_id,
                json.dumps(list(payload.agencies)),
                json.dumps([str(p) for p in payload.purposes]),
                payload.valid_from,
                payload.valid_until,
            )
        case ConsentWithdrawn():
            await conn.execute(
                "UPDATE client_consents SET withdrawn_on = $2 WHERE consent_id = $1",
                payload.consent_id,
                payload.withdrawn_on,
            )
        case CaseAssessed():
            await _ensure_case(conn, case_id, meta.agency_id)
            await conn.execute(
                "UPDATE case_facts SET needs = $2, strengths = $3, risks = $4, crisis = $5, "
                "interpreter_needed = $6 WHERE case_id = $1",
                case_id,
                json.dumps([str(n.domain) for n in payload.needs]),
                json.dumps([str(s) for s in payload.strengths]),
                json.dumps(sorted({str(r.kind) for r in payload.risks})),
                payload.crisis,
                payload.interpreter_needed,
            )
        case CaseAssigned():
            await _ensure_case(conn, case_id, meta.agency_id)
            # Intake's event carries no date of its own: the assignment happened on the
            # agencies' calendar date of the instant intake recorded it (the first, if ever
            # a case were assigned twice: planning follows the first assignment).
            await conn.execute(
                "UPDATE case_facts SET assigned = true, manager_id = $2, "
                "assigned_on = COALESCE(assigned_on, $3) WHERE case_id = $1",
                case_id,
                payload.staff_id,
                agency_date(meta.occurred_at),
            )
        case CaseReassigned():
            await conn.execute(
                "UPDATE case_facts SET manager_id = $2 WHERE case_id = $1",
                case_id,
                payload.to_staff_id,
            )
        case ClientErased():
            await conn.execute(
                "INSERT INTO erased_clients (client_id) VALUES ($1) ON CONFLICT DO NOTHING",
                payload.client_id,
            )


async def _ensure_case(conn: asyncpg.Connection, case_id: str, agency_id: str) -> None:
    await conn.execute(
        "INSERT INTO case_facts (case_id, agency_id) VALUES ($1, $2) "
        "ON CONFLICT (case_id) DO NOTHING",
        case_id,
        agency_id,
    )


async def _apply_directory(conn: asyncpg.Connection, agency_id: str, payload: object) -> None:
    match payload:
        case AgencyRegistered():
            await conn.execute(
                "INSERT INTO network_agencies (agency_id) VALUES ($1) ON CONFLICT DO NOTHING",
                agency_id,
            )
        case AgencyClosed():
            await conn.execute(
                "INSERT INTO network_agencies (agency_id, closed_on) VALUES ($1, $2) "
                "ON CONFLICT (agency_id) DO UPDATE SET closed_on = EXCLUDED.closed_on",
                agency_id,
                payload.closed_on,
            )
        case ServiceOffered():
            await conn.execute(
                "INSERT INTO network_services (agency_id, service_id, department_id, "
                "need_domain, capacity) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (agency_id, service_id) DO UPDATE SET "
                "department_id = EXCLUDED.department_id, need_domain = EXCLUDED.need_domain, "
                "capacity = EXCLUDED.capacity, withdrawn = false",
                agency_id,
                payload.service_id,
                payload.department_id,
                str(payload.need_domain),
                payload.capacity,
            )
        case ServiceWithdrawn():
            await conn.execute(
                "UPDATE network_services SET withdrawn = true "
                "WHERE agency_id = $1 AND service_id = $2",
                agency_id,
                payload.service_id,
            )
        case CapacityChanged():
            await conn.execute(
                "UPDATE network_services SET capacity = $3, waiting_list = $4 "
                "WHERE agency_id = $1 AND service_id = $2",
                agency_id,
                payload.service_id,
                payload.capacity,
                payload.waiting_list,
            )


# --- reading --------------------------------------------------------------------------------


async def case_facts(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> CaseFacts | None:
    """What careplan learned of a case, or None when intake's events never named it."""
    row = await conn.fetchrow(
        "SELECT f.*, e.client_id IS NOT NULL AS erased FROM case_facts f "
        "LEFT JOIN erased_clients e ON e.client_id = f.client_id WHERE f.case_id = $1",
        case_id,
    )
    if row is None:
        return None
    consents = []
    if row["client_id"] is not None:
        for c in await conn.fetch(
            "SELECT * FROM client_consents WHERE client_id = $1 ORDER BY consent_id",
            row["client_id"],
        ):
            consents.append(
                Consent(
                    consent_id=c["consent_id"],
                    agencies=tuple(json.loads(c["agencies"])),
                    purposes=tuple(json.loads(c["purposes"])),
                    valid_from=c["valid_from"],
                    valid_until=c["valid_until"],
                    withdrawn_on=c["withdrawn_on"],
                )
            )
    return CaseFacts(
        case_id=case_id,
        agency_id=row["agency_id"],
        client_id=row["client_id"],
        manager_id=row["manager_id"],
        assigned=row["assigned"],
        assigned_on=row["assigned_on"],
        needs=tuple(NeedDomain(n) for n in json.loads(row["needs"])),
        strengths=tuple(json.loads(row["strengths"])),
        risks=tuple(json.loads(row["risks"])),
        crisis=row["crisis"],
        interpreter_needed=row["interpreter_needed"],
        consents=tuple(consents),
        erased=row["erased"],
        terminated_on=row["terminated_on"],
    )


async def network_service(
    conn: asyncpg.Connection, agency_id: str, service_id: str, today: date
) -> NetworkService | None:
    """A service of the network as the directory published it, or None."""
    row = await conn.fetchrow(
        "SELECT s.*, a.closed_on FROM network_services s "
        "LEFT JOIN network_agencies a ON a.agency_id = s.agency_id "
        "WHERE s.agency_id = $1 AND s.service_id = $2",
        agency_id,
        service_id,
    )
    if row is None:
        return None
    closed_on: date | None = row["closed_on"]
    return NetworkService(
        agency_id=agency_id,
        service_id=service_id,
        department_id=row["department_id"],
        need_domain=NeedDomain(row["need_domain"]),
        capacity=row["capacity"],
        waiting_list=row["waiting_list"],
        withdrawn=row["withdrawn"],
        agency_closed=closed_on is not None and closed_on <= today,
    )


async def has_room(conn: asyncpg.Connection, agency_id: str, need: NeedDomain) -> bool:
    """Whether `agency_id` offers a service for `need` with open places (R6a)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM network_services WHERE agency_id = $1 "
        "AND need_domain = $2 AND NOT withdrawn AND capacity > 0)",
        agency_id,
        str(need),
    )
    return found
