"""The plan versions careplan drafted, kept until the client agrees to one.

Monitoring watches only a version in force; careplan's agreement names the version but not
its goals and items, which came with the draft. The drafts are ids, dates and codes only
(the goals' wording stays in careplan's vault). Unqualified SQL on the service's schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import asyncpg

from shared.store import migrate_schema
from shared.vocabulary import NeedDomain

MIGRATION = """
CREATE TABLE IF NOT EXISTS plan_drafts (
    case_id       text    NOT NULL,
    plan_version  integer NOT NULL,
    goal_ids      jsonb   NOT NULL,
    items         jsonb   NOT NULL,
    PRIMARY KEY (case_id, plan_version)
);
"""


@dataclass(frozen=True)
class DraftItem:
    """An item of a drafted version as monitoring needs it."""

    item_id: str
    need_domain: NeedDomain
    goal_id: str
    own_agency: bool
    ends_on: date


@dataclass(frozen=True)
class Draft:
    """A drafted plan version: its goals and items."""

    plan_version: int
    goal_ids: tuple[str, ...]
    items: tuple[DraftItem, ...]


class PlanDrafts:
    """Reads and writes `plan_drafts`, on the consumer's connection."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def migrate(self, pool: asyncpg.Pool) -> None:
        """Create the table (idempotent)."""
        await migrate_schema(pool, self.schema, MIGRATION)

    async def keep(self, conn: asyncpg.Connection, case_id: str, draft: Draft) -> None:
        """Keep a drafted version (a redelivered draft changes nothing)."""
        items = [
            {
                "item_id": i.item_id,
                "need_domain": i.need_domain.value,
                "goal_id": i.goal_id,
                "own_agency": i.own_agency,
                "ends_on": i.ends_on.isoformat(),
            }
            for i in draft.items
        ]
        await conn.execute(
            "INSERT INTO plan_drafts (case_id, plan_version, goal_ids, items) "
            "VALUES ($1, $2, $3::jsonb, $4::jsonb) ON CONFLICT DO NOTHING",
            case_id,
            draft.plan_version,
            json.dumps(list(draft.goal_ids)),
            json.dumps(items),
        )

    async def find(self, conn: asyncpg.Connection, case_id: str, plan_version: int) -> Draft | None:
        """The drafted version, or None when its draft never arrived."""
        row = await conn.fetchrow(
            "SELECT goal_ids::text, items::text FROM plan_drafts "
            "WHERE case_id = $1 AND plan_version = $2",
            case_id,
            plan_version,
        )
        if row is None:
            return None
        items = tuple(
            DraftItem(
                item_id=i["item_id"],
                need_domain=NeedDomain(i["need_domain"]),
                goal_id=i["goal_id"],
                own_agency=i["own_agency"],
                ends_on=date.fromisoformat(i["ends_on"]),
            )
            for i in json.loads(row["items"])
        )
        return Draft(plan_version, tuple(json.loads(row["goal_ids"])), items)
