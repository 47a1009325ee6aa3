"""Intake's composition root: its routes, vault, read models and roster consumer on the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.adapters.network_review import NetworkReview
from services.intake.adapters.read_model import ROSTER_EVENTS, IntakeReadModel
from services.intake.domain.model import PossibleDuplicateClient
from services.intake.entrypoints.http import intake_router
from services.intake.vault.store import PiiVault, UnknownClient
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, ServiceSpec, VaultSpec, create_service_app
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


def service_spec(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> ServiceSpec:
    """What intake is made of: routes, the roster consumer, vault and read-model migrations."""
    chosen = topics or Topics()
    return ServiceSpec(
        name=SERVICE,
        routers=[intake_router()],
        consumers=[
            ConsumerSpec(
                name="roster",
                topics=(chosen.directory,),
                handle=IntakeReadModel.apply_directory_event,
                events=events,
                reads=ROSTER_EVENTS,
            )
        ],
        migrations=[PiiVault.migrate, IntakeReadModel.migrate, NetworkReview.migrate],
        events=events,
        topic=chosen.intake,
        # Intake erases in its own commands (the key is shredded with `ClientErased` in one
        # transaction): its vault reads no erasures from Kafka.
        vault=VaultSpec(),
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


def build(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> FastAPI:
    """The intake service's app, in `settings.db_schema` (default: `intake`)."""
    app = create_service_app(service_spec(settings, topics=topics, events=events), settings)
    app.add_exception_handler(PossibleDuplicateClient, _possible_duplicate)
    app.add_exception_handler(UnknownClient, _unknown_client)
    return app
