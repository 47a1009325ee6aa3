"""Careplan's composition root: its routes, command path, vault and consumers on the shared
runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from services.careplan.adapters import board, facts
from services.careplan.application.handlers import Careplan, compose_path
from services.careplan.entrypoints.http import router
from services.intake.contract import ClientErased
from services.monitoring.contract import PlanRevisionRequired
from shared.consumer import EventHandler
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, Runtime, ServiceSpec, VaultSpec, create_service_app
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "careplan"


@dataclass(frozen=True)
class Topics:
    """The topics careplan publishes to and reads from (tests give it their own)."""

    careplan: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes careplan's events."""
    intake: str = field(default_factory=lambda: topic_for("intake"))
    """Cases: found, registered, consented, assessed, assigned, reassigned, erased."""
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """The network: agencies, services, capacity, closures, and who may act."""
    monitoring: str = field(default_factory=lambda: topic_for("monitoring"))
    """Reviews that send a case back to planning (R6d)."""
    closure: str = field(default_factory=lambda: topic_for("closure"))
    """Terminations: an ended case takes no further plan command (R8)."""


def compose(runtime: Runtime) -> Careplan:
    """Careplan's ports, built once when the runtime opens: its command path and vault."""
    assert runtime.vault is not None, "careplan keeps words in its vault"
    return Careplan(compose_path(runtime.store), runtime.vault, runtime.pool)


def _revisions(ports: Careplan) -> EventHandler:
    """Monitoring's reviews become careplan commands through the one command path the runtime
    composed (R6d), so the policy needs no handle on the ports filled in later."""
    return ports.revision_required


def service_spec(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> ServiceSpec:
    """What careplan is made of: routes, consumers, vault and read-model migrations."""
    chosen = topics or Topics()

    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            ConsumerSpec(
                name="facts",
                topics=(chosen.intake, chosen.directory, chosen.closure),
                handle=facts.apply,
                events=events,
                reads=facts.READS,
            ),
            ConsumerSpec(
                name="revisions",
                topics=(chosen.monitoring,),
                bind=_revisions,
                events=events,
                reads=(PlanRevisionRequired,),
            ),
        ],
        migrations=[facts.migrate, board.migrate],
        events=events,
        topic=chosen.careplan,
        vault=VaultSpec(erasures_from=(chosen.intake,), erasure_event=ClientErased, events=events),
        compose=compose,
    )


def build(
    settings: Settings, *, topics: Topics | None = None, events: EventRegistry = registry
) -> FastAPI:
    """The careplan service's app, in `settings.db_schema` (default: `careplan`)."""
    return create_service_app(service_spec(settings, topics=topics, events=events), settings)
