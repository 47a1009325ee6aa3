"""The runtime every service shares: one FastAPI app with its store, relay and consumers.

A service describes itself with a `ServiceSpec` (routers, consumers, read-model migrations)
and `create_service_app` composes the rest, so a newcomer who knows one service knows all.
Connections open in the app's lifespan, never at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter
from faststream.kafka import KafkaBroker

from shared.auth import install_auth_handlers
from shared.consumer import (
    DeadLetterQueue,
    EventHandler,
    IdempotentConsumer,
    subscribe_idempotent,
)
from shared.envelope import EventRegistry, registry
from shared.errors import ConcurrencyError, NotFound, RuleViolation
from shared.logging import configure_logging, get_logger
from shared.relay import Relay, idempotent_producer
from shared.settings import Settings
from shared.store import EventStore, create_pool

log = get_logger("caseline.service")

Migration = Callable[[asyncpg.Pool], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """One idempotent consumer of a service: its name, topics and event handler."""

    name: str
    topics: tuple[str, ...]
    handle: EventHandler
    events: EventRegistry = registry


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
    consumers: list[IdempotentConsumer] = field(default_factory=list)


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the runtime of the app serving the request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
"""A route parameter typed `RuntimeDep` receives the service's runtime."""


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


def install_error_handlers(app: FastAPI) -> None:
    """Map the kit's errors to HTTP once: rules and races 409, missing 404, auth 401/403."""
    install_auth_handlers(app)
    app.add_exception_handler(RuleViolation, _refused)
    app.add_exception_handler(ConcurrencyError, _conflict)
    app.add_exception_handler(NotFound, _not_found)


@asynccontextmanager
async def open_runtime(spec: ServiceSpec, settings: Settings) -> AsyncIterator[Runtime]:
    """Open the pool, store, producer, relay and consumers of a service; close them after."""
    schema = settings.db_schema or spec.name
    pool = await create_pool(
        settings.database_url, max_size=settings.db_pool_size, search_path=schema
    )
    producer = idempotent_producer(settings.kafka_bootstrap_servers)
    stop = asyncio.Event()
    relay_task: asyncio.Task[None] | None = None
    broker: KafkaBroker | None = None
    try:
        store = EventStore(pool, spec.name, schema=schema, events=spec.events)
        await store.migrate()
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
        relay_task = asyncio.create_task(relay.run(stop), name=f"{spec.name}-relay")
        runtime = Runtime(settings, schema, pool, store, producer, relay, None)
        if spec.consumers:
            # A plain stdlib logger: FastStream's lines then reach the root handler that
            # configure_logging installed, in the service's format (JSON in production).
            broker = KafkaBroker(
                settings.kafka_bootstrap_servers, logger=logging.getLogger("caseline.broker")
            )
            for consumer_spec in spec.consumers:
                consumer = IdempotentConsumer(
                    f"{spec.name}.{consumer_spec.name}",
                    pool,
                    schema=schema,
                    events=consumer_spec.events,
                    handle=consumer_spec.handle,
                    dead_letters=DeadLetterQueue(producer),
                )
                await consumer.migrate()
                subscribe_idempotent(
                    broker,
                    consumer,
                    *consumer_spec.topics,
                    group_id=f"{schema}.{consumer_spec.name}",
                )
                runtime.consumers.append(consumer)
            await broker.start()
            runtime.broker = broker
        log.info("service.started", service=spec.name, schema=schema)
        yield runtime
    finally:
        stop.set()
        if broker is not None:
            await broker.stop()
        if relay_task is not None:
            await asyncio.wait_for(relay_task, 10)
        await producer.stop()
        await pool.close()
        log.info("service.stopped", service=spec.name)


def create_service_app(spec: ServiceSpec, settings: Settings) -> FastAPI:
    """The FastAPI app of a service: its routers, error mapping, health, and the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        async with open_runtime(spec, settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title=f"caseline {spec.name}", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    for router in spec.routers:
        app.include_router(router)

    @app.get("/health", tags=["operations"])
    async def health(request: Request) -> dict[str, object]:
        """Whether the service runs, and how far its relay is behind its event store."""
        runtime = get_runtime(request)
        progress = await runtime.relay.progress()
        return {
            "service": spec.name,
            "schema": runtime.schema,
            "status": "ok",
            "relay": {
                "topic": progress.topic,
                "published_position": progress.published_position,
                "last_position": progress.last_position,
                "lag": progress.lag,
            },
        }

    return app
