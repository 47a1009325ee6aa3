"""The directory's composition root: what it is made of, put together once.

`service_spec` names the routes, the read model's consumer and migration, and `compose`,
which the runtime calls once when the service starts to build the ports every route and
handler receives (`application.handlers.Directory`). Nothing here connects: the runtime
opens the pool, store, relay and consumers in the app's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services.closure.contract import CaseTerminated
from services.directory.adapters.read_model import DirectoryReadModel
from services.directory.application.handlers import Directory
from services.directory.contract import PUBLISHED
from services.directory.entrypoints.http import router
from services.intake.contract import CaseAssigned, CaseReassigned
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, Runtime, ServiceSpec, create_service_app
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
    closure: str = field(default_factory=lambda: topic_for("closure"))
    """Where terminations come from: an ended case leaves its manager's caseload (R12)."""


def compose(runtime: Runtime) -> Directory:
    """The directory's ports over the running service's store and pool, built once."""
    return Directory.over(runtime.store)


def service_spec(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> ServiceSpec:
    """What the directory is made of: routes, read-model consumer and migration, ports."""
    chosen = topics or Topics()
    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            ConsumerSpec(
                name="read-model",
                topics=(chosen.directory, chosen.intake, chosen.closure),
                handle=DirectoryReadModel.apply,
                events=events,
                # Its own events, and of the others' only those that move caseloads.
                reads=(*PUBLISHED, CaseAssigned, CaseReassigned, CaseTerminated),
            )
        ],
        migrations=[DirectoryReadModel.migrate],
        events=events,
        topic=chosen.directory,
        compose=compose,
    )


def build(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> FastAPI:
    """The directory service's app, in `settings.db_schema` (default: `directory`)."""
    return create_service_app(service_spec(settings, topics=topics, events=events), settings)
