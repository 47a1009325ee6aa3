"""Projections' read models and their queries: the journey, the timeline, an agency's
dashboard and the network's figures.

Every table is fed by the kit's idempotent consumers (one per topic, `bootstrap.py`): the
journeys (`journeys`), and the cross-agency facts: clients' paths, referral flows, what was
addressed to a partner, caseload limits (`network_model`). Tables are unqualified: the pool's
search path is the service's schema.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.projections.adapters import journeys, network_model
from services.projections.adapters.journeys import OPEN
from services.projections.domain.journey import is_echo
from shared.codec import ReceivedEvent
from shared.store import migrate_search_path


class ProjectionsReadModel:
    """The journeys, their items and forms, and the events seen: migration, projector and
    queries (static migration and projector: the runtime calls them with its own pool and
    connection)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.network = network_model.NetworkQueries(pool)
        """Clients' paths, referral flows, what was addressed to an agency, caseload limits."""

    @staticmethod
    async def migrate(pool: asyncpg.Pool) -> None:
        """Create the tables in the pool's schema (idempotent)."""
        await migrate_search_path(pool, journeys.MIGRATION + network_model.MIGRATION)

    @staticmethod
    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Apply one consumed case event (intake, careplan, monitoring, closure) on `conn`."""
        if is_echo(type(event.envelope.payload).__name__):
            return
        await journeys.apply(conn, event)
        await network_model.apply_case_event(conn, event)

    # --- queries -------------------------------------------------------------------------

    async def journey(self, case_id: str) -> dict[str, Any] | None:
        """A case's journey with its items and forms; None when never seen."""
        row = await self.pool.fetchrow("SELECT * FROM journeys WHERE case_id = $1", case_id)
        if row is None:
            return None
        items = await self.pool.fetch(
            "SELECT item_id, plan_version, need_domain, delivery, state FROM journey_items "
            "WHERE case_id = $1 ORDER BY item_id",
            case_id,
        )
        forms = await self.pool.fetch(
            "SELECT form_id, state, due_on FROM journey_forms WHERE case_id = $1 ORDER BY form_id",
            case_id,
        )
        journey = {k: v for k, v in dict(row).items() if k not in ("stage_rank",)}
        journey["items"] = [dict(i) for i in items]
        journey["forms"] = [dict(f) for f in forms]
        return journey

    async def chain(self, case_id: str) -> list[dict[str, Any]]:
        """The referral chain through a case: the cases it came from and went to, in order."""
        earlier: list[dict[str, Any]] = []
        later: list[dict[str, Any]] = []
        start = await self._link(case_id)
        if start is None:
            return []
        seen = {case_id}
        current = start
        while current["referred_from_case"] and current["referred_from_case"] not in seen:
            found = await self._link(current["referred_from_case"])
            if found is None:
                break
            seen.add(found["case_id"])
            earlier.insert(0, found)
            current = found
        current = start
        while current["referred_to_case"] and current["referred_to_case"] not in seen:
            found = await self._link(current["referred_to_case"])
            if found is None:
                break
            seen.add(found["case_id"])
            later.append(found)
            current = found
        return [*earlier, start, *later]

    async def _link(self, case_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            "SELECT case_id, agency_id, stage, referral_state, referral_target, "
            "referred_from_case, referred_to_case FROM journeys WHERE case_id = $1",
            case_id,
        )
        return None if row is None else dict(row)

    async def events(self, case_ids: list[str]) -> list[dict[str, Any]]:
        """The events seen of these cases, in the order they happened (one stream's events
        that happened in the same instant in their stream's order)."""
        rows = await self.pool.fetch(
            "SELECT case_id, service, event_type, occurred_at, recorded_at, agency_id, "
            "actor_role, codes FROM events_seen WHERE case_id = ANY($1::text[]) "
            "ORDER BY occurred_at, recorded_at NULLS LAST, case_id, service, stream_version",
            case_ids,
        )
        return [{**dict(r), "codes": json.loads(r["codes"])} for r in rows]

    async def dashboard(self, agency_id: str) -> dict[str, Any]:
        """An agency's open cases by stage, overdue reviews and forms, its referrals pending
        and overdue, those awaiting its answer, and its managers' open caseloads."""
        stages = await self.pool.fetch(
            f"SELECT stage, count(*) AS n FROM journeys WHERE agency_id = $1 AND {OPEN} "
            "GROUP BY stage ORDER BY stage",
            agency_id,
        )
        counts = await self.pool.fetchrow(
            "SELECT "
            f"count(*) FILTER (WHERE review_overdue AND {OPEN}) AS overdue_reviews, "
            "count(*) FILTER (WHERE referral_state IN ('pending', 'escalated')) "
            "AS referrals_pending, "
            "count(*) FILTER (WHERE referral_state = 'overdue') AS referrals_overdue "
            "FROM journeys WHERE agency_id = $1",
            agency_id,
        )
        forms = await self.pool.fetchval(
            "SELECT count(*) FROM journey_forms f JOIN journeys j USING (case_id) "
            "WHERE j.agency_id = $1 AND f.state = 'overdue'",
            agency_id,
        )
        awaiting = await self.pool.fetchval(
            "SELECT count(*) FROM journeys WHERE referral_target = $1 "
            "AND referral_state = 'issued'",
            agency_id,
        )
        caseloads = await self.pool.fetch(
            f"SELECT manager_id, count(*) AS open_cases FROM journeys WHERE agency_id = $1 "
            f"AND manager_id IS NOT NULL AND {OPEN} GROUP BY manager_id ORDER BY manager_id",
            agency_id,
        )
        return {
            "agency_id": agency_id,
            "open_cases_by_stage": {r["stage"]: r["n"] for r in stages},
            "overdue_reviews": counts["overdue_reviews"],
            "overdue_forms": forms,
            "referrals_pending": counts["referrals_pending"],
            "referrals_overdue": counts["referrals_overdue"],
            "referrals_awaiting_answer": awaiting,
            "caseloads": {r["manager_id"]: r["open_cases"] for r in caseloads},
            "managers": await self.network.caseloads(agency_id),
            "referral_flows": await self.network.flows(agency_id),
        }

    async def figures(self) -> dict[str, Any]:
        """The network's aggregates: no case id, no staff id."""

        async def grouped(column: str, where: str = "true") -> dict[str, int]:
            rows = await self.pool.fetch(
                f"SELECT {column} AS k, count(*) AS n FROM journeys WHERE {column} IS NOT NULL "
                f"AND {where} GROUP BY {column} ORDER BY {column}"
            )
            return {r["k"]: r["n"] for r in rows}

        return {
            "cases": await self.pool.fetchval("SELECT count(*) FROM journeys"),
            "agencies": await self.pool.fetchval("SELECT count(DISTINCT agency_id) FROM journeys"),
            "cases_by_stage": await grouped("stage"),
            "terminations_by_class": await grouped("termination_class"),
            "referrals_by_state": await grouped("referral_state"),
            "events_seen": await self.pool.fetchval("SELECT count(*) FROM events_seen"),
            "overloaded_managers": await self.network.overloaded_managers(),
        }
