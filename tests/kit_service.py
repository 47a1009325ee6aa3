"""A small service on the kit's runtime, for the runtime and outage tests: notes on cases.

Its consumer writes one row per event it applies into a table with no unique key, so an
event applied twice shows as two rows: the tests count on that to prove exactly-once effects.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from shared.application import CommandContext, RuleViolation, run_command
from shared.auth import Principal, require_roles
from shared.codec import ReceivedEvent
from shared.envelope import Role
from shared.service import ConsumerSpec, RuntimeDep, ServiceSpec
from tests.kit_events import CaseNoted, test_registry

router = APIRouter()
CaseManager = Annotated[Principal, Depends(require_roles(Role.CASE_MANAGER))]


class AddNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=200)
    expected_version: int | None = None


def _evolve(count: int, event: object) -> int:
    return count + 1


@router.post("/cases/{case_id}/notes", status_code=201)
async def add_note(
    case_id: str,
    body: AddNote,
    principal: CaseManager,
    runtime: RuntimeDep,
) -> dict[str, int]:
    def decide(count: int) -> list[CaseNoted]:
        if count >= 3:
            raise RuleViolation("a test case takes three notes at most", rule="T1")
        return [CaseNoted(note=body.note, seq=count)]

    result = await run_command(
        runtime.store,
        case_id,
        initial=0,
        evolve=_evolve,
        decide=decide,
        context=CommandContext(agency_id=principal.agency_id, actor=principal.actor()),
        expected_version=body.expected_version,
    )
    return {"version": result.stream_version}


async def _migrate(pool: asyncpg.Pool) -> None:
    await pool.execute("CREATE TABLE IF NOT EXISTS notes_seen (event_id uuid, note text)")


async def _seen(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    # Unqualified: the pool's search_path is the service's own schema.
    await conn.execute(
        "INSERT INTO notes_seen VALUES ($1, $2)",
        event.envelope.metadata.event_id,
        event.envelope.payload.note,
    )


def notes_service(topic: str) -> ServiceSpec:
    """The notes service: publishes to `topic` and reads its own events back from it."""
    return ServiceSpec(
        name="intake",
        routers=[router],
        consumers=[ConsumerSpec("notes", (topic,), _seen, events=test_registry)],
        migrations=[_migrate],
        events=test_registry,
        topic=topic,
    )
