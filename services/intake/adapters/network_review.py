"""The network administrators' queue of possible duplicates no registering agency was told of.

When an agency registers a person whose name and birth date match a client it does not
know (R11: no case of theirs at that agency, no consent in force naming it), the agency is
not told; the pair goes here instead, in the registration's transaction, for a network
administrator to look into. Ids only: no name, birth date or any other personal data.
Tables are unqualified: the service's pool has its own schema on the search path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from shared.store import migrate_search_path

MIGRATION = """
CREATE TABLE IF NOT EXISTS possible_duplicate_review (
    review_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at            timestamptz NOT NULL DEFAULT now(),
    agency_id              text        NOT NULL,
    case_id                text        NOT NULL,
    client_id              text        NOT NULL,
    possible_duplicate_of  text        NOT NULL,
    UNIQUE (client_id, possible_duplicate_of)
);
"""


@dataclass(frozen=True)
class ReviewItem:
    """A registration that may be a client known elsewhere: who registered whom, matching whom."""

    review_id: int
    recorded_at: datetime
    agency_id: str
    case_id: str
    client_id: str
    possible_duplicate_of: str
    possible_duplicate_agencies: tuple[str, ...]


class NetworkReview:
    """Writes and reads the possible-duplicate queue (in the caller's transaction)."""

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the queue's table (idempotent) in the pool's own schema."""
        await migrate_search_path(pool, MIGRATION)

    @staticmethod
    async def add(
        conn: asyncpg.Connection,
        *,
        agency_id: str,
        case_id: str,
        client_id: str,
        possible_duplicates_of: Sequence[str],
    ) -> None:
        """Queue a new client against each client they may be, in the caller's transaction."""
        await conn.executemany(
            "INSERT INTO possible_duplicate_review (agency_id, case_id, client_id, "
            "possible_duplicate_of) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [(agency_id, case_id, client_id, other) for other in possible_duplicates_of],
        )

    @staticmethod
    async def items(conn: asyncpg.Connection, limit: int) -> list[ReviewItem]:
        """The newest `limit` items, with the agencies holding each possible duplicate now."""
        rows = await conn.fetch(
            "SELECT r.review_id, r.recorded_at, r.agency_id, r.case_id, r.client_id, "
            "r.possible_duplicate_of, ARRAY(SELECT DISTINCT s.agency_id FROM case_summary s "
            "WHERE s.client_id = r.possible_duplicate_of ORDER BY s.agency_id) AS agencies "
            "FROM possible_duplicate_review r ORDER BY r.review_id DESC LIMIT $1",
            limit,
        )
        return [
            ReviewItem(
                review_id=r["review_id"],
                recorded_at=r["recorded_at"],
                agency_id=r["agency_id"],
                case_id=r["case_id"],
                client_id=r["client_id"],
                possible_duplicate_of=r["possible_duplicate_of"],
                possible_duplicate_agencies=tuple(r["agencies"]),
            )
            for r in rows
        ]
