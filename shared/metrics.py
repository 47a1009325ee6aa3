"""Prometheus metrics of a service, served by the runtime at `GET /metrics` (prometheus-client).

Operations scrape every service the same way, so the runtime measures what each one shares
(the relay's lag, each consumer's lag and dead letters, the background tasks' states, the
latency of every command and query) and a service adds nothing of its own.

What the figures may say is fixed here, because anyone who reaches the port can read them
(a scraper carries no bearer token, as `/health` needs none): counts and durations only,
labelled by service, topic, consumer, task, HTTP method, route *template*
(`/cases/{case_id}/notes`, never the path a request named) and status. No case id, client,
staff member or agency ever becomes a label value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.consumer import Outcome
from shared.supervisor import Supervisor, TaskState, is_outage

if TYPE_CHECKING:
    from shared.consumer import ConsumerWatch
    from shared.relay import Relay, RelayProgress

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text exposition format (version 0.0.4)."""

UNROUTED = "(unrouted)"
"""The route label of a request answered before or without a route (the request guard's 401
or 413, an unknown path's 404): its path is the sender's text, never a label."""

RELAY_QUERY_SECONDS = 1.0
"""How long a scrape waits for PostgreSQL to tell the relay's lag before leaving it out."""

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _RuntimeCollector:
    """Reads the running service's figures at each scrape (they live in the runtime)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.supervisor: Supervisor | None = None
        self.watches: Sequence[ConsumerWatch] = ()
        self.relay_progress: RelayProgress | None = None

    def collect(self) -> Iterable[Metric]:
        relay_lag = GaugeMetricFamily(
            "caseline_relay_lag_events",
            "Events committed to the service's store and not yet published to Kafka.",
            labels=["service", "topic"],
        )
        if self.relay_progress is not None:
            relay_lag.add_metric([self.service, self.relay_progress.topic], self.relay_progress.lag)
        yield relay_lag

        consumer_lag = GaugeMetricFamily(
            "caseline_consumer_lag_messages",
            "Messages on a consumer's assigned partitions not yet applied (absent while it "
            "holds no partition).",
            labels=["service", "consumer"],
        )
        dead_lettered = CounterMetricFamily(
            "caseline_dead_lettered_messages",
            "Messages this process sent to the dead-letter topic, by consumer.",
            labels=["service", "consumer"],
        )
        handled = CounterMetricFamily(
            "caseline_consumer_messages",
            "Messages a consumer settled in this process, by outcome.",
            labels=["service", "consumer", "outcome"],
        )
        for watch in self.watches:
            name = watch.consumer.name
            if watch.lag.messages is not None:
                consumer_lag.add_metric([self.service, name], watch.lag.messages)
            outcomes = watch.consumer.outcomes
            dead_lettered.add_metric([self.service, name], outcomes[Outcome.DEAD_LETTERED.value])
            for outcome, count in sorted(outcomes.items()):
                handled.add_metric([self.service, name, outcome], count)
        yield consumer_lag
        yield dead_lettered
        yield handled

        states = GaugeMetricFamily(
            "caseline_task_state",
            "1 for the state each background task is in (relay, consumers, schedulers), else 0.",
            labels=["service", "task", "kind", "state"],
        )
        restarts = CounterMetricFamily(
            "caseline_task_restarts",
            "Times a background task failed and was run again by the supervisor.",
            labels=["service", "task", "kind"],
        )
        for status in self.supervisor.statuses() if self.supervisor else ():
            for state in TaskState:
                states.add_metric(
                    [self.service, status.name, status.kind, state.value],
                    1.0 if status.state is state else 0.0,
                )
            restarts.add_metric([self.service, status.name, status.kind], status.restarts)
        yield states
        yield restarts


class ServiceMetrics:
    """One service's metrics: its own registry, so several apps in one process never mix."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["service", "method", "route", "status"]
        self.commands = Histogram(
            "caseline_command_duration_seconds",
            "Time to answer a command (POST, PUT, PATCH, DELETE), by route template and status.",
            labels,
            registry=self.registry,
        )
        self.queries = Histogram(
            "caseline_query_duration_seconds",
            "Time to answer a query (GET, HEAD), by route template and status.",
            labels,
            registry=self.registry,
        )
        self.consumed = Histogram(
            "caseline_consumer_message_duration_seconds",
            "Time a consumer took to settle one message (its effects and their transaction, "
            "or its dead-lettering), by outcome.",
            ["service", "consumer", "outcome"],
            registry=self.registry,
        )
        self._runtime = _RuntimeCollector(service)
        self._relay: Relay | None = None
        self.registry.register(self._runtime)
        # The process's own figures (CPU, memory, open files, Python's collector), as
        # prometheus-client collects them for its default registry.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)

    def attach(
        self, supervisor: Supervisor, watches: Sequence[ConsumerWatch], relay: Relay
    ) -> None:
        """Read the figures of a runtime that has opened (its lifespan calls this)."""
        self._runtime.supervisor = supervisor
        self._runtime.watches = watches
        self._relay = relay

    def detach(self) -> None:
        """The runtime closed: its tasks and consumers are no longer reported."""
        self._runtime.supervisor = None
        self._runtime.watches = ()
        self._runtime.relay_progress = None
        self._relay = None

    def consumer_timer(self, consumer: str) -> Callable[[Outcome, float], None]:
        """What a consumer calls with each message's outcome and duration."""

        def observe(outcome: Outcome, seconds: float) -> None:
            self.consumed.labels(self.service, consumer, outcome.value).observe(seconds)

        return observe

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        histogram = self.commands if method in _WRITE_METHODS else self.queries
        histogram.labels(self.service, method, route, str(status)).observe(seconds)

    async def exposition(self) -> bytes:
        """Every figure in the Prometheus text format; the relay's lag asked of PostgreSQL now.

        A database that does not answer leaves the relay's lag out of this scrape (an absent
        series, which an alert can name) rather than showing an old figure.
        """
        progress: RelayProgress | None = None
        if self._relay is not None:
            try:
                progress = await self._relay.progress(timeout=RELAY_QUERY_SECONDS)
            except Exception as error:
                if not is_outage(error):
                    raise
        self._runtime.relay_progress = progress
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/cases/{case_id}`), never the path itself."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNROUTED


class RequestTimer:
    """ASGI middleware: the duration of every answered request, by route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(
                scope["method"], route_template(scope), status, time.perf_counter() - started
            )
