"""Careplan's read models: the supervisor's board of an agency and a partner agency's inbox.

Written in the command's own transaction (`on_recorded`) from the plan as it stands after
the command, so a board never shows what was not recorded and a refused command changes
nothing. The crisis flag comes from intake's facts; the rest from careplan's own events. A
case closure ended (R8) waits on no one: the board leaves it out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict

from services.careplan.domain.model import CarePlan
from shared.application import CommandResult
from shared.store import migrate_search_path

MIGRATION = """
CREATE TABLE IF NOT EXISTS plan_cases (
    case_id               text    PRIMARY KEY,
    agency_id             text    NOT NULL,
    in_force              integer,
    pending               integer,
    crisis_interventions  integer NOT NULL DEFAULT 0,
    returned_to_planning  boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS plan_items (
    case_id      text    NOT NULL,
    item_id      text    NOT NULL,
    agency_id    text    NOT NULL,
    need_domain  text    NOT NULL,
    delivery     text    NOT NULL,
    status       text    NOT NULL,
    end_on       date    NOT NULL,
    delivered    boolean NOT NULL,
    PRIMARY KEY (case_id, item_id)
);

CREATE TABLE IF NOT EXISTS plan_advocacies (
    case_id       text    NOT NULL,
    advocacy_id   text    NOT NULL,
    agency_id     text    NOT NULL,
    item_id       text    NOT NULL,
    last_step     integer NOT NULL,
    open          boolean NOT NULL,
    PRIMARY KEY (case_id, advocacy_id)
);

CREATE TABLE IF NOT EXISTS partner_links (
    link_id        text    PRIMARY KEY,
    case_id        text    NOT NULL,
    item_id        text    NOT NULL,
    partner_id     text,
    need_domain    text    NOT NULL,
    service_id     text,
    department_id  text,
    status         text    NOT NULL,
    linked_on      date    NOT NULL
);
CREATE INDEX IF NOT EXISTS partner_links_by_partner ON partner_links (partner_id);
"""


async def migrate(pool: asyncpg.Pool) -> None:
    """Create the read models' tables in the pool's schema (idempotent)."""
    await migrate_search_path(pool, MIGRATION)


async def record(conn: asyncpg.Connection, agency_id: str, result: CommandResult[CarePlan]) -> None:
    """Bring the case's rows up to the plan after a command, in its transaction."""
    plan, case_id = result.state, result.stream_id
    await conn.execute(
        "INSERT INTO plan_cases (case_id, agency_id, in_force, pending, crisis_interventions, "
        "returned_to_planning) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id) DO UPDATE "
        "SET in_force = EXCLUDED.in_force, pending = EXCLUDED.pending, "
        "crisis_interventions = EXCLUDED.crisis_interventions, "
        "returned_to_planning = EXCLUDED.returned_to_planning",
        case_id,
        agency_id,
        plan.in_force,
        plan.pending,
        len(plan.crisis_interventions),
        plan.returned_to_planning,
    )
    await conn.execute("DELETE FROM plan_items WHERE case_id = $1", case_id)
    await conn.executemany(
        "INSERT INTO plan_items (case_id, item_id, agency_id, need_domain, delivery, status, "
        "end_on, delivered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                case_id,
                item_id,
                agency_id,
                str(found.item.need_domain),
                str(found.item.delivery),
                str(found.status),
                found.item.end_on,
                found.delivered,
            )
            for item_id, found in plan.items.items()
        ],
    )
    await conn.executemany(
        "INSERT INTO plan_advocacies (case_id, advocacy_id, agency_id, item_id, last_step, open) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id, advocacy_id) DO UPDATE SET "
        "last_step = EXCLUDED.last_step, open = EXCLUDED.open",
        [
            (case_id, advocacy_id, agency_id, a.item_id, a.last_step, a.open)
            for advocacy_id, a in plan.advocacies.items()
        ],
    )
    for event in result.recorded:
        payload = event.payload
        if payload.event_type() == "ItemLinked":
            await conn.execute(
                "INSERT INTO partner_links (link_id, case_id, item_id, partner_id, need_domain, "
                "service_id, department_id, status, linked_on) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (link_id) DO NOTHING",
                payload.link_id,
                case_id,
                payload.item_id,
                payload.agency_id,
                str(payload.need_domain),
                payload.service_id,
                payload.department_id,
                "waitlisted" if payload.waitlisted else "linked",
                payload.linked_on,
            )
    for link_id, link in plan.links.items():
        await conn.execute(
            "UPDATE partner_links SET status = $2 WHERE link_id = $1 AND status <> $2",
            link_id,
            str(link.status),
        )


class LinkEntry(BaseModel):
    """A link as its partner agency sees it: ids and codes of the link, nothing else of the case."""

    model_config = ConfigDict(frozen=True)

    link_id: str
    case_id: str
    item_id: str
    need_domain: str
    service_id: str | None
    department_id: str | None
    status: str
    linked_on: date


class Board(BaseModel):
    """An agency's supervisor board (R1, R4, R6, R12): what waits on someone."""

    model_config = ConfigDict(frozen=True)

    agency_id: str
    crisis_without_intervention: list[str]
    plans_awaiting_agreement: list[dict[str, Any]]
    items_not_received: list[dict[str, Any]]
    advocacy_in_progress: list[dict[str, Any]]
    returned_to_planning: list[str]


async def link_of(conn: asyncpg.Connection | asyncpg.Pool, link_id: str) -> dict[str, Any] | None:
    """One link's row (its case and partner), or None."""
    row = await conn.fetchrow("SELECT * FROM partner_links WHERE link_id = $1", link_id)
    return None if row is None else dict(row)


async def inbox(conn: asyncpg.Connection | asyncpg.Pool, partner_id: str) -> list[LinkEntry]:
    """The links addressed to a partner agency, newest first."""
    rows = await conn.fetch(
        "SELECT link_id, case_id, item_id, need_domain, service_id, department_id, status, "
        "linked_on FROM partner_links WHERE partner_id = $1 ORDER BY linked_on DESC, link_id",
        partner_id,
    )
    return [LinkEntry(**dict(r)) for r in rows]


def _not_ended(table: str) -> str:
    """A row of `table` whose case has not ended (R8): a terminated case waits on no one."""
    return (
        f"NOT EXISTS (SELECT 1 FROM case_facts ended WHERE ended.case_id = {table}.case_id "
        "AND ended.terminated_on IS NOT NULL)"
    )


async def board(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, today: date) -> Board:
    """The supervisor's board of one agency on `today`."""
    crisis = await conn.fetch(
        "SELECT f.case_id FROM case_facts f LEFT JOIN plan_cases p ON p.case_id = f.case_id "
        "WHERE f.agency_id = $1 AND f.crisis AND f.assigned AND f.terminated_on IS NULL "
        "AND COALESCE(p.crisis_interventions, 0) = 0 ORDER BY f.case_id",
        agency_id,
    )
    pending = await conn.fetch(
        "SELECT case_id, pending, in_force FROM plan_cases WHERE agency_id = $1 "
        f"AND pending IS NOT NULL AND {_not_ended('plan_cases')} ORDER BY case_id",
        agency_id,
    )
    not_received = await conn.fetch(
        "SELECT case_id, item_id, need_domain, status, end_on FROM plan_items "
        "WHERE agency_id = $1 AND (status IN ('link_declined', 'not_delivered') OR "
        "(end_on < $2 AND NOT delivered AND status <> 'client_declined')) "
        f"AND {_not_ended('plan_items')} ORDER BY case_id, item_id",
        agency_id,
        today,
    )
    advocacy = await conn.fetch(
        "SELECT case_id, advocacy_id, item_id, last_step FROM plan_advocacies "
        f"WHERE agency_id = $1 AND open AND {_not_ended('plan_advocacies')} "
        "ORDER BY case_id, advocacy_id",
        agency_id,
    )
    returned = await conn.fetch(
        "SELECT case_id FROM plan_cases WHERE agency_id = $1 AND returned_to_planning "
        f"AND {_not_ended('plan_cases')} ORDER BY case_id",
        agency_id,
    )
    return Board(
        agency_id=agency_id,
        crisis_without_intervention=[r["case_id"] for r in crisis],
        plans_awaiting_agreement=[dict(r) for r in pending],
        items_not_received=[{**dict(r), "end_on": r["end_on"].isoformat()} for r in not_received],
        advocacy_in_progress=[dict(r) for r in advocacy],
        returned_to_planning=[r["case_id"] for r in returned],
    )
