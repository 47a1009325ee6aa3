"""Projections' read models across agencies: whose client a case is (pseudonymously), the
links and referrals one agency addressed to another, and the directory's caseload limits.

Fed by the same consumers as the journeys (`ProjectionsReadModel.apply` hands each case
event here too) and by one consumer of the directory's topic for the limits. Every write is
keyed and depends only on the events of one stream (a case's links, a case's referral, a
member's limit), so the rows do not depend on the order the topics arrive in, which
`caseline replay` checks. Ids and codes only: a client is the pseudonymous `client_id` intake
gives, never a name.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.careplan.contract import (
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    ServiceDelivered,
    ServiceNotDelivered,
)
from services.closure.contract import (
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralIssued,
    ReferralOverdue,
)
from services.directory.contract import CaseloadLimitChanged, StaffDeparted, StaffJoined
from services.intake.contract import ClientRegistered
from shared.codec import ReceivedEvent

MIGRATION = """
CREATE TABLE IF NOT EXISTS case_clients (
    case_id    text PRIMARY KEY,
    client_id  text NOT NULL,
    agency_id  text NOT NULL
);
CREATE INDEX IF NOT EXISTS case_clients_by_client ON case_clients (client_id);
CREATE TABLE IF NOT EXISTS referral_attempts (
    referral_id  text    NOT NULL,
    attempt      integer NOT NULL,
    case_id      text    NOT NULL,
    from_agency  text    NOT NULL,
    to_agency    text    NOT NULL,
    state        text    NOT NULL,
    issued_on    date    NOT NULL,
    due_on       date    NOT NULL,
    PRIMARY KEY (referral_id, attempt)
);
CREATE INDEX IF NOT EXISTS referral_attempts_to ON referral_attempts (to_agency);
CREATE TABLE IF NOT EXISTS links_out (
    case_id      text    NOT NULL,
    link_id      text    NOT NULL,
    item_id      text    NOT NULL,
    from_agency  text    NOT NULL,
    to_agency    text    NOT NULL,
    need_domain  text    NOT NULL,
    service_id   text,
    waitlisted   boolean NOT NULL,
    state        text    NOT NULL,
    PRIMARY KEY (case_id, link_id)
);
CREATE INDEX IF NOT EXISTS links_out_to ON links_out (to_agency);
CREATE TABLE IF NOT EXISTS staff_limits (
    agency_id       text    NOT NULL,
    staff_id        text    NOT NULL,
    role            text    NOT NULL,
    caseload_limit  integer NOT NULL,
    departed_on     date,
    PRIMARY KEY (agency_id, staff_id)
);
"""

LINK_STATE = {
    LinkAccepted: "accepted",
    LinkDeclined: "declined",
    ServiceDelivered: "delivered",
    ServiceNotDelivered: "not_delivered",
}
"""What a partner's answer or the delivery makes of a link."""


async def apply_case_event(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """The cross-agency facts of one case event (intake, careplan, closure), on `conn`."""
    meta = event.envelope.metadata
    case_id, agency_id = meta.case_id, meta.agency_id
    match event.envelope.payload:
        case ClientRegistered() as registered:
            await conn.execute(
                "INSERT INTO case_clients VALUES ($1, $2, $3) ON CONFLICT (case_id) "
                "DO UPDATE SET client_id = EXCLUDED.client_id",
                case_id,
                registered.client_id,
                agency_id,
            )
        case ItemLinked() as linked if linked.agency_id and linked.agency_id != agency_id:
            await conn.execute(
                "INSERT INTO links_out VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
                "ON CONFLICT (case_id, link_id) DO NOTHING",
                case_id,
                linked.link_id,
                linked.item_id,
                agency_id,
                linked.agency_id,
                linked.need_domain.value,
                linked.service_id,
                linked.waitlisted,
                "waitlisted" if linked.waitlisted else "linked",
            )
        case LinkAccepted() | LinkDeclined() | ServiceDelivered() | ServiceNotDelivered() as answer:
            await conn.execute(
                "UPDATE links_out SET state = $3 WHERE case_id = $1 AND link_id = $2",
                case_id,
                answer.link_id,
                LINK_STATE[type(answer)],
            )
        case ReferralIssued() as issued:
            await conn.execute(
                "INSERT INTO referral_attempts VALUES ($1, $2, $3, $4, $5, 'issued', $6, $7) "
                "ON CONFLICT (referral_id, attempt) DO NOTHING",
                issued.referral_id,
                issued.attempt,
                case_id,
                agency_id,
                issued.target.agency_id,
                issued.issued_on,
                issued.due_on,
            )
        case (
            ReferralAccepted()
            | ReferralCompleted()
            | ReferralDeclined()
            | ReferralOverdue() as moved
        ):
            state = {
                ReferralAccepted: "accepted",
                ReferralCompleted: "completed",
                ReferralDeclined: "declined",
                ReferralOverdue: "overdue",
            }[type(moved)]
            await _answer_latest(conn, moved.referral_id, state, moved.target.agency_id)
        case ReferralDeclinedByClient() as refused:
            await _answer_latest(conn, refused.referral_id, "declined_by_client")


async def _answer_latest(
    conn: asyncpg.Connection, referral_id: str, state: str, to_agency: str | None = None
) -> None:
    """Set the state of the referral's latest attempt (to that agency, when named)."""
    await conn.execute(
        "UPDATE referral_attempts SET state = $2 WHERE referral_id = $1 AND attempt = "
        "(SELECT max(attempt) FROM referral_attempts WHERE referral_id = $1 "
        "AND ($3::text IS NULL OR to_agency = $3))",
        referral_id,
        state,
        to_agency,
    )


async def apply_directory_event(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """A member's caseload limit (R12) and departure, from the directory's topic."""
    agency_id = event.envelope.metadata.case_id  # a directory stream is one agency
    match event.envelope.payload:
        case StaffJoined() as joined:
            await conn.execute(
                "INSERT INTO staff_limits VALUES ($1, $2, $3, $4, NULL) "
                "ON CONFLICT (agency_id, staff_id) DO UPDATE SET role = EXCLUDED.role, "
                "caseload_limit = EXCLUDED.caseload_limit, departed_on = NULL",
                agency_id,
                joined.staff_id,
                str(joined.role),
                joined.caseload_limit,
            )
        case CaseloadLimitChanged() as changed:
            await conn.execute(
                "UPDATE staff_limits SET caseload_limit = $3 "
                "WHERE agency_id = $1 AND staff_id = $2",
                agency_id,
                changed.staff_id,
                changed.caseload_limit,
            )
        case StaffDeparted() as departed:
            await conn.execute(
                "UPDATE staff_limits SET departed_on = $3 WHERE agency_id = $1 AND staff_id = $2",
                agency_id,
                departed.staff_id,
                departed.departed_on,
            )


LIMIT_EVENTS = (StaffJoined, CaseloadLimitChanged, StaffDeparted)
"""The directory events the caseload-limit consumer reads."""


class NetworkQueries:
    """The questions asked of these tables: a client's path, flows, an agency's inbox."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def client_cases(self, client_id: str) -> list[dict[str, Any]]:
        """The client's cases in the order they were first seen, with their journeys."""
        rows = await self.pool.fetch(
            "SELECT j.case_id, j.agency_id, j.stage, j.termination_class, j.referral_state, "
            "j.referral_target, j.referred_from_case, j.referred_to_case, "
            "(SELECT min(occurred_at) FROM events_seen e WHERE e.case_id = j.case_id) AS opened "
            "FROM case_clients c JOIN journeys j USING (case_id) WHERE c.client_id = $1 "
            "ORDER BY opened NULLS LAST, j.case_id",
            client_id,
        )
        return [dict(r) for r in rows]

    async def flows(self, agency_id: str | None = None) -> list[dict[str, Any]]:
        """Referral attempts counted by the agency that sent them, the one addressed, and
        their state; only those an agency sent or received when one is named."""
        rows = await self.pool.fetch(
            "SELECT from_agency, to_agency, state, count(*) AS referrals FROM referral_attempts "
            "WHERE $1::text IS NULL OR from_agency = $1 OR to_agency = $1 "
            "GROUP BY from_agency, to_agency, state ORDER BY from_agency, to_agency, state",
            agency_id,
        )
        return [dict(r) for r in rows]

    async def addressed(self, agency_id: str) -> dict[str, list[dict[str, Any]]]:
        """What other agencies addressed to this one: links to its services and referrals of
        clients to it, with their states; never the referring case's id or journey."""
        links = await self.pool.fetch(
            "SELECT link_id, from_agency, need_domain, service_id, waitlisted, state "
            "FROM links_out WHERE to_agency = $1 ORDER BY link_id",
            agency_id,
        )
        referrals = await self.pool.fetch(
            "SELECT referral_id, attempt, from_agency, state, issued_on, due_on "
            "FROM referral_attempts WHERE to_agency = $1 ORDER BY issued_on, referral_id",
            agency_id,
        )
        return {"links": [dict(r) for r in links], "referrals": [dict(r) for r in referrals]}

    async def caseloads(self, agency_id: str) -> list[dict[str, Any]]:
        """The agency's present case managers: open cases against their limit (R12)."""
        rows = await self.pool.fetch(
            "SELECT s.staff_id, s.caseload_limit, count(j.case_id) AS open_cases "
            "FROM staff_limits s LEFT JOIN journeys j ON j.agency_id = s.agency_id "
            "AND j.manager_id = s.staff_id AND j.stage NOT IN ('screened_out', 'terminated') "
            "WHERE s.agency_id = $1 AND s.role = 'case_manager' AND s.departed_on IS NULL "
            "GROUP BY s.staff_id, s.caseload_limit ORDER BY s.staff_id",
            agency_id,
        )
        return [{**dict(r), "overloaded": r["open_cases"] > r["caseload_limit"]} for r in rows]

    async def overloaded_managers(self) -> int:
        """Present case managers of the network carrying more open cases than their limit."""
        value = await self.pool.fetchval(
            "SELECT count(*) FROM (SELECT s.staff_id FROM staff_limits s JOIN journeys j "
            "ON j.agency_id = s.agency_id AND j.manager_id = s.staff_id "
            "AND j.stage NOT IN ('screened_out', 'terminated') "
            "WHERE s.role = 'case_manager' AND s.departed_on IS NULL "
            "GROUP BY s.agency_id, s.staff_id, s.caseload_limit "
            "HAVING count(*) > s.caseload_limit) over"
        )
        return int(value or 0)
