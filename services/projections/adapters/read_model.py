"""Projections' read models: each case's journey, the events seen per case, and the queries
behind the journey, the timeline, an agency's dashboard and the network's figures.

Every table is fed by the kit's idempotent consumers (one per topic, `bootstrap.py`): `apply`
runs in the consumer's transaction with its dedup record, so a redelivered event changes
nothing. Events from different topics arrive in no order, so each write first makes sure the
case's row exists (any event may be the first one seen) and a stage only moves forward
(`domain.journey`). Ids and codes only: the events carry no personal data and neither do
these tables. Tables are unqualified: the pool's search path is the service's schema.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.careplan.contract import (
    ItemLinked,
    LinkAccepted,
    LinkDeclined,
    PlanAgreed,
    PlanVersionDrafted,
    ServiceDelivered,
    ServiceNotDelivered,
)
from services.closure.contract import (
    CaseTerminated,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralDeclinedByClient,
    ReferralEscalated,
    ReferralIssued,
    ReferralOverdue,
    ReferralPending,
)
from services.intake.contract import CaseAssigned, CaseFound, CaseReassigned
from services.monitoring.contract import (
    EvaluationRecorded,
    FormOverdue,
    FormReturned,
    FormSent,
    ReviewOverdue,
    ReviewRecorded,
)
from services.projections.adapters import network_model
from services.projections.domain.journey import (
    RANK,
    STAGE_EVENT_TYPES,
    is_echo,
    key_codes,
    stage_of,
)
from shared.codec import ReceivedEvent
from shared.store import migrate_search_path

MIGRATION = """
CREATE TABLE IF NOT EXISTS journeys (
    case_id             text        PRIMARY KEY,
    agency_id           text        NOT NULL,
    stage               text        NOT NULL,
    stage_rank          integer     NOT NULL,
    source              text,
    manager_id          text,
    plan_version        integer,
    drafted_version     integer,
    reviews             integer     NOT NULL DEFAULT 0,
    last_review_on      date,
    review_overdue      boolean     NOT NULL DEFAULT false,
    evaluation_id       text,
    evaluation_permits  boolean,
    termination_reason  text,
    termination_class   text,
    terminated_on       date,
    referral_id         text,
    referral_state      text,
    referral_target     text,
    referred_from_case  text,
    referred_to_case    text,
    updated_at          timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS journey_items (
    case_id       text    NOT NULL,
    item_id       text    NOT NULL,
    plan_version  integer NOT NULL,
    need_domain   text    NOT NULL,
    delivery      text    NOT NULL,
    state         text    NOT NULL,
    PRIMARY KEY (case_id, item_id)
);
CREATE TABLE IF NOT EXISTS journey_forms (
    case_id  text NOT NULL,
    form_id  text NOT NULL,
    state    text NOT NULL,
    due_on   date,
    PRIMARY KEY (case_id, form_id)
);
CREATE TABLE IF NOT EXISTS events_seen (
    event_id     uuid        PRIMARY KEY,
    case_id      text        NOT NULL,
    service      text        NOT NULL,
    stream_version integer   NOT NULL,
    event_type   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz,
    agency_id    text        NOT NULL,
    actor_role   text        NOT NULL,
    codes        jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS events_seen_by_case ON events_seen (case_id, occurred_at);
"""

OPEN = "stage NOT IN ('screened_out', 'terminated')"
"""SQL: a journey still open."""


async def _ensure(conn: asyncpg.Connection, case_id: str, agency_id: str, at: Any) -> None:
    """The case's row exists, and its `updated_at` is the latest time of any event seen of it
    (a maximum, so the same whatever order the events arrived in)."""
    await conn.execute(
        "INSERT INTO journeys (case_id, agency_id, stage, stage_rank, updated_at) "
        "VALUES ($1, $2, 'found', 0, $3) ON CONFLICT (case_id) DO UPDATE "
        "SET updated_at = GREATEST(journeys.updated_at, EXCLUDED.updated_at)",
        case_id,
        agency_id,
        at,
    )


async def _set(conn: asyncpg.Connection, case_id: str, at: Any, **values: Any) -> None:
    del at  # `_ensure` keeps `updated_at`
    names = list(values)
    assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    await conn.execute(
        f"UPDATE journeys SET {assignments} WHERE case_id = $1",
        case_id,
        *values.values(),
    )


async def _restage(conn: asyncpg.Connection, case_id: str) -> None:
    """Set the case's stage from every stage-bearing event seen of it (`stage_of`)."""
    rows = await conn.fetch(
        "SELECT event_type, occurred_at FROM events_seen "
        "WHERE case_id = $1 AND event_type = ANY($2::text[])",
        case_id,
        list(STAGE_EVENT_TYPES),
    )
    stage = stage_of((r["event_type"], r["occurred_at"]) for r in rows)
    await conn.execute(
        "UPDATE journeys SET stage = $2, stage_rank = $3 WHERE case_id = $1",
        case_id,
        stage.value,
        RANK[stage],
    )


async def _item(conn: asyncpg.Connection, case_id: str, item_id: str, state: str) -> None:
    await conn.execute(
        "UPDATE journey_items SET state = $3 WHERE case_id = $1 AND item_id = $2",
        case_id,
        item_id,
        state,
    )


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
        await migrate_search_path(pool, MIGRATION + network_model.MIGRATION)

    @staticmethod
    async def apply(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        """Apply one consumed case event (intake, careplan, monitoring, closure) on `conn`."""
        meta = event.envelope.metadata
        payload = event.envelope.payload
        kind = type(payload).__name__
        if is_echo(kind):
            return
        case_id, at = meta.case_id, meta.occurred_at
        await _ensure(conn, case_id, meta.agency_id, at)
        await conn.execute(
            "INSERT INTO events_seen (event_id, case_id, service, stream_version, event_type, "
            "occurred_at, recorded_at, agency_id, actor_role, codes) VALUES ($1, $2, $3, $10, "
            "$4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (event_id) DO NOTHING",
            meta.event_id,
            case_id,
            event.service,
            kind,
            at,
            meta.recorded_at,
            meta.agency_id,
            meta.actor.role.value,
            json.dumps(key_codes(payload)),
            event.stream_version,
        )
        if kind in STAGE_EVENT_TYPES:
            await _restage(conn, case_id)
        await ProjectionsReadModel._facts(conn, case_id, at, payload)
        await network_model.apply_case_event(conn, event)

    @staticmethod
    async def _facts(conn: asyncpg.Connection, case_id: str, at: Any, payload: Any) -> None:
        match payload:
            case CaseFound() as found:
                await _set(
                    conn,
                    case_id,
                    at,
                    source=found.source.value,
                    referred_from_case=found.referring_case_id,
                )
            case CaseAssigned() as assigned:
                await _set(conn, case_id, at, manager_id=assigned.staff_id)
            case CaseReassigned() as reassigned:
                await _set(conn, case_id, at, manager_id=reassigned.to_staff_id)
            case PlanVersionDrafted() as drafted:
                await _set(conn, case_id, at, drafted_version=drafted.plan_version)
                for item in drafted.items:
                    await conn.execute(
                        "INSERT INTO journey_items (case_id, item_id, plan_version, need_domain, "
                        "delivery, state) VALUES ($1, $2, $3, $4, $5, 'drafted') "
                        "ON CONFLICT (case_id, item_id) DO UPDATE SET plan_version = $3, "
                        "need_domain = $4, delivery = $5, state = 'drafted'",
                        case_id,
                        item.item_id,
                        drafted.plan_version,
                        item.need_domain.value,
                        item.delivery.value,
                    )
            case PlanAgreed() as agreed:
                await _set(conn, case_id, at, plan_version=agreed.plan_version)
                await conn.execute(
                    "UPDATE journey_items SET state = CASE WHEN item_id = ANY($3::text[]) "
                    "THEN 'declined_by_client' ELSE 'planned' END "
                    "WHERE case_id = $1 AND plan_version = $2",
                    case_id,
                    agreed.plan_version,
                    list(agreed.declined_items),
                )
            case ItemLinked() as linked:
                await _item(
                    conn, case_id, linked.item_id, "waitlisted" if linked.waitlisted else "linked"
                )
            case LinkAccepted() as accepted:
                await _item(conn, case_id, accepted.item_id, "accepted")
            case LinkDeclined() as declined:
                await _item(conn, case_id, declined.item_id, "link_declined")
            case ServiceDelivered() as delivered:
                await _item(conn, case_id, delivered.item_id, "delivered")
            case ServiceNotDelivered() as missed:
                await _item(conn, case_id, missed.item_id, "not_delivered")
            case ReviewRecorded() as review:
                await conn.execute(
                    "UPDATE journeys SET reviews = reviews + 1, last_review_on = $2, "
                    "review_overdue = false WHERE case_id = $1",
                    case_id,
                    review.reviewed_on,
                )
            case ReviewOverdue():
                await _set(conn, case_id, at, review_overdue=True)
            case FormSent() as sent:
                await conn.execute(
                    "INSERT INTO journey_forms (case_id, form_id, state, due_on) "
                    "VALUES ($1, $2, 'sent', $3) ON CONFLICT (case_id, form_id) DO NOTHING",
                    case_id,
                    sent.form_id,
                    sent.due_on,
                )
            case FormReturned() as returned:
                await conn.execute(
                    "INSERT INTO journey_forms (case_id, form_id, state) VALUES ($1, $2, $3) "
                    "ON CONFLICT (case_id, form_id) DO UPDATE SET state = $3",
                    case_id,
                    returned.form_id,
                    "returned_negative" if returned.negative else "returned",
                )
            case FormOverdue() as overdue:
                await conn.execute(
                    "INSERT INTO journey_forms (case_id, form_id, state, due_on) "
                    "VALUES ($1, $2, 'overdue', $3) ON CONFLICT (case_id, form_id) "
                    "DO UPDATE SET state = 'overdue' WHERE journey_forms.state = 'sent'",
                    case_id,
                    overdue.form_id,
                    overdue.due_on,
                )
            case EvaluationRecorded() as evaluation:
                await _set(
                    conn,
                    case_id,
                    at,
                    evaluation_id=evaluation.evaluation_id,
                    evaluation_permits=evaluation.permits_planned_termination,
                )
            case CaseTerminated() as ended:
                await _set(
                    conn,
                    case_id,
                    at,
                    termination_reason=ended.reason.value,
                    termination_class=ended.termination_class.value,
                    terminated_on=ended.terminated_on,
                )
            case ReferralIssued() as issued:
                await _set(
                    conn,
                    case_id,
                    at,
                    referral_id=issued.referral_id,
                    referral_state="issued",
                    referral_target=issued.target.agency_id,
                )
            case ReferralPending() as pending:
                await _set(
                    conn, case_id, at, referral_id=pending.referral_id, referral_state="pending"
                )
            case ReferralEscalated():
                await _set(conn, case_id, at, referral_state="escalated")
            case ReferralAccepted() as taken:
                await _set(
                    conn,
                    case_id,
                    at,
                    referral_state="accepted",
                    referral_target=taken.target.agency_id,
                )
            case ReferralDeclined():
                await _set(conn, case_id, at, referral_state="declined")
            case ReferralOverdue():
                await _set(conn, case_id, at, referral_state="overdue")
            case ReferralDeclinedByClient():
                await _set(conn, case_id, at, referral_state="declined_by_client")
            case ReferralCompleted() as completed:
                await _set(
                    conn,
                    case_id,
                    at,
                    referral_state="completed",
                    referred_to_case=completed.linked_case_id,
                )
                await _ensure(conn, completed.linked_case_id, completed.target.agency_id, at)
                await conn.execute(
                    "UPDATE journeys SET referred_from_case = $2 WHERE case_id = $1",
                    completed.linked_case_id,
                    case_id,
                )

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
