"""Monitoring's composition root: its routes, vault, read models, consumers and overdue
scheduler (a task of its own, `scheduler:overdue` on `/health`) on the shared runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.directory.contract import PRINCIPAL_EVENTS, record_principals
from services.intake.contract import ClientErased
from services.monitoring.adapters.board import BoardReadModel
from services.monitoring.adapters.drafts import PlanDrafts
from services.monitoring.application.handlers import Monitoring, command_path
from services.monitoring.application.policies import READS, Learner
from services.monitoring.application.scheduler import OverdueScheduler
from services.monitoring.domain.errors import IncompleteAnswers
from services.monitoring.entrypoints.http import router
from shared.clock import agency_today
from shared.envelope import EventRegistry, registry
from shared.service import (
    ConsumerSpec,
    Runtime,
    ServiceSpec,
    TaskSpec,
    VaultSpec,
    create_service_app,
)
from shared.settings import Settings
from shared.supervisor import TaskBody
from shared.topics import topic_for

SERVICE = "monitoring"

SCHEDULER_SECONDS = 60.0
"""How often the overdue scheduler looks: dates change daily, a minute is prompt enough."""


@dataclass(frozen=True)
class Topics:
    """The topics monitoring publishes to and reads from (tests give it their own)."""

    monitoring: str = field(default_factory=lambda: topic_for(SERVICE))
    """Where the relay publishes monitoring's events."""
    intake: str = field(default_factory=lambda: topic_for("intake"))
    """Clients, assignments, consents and erasures."""
    careplan: str = field(default_factory=lambda: topic_for("careplan"))
    """Plan versions, agreements, item states and returns to planning."""
    directory: str = field(default_factory=lambda: topic_for("directory"))
    """Who may act: the members every request's token is checked against."""
    closure: str = field(default_factory=lambda: topic_for("closure"))
    """Terminations: an ended case takes no further monitoring command (R8)."""


async def _incomplete(request: Request, exc: Exception) -> JSONResponse:
    # A goal or item left out is a fault in the request's shape: 422, naming the field and the
    # rule, never the values sent.
    assert isinstance(exc, IncompleteAnswers)
    return JSONResponse(
        status_code=422,
        content={
            "detail": [{"type": "incomplete", "loc": ["body", exc.field], "msg": exc.reason}],
            "rule": exc.rule,
        },
    )


def service_spec(
    settings: Settings,
    *,
    topics: Topics | None = None,
    events: EventRegistry = registry,
    today: Callable[[], date] = agency_today,
    scheduler_seconds: float = SCHEDULER_SECONDS,
) -> ServiceSpec:
    """What monitoring is made of. `today` is the agencies' calendar (tests may fix it)."""
    chosen = topics or Topics()
    schema = settings.db_schema or SERVICE
    board = BoardReadModel(schema)
    drafts = PlanDrafts(schema)

    def compose(runtime: Runtime) -> Monitoring:
        assert runtime.vault is not None  # the spec declares one
        built = Monitoring(
            path=command_path(runtime.store, board),
            vault=runtime.vault,
            board=board,
            drafts=drafts,
            today=today,
        )
        return built

    def overdue(runtime: Runtime) -> TaskBody:
        # The runtime builds a task's body after `compose`: the ports are the ones it built.
        assert isinstance(runtime.ports, Monitoring)
        return OverdueScheduler(runtime.ports, interval=scheduler_seconds).supervised

    return ServiceSpec(
        name=SERVICE,
        routers=[router],
        consumers=[
            ConsumerSpec(
                name="principals",
                topics=(chosen.directory,),
                handle=record_principals,
                events=events,
                reads=PRINCIPAL_EVENTS,
            ),
            ConsumerSpec(
                name="cases",
                topics=(chosen.intake, chosen.careplan, chosen.closure),
                bind=Learner,
                events=events,
                reads=READS,
            ),
        ],
        migrations=[board.migrate, drafts.migrate],
        events=events,
        topic=chosen.monitoring,
        vault=VaultSpec(erasures_from=(chosen.intake,), erasure_event=ClientErased, events=events),
        compose=compose,
        tasks=[TaskSpec(name="overdue", body=overdue, kind="scheduler")],
        error_handlers={IncompleteAnswers: _incomplete},
    )


def build(
    settings: Settings,
    *,
    topics: Topics | None = None,
    events: EventRegistry = registry,
    today: Callable[[], date] = agency_today,
    scheduler_seconds: float | None = None,
) -> FastAPI:
    """The monitoring service's app, in `settings.db_schema` (default: `monitoring`)."""
    spec = service_spec(
        settings,
        topics=topics,
        events=events,
        today=today,
        # `caseline serve monitoring`: the settings' interval when set (CASELINE_SCHEDULER_SECONDS).
        scheduler_seconds=scheduler_seconds or settings.scheduler_seconds or SCHEDULER_SECONDS,
    )
    return create_service_app(spec, settings)
