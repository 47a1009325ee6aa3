"""Intake's composition root: its routes, ports, vault, read models and roster consumer.

The ports (`Intake`: the one command path, the vault adapter, the read models) are composed
once, when the runtime opens (`compose`); routes receive them through `ports_dependency`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.adapters.network_review import NetworkReview
from services.intake.adapters.read_model import ROSTER_EVENTS, IntakeReadModel
from services.intake.adapters.vault import PiiVault, UnknownClient
from services.intake.application.ports import CASE_MODEL, CaseResult, Intake
from services.intake.application.referrals import CLOSURE_READS, closure_policy
from services.intake.domain.errors import PossibleDuplicateClient
from services.intake.entrypoints.http import router
from shared.application import CommandPath
from shared.consumer import EventHandler
from shared.envelope import EventRegistry, registry
from shared.service import (
    ConsumerSpec,
    ErrorHandler,
    Runtime,
    ServiceSpec,
    VaultSpec,
    create_service_app,
)
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "intake"


@dataclass(frozen=True)
class Topics:
    """The topics intake publishes to and reads from (tests give it their own)."""

    intake: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes intake's events."""
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """Where staff, caseload limits, departures and closures come from, for the roster."""
    closure: str = field(default_factory=lambda: topic_for("closure"))
    """Where accepted referrals (a linked case opens here) and terminations come from."""


def service_spec(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> ServiceSpec:
    """What intake is made of: routes, ports, the roster consumer, vault and read-model
    migrations, and the answers to its own errors."""
    chosen = topics or Topics()
    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            ConsumerSpec(
                name="roster",
                topics=(chosen.directory,),
                handle=IntakeReadModel.apply_directory_event,
                events=events,
                reads=ROSTER_EVENTS,
            ),
            ConsumerSpec(
                name="closure",
                topics=(chosen.closure,),
                bind=_closure_policy,
                events=events,
                reads=CLOSURE_READS,
            ),
        ],
        # After the kit's vault: the first moves an older pii_vault's keys into it.
        migrations=[PiiVault.migrate, IntakeReadModel.migrate, NetworkReview.migrate],
        events=events,
        topic=chosen.intake,
        # Intake erases in its own commands (the key is shredded with `ClientErased` in one
        # transaction): its vault reads no erasures from Kafka.
        vault=VaultSpec(),
        compose=compose,
        error_handlers=ERROR_HANDLERS,
    )


def _closure_policy(ports: object) -> EventHandler:
    assert isinstance(ports, Intake)
    return closure_policy(ports)


def compose(runtime: Runtime) -> Intake:
    """Intake's ports over the running service: built once, when the runtime opens."""
    read_model = IntakeReadModel(runtime.pool)

    async def save_summary(conn: asyncpg.Connection, result: CaseResult) -> None:
        # The case summary moves with the case's events, in their transaction.
        await read_model.save_case(conn, result.stream_id, result.state, result.stream_version)

    return Intake(
        path=CommandPath(runtime.store, CASE_MODEL, on_recorded=save_summary),
        vault=PiiVault.from_settings(runtime.settings, runtime.vault),
        read_model=read_model,
    )


async def _possible_duplicate(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PossibleDuplicateClient)
    return JSONResponse(
        status_code=409,
        content={
            "detail": exc.reason,
            "rule": exc.rule,
            "possible_duplicates": list(exc.possible_duplicates),
        },
    )


async def _unknown_client(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    PossibleDuplicateClient: _possible_duplicate,
    UnknownClient: _unknown_client,
}
"""Intake's own answers beside the kit's: a possible duplicate's 409 names the clients."""


def build(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> FastAPI:
    """The intake service's app, in `settings.db_schema` (default: `intake`)."""
    return create_service_app(service_spec(settings, topics=topics, events=events), settings)
