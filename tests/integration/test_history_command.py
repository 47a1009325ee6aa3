"""`caseline history`: one case's events from two services' stores, merged and read back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC

import asyncpg
import pytest
from cloudevents.core.formats.json import JSONFormat
from typer.testing import CliRunner, Result

from caseline.cli import app
from shared.envelope import Actor, DomainEvent, Envelope, EventMetadata, EventRegistry, Role
from shared.store import EventStore
from tests.harness import unique, unique_schema
from tests.kit_events import noted

careplan_events = EventRegistry()


@careplan_events.register
class PlanNoted(DomainEvent):
    """A careplan event of the test's own (codes only, like every stored event)."""

    service = "careplan"
    plan_version: int


SUPERVISOR = Actor(staff_id="staff-park", role=Role.SUPERVISOR)


@dataclass(frozen=True)
class Stores:
    intake: EventStore
    careplan: EventStore

    def schema_options(self) -> list[str]:
        return [
            "--schema",
            f"intake={self.intake.schema}",
            "--schema",
            f"careplan={self.careplan.schema}",
        ]


@pytest.fixture
async def stores(pg_pool: asyncpg.Pool) -> AsyncIterator[Stores]:
    intake = EventStore(pg_pool, "intake", schema=unique_schema("hist_intake"))
    careplan = EventStore(
        pg_pool, "careplan", schema=unique_schema("hist_careplan"), events=careplan_events
    )
    for store in (intake, careplan):
        await store.migrate()
    yield Stores(intake, careplan)
    for store in (intake, careplan):
        await pg_pool.execute(f'DROP SCHEMA IF EXISTS "{store.schema}" CASCADE')


async def history(database_url: str, *args: str) -> Result:
    """Run `caseline history` as a user would, on the test's database (in a thread: the
    command runs its own event loop)."""
    return await asyncio.to_thread(
        CliRunner().invoke, app, ["history", *args], env={"DATABASE_URL": database_url}
    )


def plan_noted(case_id: str, plan_version: int) -> Envelope[PlanNoted]:
    return Envelope(
        metadata=EventMetadata(case_id=case_id, agency_id="agency-busan-3", actor=SUPERVISOR),
        payload=PlanNoted(plan_version=plan_version),
    )


async def test_history_merges_two_services_events_in_recorded_order_and_as_of_a_time(
    stores: Stores, database_url: str
) -> None:
    case = unique("case-hist")
    await stores.intake.append(case, 0, [noted(case, "found", 1, agency="agency-busan-3")])
    planned = await stores.careplan.append(case, 0, [plan_noted(case, 1)])
    await stores.intake.append(case, 1, [noted(case, "assessed", 2, agency="agency-busan-3")])
    await stores.careplan.append("another-case", 0, [plan_noted("another-case", 9)])

    everything = await history(database_url, case, *stores.schema_options(), "--format", "jsonl")
    assert everything.exit_code == 0, everything.output
    lines = everything.output.splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "caseline.intake.CaseNoted.v1",
        "caseline.careplan.PlanNoted.v1",
        "caseline.intake.CaseNoted.v1",
    ]
    assert [json.loads(line)["data"] for line in lines] == [
        {"note": "found", "seq": 1},
        {"plan_version": 1},
        {"note": "assessed", "seq": 2},
    ]

    cut = planned.events[0].metadata.recorded_at
    assert cut is not None
    then = await history(
        database_url,
        case,
        *stores.schema_options(),
        "--format",
        "jsonl",
        "--as-of",
        cut.astimezone(UTC).isoformat(),
    )
    assert then.exit_code == 0, then.output
    assert then.output.splitlines() == lines[:2]

    table = await history(database_url, case, *stores.schema_options())
    assert table.exit_code == 0, table.output
    rows = [line for line in table.output.splitlines() if "agency-busan-3" in line]
    assert [("intake" in row, "careplan" in row) for row in rows] == [
        (True, False),
        (False, True),
        (True, False),
    ]
    assert "CaseNoted" in rows[0] and "PlanNoted" in rows[1] and "supervisor" in rows[1]
    # The timeline names the actor's role, never the staff member.
    assert "staff-park" not in table.output and "staff-kim" not in table.output


async def test_history_lines_are_cloudevents_the_sdk_reads_back_unchanged(
    stores: Stores, database_url: str
) -> None:
    case = unique("case-ce")
    envelope = plan_noted(case, 2)
    written = await stores.careplan.append(case, 0, [envelope])

    answer = await history(database_url, case, *stores.schema_options(), "--format", "jsonl")
    assert answer.exit_code == 0, answer.output
    [line] = answer.output.splitlines()
    event = JSONFormat().read(None, line)

    meta = envelope.metadata
    assert event.get_specversion() == "1.0"
    assert event.get_id() == str(meta.event_id)
    assert event.get_source() == "/agencies/agency-busan-3/careplan"
    assert event.get_type() == "caseline.careplan.PlanNoted.v1"
    assert event.get_subject() == case
    assert event.get_time() == meta.occurred_at.astimezone(UTC)
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data() == {"plan_version": 2}
    assert event.get_extension("streamversion") == "1"
    assert event.get_extension("hash") == written.events[0].hash.hex()
    assert JSONFormat().write(event).decode() == line


async def test_history_of_a_case_with_no_events_says_so_and_exits_1(
    stores: Stores, database_url: str
) -> None:
    case = unique("case-none")
    answer = await history(database_url, case, *stores.schema_options())
    assert answer.exit_code == 1
    assert f"no events of case {case!r}" in answer.output


async def test_history_refuses_a_schema_option_for_a_service_that_does_not_exist(
    database_url: str,
) -> None:
    answer = await history(database_url, "case-x", "--schema", "nowhere=t_nowhere")
    assert answer.exit_code == 2
    assert "SERVICE=SCHEMA" in answer.output
