"""Which need domain each goal of a case's plan versions serves, as careplan drafted them.

Closure keeps this to read an evaluation (which rates goals) as needs met or unmet: a need
whose every goal was rated achieved no longer asks a referral target to meet it (R9 (b)).
Written by the case consumer, in its transaction; unqualified SQL on the pool's schema.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from shared.store import migrate_search_path
from shared.vocabulary import NeedDomain

MIGRATION = """
CREATE TABLE IF NOT EXISTS plan_goals (
    case_id       text    NOT NULL,
    plan_version  integer NOT NULL,
    goal_id       text    NOT NULL,
    need_domain   text    NOT NULL,
    PRIMARY KEY (case_id, plan_version, goal_id, need_domain)
);
"""


class PlanGoals:
    """Writes and reads the table above."""

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the table in the pool's schema (idempotent)."""
        await migrate_search_path(pool, MIGRATION)

    @staticmethod
    async def keep(
        conn: asyncpg.Connection,
        case_id: str,
        plan_version: int,
        goals: Iterable[tuple[str, NeedDomain]],
    ) -> None:
        """Remember the need domains each goal of a drafted version serves."""
        await conn.executemany(
            "INSERT INTO plan_goals (case_id, plan_version, goal_id, need_domain) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [(case_id, plan_version, goal, domain.value) for goal, domain in goals],
        )

    @staticmethod
    async def met_domains(
        conn: asyncpg.Connection, case_id: str, plan_version: int, achieved: set[str]
    ) -> tuple[NeedDomain, ...]:
        """The domains of a version whose every goal is among the `achieved` ones."""
        rows = await conn.fetch(
            "SELECT goal_id, need_domain FROM plan_goals WHERE case_id = $1 AND plan_version = $2",
            case_id,
            plan_version,
        )
        goals_of: dict[str, set[str]] = {}
        for row in rows:
            goals_of.setdefault(row["need_domain"], set()).add(row["goal_id"])
        return tuple(sorted(NeedDomain(d) for d, goals in goals_of.items() if goals <= achieved))
