"""Each case's journey as its events arrive: the `journeys`, `journey_items`,
`journey_forms` and `events_seen` tables, and the projector that writes them.

`apply` runs in the consumer's transaction with its dedup record, so a redelivered event
changes nothing. Events from different topics arrive in no order, and a replay applies them in
recorded-time order, so every write gives the same rows whatever the order across topics: any
event may create the case's row, `updated_at` is the latest time of any event seen, the stage
is derived from every stage-bearing event seen (`domain.journey`), and each other column is
written by one service's stream only. Ids and codes only; no personal data.
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
from services.projections.domain.journey import (
    RANK,
    STAGE_EVENT_TYPES,
    is_echo,
    key_codes,
    stage_of,
)
from shared.codec import ReceivedEvent

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


async def _ensure(
    conn: asyncpg.Connection, case_id: str, agency_id: str, at: Any, *, own: bool = True
) -> None:
    """The case's row exists, and its `updated_at` is the latest time of any event seen of it
    (a maximum, so the same whatever order the events arrived in). The agency the case's own
    events name wins over the one another case's referral expected (`own=False`), whichever
    came first."""
    agency = "EXCLUDED.agency_id" if own else "journeys.agency_id"
    await conn.execute(
        "INSERT INTO journeys (case_id, agency_id, stage, stage_rank, updated_at) "
        "VALUES ($1, $2, 'found', 0, $3) ON CONFLICT (case_id) DO UPDATE "
        f"SET agency_id = {agency}, "
        "updated_at = GREATEST(journeys.updated_at, EXCLUDED.updated_at)",
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
    await _facts(conn, case_id, at, payload)


async def _facts(conn: asyncpg.Connection, case_id: str, at: Any, payload: Any) -> None:
    match payload:
        case CaseFound() as found:
            # The referring case's `ReferralCompleted` may have named it first.
            await conn.execute(
                "UPDATE journeys SET source = $2, "
                "referred_from_case = COALESCE($3, referred_from_case) WHERE case_id = $1",
                case_id,
                found.source.value,
                found.referring_case_id,
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
            await _set(conn, case_id, at, referral_id=pending.referral_id, referral_state="pending")
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
            await _ensure(conn, completed.linked_case_id, completed.target.agency_id, at, own=False)
            await conn.execute(
                "UPDATE journeys SET referred_from_case = $2 WHERE case_id = $1",
                completed.linked_case_id,
                case_id,
            )
