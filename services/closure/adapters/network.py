"""What closure knows of the network: agencies (closed or not), their departments' active
services with room or only a waiting list, and which department each staff member is in.

Fed by the directory consumer, read when a referral is decided (`snapshot`). Unqualified SQL
on the pool's search path (the service's schema).
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from services.closure.domain.events import Provider
from services.closure.domain.referral import Candidate, NetworkSnapshot, OfferedService
from shared.store import migrate_search_path
from shared.vocabulary import NeedDomain

MIGRATION = """
CREATE TABLE IF NOT EXISTS network_agencies (
    agency_id  text PRIMARY KEY,
    closed_on  date
);
ALTER TABLE network_agencies ADD COLUMN IF NOT EXISTS closed_by uuid;
CREATE TABLE IF NOT EXISTS network_services (
    service_id     text    NOT NULL,
    agency_id      text    NOT NULL,
    department_id  text,
    need_domain    text    NOT NULL,
    capacity       integer NOT NULL,
    active         boolean NOT NULL,
    PRIMARY KEY (agency_id, service_id)
);
-- A service id is unique within its agency only. Tables made when the key was the service
-- id alone are re-keyed (the rows an agency took over from another stay wrong until a replay).
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = 'network_services'::regclass AND i.indisprimary AND i.indnatts = 1
    ) THEN
        ALTER TABLE network_services DROP CONSTRAINT network_services_pkey;
        ALTER TABLE network_services ADD PRIMARY KEY (agency_id, service_id);
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS network_staff (
    agency_id      text NOT NULL,
    staff_id       text NOT NULL,
    department_id  text,
    PRIMARY KEY (agency_id, staff_id)
);
"""


class NetworkReadModel:
    """Writes and reads the tables above."""

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the tables in the pool's schema (idempotent)."""
        await migrate_search_path(pool, MIGRATION)

    async def agency_registered(self, conn: asyncpg.Connection, agency_id: str) -> None:
        """An agency joined the network."""
        await conn.execute(
            "INSERT INTO network_agencies (agency_id) VALUES ($1) ON CONFLICT DO NOTHING",
            agency_id,
        )

    async def agency_closed(
        self, conn: asyncpg.Connection, agency_id: str, on: date, cause_id: uuid.UUID
    ) -> None:
        """An agency closed (by the event `cause_id`): never a referral target from that day."""
        await conn.execute(
            "INSERT INTO network_agencies (agency_id, closed_on, closed_by) VALUES ($1, $2, $3) "
            "ON CONFLICT (agency_id) DO UPDATE SET closed_on = EXCLUDED.closed_on, "
            "closed_by = EXCLUDED.closed_by",
            agency_id,
            on,
            cause_id,
        )

    async def closure_of(
        self, conn: asyncpg.Connection, agency_id: str
    ) -> tuple[uuid.UUID, date] | None:
        """The event that closed an agency and the day, if it closed."""
        row = await conn.fetchrow(
            "SELECT closed_by, closed_on FROM network_agencies "
            "WHERE agency_id = $1 AND closed_by IS NOT NULL",
            agency_id,
        )
        return (row["closed_by"], row["closed_on"]) if row else None

    async def service_offered(
        self,
        conn: asyncpg.Connection,
        agency_id: str,
        service_id: str,
        need_domain: NeedDomain,
        department_id: str | None,
        capacity: int,
    ) -> None:
        """A service is offered (again)."""
        await conn.execute(
            "INSERT INTO network_services (service_id, agency_id, department_id, need_domain, "
            "capacity, active) VALUES ($1, $2, $3, $4, $5, true) "
            "ON CONFLICT (agency_id, service_id) DO UPDATE SET "
            "department_id = EXCLUDED.department_id, "
            "need_domain = EXCLUDED.need_domain, capacity = EXCLUDED.capacity, active = true",
            service_id,
            agency_id,
            department_id,
            need_domain.value,
            capacity,
        )

    async def service_withdrawn(
        self, conn: asyncpg.Connection, agency_id: str, service_id: str
    ) -> None:
        """A service of an agency is no longer offered (another agency's same id is not)."""
        await conn.execute(
            "UPDATE network_services SET active = false WHERE agency_id = $1 AND service_id = $2",
            agency_id,
            service_id,
        )

    async def capacity_changed(
        self, conn: asyncpg.Connection, agency_id: str, service_id: str, capacity: int
    ) -> None:
        """A service's free places changed (none left: only a waiting list)."""
        await conn.execute(
            "UPDATE network_services SET capacity = $3 WHERE agency_id = $1 AND service_id = $2",
            agency_id,
            service_id,
            capacity,
        )

    async def staff_joined(
        self, conn: asyncpg.Connection, agency_id: str, staff_id: str, department_id: str | None
    ) -> None:
        """Remember a staff member's department."""
        await conn.execute(
            "INSERT INTO network_staff (agency_id, staff_id, department_id) VALUES ($1, $2, $3) "
            "ON CONFLICT (agency_id, staff_id) DO UPDATE SET department_id = "
            "EXCLUDED.department_id",
            agency_id,
            staff_id,
            department_id,
        )

    async def department_of(
        self, conn: asyncpg.Connection, agency_id: str, staff_id: str
    ) -> str | None:
        """The department a staff member works in, if the directory named one."""
        department: str | None = await conn.fetchval(
            "SELECT department_id FROM network_staff WHERE agency_id = $1 AND staff_id = $2",
            agency_id,
            staff_id,
        )
        return department

    async def snapshot(self, conn: asyncpg.Connection, today: date) -> NetworkSnapshot:
        """Every provider with its active services, and whether its agency has closed."""
        rows = await conn.fetch(
            "SELECT s.service_id, s.agency_id, s.department_id, s.need_domain, s.capacity, "
            "a.closed_on IS NOT NULL AND a.closed_on <= $1 AS closed "
            "FROM network_services s LEFT JOIN network_agencies a USING (agency_id) "
            "WHERE s.active ORDER BY s.agency_id, s.department_id NULLS FIRST, s.service_id",
            today,
        )
        grouped: dict[Provider, tuple[bool, list[OfferedService]]] = {}
        for row in rows:
            provider = Provider(agency_id=row["agency_id"], department_id=row["department_id"])
            services = grouped.setdefault(provider, (bool(row["closed"]), []))[1]
            services.append(
                OfferedService(
                    service_id=row["service_id"],
                    need_domain=NeedDomain(row["need_domain"]),
                    has_room=row["capacity"] > 0,
                )
            )
        return NetworkSnapshot(
            candidates=tuple(
                Candidate(provider=p, agency_closed=closed, services=tuple(services))
                for p, (closed, services) in grouped.items()
            )
        )
