"""Closure's composition root: its routes, read models, consumers and scheduler on the
shared runtime."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from fastapi import FastAPI

from services.closure.adapters.board import BoardReadModel
from services.closure.adapters.network import NetworkReadModel
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
from shared.codec import ReceivedEvent
from shared.envelope import EventRegistry, registry
from shared.service import ConsumerSpec, Runtime, ServiceSpec, create_service_app
from shared.settings import Settings
from shared.topics import topic_for

SERVICE = "closure"

SCHEDULER_SECONDS = 30.0
"""How often the scheduler looks: the fan-out is prompt, dates change daily."""

SCHEDULER_SECONDS_VARIABLE = "CASELINE_CLOSURE_SCHEDULER_SECONDS"
"""When set, how often the scheduler of `caseline serve closure` looks (tests: a fraction of
a second)."""

TOPIC_NAMESPACE_VARIABLE = "CASELINE_TOPIC_NAMESPACE"
"""When set (tests running `caseline serve closure` as a process), every topic is
`caseline.<namespace>-<service>.v1`, so the process reads and writes topics of its own."""


def _topic(service: str, namespace: str | None) -> str:
    return topic_for(f"{namespace}-{service}" if namespace else service)


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
        return cls(**{name: _topic(name, namespace) for name in cls.__dataclass_fields__})


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
    schema = settings.db_schema or SERVICE
    board = BoardReadModel(schema)
    network = NetworkReadModel(schema)
    ports: list[Closure] = []

    def compose(runtime: Runtime) -> Closure:
        built = Closure(
            cases=case_path(runtime.store, board),
            clients=CommandPath(runtime.store, CLIENT_MODEL),
            board=board,
            network=network,
            today=today,
        )
        ports[:] = [built]
        # The kit has no hook for a service's own background task; compose runs once the
        # runtime is open, with its supervisor, so the scheduler is spawned here.
        scheduler = ClosureScheduler(built, interval=scheduler_seconds)
        runtime.supervisor.spawn("scheduler:closure", "scheduler", scheduler.supervised)
        return built

    async def learn_cases(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        # Consumers start after compose, so the ports exist by the first event.
        await case_learner(ports[0])(conn, event)

    async def learn_network(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        await network_learner(ports[0])(conn, event)

    return ServiceSpec(
        name=SERVICE,
        routers=[closure_router()],
        consumers=[
            ConsumerSpec(
                name="network",
                topics=(chosen.directory,),
                handle=learn_network,
                events=events,
                reads=NETWORK_READS,
            ),
            ConsumerSpec(
                name="cases",
                topics=(chosen.intake, chosen.careplan, chosen.monitoring),
                handle=learn_cases,
                events=events,
                reads=CASE_READS,
            ),
        ],
        migrations=[board.migrate, network.migrate],
        events=events,
        topic=chosen.closure,
        compose=compose,
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

    Without explicit topics or interval (as `caseline serve closure` builds it), the two
    variables above may set them; tests run the real process on topics of their own."""
    if topics is None:
        topics = Topics.in_namespace(os.environ.get(TOPIC_NAMESPACE_VARIABLE) or None)
    if scheduler_seconds is None:
        scheduler_seconds = float(os.environ.get(SCHEDULER_SECONDS_VARIABLE) or SCHEDULER_SECONDS)
    spec = service_spec(
        settings, topics=topics, events=events, today=today, scheduler_seconds=scheduler_seconds
    )
    return create_service_app(spec, settings)
