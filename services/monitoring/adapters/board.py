"""Monitoring's read model: each case's watch list, the supervisors' board, and the cases the
overdue scheduler must look at.

Written from the folded state in the transaction of the events that changed it (the command
path's `on_recorded`), so the board never shows what the store does not hold. A case closure
ended (R8) keeps its row, marked, and leaves the board and the scheduler's list. Unqualified
SQL on the pool's search path (the service's schema).
"""

from __future__ import annotations

from datetime import date

import asyncpg
from pydantic import BaseModel, ConfigDict

from services.monitoring.domain.state import UNRECEIVED, MonitoringState
from shared.store import migrate_schema

MIGRATION = """
CREATE TABLE IF NOT EXISTS monitored_cases (
    case_id                text    PRIMARY KEY,
    agency_id              text,
    manager_id             text,
    plan_version           integer,
    next_review_on         date,
    review_overdue         boolean NOT NULL DEFAULT false,
    revision_pending       boolean NOT NULL DEFAULT false,
    termination_permitted  boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS monitored_cases_by_agency ON monitored_cases (agency_id);

CREATE TABLE IF NOT EXISTS monitored_forms (
    case_id      text    NOT NULL,
    form_id      text    NOT NULL,
    sent_on      date    NOT NULL,
    due_on       date    NOT NULL,
    returned_on  date,
    negative     boolean NOT NULL,
    overdue      boolean NOT NULL,
    followed_up  boolean NOT NULL,
    PRIMARY KEY (case_id, form_id)
);

CREATE TABLE IF NOT EXISTS monitored_items (
    case_id       text    NOT NULL,
    item_id       text    NOT NULL,
    plan_version  integer NOT NULL,
    ends_on       date,
    progress      text    NOT NULL,
    delayed       boolean NOT NULL,
    PRIMARY KEY (case_id, item_id)
);

-- R8: when closure ended the case; added after the first tables.
ALTER TABLE monitored_cases ADD COLUMN IF NOT EXISTS terminated_on date;
"""

_UNRECEIVED = sorted(p.value for p in UNRECEIVED)


class BoardEntry(BaseModel):
    """One line of the board: a case, what needs attention, and since when."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    manager_id: str | None
    subject: str
    """`review`, a form id or an item id."""
    due_on: date | None


class Board(BaseModel):
    """What a supervisor sees for their agency (R6d, R12: overdue and delays visible)."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    reviews_overdue: list[BoardEntry]
    forms_overdue: list[BoardEntry]
    negative_forms_without_follow_up: list[BoardEntry]
    delayed_items: list[BoardEntry]
    revisions_pending: list[BoardEntry]


class BoardReadModel:
    """Writes and reads the tables above."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def migrate(self, pool: asyncpg.Pool) -> None:
        """Create the tables (idempotent)."""
        await migrate_schema(pool, self.schema, MIGRATION)

    async def record(self, conn: asyncpg.Connection, case_id: str, state: MonitoringState) -> None:
        """Replace what the tables hold of one case with what its state says."""
        plan = state.plan
        await conn.execute(
            "INSERT INTO monitored_cases (case_id, agency_id, manager_id, plan_version, "
            "next_review_on, review_overdue, revision_pending, termination_permitted, "
            "terminated_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (case_id) DO UPDATE SET "
            "agency_id = EXCLUDED.agency_id, manager_id = EXCLUDED.manager_id, "
            "plan_version = EXCLUDED.plan_version, next_review_on = EXCLUDED.next_review_on, "
            "review_overdue = EXCLUDED.review_overdue, "
            "revision_pending = EXCLUDED.revision_pending, "
            "termination_permitted = EXCLUDED.termination_permitted, "
            "terminated_on = EXCLUDED.terminated_on",
            case_id,
            state.agency_id,
            state.manager_id,
            plan.version if plan else None,
            plan.next_review_on if plan else None,
            plan is not None and plan.next_review_on in plan.overdue_reviews,
            state.revision_pending_for is not None,
            state.planned_termination_permitted,
            state.terminated_on,
        )
        await conn.execute("DELETE FROM monitored_forms WHERE case_id = $1", case_id)
        await conn.execute("DELETE FROM monitored_items WHERE case_id = $1", case_id)
        if state.terminated_on is not None:
            return  # an ended case's forms and items wait on no one (R8)
        await conn.executemany(
            "INSERT INTO monitored_forms (case_id, form_id, sent_on, due_on, returned_on, "
            "negative, overdue, followed_up) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (
                    case_id,
                    f.form_id,
                    f.sent_on,
                    f.due_on,
                    f.returned_on,
                    f.negative,
                    f.overdue,
                    f.followed_up,
                )
                for f in state.forms.values()
            ],
        )
        if plan is not None:
            await conn.executemany(
                "INSERT INTO monitored_items (case_id, item_id, plan_version, ends_on, "
                "progress, delayed) VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (
                        case_id,
                        item_id,
                        plan.version,
                        item.ends_on,
                        item.progress.value,
                        item_id in plan.delayed_items,
                    )
                    for item_id, item in plan.items.items()
                ],
            )

    async def due_cases(self, pool: asyncpg.Pool, today: date, limit: int = 500) -> list[str]:
        """Cases where something fell due before `today` and is not yet said to be overdue."""
        rows = await pool.fetch(
            "SELECT case_id FROM monitored_cases "
            "WHERE next_review_on < $1 AND NOT review_overdue AND terminated_on IS NULL "
            "UNION SELECT case_id FROM monitored_forms "
            "WHERE returned_on IS NULL AND due_on < $1 AND NOT overdue "
            "UNION SELECT case_id FROM monitored_items "
            "WHERE ends_on < $1 AND progress = ANY($2::text[]) AND NOT delayed "
            "ORDER BY case_id LIMIT $3",
            today,
            _UNRECEIVED,
            limit,
        )
        return [r["case_id"] for r in rows]

    async def board(self, pool: asyncpg.Pool, agency_id: str) -> Board:
        """The board of one agency."""
        async with pool.acquire() as conn:
            reviews = await conn.fetch(
                "SELECT case_id, manager_id, 'review' AS subject, next_review_on AS due_on "
                "FROM monitored_cases WHERE agency_id = $1 AND review_overdue "
                "AND terminated_on IS NULL ORDER BY case_id",
                agency_id,
            )
            pending = await conn.fetch(
                "SELECT case_id, manager_id, 'revision' AS subject, NULL::date AS due_on "
                "FROM monitored_cases WHERE agency_id = $1 AND revision_pending "
                "AND terminated_on IS NULL ORDER BY case_id",
                agency_id,
            )
            forms = await conn.fetch(
                "SELECT f.case_id, c.manager_id, f.form_id AS subject, f.due_on, "
                "f.returned_on, f.negative, f.overdue, f.followed_up "
                "FROM monitored_forms f JOIN monitored_cases c USING (case_id) "
                "WHERE c.agency_id = $1 ORDER BY f.case_id, f.form_id",
                agency_id,
            )
            items = await conn.fetch(
                "SELECT i.case_id, c.manager_id, i.item_id AS subject, i.ends_on AS due_on "
                "FROM monitored_items i JOIN monitored_cases c USING (case_id) "
                "WHERE c.agency_id = $1 AND i.delayed AND i.progress = ANY($2::text[]) "
                "ORDER BY i.case_id, i.item_id",
                agency_id,
                _UNRECEIVED,
            )

        def entries(rows: list[asyncpg.Record]) -> list[BoardEntry]:
            return [
                BoardEntry(
                    case_id=r["case_id"],
                    manager_id=r["manager_id"],
                    subject=r["subject"],
                    due_on=r["due_on"],
                )
                for r in rows
            ]

        return Board(
            agency_id=agency_id,
            reviews_overdue=entries(reviews),
            forms_overdue=entries([r for r in forms if r["overdue"] and r["returned_on"] is None]),
            negative_forms_without_follow_up=entries(
                [r for r in forms if r["returned_on"] and r["negative"] and not r["followed_up"]]
            ),
            delayed_items=entries(items),
            revisions_pending=entries(pending),
        )
