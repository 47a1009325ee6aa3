"""A small service on the kit's runtime, for the runtime and outage tests: notes on cases.

Its consumer writes one row per event it applies into a table with no unique key, so an
event applied twice shows as two rows: the tests count on that to prove exactly-once effects.
With `erasures_from`, it is also a later service's stand-in: it keeps notes about clients in
the kit's vault and shreds a client when intake's `ClientErased` arrives on those topics.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from services.intake.contract import ClientErased
from shared.application import CommandContext, CommandPath, NotFound, RuleViolation, StreamModel
from shared.auth import Principal, require_roles
from shared.clock import agency_today
from shared.codec import ReceivedEvent
from shared.envelope import Role
from shared.grants import Accessor, read_access
from shared.service import ConsumerSpec, RuntimeDep, ServiceSpec, VaultSpec, create_service_app
from shared.settings import Settings
from shared.vault import Vault
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
    def decide(count: int, _: object) -> list[CaseNoted]:
        if count >= 3:
            raise RuleViolation("a test case takes three notes at most", rule="T1")
        return [CaseNoted(note=body.note, seq=count)]

    path = CommandPath(runtime.store, StreamModel(0, _evolve))
    result = await path.run(
        case_id,
        CommandContext(agency_id=principal.agency_id, actor=principal.actor()),
        decide,
        expected_version=body.expected_version,
    )
    return {"version": result.stream_version}


class ClientNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=500)


def _vault(runtime: RuntimeDep) -> Vault:
    if runtime.vault is None:
        raise NotFound("this notes service keeps no vault")
    return runtime.vault


@router.put("/clients/{client_id}/notes/{note_id}", status_code=204)
async def put_client_note(
    client_id: str, note_id: str, body: ClientNote, principal: CaseManager, runtime: RuntimeDep
) -> None:
    """A note about a client, sealed in the vault; the writer's agency holds the client."""
    vault = _vault(runtime)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO client_agency VALUES ($1, $2) ON CONFLICT DO NOTHING",
            client_id,
            principal.agency_id,
        )
        await vault.put(conn, client_id, f"note:{note_id}", body)


@router.get("/clients/{client_id}/notes/{note_id}")
async def read_client_note(
    client_id: str, note_id: str, principal: CaseManager, runtime: RuntimeDep
) -> dict[str, object]:
    """A note about a client, for the agency holding them (no consents in this service)."""
    vault = _vault(runtime)
    async with runtime.pool.acquire() as conn:
        holding = await conn.fetch(
            "SELECT agency_id FROM client_agency WHERE client_id = $1", client_id
        )
        decision = read_access(
            principal.agency_id,
            holding_agencies={r["agency_id"] for r in holding},
            grants=(),
            on=agency_today(),
        )
        accessor = Accessor(principal.staff_id, principal.role.value, principal.agency_id)
        read = await vault.read(conn, accessor, client_id, f"note:{note_id}", decision)
    if not read.allowed or read.outcome == "absent":
        raise NotFound(f"no note {note_id!r} of client {client_id!r}")
    return {"outcome": read.outcome, "note": (read.document or {}).get("note")}


async def _migrate(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS notes_seen (event_id uuid, note text);"
        "CREATE TABLE IF NOT EXISTS client_agency (client_id text, agency_id text, "
        "PRIMARY KEY (client_id, agency_id))"
    )


async def _seen(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    # Unqualified: the pool's search_path is the service's own schema.
    await conn.execute(
        "INSERT INTO notes_seen VALUES ($1, $2)",
        event.envelope.metadata.event_id,
        event.envelope.payload.note,
    )


def notes_service(topic: str, *, erasures_from: tuple[str, ...] = ()) -> ServiceSpec:
    """The notes service: publishes to `topic` and reads its own events back from it; with
    `erasures_from` (intake's topic), a vault that shreds on intake's `ClientErased`."""
    return ServiceSpec(
        name="intake",
        routers=[router],
        consumers=[ConsumerSpec("notes", (topic,), _seen, events=test_registry)],
        migrations=[_migrate],
        events=test_registry,
        topic=topic,
        vault=VaultSpec(erasures_from=erasures_from, erasure_event=ClientErased)
        if erasures_from
        else None,
    )


def build(settings: Settings, *, topic: str, erasures_from: tuple[str, ...] = ()) -> FastAPI:
    """The notes service's app, built the way each service's `bootstrap.build` builds its own."""
    return create_service_app(notes_service(topic, erasures_from=erasures_from), settings)
