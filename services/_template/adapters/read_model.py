"""The template's read model: one row per item, built only from its own published events.

COPY-AND-RENAME: the read model is fed the way any other service would feed it, by an
idempotent consumer of the topic (`bootstrap.py` declares it, with the event types it
`reads`): the kit runs `apply` in the consumer's transaction, with the dedup record and
the consumer's position, so each event's effect is written exactly once. It is eventually
consistent: a route reading it right after a command may not see the command yet.

Tables are unqualified: the pool's search path is the service's own schema, so the same
SQL serves `template` in production and a schema of its own in each test run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from pydantic import BaseModel, ConfigDict

from services._template.contract import ItemClosed, ItemOpened, Outcome
from shared.codec import ReceivedEvent
from shared.store import migrate_search_path

# Idempotent DDL: it runs at every start, so only CREATE ... IF NOT EXISTS and additive
# ALTERs. Ids and codes only; no personal data in a read model either.
MIGRATION = """
CREATE TABLE IF NOT EXISTS items (
    item_id    text        PRIMARY KEY,
    agency_id  text        NOT NULL,
    kind       text        NOT NULL,
    stage      text        NOT NULL CHECK (stage IN ('open', 'closed')),
    outcome    text,
    opened_at  timestamptz NOT NULL,
    closed_at  timestamptz
);
"""


class ItemView(BaseModel):
    """An item as the read model has it: what `GET /items/{item_id}` answers."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    agency_id: str
    kind: str
    stage: Literal["open", "closed"]
    outcome: Outcome | None
    opened_at: datetime
    closed_at: datetime | None


class TemplateReadModel:
    """The `items` table: its migration and projector (static: the runtime calls them with
    its own pool and connection) and the queries routes ask through the pool given here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the table in the pool's schema (idempotent)."""
        await migrate_search_path(pool, MIGRATION)

    @staticmethod
    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Apply one consumed event on `conn`, the consumer's transaction.

        Written so that applying it twice would change nothing either (ON CONFLICT, plain
        UPDATEs): the consumer's dedup is the guarantee, this is the belt to its braces.
        """
        meta = event.envelope.metadata
        match event.envelope.payload:
            case ItemOpened() as opened:
                await conn.execute(
                    "INSERT INTO items (item_id, agency_id, kind, stage, opened_at) "
                    "VALUES ($1, $2, $3, 'open', $4) ON CONFLICT (item_id) DO NOTHING",
                    meta.case_id,
                    meta.agency_id,
                    opened.kind,
                    meta.occurred_at,
                )
            case ItemClosed() as closed:
                await conn.execute(
                    "UPDATE items SET stage = 'closed', outcome = $2, closed_at = $3 "
                    "WHERE item_id = $1",
                    meta.case_id,
                    closed.outcome,
                    meta.occurred_at,
                )

    async def item(self, item_id: str, agency_id: str) -> ItemView | None:
        """One item of `agency_id`; None when unknown (yet) or another agency's: R11, an
        agency never learns that another agency's record exists."""
        row = await self.pool.fetchrow(
            "SELECT * FROM items WHERE item_id = $1 AND agency_id = $2", item_id, agency_id
        )
        return None if row is None else ItemView(**dict(row))
