"""Closure's composition root: its routes, read models, consumers and scheduler on the
shared runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from fastapi import FastAPI

from services.closure.adapters.board import BoardReadModel
from services.closure.adapters.network import NetworkReadModel
from services.closure.adapters.plans import PlanGoals
from services.closure.application.handlers import CLIENT_MODEL, Closure, case_path
from services.closure.application.policies import (
    CASE_READS,
    NETWORK_READS,
    case_learner,
    network_learner,
)
from services.closure.application.scheduler import ClosureScheduler
from services.closure.entrypoints.http import closure_router
from shared.application import CommandPath
from shared.clock import agency_today
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, Runtime, ServiceSpec, TaskSpec, create_service_app
from shared.settings import Settings
from shared.supervisor import TaskBody
from shared.topics import topic_for

SERVICE = "closure"

SCHEDULER_SECONDS = 30.0
"""How often the scheduler looks: the fan-out is prompt, dates change daily."""


@dataclass(frozen=True)
class Topics:
    """The topics closure publishes to and reads from (tests give it their own)."""

    closure: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes closure's events."""
    intake: str = field(default_factory=lambda: topic_for("intake"))
    """Cases, clients, needs, assignments and consents."""
    careplan: str = field(default_factory=lambda: topic_for("careplan"))
    """Returns to planning and delivered linked services."""
    monitoring: str = field(default_factory=lambda: topic_for("monitoring"))
    """Evaluations and new needs."""
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """The network, its members, closures and departures."""

    @classmethod
    def in_namespace(cls, namespace: str | None) -> Topics:
        """Every topic in `namespace` (the default topics when it is None)."""
        return cls(**{name: topic_for(name, namespace) for name in cls.__dataclass_fields__})


def compose_with(today: Callable[[], date]) -> Callable[[Runtime], Closure]:
    """How the runtime builds closure's ports once, on the agencies' calendar `today`."""

    def compose(runtime: Runtime) -> Closure:
        return Closure(
            cases=case_path(runtime.store, BoardReadModel()),
            clients=CommandPath(runtime.store, CLIENT_MODEL),
            board=BoardReadModel(),
            network=NetworkReadModel(),
            today=today,
        )

    return compose


def _ports(built: object) -> Closure:
    assert isinstance(built, Closure)
    return built


def service_spec(
    settings: Settings,
    *,
    topics: Topics | None = None,
    events: EventRegistry = registry,
    today: Callable[[], date] = agency_today,
    scheduler_seconds: float = SCHEDULER_SECONDS,
) -> ServiceSpec:
    """What closure is made of. `today` is the agencies' calendar (tests may fix it)."""
    chosen = topics or Topics()

    def scheduler(runtime: Runtime) -> TaskBody:
        return ClosureScheduler(_ports(runtime.ports), interval=scheduler_seconds).supervised

    return ServiceSpec(
        name=SERVICE,
        routers=[closure_router()],
        consumers=[
            ConsumerSpec(
                name="network",
                topics=(chosen.directory,),
                bind=lambda ports: network_learner(_ports(ports)),
                events=events,
                reads=NETWORK_READS,
            ),
            ConsumerSpec(
                name="cases",
                topics=(chosen.intake, chosen.careplan, chosen.monitoring),
                bind=lambda ports: case_learner(_ports(ports)),
                events=events,
                reads=CASE_READS,
            ),
        ],
        migrations=[BoardReadModel.migrate, NetworkReadModel.migrate, PlanGoals.migrate],
        events=events,
        topic=chosen.closure,
        compose=compose_with(today),
        tasks=[TaskSpec("closure", scheduler)],
    )


def build(
    settings: Settings,
    *,
    topics: Topics | None = None,
    events: EventRegistry = registry,
    today: Callable[[], date] = agency_today,
    scheduler_seconds: float | None = None,
) -> FastAPI:
    """The closure service's app, in `settings.db_schema` (default: `closure`).

    Without explicit topics or interval (as `caseline serve closure` builds it), the settings'
    `topic_namespace` and `scheduler_seconds` may set them; tests run the real process on
    topics of their own."""
    if topics is None:
        topics = Topics.in_namespace(settings.topic_namespace)
    if scheduler_seconds is None:
        scheduler_seconds = settings.scheduler_seconds or SCHEDULER_SECONDS
    spec = service_spec(
        settings, topics=topics, events=events, today=today, scheduler_seconds=scheduler_seconds
    )
    return create_service_app(spec, settings)
