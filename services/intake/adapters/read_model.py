"""Intake's read models in its own schema: case summaries, and the roster of case managers.

- `case_summary` and `case_consent` are written in the same transaction as a case's events
  (from the state they fold to), so an assignment count or a client's consents can never
  disagree with the event store; `rebuild` recomputes them from the store for an auditor to
  compare. A client's cases and consents together are their footprint in the network, which
  says which agencies may learn of them and read them (R11).
- `staff_roster`, `agency_status` and `network_agency` are projected from
  `caseline.directory.v1` by an idempotent consumer: which agencies the network has, who
  works where, as what, with which caseload limit, and who left.

No personal data of clients here: cases name their client by pseudonymous id only.
Tables are unqualified: the service's pool has its own schema on the search path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from services.directory.contract import (
    AgencyClosed,
    AgencyRegistered,
    CaseloadLimitChanged,
    NetworkMemberEnrolled,
    NetworkMemberLeft,
    StaffDeparted,
    StaffJoined,
    record_principals,
)
from services.intake.domain.access import ClientFootprint
from services.intake.domain.caseload import StaffLoad
from services.intake.domain.events import ConsentPurpose
from services.intake.domain.model import CaseState, Consent, Stage, fold_case
from shared.codec import ReceivedEvent
from shared.store import EventStore, migrate_search_path

MIGRATION = """
CREATE TABLE IF NOT EXISTS case_summary (
    case_id            text        PRIMARY KEY,
    agency_id          text        NOT NULL,
    stage              text        NOT NULL,
    client_id          text,
    client_erased      boolean     NOT NULL DEFAULT false,
    crisis             boolean     NOT NULL DEFAULT false,
    assigned_staff_id  text,
    assignment_override boolean    NOT NULL DEFAULT false,
    stream_version     integer     NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS case_summary_by_client ON case_summary (client_id);
CREATE INDEX IF NOT EXISTS case_summary_by_manager
    ON case_summary (agency_id, assigned_staff_id) WHERE assigned_staff_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS staff_roster (
    agency_id       text    NOT NULL,
    staff_id        text    NOT NULL,
    role            text    NOT NULL,
    caseload_limit  integer NOT NULL CHECK (caseload_limit >= 0),
    department_id   text,
    joined_on       date    NOT NULL,
    departed_on     date,
    PRIMARY KEY (agency_id, staff_id)
);

CREATE TABLE IF NOT EXISTS agency_status (
    agency_id  text PRIMARY KEY,
    closed_on  date NOT NULL
);

-- Every consent recorded on a case, withdrawn ones included: which agencies may learn of
-- and read the case's client (R4, R11). Consents recorded before the table existed are read
-- once from the events (version 1 of ConsentRecorded and ConsentWithdrawn) when it is made.
DO $$
BEGIN
    IF to_regclass('case_consent') IS NULL THEN
        CREATE TABLE case_consent (
            case_id      text   NOT NULL,
            consent_id   text   NOT NULL,
            agencies     text[] NOT NULL,
            purposes     text[] NOT NULL,
            valid_from   date   NOT NULL,
            valid_until  date   NOT NULL,
            withdrawn_on date,
            PRIMARY KEY (case_id, consent_id)
        );
        INSERT INTO case_consent (case_id, consent_id, agencies, purposes, valid_from,
                                  valid_until, withdrawn_on)
        SELECT r.case_id, r.payload->>'consent_id',
               ARRAY(SELECT jsonb_array_elements_text(r.payload->'agencies')),
               ARRAY(SELECT jsonb_array_elements_text(r.payload->'purposes')),
               (r.payload->>'valid_from')::date, (r.payload->>'valid_until')::date,
               (SELECT min((w.payload->>'withdrawn_on')::date) FROM events w
                 WHERE w.case_id = r.case_id AND w.event_type = 'ConsentWithdrawn'
                   AND w.payload->>'consent_id' = r.payload->>'consent_id')
        FROM events r WHERE r.event_type = 'ConsentRecorded'
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- Cases closure terminated (R8, R12): they no longer count against their manager's caseload.
CREATE TABLE IF NOT EXISTS case_ending (
    case_id        text PRIMARY KEY,
    terminated_on  date NOT NULL
);

-- Every agency the directory registered: a consent names only these (R4).
CREATE TABLE IF NOT EXISTS network_agency (
    agency_id  text PRIMARY KEY
);
-- Agencies whose registration was read before this table existed are known by their staff
-- or their closure (an agency with neither is known once the roster is replayed).
INSERT INTO network_agency (agency_id)
    SELECT agency_id FROM staff_roster UNION SELECT agency_id FROM agency_status
    ON CONFLICT DO NOTHING;
"""

ROSTER_EVENTS = (
    AgencyRegistered,
    StaffJoined,
    CaseloadLimitChanged,
    StaffDeparted,
    AgencyClosed,
    NetworkMemberEnrolled,
    NetworkMemberLeft,
)
"""The directory events the roster consumer reads (the roster, and who may act: the kit's
principals projection); departments and services it passes over."""

# The stages in which a case counts against its case manager's caseload. Intake hands the
# case on at assignment; later services will end it (closure), and their events will then
# take it off the count.
OPEN_STAGES = (Stage.ASSIGNED.value,)


_LOAD_QUERY = """
SELECT r.agency_id, r.staff_id, r.role, r.caseload_limit, r.department_id, r.departed_on,
       a.closed_on AS agency_closed_on,
       (SELECT count(*) FROM case_summary c
         WHERE c.agency_id = r.agency_id AND c.assigned_staff_id = r.staff_id
           AND c.stage = ANY($1::text[])
           AND NOT EXISTS (SELECT 1 FROM case_ending e WHERE e.case_id = c.case_id))
       AS caseload
FROM staff_roster r LEFT JOIN agency_status a ON a.agency_id = r.agency_id
"""


def _load(row: asyncpg.Record) -> StaffLoad:
    return StaffLoad(
        agency_id=row["agency_id"],
        staff_id=row["staff_id"],
        role=row["role"],
        caseload_limit=row["caseload_limit"],
        department_id=row["department_id"],
        departed_on=row["departed_on"],
        agency_closed_on=row["agency_closed_on"],
        caseload=row["caseload"],
    )


class IntakeReadModel:
    """Queries and projections of intake's read-model tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the read-model tables (idempotent) in the pool's own schema."""
        await migrate_search_path(pool, MIGRATION)

    # --- cases --------------------------------------------------------------------------------

    @staticmethod
    async def save_case(
        conn: asyncpg.Connection, case_id: str, state: CaseState, stream_version: int
    ) -> None:
        """Write a case's summary from its folded state (in the transaction of its events)."""
        assert state.agency_id is not None
        assignment = state.assignment
        await conn.execute(
            "INSERT INTO case_summary (case_id, agency_id, stage, client_id, client_erased, "
            "crisis, assigned_staff_id, assignment_override, stream_version) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (case_id) DO UPDATE SET "
            "stage = EXCLUDED.stage, client_id = EXCLUDED.client_id, "
            "client_erased = EXCLUDED.client_erased, crisis = EXCLUDED.crisis, "
            "assigned_staff_id = EXCLUDED.assigned_staff_id, "
            "assignment_override = EXCLUDED.assignment_override, "
            "stream_version = EXCLUDED.stream_version, updated_at = now() "
            "WHERE case_summary.stream_version < EXCLUDED.stream_version",
            case_id,
            state.agency_id,
            state.stage.value,
            state.client_id,
            state.client_erased,
            state.crisis,
            assignment.staff_id if assignment else None,
            assignment.override if assignment else False,
            stream_version,
        )
        await conn.execute("DELETE FROM case_consent WHERE case_id = $1", case_id)
        if state.consents:
            await conn.executemany(
                "INSERT INTO case_consent (case_id, consent_id, agencies, purposes, valid_from, "
                "valid_until, withdrawn_on) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    (
                        case_id,
                        c.consent_id,
                        list(c.agencies),
                        [p.value for p in c.purposes],
                        c.valid_from,
                        c.valid_until,
                        c.withdrawn_on,
                    )
                    for c in state.consents
                ],
            )

    async def cases_of_client(
        self, client_id: str, conn: asyncpg.Connection | None = None
    ) -> list[tuple[str, str]]:
        """(case id, agency id) of every case whose client this is."""
        rows = await (conn or self.pool).fetch(
            "SELECT case_id, agency_id FROM case_summary WHERE client_id = $1 ORDER BY case_id",
            client_id,
        )
        return [(r["case_id"], r["agency_id"]) for r in rows]

    @staticmethod
    async def client_footprints(
        conn: asyncpg.Connection, client_ids: Sequence[str]
    ) -> list[ClientFootprint]:
        """Each client's cases (with their agencies) and consents, in the order asked for."""
        cases = await conn.fetch(
            "SELECT client_id, case_id, agency_id, client_erased FROM case_summary "
            "WHERE client_id = ANY($1::text[]) ORDER BY case_id",
            list(client_ids),
        )
        consents = await conn.fetch(
            "SELECT s.client_id, c.consent_id, c.agencies, c.purposes, c.valid_from, "
            "c.valid_until, c.withdrawn_on FROM case_consent c "
            "JOIN case_summary s ON s.case_id = c.case_id "
            "WHERE s.client_id = ANY($1::text[]) ORDER BY c.case_id, c.consent_id",
            list(client_ids),
        )
        footprints = []
        for client_id in client_ids:
            mine = [r for r in cases if r["client_id"] == client_id]
            footprints.append(
                ClientFootprint(
                    client_id=client_id,
                    cases=tuple((r["case_id"], r["agency_id"]) for r in mine),
                    consents=tuple(
                        Consent(
                            consent_id=r["consent_id"],
                            agencies=tuple(r["agencies"]),
                            purposes=tuple(ConsentPurpose(p) for p in r["purposes"]),
                            valid_from=r["valid_from"],
                            valid_until=r["valid_until"],
                            withdrawn_on=r["withdrawn_on"],
                        )
                        for r in consents
                        if r["client_id"] == client_id
                    ),
                    erased=any(r["client_erased"] for r in mine),
                )
            )
        return footprints

    async def client_footprint(self, conn: asyncpg.Connection, client_id: str) -> ClientFootprint:
        """One client's cases and consents (none for an id nobody holds)."""
        (footprint,) = await self.client_footprints(conn, [client_id])
        return footprint

    async def rebuild(self, store: EventStore) -> int:
        """Recompute every case summary from the event store; return how many cases."""
        # Every stream is read (through the pool) before the rebuild's own connection is
        # taken: reading through the pool while holding one would need a second connection.
        folded: list[tuple[str, CaseState, int]] = []
        for case_id in await store.case_ids():
            history = await store.read_stream(case_id)
            state = fold_case(history[0].metadata.agency_id, [e.payload for e in history])
            folded.append((case_id, state, len(history)))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM case_consent")
            await conn.execute("DELETE FROM case_summary")
            for case_id, state, version in folded:
                await self.save_case(conn, case_id, state, version)
        return len(folded)

    # --- roster and caseloads -----------------------------------------------------------------

    @staticmethod
    async def record_ending(conn: asyncpg.Connection, case_id: str, terminated_on: date) -> None:
        """Closure ended the case: its manager's caseload counts one fewer (R12)."""
        await conn.execute(
            "INSERT INTO case_ending (case_id, terminated_on) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            case_id,
            terminated_on,
        )

    async def staff_load(
        self, conn: asyncpg.Connection, staff_id: str, prefer_agency: str
    ) -> StaffLoad | None:
        """A staff member's roster entry and caseload; their entry at `prefer_agency` first."""
        row = await conn.fetchrow(
            f"{_LOAD_QUERY} WHERE r.staff_id = $2 "
            "ORDER BY (r.agency_id = $3) DESC, r.agency_id LIMIT 1",
            list(OPEN_STAGES),
            staff_id,
            prefer_agency,
        )
        return _load(row) if row else None

    @staticmethod
    async def agency_loads(conn: asyncpg.Connection, agency_id: str) -> list[StaffLoad]:
        """Every staff member of an agency with their caseload against their limit."""
        rows = await conn.fetch(
            f"{_LOAD_QUERY} WHERE r.agency_id = $2 ORDER BY r.staff_id",
            list(OPEN_STAGES),
            agency_id,
        )
        return [_load(r) for r in rows]

    @staticmethod
    async def agencies_in_directory(
        conn: asyncpg.Connection, agency_ids: Sequence[str]
    ) -> list[str]:
        """Those of `agency_ids` the directory has registered (closed ones included)."""
        rows = await conn.fetch(
            "SELECT agency_id FROM network_agency WHERE agency_id = ANY($1::text[])",
            list(agency_ids),
        )
        return [r["agency_id"] for r in rows]

    @staticmethod
    async def lock_staff(conn: asyncpg.Connection, staff_id: str) -> None:
        """Serialise assignments to one staff member until the transaction ends (R12)."""
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"intake-staff:{staff_id}"
        )

    @staticmethod
    async def apply_directory_event(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Project one directory event onto the roster and the principals (in the consumer's
        transaction)."""
        await record_principals(conn, event)
        agency_id = event.envelope.metadata.case_id  # a directory stream is one agency
        match event.envelope.payload:
            case AgencyRegistered():
                await conn.execute(
                    "INSERT INTO network_agency (agency_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    agency_id,
                )
            case StaffJoined() as joined:
                await conn.execute(
                    "INSERT INTO staff_roster (agency_id, staff_id, role, caseload_limit, "
                    "department_id, joined_on) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (agency_id, staff_id) DO UPDATE SET role = EXCLUDED.role, "
                    "caseload_limit = EXCLUDED.caseload_limit, "
                    "department_id = EXCLUDED.department_id, joined_on = EXCLUDED.joined_on, "
                    "departed_on = NULL",
                    agency_id,
                    joined.staff_id,
                    joined.role,
                    joined.caseload_limit,
                    joined.department_id,
                    joined.joined_on,
                )
            case CaseloadLimitChanged() as changed:
                await conn.execute(
                    "UPDATE staff_roster SET caseload_limit = $3 "
                    "WHERE agency_id = $1 AND staff_id = $2",
                    agency_id,
                    changed.staff_id,
                    changed.caseload_limit,
                )
            case StaffDeparted() as departed:
                await conn.execute(
                    "UPDATE staff_roster SET departed_on = $3 "
                    "WHERE agency_id = $1 AND staff_id = $2",
                    agency_id,
                    departed.staff_id,
                    departed.departed_on,
                )
            case AgencyClosed() as closed:
                await conn.execute(
                    "INSERT INTO agency_status (agency_id, closed_on) VALUES ($1, $2) "
                    "ON CONFLICT (agency_id) DO NOTHING",
                    agency_id,
                    closed.closed_on,
                )
            case _:
                pass  # network members are principals only, not on the roster
