"""The directory's composition root: its routes, read model and consumer on the shared runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services.directory.adapters.read_model import DirectoryReadModel
from services.directory.contract import PUBLISHED
from services.directory.entrypoints.http import directory_router
from services.intake.contract import CaseAssigned, CaseReassigned
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, ServiceSpec, create_service_app
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "directory"


@dataclass(frozen=True)
class Topics:
    """The topics the directory publishes to and reads from (tests give it their own)."""

    directory: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes the directory's events, and the read model reads them back."""
    intake: str = field(default_factory=lambda: topic_for("intake"))
    """Where case assignments come from, for the caseload counts."""


def service_spec(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> ServiceSpec:
    """What the directory is made of: routes, read-model consumer and migrations."""
    chosen = topics or Topics()
    read_model = DirectoryReadModel(settings.db_schema or SERVICE)
    return ServiceSpec(
        name=SERVICE,
        routers=[directory_router(read_model)],
        consumers=[
            ConsumerSpec(
                name="read-model",
                topics=(chosen.directory, chosen.intake),
                handle=read_model.apply,
                events=events,
                # Its own events, and of intake's only the two that move caseloads.
                reads=(*PUBLISHED, CaseAssigned, CaseReassigned),
            )
        ],
        migrations=[read_model.migrate],
        events=events,
        topic=chosen.directory,
    )


def build(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> FastAPI:
    """The directory service's app, in `settings.db_schema` (default: `directory`)."""
    return create_service_app(service_spec(settings, topics=topics, events=events), settings)
