"""The runtime every service shares: one FastAPI app with its store, relay and consumers.

A service describes itself with a `ServiceSpec` (routers, consumers, read-model migrations)
and `create_service_app` composes the rest, so a newcomer who knows one service knows all.
Connections open in the app's lifespan, never at import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRouter
from faststream.kafka import KafkaBroker

from shared import idempotency, principals
from shared.auth import install_auth_handlers
from shared.clock import agency_today, calendar_offset_days, configure_calendar
from shared.consumer import (
    ConsumerWatch,
    DeadLetterQueue,
    EventHandler,
    IdempotentConsumer,
    event_types,
    subscribe_idempotent,
)
from shared.envelope import DomainEvent, EventRegistry, registry
from shared.errors import ConcurrencyError, NotFound, RuleViolation
from shared.guards import RequestGuard
from shared.idempotency import IdempotentRequests, RequestAlreadyRecorded
from shared.logging import configure_logging, get_logger
from shared.metrics import METRICS_CONTENT_TYPE, RequestTimer, ServiceMetrics
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore, create_pool
from shared.supervisor import (
    MAYBE_OUTAGE_CLASSES,
    OUTAGE_CLASSES,
    Supervisor,
    TaskBody,
    describe_error,
    is_outage,
)
from shared.vault import ClientShredded, UnknownDocument, Vault
from shared.vault_http import vault_router

log = get_logger("caseline.service")

Migration = Callable[[asyncpg.Pool], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """One idempotent consumer of a service: its name, topics, event handler, and the event
    types it reads (classes from other services' contract modules); other types on its
    topics are passed over. `None` reads every type its registry knows (tests)."""

    name: str
    topics: tuple[str, ...]
    handle: EventHandler | None = None
    events: EventRegistry = registry
    reads: tuple[type[DomainEvent], ...] | None = None
    bind: Callable[[Any], EventHandler] | None = None
    """Instead of `handle`: builds the handler from the ports `ServiceSpec.compose` built
    (a policy that runs commands through the service's command path)."""

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.bind is None):
            raise ValueError(f"consumer {self.name!r} needs exactly one of handle and bind")

    def handler(self, ports: object) -> EventHandler:
        """The handler this consumer applies events with, given the composed ports."""
        if self.handle is not None:
            return self.handle
        assert self.bind is not None
        return self.bind(ports)


@dataclass(frozen=True)
class VaultSpec:
    """A service keeps words about people in a vault of its own (`shared/vault.py`).

    `erasures_from` are the topics where the erasure event (`erasure_event`, a class from
    the publishing service's contract, with a `client_id`) arrives; the runtime adds a
    consumer that shreds the client it names. A service that erases in its own commands
    (intake) shreds in their transaction and lists none.
    """

    erasures_from: tuple[str, ...] = ()
    erasure_event: type[DomainEvent] | None = None
    events: EventRegistry = registry
    """The registry that knows `erasure_event`."""

    def __post_init__(self) -> None:
        if self.erasures_from and self.erasure_event is None:
            raise ValueError("a vault that reads erasures names their event class")


@dataclass(frozen=True)
class ServiceSpec:
    """What makes a service: its name, HTTP routers, consumers and read-model migrations."""

    name: str
    routers: Sequence[APIRouter]
    consumers: Sequence[ConsumerSpec] = ()
    migrations: Sequence[Migration] = ()
    events: EventRegistry = registry
    topic: str | None = None
    """Where the relay publishes; `caseline.<name>.v1` when unset."""
    vault: VaultSpec | None = None
    """The service's vault, its access-log route and its shredding consumer; none when unset."""
    compose: Callable[[Runtime], object] | None = None
    """Builds the service's ports (its command path, read models, vault adapter) once, when
    the runtime opens; routes receive them through `ports_dependency`."""
    tasks: Sequence[TaskSpec] = ()
    """Background tasks of the service's own (an overdue scheduler), started after `compose`
    under the runtime's supervisor: retried after any failure, shown on `/health`."""
    error_handlers: Mapping[type[Exception], ErrorHandler] = field(default_factory=dict)
    """Answers for the service's own exceptions, beside the kit's (401, 403, 404, 409, 422, 503)."""


ErrorHandler = Callable[[Request, Exception], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class TaskSpec:
    """A background task of a service: `body(runtime)` gives the supervised loop, built once
    the ports are composed (it usually works through `runtime.ports`)."""

    name: str
    body: Callable[[Runtime], TaskBody]
    kind: str = "scheduler"


@dataclass
class Runtime:
    """The resources a running service holds, opened and closed by its app's lifespan."""

    settings: Settings
    schema: str
    pool: asyncpg.Pool
    store: EventStore
    producer: AIOKafkaProducer
    relay: Relay
    broker: KafkaBroker | None
    supervisor: Supervisor
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    watches: list[ConsumerWatch] = field(default_factory=list)
    vault: Vault | None = None
    ports: object = None
    """What the service's `compose` built from this runtime (None when it has none)."""


def runtime_of(request: Request) -> Runtime:
    """The runtime of the app serving the request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the runtime of the app serving the request. Asynchronous, as
    every dependency of the kit is: FastAPI runs a plain function in a worker thread, a hop
    to another thread and back on every request."""
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
"""A route parameter typed `RuntimeDep` receives the service's runtime."""

P = TypeVar("P")


def ports_dependency(kind: type[P]) -> Callable[[Request], Awaitable[P]]:
    """A FastAPI dependency giving the ports the service's `compose` built, as `kind`.

    A service declares `PortsDep = Annotated[Ports, Depends(ports_dependency(Ports))]` once;
    its routes then take `ports: PortsDep`.
    """

    async def ports(request: Request) -> P:
        built = runtime_of(request).ports
        if not isinstance(built, kind):
            raise TypeError(f"the service composed {type(built).__name__}, not {kind.__name__}")
        return built

    return ports


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RuleViolation)
    return JSONResponse(status_code=409, content={"detail": exc.reason, "rule": exc.rule})


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=409,
        content={"detail": f"another change to this record came first; reload and retry ({exc})"},
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


async def _client_shredded(request: Request, exc: Exception) -> JSONResponse:
    # R11: nothing more is kept about an erased person, in any service's vault.
    return JSONResponse(
        status_code=409,
        content={"detail": "the client was erased: nothing more is kept", "rule": "R11"},
    )


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own answer repeats each refused value ("input"): names, resident numbers,
    # addresses, or a megabyte of text. This one keeps only where and why.
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422, content={"detail": [_redacted(error) for error in exc.errors()]}
    )


def _redacted(error: Mapping[str, Any]) -> dict[str, object]:
    """One validation error without anything the sender typed: no value, no unknown key."""
    loc = list(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        # The last step is the unknown field's name, which is the sender's text.
        loc[-1] = "(unknown field)"
    message = str(error["msg"])
    if error["type"] in _QUOTING_TYPES or any(
        text in message for text in _texts(error.get("input"))
    ):
        # The message quotes what was sent (a union's tag, a piece of bad JSON, a value a
        # validator repeated): say only what kind of error it is.
        message = f"not a valid value ({error['type']})"
    return {"type": error["type"], "loc": loc, "msg": message}


_QUOTING_TYPES = frozenset({"union_tag_invalid", "json_invalid"})
"""pydantic error types whose message quotes the input."""

_QUOTED_LENGTH = 6
"""Shorter values ("food", "50") appear in messages by chance; numbers and names that matter
(resident and phone numbers, addresses) are longer."""


def _texts(value: object, depth: int = 0) -> set[str]:
    """The texts and numbers inside a refused input, as they could appear in a message."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        return {text} if len(text) >= _QUOTED_LENGTH else set()
    found: set[str] = set()
    if depth < 4 and isinstance(value, Mapping):
        # Values only: keys are the model's field names (an unknown one is handled by `loc`).
        for item in value.values():
            found |= _texts(item, depth + 1)
    elif depth < 4 and isinstance(value, list | tuple):
        for item in value:
            found |= _texts(item, depth + 1)
    return found


def _outage_handler(retry_after: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_outage(exc):
            # An interface error that is a bug, not an outage: a plain 500, logged in full.
            log.error("request.failed", path=request.url.path, exc_info=exc)
            return JSONResponse(status_code=500, content={"detail": "internal error"})
        # Each command is one transaction: one that failed here wrote nothing.
        log.warning("request.unavailable", path=request.url.path, error=describe_error(exc))
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": str(retry_after)},
            content={
                "detail": "the service cannot reach its database or broker just now; "
                "nothing was written, retry later"
            },
        )

    return unavailable


def install_error_handlers(app: FastAPI, settings: Settings | None = None) -> None:
    """Map the kit's errors to HTTP once: bad input 422 (never echoed), rules, races and
    writes about an erased client 409, missing 404, auth 401/403, PostgreSQL or Kafka away
    503 with `Retry-After`."""
    install_auth_handlers(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RuleViolation, _refused)
    app.add_exception_handler(ConcurrencyError, _conflict)
    app.add_exception_handler(RequestAlreadyRecorded, _conflict)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(UnknownDocument, _not_found)
    app.add_exception_handler(ClientShredded, _client_shredded)
    unavailable = _outage_handler(settings.retry_after_seconds if settings else 5)
    for error_class in (*OUTAGE_CLASSES, *MAYBE_OUTAGE_CLASSES):
        app.add_exception_handler(error_class, unavailable)


@asynccontextmanager
async def open_runtime(
    spec: ServiceSpec, settings: Settings, metrics: ServiceMetrics | None = None
) -> AsyncIterator[Runtime]:
    """Set the process's calendar, open the service's resources; close them after.

    The calendar comes first, so that the routes and the schedulers see a training network's
    moved "today" from their first run; it is put back when the runtime closes.
    """
    with service_calendar(spec.name, settings):
        async with _open_resources(spec, settings, metrics) as runtime:
            yield runtime


@contextmanager
def service_calendar(service: str, settings: Settings) -> Iterator[None]:
    """Move "today" by the settings' offset (refused outside a training network), warning
    that it is moved; the previous offset is put back at the end."""
    settings.require_live_calendar(f"the {service} service")
    previous = configure_calendar(settings.calendar_offset_days)
    if settings.calendar_offset_days:
        log.warning(
            "service.training_calendar",
            service=service,
            offset_days=settings.calendar_offset_days,
            today=agency_today().isoformat(),
            detail="a training network: every 'today' runs ahead of the real calendar",
        )
    try:
        yield
    finally:
        configure_calendar(previous)


@asynccontextmanager
async def _open_resources(
    spec: ServiceSpec, settings: Settings, metrics: ServiceMetrics | None
) -> AsyncIterator[Runtime]:
    """Open the pool, store, producer, relay and consumers of a service; close them after.

    Every service's schema holds the principals projection (`shared.principals`) its
    requests are checked against; a consumer of the directory's topic fills it.

    The relay and every consumer run under the runtime's supervisor, so an outage of
    PostgreSQL or Kafka after start-up never stops them for good. With `metrics`, each
    consumer times its messages into them from its first one.
    """
    schema = settings.db_schema or spec.name
    pool = await create_pool(
        settings.database_url,
        max_size=settings.db_pool_size,
        search_path=schema,
        command_timeout=settings.db_command_timeout_seconds,
    )
    producer = idempotent_producer(settings.kafka_bootstrap_servers)
    supervisor = Supervisor(unhealthy_after=settings.health_unhealthy_after_seconds)
    broker: KafkaBroker | None = None
    try:
        store = EventStore(pool, spec.name, schema=schema, events=spec.events)
        await store.migrate()
        # Every service checks each request's principal against its own copy of the members.
        await principals.migrate(pool, schema)
        await idempotency.migrate(pool, schema)
        vault: Vault | None = None
        consumer_specs = list(spec.consumers)
        if spec.vault is not None:
            # Before the service's own migrations: one may move older rows into the vault.
            vault = Vault.from_settings(settings, spec.name)
            await Vault.migrate(pool, schema)
            consumer_specs += _vault_consumers(spec.vault, vault)
        for migrate in spec.migrations:
            await migrate(pool)
        await producer.start()
        relay = Relay(
            store,
            producer,
            topic=spec.topic,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        supervisor.spawn(f"relay:{relay.topic}", "relay", relay.supervised)
        runtime = Runtime(
            settings, schema, pool, store, producer, relay, None, supervisor, vault=vault
        )
        if spec.compose is not None:
            runtime.ports = spec.compose(runtime)
        for task in spec.tasks:
            supervisor.spawn(f"{task.kind}:{task.name}", task.kind, task.body(runtime))
        if consumer_specs:
            # A plain stdlib logger: FastStream's lines then reach the root handler that
            # configure_logging installed, in the service's format (JSON in production).
            broker = KafkaBroker(
                settings.kafka_bootstrap_servers, logger=logging.getLogger("caseline.broker")
            )
            subscribers = []
            for consumer_spec in consumer_specs:
                consumer = IdempotentConsumer(
                    f"{spec.name}.{consumer_spec.name}",
                    pool,
                    schema=schema,
                    events=consumer_spec.events,
                    handle=consumer_spec.handler(runtime.ports),
                    dead_letters=DeadLetterQueue(producer),
                    reads=None
                    if consumer_spec.reads is None
                    else event_types(*consumer_spec.reads),
                )
                if metrics is not None:
                    consumer.timed = metrics.consumer_timer(consumer.name)
                await consumer.migrate()
                subscribers.append(
                    subscribe_idempotent(
                        broker,
                        consumer,
                        *consumer_spec.topics,
                        group_id=f"{schema}.{consumer_spec.name}",
                    )
                )
                runtime.consumers.append(consumer)
            await broker.start()
            runtime.broker = broker
            for consumer, subscriber in zip(runtime.consumers, subscribers, strict=True):
                watch = ConsumerWatch(
                    consumer,
                    subscriber,
                    interval=settings.consumer_watch_seconds,
                    timeout=settings.consumer_watch_seconds * 2.5,
                )
                supervisor.spawn(f"consumer:{consumer.name}", "consumer", watch.supervised)
                runtime.watches.append(watch)
        log.info("service.started", service=spec.name, schema=schema)
        yield runtime
    finally:
        await supervisor.stop()
        if broker is not None:
            await broker.stop()
        await producer.stop()
        await pool.close()
        log.info("service.stopped", service=spec.name)


def calendar_report(settings: Settings) -> dict[str, object]:
    """`/health`'s `calendar`: the offset, whether this is a training network, and its today."""
    return {
        "offset_days": calendar_offset_days(),
        "training": settings.training_network,
        "today": agency_today().isoformat(),
    }


def _vault_consumers(spec: VaultSpec, vault: Vault) -> list[ConsumerSpec]:
    if not spec.erasures_from or spec.erasure_event is None:
        return []
    return [
        ConsumerSpec(
            name="vault-erasure",
            topics=spec.erasures_from,
            handle=vault.erasure_handler(spec.erasure_event),
            events=spec.events,
            reads=(spec.erasure_event,),
        )
    ]


async def health_report(runtime: Runtime, service: str) -> tuple[bool, dict[str, object]]:
    """Whether the service can do its work now, and the figures that say so.

    Every background task is reported as its supervisor sees it (no I/O); the relay's lag is
    asked of PostgreSQL with a short timeout, and a database that does not answer is a
    problem in itself.
    """
    # The tasks and their problems are read at one instant, before any await, so the
    # report never names a problem that its own task list does not show.
    problems = runtime.supervisor.problems()
    tasks = {status.name: status.as_dict() for status in runtime.supervisor.statuses()}
    relay: dict[str, object] = {"topic": runtime.relay.topic}
    try:
        progress = await runtime.relay.progress(timeout=HEALTH_QUERY_SECONDS)
    except Exception as error:
        if not is_outage(error):
            raise
        problems.append(f"the database does not answer ({describe_error(error)})")
        relay.update(published_position=None, last_position=None, lag=None)
    else:
        relay.update(
            published_position=progress.published_position,
            last_position=progress.last_position,
            lag=progress.lag,
        )
    consumers = {
        watch.consumer.name: {
            "lag": watch.lag.messages,
            "partitions": watch.lag.partitions,
            "measured_at": watch.lag.measured_at.isoformat().replace("+00:00", "Z")
            if watch.lag.measured_at
            else None,
        }
        for watch in runtime.watches
    }
    healthy = not problems
    return healthy, {
        "service": service,
        "schema": runtime.schema,
        "status": "ok" if healthy else "unavailable",
        "problems": problems,
        "tasks": tasks,
        "relay": relay,
        "consumers": consumers,
        "calendar": calendar_report(runtime.settings),
    }


HEALTH_QUERY_SECONDS = 1.0


def create_service_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    """The FastAPI app of a service: its routers, error mapping, health, and the lifespan.

    Refuses (`InsecureConfiguration`) to build a service on the public development secrets
    unless `settings.development` is set, or on a moved calendar unless
    `settings.training_network` is set.
    """
    settings.require_own_secrets(f"the {spec.name} service")
    settings.require_live_calendar(f"the {spec.name} service")
    if settings.insecure_settings():
        log.warning(
            "service.insecure_development_secrets",
            service=spec.name,
            problems=settings.insecure_settings(),
        )

    metrics = ServiceMetrics(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        async with open_runtime(spec, settings, metrics) as runtime:
            app.state.runtime = runtime
            metrics.attach(runtime.supervisor, runtime.watches, runtime.relay)
            try:
                yield
            finally:
                metrics.detach()

    app = FastAPI(title=f"caseline {spec.name}", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    # Inside the guard: a keyed command's answer is kept with its events, a retry replayed.
    app.add_middleware(IdempotentRequests, settings=settings)
    # Before any body is read: the sender is authenticated and the body within the limit.
    app.add_middleware(RequestGuard, settings=settings)
    # Outermost, so a request the guard refuses is timed too.
    app.add_middleware(RequestTimer, metrics=metrics)
    install_error_handlers(app, settings)
    for error_class, handler in spec.error_handlers.items():
        app.add_exception_handler(error_class, handler)
    for router in spec.routers:
        app.include_router(router)
    if spec.vault is not None:
        app.include_router(vault_router())

    @app.get(
        "/health",
        tags=["operations"],
        responses={503: {"description": "a background task or the database is not working"}},
    )
    async def health(request: Request) -> JSONResponse:
        """Readiness: 200 when every background task runs and the database answers, else 503.

        Reports each task (running, retrying since when with the last error, stopped), the
        relay's lag and each consumer's lag.
        """
        healthy, report = await health_report(runtime_of(request), spec.name)
        return JSONResponse(status_code=200 if healthy else 503, content=report)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {METRICS_CONTENT_TYPE: {}}}},
    )
    async def prometheus_metrics() -> Response:
        """Prometheus figures for operations: relay lag, consumer lag, dead letters, task
        states, command and query latency.

        Open like `/health` (a scraper carries no token): every label is a service, topic,
        consumer, task, method, route template or status, never a case, client or person.
        """
        return Response(await metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    @app.get("/health/live", tags=["operations"])
    async def liveness() -> dict[str, str]:
        """Liveness: 200 while the process serves requests; no database or broker involved."""
        return {"service": spec.name, "status": "alive"}

    return app
