"""Closure's read models: the cases it knows (open or ended), every case's referral with its
age (the board and each agency's inbox), and the fan-out queue of terminations that an
agency's closure or a manager's departure asks for.

The case and referral rows are written from the folded state in the transaction of the
events that changed it (the command path's `on_recorded`), so the board never shows what the
store does not hold. Unqualified SQL on the pool's search path (the service's schema).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg
from pydantic import BaseModel, ConfigDict

from services.closure.domain.events import TerminationReason
from services.closure.domain.state import CaseState
from shared.store import migrate_search_path

MIGRATION = """
CREATE TABLE IF NOT EXISTS closure_cases (
    case_id            text PRIMARY KEY,
    agency_id          text,
    client_id          text,
    manager_id         text,
    terminated_on      date,
    reason             text,
    termination_class  text
);
CREATE INDEX IF NOT EXISTS closure_cases_open_by_agency
    ON closure_cases (agency_id, manager_id) WHERE terminated_on IS NULL;

CREATE TABLE IF NOT EXISTS closure_referrals (
    referral_id           text    PRIMARY KEY,
    case_id               text    NOT NULL UNIQUE,
    agency_id             text,
    client_id             text,
    status                text    NOT NULL,
    attempt               integer NOT NULL,
    target_agency_id      text,
    target_department_id  text,
    due_on                date,
    since                 date    NOT NULL,
    cause                 text,
    escalated             boolean NOT NULL
);

CREATE TABLE IF NOT EXISTS closure_fanout (
    cause_id      uuid NOT NULL,
    case_id       text NOT NULL,
    reason        text NOT NULL,
    effective_on  date NOT NULL,
    manager_id    text,
    PRIMARY KEY (cause_id, case_id)
);
"""


class ReferralRow(BaseModel):
    """One referral as the board and the inbox show it."""

    model_config = ConfigDict(frozen=True)

    referral_id: str
    case_id: str
    agency_id: str | None
    status: str
    attempt: int
    target_agency_id: str | None
    target_department_id: str | None
    due_on: date | None
    since: date
    cause: str | None
    escalated: bool


@dataclass(frozen=True)
class FanoutItem:
    """One termination an agency's closure or a manager's departure asks for."""

    cause_id: uuid.UUID
    case_id: str
    reason: TerminationReason
    effective_on: date
    manager_id: str | None


class BoardReadModel:
    """Writes and reads the tables above."""

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the tables in the pool's schema (idempotent)."""
        await migrate_search_path(pool, MIGRATION)

    async def record(self, conn: asyncpg.Connection, case_id: str, state: CaseState) -> None:
        """Replace what the tables hold of one case with what its state says."""
        ended = state.terminated
        await conn.execute(
            "INSERT INTO closure_cases (case_id, agency_id, client_id, manager_id, "
            "terminated_on, reason, termination_class) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (case_id) DO UPDATE SET agency_id = EXCLUDED.agency_id, "
            "client_id = EXCLUDED.client_id, manager_id = EXCLUDED.manager_id, "
            "terminated_on = EXCLUDED.terminated_on, reason = EXCLUDED.reason, "
            "termination_class = EXCLUDED.termination_class",
            case_id,
            state.agency_id,
            state.client_id,
            state.manager_id,
            ended.terminated_on if ended else None,
            ended.reason.value if ended else None,
            ended.termination_class.value if ended else None,
        )
        referral = state.referral
        if referral is None:
            return
        target = referral.target
        await conn.execute(
            "INSERT INTO closure_referrals (referral_id, case_id, agency_id, client_id, status, "
            "attempt, target_agency_id, target_department_id, due_on, since, cause, escalated) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
            "ON CONFLICT (referral_id) DO UPDATE SET status = EXCLUDED.status, "
            "attempt = EXCLUDED.attempt, target_agency_id = EXCLUDED.target_agency_id, "
            "target_department_id = EXCLUDED.target_department_id, due_on = EXCLUDED.due_on, "
            "cause = EXCLUDED.cause, escalated = EXCLUDED.escalated",
            referral.referral_id,
            case_id,
            state.agency_id,
            state.client_id,
            referral.status.value,
            referral.attempt,
            target.agency_id if target else None,
            target.department_id if target else None,
            referral.due_on,
            referral.since,
            referral.cause.value if referral.cause else None,
            referral.escalated,
        )

    async def referral(self, pool: asyncpg.Pool, referral_id: str) -> ReferralRow | None:
        """One referral by its id."""
        row = await pool.fetchrow(
            "SELECT * FROM closure_referrals WHERE referral_id = $1", referral_id
        )
        return _referral_row(row) if row else None

    async def pending(self, pool: asyncpg.Pool, agency_id: str | None) -> list[ReferralRow]:
        """Referrals not yet issued (R9: visible with their age), of one agency or all."""
        rows = await pool.fetch(
            "SELECT * FROM closure_referrals WHERE status = 'pending' "
            "AND ($1::text IS NULL OR agency_id = $1) ORDER BY since, referral_id",
            agency_id,
        )
        return [_referral_row(r) for r in rows]

    async def inbox(self, pool: asyncpg.Pool, agency_id: str) -> list[ReferralRow]:
        """Referrals issued to an agency and awaiting its answer."""
        rows = await pool.fetch(
            "SELECT * FROM closure_referrals WHERE status = 'issued' AND target_agency_id = $1 "
            "ORDER BY due_on, referral_id",
            agency_id,
        )
        return [_referral_row(r) for r in rows]

    async def overdue_cases(self, pool: asyncpg.Pool, today: date, limit: int = 500) -> list[str]:
        """Cases whose issued referral is past its due date."""
        rows = await pool.fetch(
            "SELECT case_id FROM closure_referrals WHERE status = 'issued' AND due_on < $1 "
            "ORDER BY due_on, case_id LIMIT $2",
            today,
            limit,
        )
        return [r["case_id"] for r in rows]

    async def pending_cases(self, pool: asyncpg.Pool, limit: int = 500) -> list[str]:
        """Cases whose referral is pending (to issue, or to escalate)."""
        rows = await pool.fetch(
            "SELECT case_id FROM closure_referrals WHERE status = 'pending' "
            "ORDER BY since, case_id LIMIT $1",
            limit,
        )
        return [r["case_id"] for r in rows]

    async def enqueue_agency_closure(
        self, conn: asyncpg.Connection, cause_id: uuid.UUID, agency_id: str, on: date
    ) -> int:
        """Queue the termination of every open case of a closing agency, once per cause."""
        status = await conn.execute(
            "INSERT INTO closure_fanout (cause_id, case_id, reason, effective_on, manager_id) "
            "SELECT $1, case_id, $3, $4, manager_id FROM closure_cases "
            "WHERE agency_id = $2 AND terminated_on IS NULL ON CONFLICT DO NOTHING",
            cause_id,
            agency_id,
            TerminationReason.AGENCY_CLOSED.value,
            on,
        )
        return int(status.split()[-1])

    async def enqueue_case(
        self,
        conn: asyncpg.Connection,
        cause_id: uuid.UUID,
        case_id: str,
        reason: TerminationReason,
        on: date,
    ) -> None:
        """Queue one case's termination (a case learned after its agency closed)."""
        await conn.execute(
            "INSERT INTO closure_fanout (cause_id, case_id, reason, effective_on, manager_id) "
            "VALUES ($1, $2, $3, $4, NULL) ON CONFLICT DO NOTHING",
            cause_id,
            case_id,
            reason.value,
            on,
        )

    async def enqueue_departure(
        self,
        conn: asyncpg.Connection,
        cause_id: uuid.UUID,
        agency_id: str,
        staff_id: str,
        on: date,
    ) -> int:
        """Queue the termination of every open case a departing manager holds; each is checked
        again on the day (a case reassigned before it stays open)."""
        status = await conn.execute(
            "INSERT INTO closure_fanout (cause_id, case_id, reason, effective_on, manager_id) "
            "SELECT $1, case_id, $4, $5, manager_id FROM closure_cases "
            "WHERE agency_id = $2 AND manager_id = $3 AND terminated_on IS NULL "
            "ON CONFLICT DO NOTHING",
            cause_id,
            agency_id,
            staff_id,
            TerminationReason.MANAGER_LEFT.value,
            on,
        )
        return int(status.split()[-1])

    async def fanout_due(
        self, pool: asyncpg.Pool, today: date, limit: int = 200
    ) -> list[FanoutItem]:
        """Queued terminations whose day has come."""
        rows = await pool.fetch(
            "SELECT * FROM closure_fanout WHERE effective_on <= $1 "
            "ORDER BY effective_on, cause_id, case_id LIMIT $2",
            today,
            limit,
        )
        return [
            FanoutItem(
                cause_id=r["cause_id"],
                case_id=r["case_id"],
                reason=TerminationReason(r["reason"]),
                effective_on=r["effective_on"],
                manager_id=r["manager_id"],
            )
            for r in rows
        ]

    async def fanout_done(self, conn: asyncpg.Connection, item: FanoutItem) -> None:
        """Take a queued termination off the queue (in the transaction that settled it)."""
        await conn.execute(
            "DELETE FROM closure_fanout WHERE cause_id = $1 AND case_id = $2",
            item.cause_id,
            item.case_id,
        )


def _referral_row(row: asyncpg.Record) -> ReferralRow:
    return ReferralRow(**{k: row[k] for k in ReferralRow.model_fields})
