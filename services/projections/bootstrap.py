"""Projections' composition root: a consumer per topic it reads, its tables, its read model.

Projections records no events: its runtime's relay has nothing to publish, so its topic
(`caseline.projections.v1`, which the kit's runtime names) is never written and need not
exist (`caseline.catalog.CONSUMING_ONLY`: no topic is created for it). It reads intake's,
careplan's, monitoring's and closure's topics through their contracts into its read models,
and the directory's into the managers' caseload limits and the kit's principals, each with a
consumer of its own so each topic's position and dedup are its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services.careplan.contract import PUBLISHED as CAREPLAN_EVENTS
from services.closure.contract import PUBLISHED as CLOSURE_EVENTS
from services.directory.contract import PRINCIPAL_EVENTS, record_principals
from services.intake.contract import PUBLISHED as INTAKE_EVENTS
from services.monitoring.contract import PUBLISHED as MONITORING_EVENTS
from services.projections.adapters.network_model import LIMIT_EVENTS, apply_directory_event
from services.projections.adapters.read_model import ProjectionsReadModel
from services.projections.entrypoints.http import router
from shared.service import ConsumerSpec, Runtime, ServiceSpec, create_service_app
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "projections"


@dataclass(frozen=True)
class Topics:
    """The topics projections reads (tests give it their own) and its own, unused one."""

    projections: str = field(default_factory=lambda: topic_for(SERVICE))
    """Projections' own topic: the runtime's relay needs one; nothing is published to it."""
    intake: str = field(default_factory=lambda: topic_for("intake"))
    careplan: str = field(default_factory=lambda: topic_for("careplan"))
    monitoring: str = field(default_factory=lambda: topic_for("monitoring"))
    closure: str = field(default_factory=lambda: topic_for("closure"))
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """Where the network's members come from: who may call the routes."""


def compose(runtime: Runtime) -> ProjectionsReadModel:
    """Projections' one port: its read model over the running service's pool."""
    return ProjectionsReadModel(runtime.pool)


def service_spec(settings: Settings, *, topics: Topics | None = None) -> ServiceSpec:
    """Projections: routes, one read-model consumer per service topic, the principals."""
    chosen = topics or Topics()
    feeds = (
        ("intake", chosen.intake, INTAKE_EVENTS),
        ("careplan", chosen.careplan, CAREPLAN_EVENTS),
        ("monitoring", chosen.monitoring, MONITORING_EVENTS),
        ("closure", chosen.closure, CLOSURE_EVENTS),
    )
    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            *(
                ConsumerSpec(
                    name=f"{name}-journeys",
                    topics=(topic,),
                    handle=ProjectionsReadModel.apply,
                    reads=reads,
                )
                for name, topic, reads in feeds
            ),
            ConsumerSpec(
                name="directory-limits",
                topics=(chosen.directory,),
                handle=apply_directory_event,
                reads=LIMIT_EVENTS,
            ),
            ConsumerSpec(
                name="principals",
                topics=(chosen.directory,),
                handle=record_principals,
                reads=PRINCIPAL_EVENTS,
            ),
        ],
        migrations=[ProjectionsReadModel.migrate],
        topic=chosen.projections,
        compose=compose,
    )


def build(settings: Settings, *, topics: Topics | None = None) -> FastAPI:
    """The projections app, in `settings.db_schema` (default: `projections`)."""
    return create_service_app(service_spec(settings, topics=topics), settings)
