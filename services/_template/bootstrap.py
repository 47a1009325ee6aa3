"""The template's composition root: what the service is made of, put together once.

COPY-AND-RENAME: `SERVICE` names the service (its schema, topic and `ce_source`);
`Topics` lets tests give it topics of their own; `service_spec` lists routes, consumers
(each with the event types it `reads`, from the publishing service's `contract.py`) and
migrations; `compose` builds the ports once when the runtime opens. `build(settings)` is
what `caseline serve <name>` calls. Nothing here connects: the kit's runtime opens the pool,
store, relay and consumers in the app's lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services._template.adapters.read_model import TemplateReadModel
from services._template.application.handlers import Template
from services._template.contract import PUBLISHED
from services._template.entrypoints.http import router
from services.directory.contract import PRINCIPAL_EVENTS, record_principals
from shared.service import ConsumerSpec, Runtime, ServiceSpec, create_service_app
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "template"


@dataclass(frozen=True)
class Topics:
    """The topics the template publishes to and reads from (tests give it their own)."""

    template: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes the template's events, and its read model reads them back."""
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """Where the network's members come from: who may call the routes."""


def compose(runtime: Runtime) -> Template:
    """The template's ports over the running service's store and pool, built once."""
    return Template.over(runtime.store)


def service_spec(settings: Settings, *, topics: Topics | None = None) -> ServiceSpec:
    """What the template is made of: routes, two consumers, its migration, its ports."""
    chosen = topics or Topics()
    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            # Its own events, back from its own topic, into its read model.
            ConsumerSpec(
                name="read-model",
                topics=(chosen.template,),
                handle=TemplateReadModel.apply,
                reads=PUBLISHED,
            ),
            # Every service checks each request's principal against its own copy of the
            # network's members, mapped by the directory's contract (never its domain).
            ConsumerSpec(
                name="principals",
                topics=(chosen.directory,),
                handle=record_principals,
                reads=PRINCIPAL_EVENTS,
            ),
        ],
        migrations=[TemplateReadModel.migrate],
        topic=chosen.template,
        compose=compose,
    )


def build(settings: Settings, *, topics: Topics | None = None) -> FastAPI:
    """The template service's app, in `settings.db_schema` (default: `template`)."""
    return create_service_app(service_spec(settings, topics=topics), settings)
