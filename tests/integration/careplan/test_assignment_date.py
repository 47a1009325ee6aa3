"""R1 on dates: careplan keeps the day intake assigned a case and refuses a plan, or an
agreement, dated before it; cases learned before careplan kept that day stay unbounded."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from services.careplan.adapters import facts
from shared.clock import agency_date
from shared.store import create_pool
from tests.integration.careplan.conftest import (
    Agency,
    Stack,
    known_to_careplan,
    make_agency,
    through_intake,
)
from tests.integration.careplan.test_careplan_api import TODAY, plan_body


async def assigned_case(stack: Stack) -> tuple[Agency, str]:
    home = await make_agency(stack)
    case_id, _ = await through_intake(home)
    await known_to_careplan(stack, case_id)
    return home, case_id


async def assignment_instant(stack: Stack, case_id: str) -> datetime:
    """When intake recorded the case's `CaseAssigned`, read from intake's own store."""
    intake_pool = stack.apps[1].state.runtime.pool
    occurred_at: str = await intake_pool.fetchval(
        "SELECT metadata->>'occurred_at' FROM events "
        "WHERE case_id = $1 AND event_type = 'CaseAssigned'",
        case_id,
    )
    return datetime.fromisoformat(occurred_at)


async def test_careplan_keeps_the_agencies_date_of_intakes_assignment_r1(stack: Stack) -> None:
    _, case_id = await assigned_case(stack)

    kept = await facts.case_facts(stack.careplan_app.state.runtime.pool, case_id)

    assert kept is not None
    assert kept.assigned_on == agency_date(await assignment_instant(stack, case_id))


async def test_a_plan_dated_before_the_assignment_is_refused_naming_the_earliest_date_r1(
    stack: Stack,
) -> None:
    home, case_id = await assigned_case(stack)
    assigned_on = agency_date(await assignment_instant(stack, case_id))
    early = assigned_on - timedelta(days=1)

    refused = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions",
        json=plan_body(plan_date=early.isoformat()),
        headers=home.manager(),
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "R1"
    assert f"earliest allowed date is {assigned_on}" in refused.json()["detail"]
    assert await stack.events_in(case_id) == []


async def test_a_plan_dated_on_the_day_of_assignment_is_drafted_and_agreed_r1(
    stack: Stack,
) -> None:
    home, case_id = await assigned_case(stack)
    assigned_on = agency_date(await assignment_instant(stack, case_id))

    drafted = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions",
        json=plan_body(plan_date=assigned_on.isoformat()),
        headers=home.manager(),
    )
    agreed = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions/1/agreement",
        json={"agreed_on": assigned_on.isoformat()},
        headers=home.manager(),
    )

    assert drafted.status_code == 201, drafted.text
    assert agreed.status_code == 200, agreed.text
    assert await stack.events_in(case_id) == ["PlanVersionDrafted", "PlanAgreed"]


async def test_a_case_learned_before_careplan_kept_the_day_bounds_no_plan_date_r1(
    stack: Stack,
) -> None:
    home, case_id = await assigned_case(stack)
    # As a row learned before the column existed reads after the migration: the day unknown.
    await stack.careplan_app.state.runtime.pool.execute(
        "UPDATE case_facts SET assigned_on = NULL WHERE case_id = $1", case_id
    )
    earlier = TODAY - timedelta(days=10)

    drafted = await stack.careplan.post(
        f"/cases/{case_id}/plan-versions",
        json=plan_body(plan_date=earlier.isoformat()),
        headers=home.manager(),
    )

    assert drafted.status_code == 201, drafted.text


async def test_the_migration_adds_the_assignment_day_once_leaving_earlier_cases_unknown(
    database_url: str, pg_pool: asyncpg.Pool, schema_name: str
) -> None:
    # A careplan schema as a deployment before this version left it: no assigned_on column.
    await pg_pool.execute(f'CREATE SCHEMA "{schema_name}"')
    await pg_pool.execute(
        f'CREATE TABLE "{schema_name}".case_facts (case_id text PRIMARY KEY, '
        "agency_id text NOT NULL, client_id text, manager_id text, "
        "assigned boolean NOT NULL DEFAULT false, needs jsonb NOT NULL DEFAULT '[]', "
        "strengths jsonb NOT NULL DEFAULT '[]', risks jsonb NOT NULL DEFAULT '[]', "
        "crisis boolean NOT NULL DEFAULT false, "
        "interpreter_needed boolean NOT NULL DEFAULT false)"
    )
    await pg_pool.execute(
        f'INSERT INTO "{schema_name}".case_facts (case_id, agency_id, assigned) '
        "VALUES ('case-old', 'ag-old', true)"
    )
    pool = await create_pool(database_url, max_size=2, search_path=schema_name)
    try:
        await facts.migrate(pool)
        await facts.migrate(pool)

        old = await facts.case_facts(pool, "case-old")
        column_type = await pool.fetchval(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = $1 "
            "AND table_name = 'case_facts' AND column_name = 'assigned_on'",
            schema_name,
        )
    finally:
        await pool.close()

    assert column_type == "date"
    assert old is not None and old.assigned and old.assigned_on is None
